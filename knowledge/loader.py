"""Loads every document under the knowledge folder into chunks, collecting per-file errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.errors import IngestError
from knowledge.chunks import Chunk
from knowledge.outreach import Article, article_chunks, parse_article
from knowledge.policy_chunker import PolicyMeta, chunk_policy


@dataclass
class Corpus:
    """Chunks of all documents that parsed, the articles by id, and the files that failed."""

    chunks: list[Chunk] = field(default_factory=list)
    articles: dict[str, Article] = field(default_factory=dict)
    policies: dict[str, PolicyMeta] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    files: dict[str, list[str]] = field(default_factory=dict)  # doc_id -> chunk ids


def load_policy_meta(policy_dir: Path) -> list[PolicyMeta]:
    index = policy_dir / "documents.yaml"
    if not index.exists():
        return []
    try:
        entries = yaml.safe_load(index.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise IngestError(f"{index.name}: bad YAML: {str(exc).splitlines()[0]}") from exc
    metas = []
    for entry in entries:
        try:
            metas.append(
                PolicyMeta(
                    doc_id=str(entry["id"]),
                    title=str(entry["title"]),
                    short_title=str(entry.get("short_title") or entry["title"]),
                    region=str(entry.get("region", "")),
                    source_file=f"policy/{entry['file']}",
                    issuer=str(entry.get("issuer", "")),
                    date=str(entry.get("date", "")),
                    doc_number=str(entry.get("doc_number", "")),
                    aliases=tuple(str(a) for a in entry.get("aliases") or ()),
                )
            )
        except (KeyError, TypeError) as exc:
            raise IngestError(f"{index.name}: entry without {exc}") from exc
    return metas


def _add(corpus: Corpus, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        corpus.chunks.append(chunk)
        corpus.files.setdefault(chunk.doc_id, []).append(chunk.chunk_id)


def load_corpus(knowledge_dir: Path) -> Corpus:
    """Reads policy documents and outreach articles; a bad file is recorded in `errors` and skipped.

    A place article (`place: <document id>`) gets that document's region; one naming an unknown document is an
    error and is skipped rather than served as if it held everywhere."""
    corpus = Corpus()
    policy_dir = knowledge_dir / "policy"
    try:
        metas = load_policy_meta(policy_dir)
    except IngestError as exc:
        corpus.errors.append(str(exc))
        metas = []
    for meta in metas:
        path = knowledge_dir / meta.source_file
        try:
            raw = path.read_bytes()
            if b"\x00" in raw:
                raise IngestError(f"{path.name}: binary file, not text")
            text = raw.decode("utf-8")
            if not text.strip():
                raise IngestError(f"{path.name}: empty file")
        except OSError as exc:
            corpus.errors.append(f"{path.name}: cannot read ({exc.strerror})")
            continue
        except UnicodeDecodeError:
            corpus.errors.append(f"{path.name}: not UTF-8 text")
            continue
        except IngestError as exc:
            corpus.errors.append(str(exc))
            continue
        corpus.policies[meta.doc_id] = meta
        _add(corpus, chunk_policy(text, meta))
    seen: dict[str, Path] = {}
    places = {meta.doc_id: meta for meta in metas}
    for path in sorted((knowledge_dir / "outreach").glob("*.md")):
        if path.name.upper() == "FORMAT.MD" or path.name.upper() == "README.MD":
            continue
        try:
            article = parse_article(path)
        except IngestError as exc:
            corpus.errors.append(str(exc))
            continue
        if article.id in seen:
            corpus.errors.append(f"{path.name}: duplicate id {article.id!r} (also in {seen[article.id].name})")
            continue
        if article.place:
            # A place article is that document's rule in plain words: it needs the document to know its region.
            meta = places.get(article.place)
            if meta is None:
                corpus.errors.append(f"{path.name}: place {article.place!r} is not a document id in "
                                     "policy/documents.yaml")
                continue
            chunks = article_chunks(article, region=meta.region, place_title=meta.short_title)
        else:
            chunks = article_chunks(article)
        seen[article.id] = path
        corpus.articles[article.id] = article
        _add(corpus, chunks)
    return corpus
