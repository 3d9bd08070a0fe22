"""Outreach articles: Markdown with YAML front matter (format in knowledge/outreach/FORMAT.md).

An article is national (it holds everywhere) unless its front matter names `place: <policy document id>`: a
place article explains in plain words what that one document says for its area, and its chunks carry the
document's region so that a family elsewhere is not given another county's plan as if it were theirs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import IngestError
from knowledge.chunks import Chunk

TOPICS = ("nutrition", "eyes", "teeth", "growth", "development", "mental", "safety", "bullying", "services")
AUDIENCES = ("grandparent", "parent", "worker")
REQUIRED_SECTIONS = ("一句话", "怎么做", "要警惕", "出处")
_FRONT_RE = re.compile(r"\A---\s*\n(.*?)\n---\s*\n(.*)\Z", re.S)
_SECTION_RE = re.compile(r"^##\s+(.+?)\s*$", re.M)
_STEP_RE = re.compile(r"^\s*\d{1,2}[.．、)]\s*(.+)$", re.M)
_BULLET_RE = re.compile(r"^\s*[-*•]\s*(.+)$", re.M)


@dataclass(frozen=True)
class Article:
    """One parsed outreach article."""

    id: str
    title: str
    topic: str
    audience: tuple[str, ...]
    questions: tuple[str, ...]
    sources: tuple[str, ...]
    reviewed: str
    sections: dict[str, str]
    path: Path
    body_start_line: int = 1
    section_lines: dict[str, int] = field(default_factory=dict)
    place: str = ""  # policy document id (knowledge/policy/documents.yaml) for a place article, "" if national

    @property
    def one_liner(self) -> str:
        return " ".join(self.sections.get("一句话", "").split())

    @property
    def steps(self) -> list[str]:
        return [s.strip() for s in _STEP_RE.findall(self.sections.get("怎么做", ""))]

    @property
    def warnings(self) -> list[str]:
        text = self.sections.get("要警惕", "")
        return [s.strip() for s in _BULLET_RE.findall(text)] or [t for t in text.splitlines() if t.strip()]

    @property
    def source_names(self) -> list[str]:
        return list(self.sources)


def _as_tuple(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return (str(value),)


def parse_article(path: Path) -> Article:
    """Parses one article; raises IngestError naming the file and the problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot read ({exc.strerror})") from exc
    if b"\x00" in raw:
        raise IngestError(f"{path.name}: binary file, not Markdown")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path.name}: not UTF-8 text") from exc
    if not text.strip():
        raise IngestError(f"{path.name}: empty file")
    match = _FRONT_RE.match(text.replace("\r\n", "\n"))
    if not match:
        raise IngestError(f"{path.name}: missing YAML front matter between '---' lines")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise IngestError(f"{path.name}: bad front matter: {str(exc).splitlines()[0]}") from exc
    if not isinstance(meta, dict):
        raise IngestError(f"{path.name}: front matter must be a mapping")
    for key in ("id", "title", "topic", "questions", "sources"):
        if not meta.get(key):
            raise IngestError(f"{path.name}: front matter has no '{key}'")
    body = match.group(2)
    body_start = match.group(1).count("\n") + 3
    sections: dict[str, str] = {}
    section_lines: dict[str, int] = {}
    heads = list(_SECTION_RE.finditer(body))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        sections[head.group(1)] = body[head.end():end].strip()
        section_lines[head.group(1)] = body_start + body[: head.start()].count("\n")
    place = meta.get("place") or ""
    if not isinstance(place, str):
        raise IngestError(f"{path.name}: 'place' must be one policy document id")
    reviewed = meta.get("reviewed", "")
    if isinstance(reviewed, (dt.date, dt.datetime)):
        reviewed = reviewed.isoformat()
    return Article(
        id=str(meta["id"]),
        title=str(meta["title"]),
        topic=str(meta["topic"]),
        audience=_as_tuple(meta.get("audience")),
        questions=_as_tuple(meta.get("questions")),
        sources=_as_tuple(meta.get("sources")),
        reviewed=str(reviewed),
        sections=sections,
        path=path,
        body_start_line=body_start,
        section_lines=section_lines,
        place=place.strip(),
    )


NATIONAL = "全国"


def article_chunks(article: Article, region: str = NATIONAL, place_title: str = "") -> list[Chunk]:
    """One chunk per section (出处 excluded); the first also carries the question variants.

    A place article passes its document's `region` (as that document's policy chunks have it) and short title;
    its chunks keep kind "outreach" and name the document in `extra["place"]`."""
    chunks: list[Chunk] = []
    extra_place = {"place": article.place} if article.place else {}
    questions = "；".join(article.questions)
    for name, content in article.sections.items():
        if name == "出处" or not content.strip():
            continue
        flat = " ".join(line.strip() for line in content.splitlines() if line.strip())
        lead = f"{article.title}｜{name}"
        search = f"{lead}｜{questions}｜{flat}" if not chunks else f"{lead}｜{flat}"
        chunks.append(
            Chunk(
                doc_id=article.id,
                kind="outreach",
                title=article.title,
                short_title=place_title or article.title,
                region=region,
                topic=article.topic,
                section=name,
                position=len(chunks),
                text=flat,
                search_text=search,
                source_file=f"outreach/{article.path.name}",
                extra={"sources": list(article.sources), **extra_place},
            )
        )
    return chunks
