"""Checks outreach articles against the house rules in knowledge/outreach/FORMAT.md.

Local rules live only in place articles (front matter `place: <policy document id>`): a national article may not
name a place that has a policy document, and a place article names its own place and no other, cites its
document's title with a section in 出处, and says so in its 一句话.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import IngestError
from knowledge.loader import load_policy_meta
from knowledge.outreach import AUDIENCES, REQUIRED_SECTIONS, TOPICS, Article, parse_article
from knowledge.policy_chunker import PolicyMeta

ONE_LINER_MAX = 40
STEPS_MAX = 5
STEP_CHARS_MAX = 30
SENTENCE_AVG_MAX = 25
QUESTIONS_MIN = 4
STOCK_PHRASES = (
    "贯彻落实", "统筹推进", "压实责任", "全面加强", "高度重视", "切实做好", "健全机制", "进一步加强",
    "扎实推进", "全面落实", "着力提升", "深入开展", "有效提升", "全方位", "多层次",
    # Officialese that families do not say; pasted policy sentences are full of it.
    "统筹", "机制", "体系", "落实", "覆盖率", "全覆盖", "闭环", "抓手", "长效",
)
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SENTENCE_SPLIT_RE = re.compile(r"[。！？；!?;\n]+")
_MARK_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.．、)])\s*")
# Document titles may contain stock phrases (《关于进一步加强…的意见》); only our own wording is checked.
_TITLE_RE = re.compile(r"《[^》]*》")
# A source names when it was issued: a year 1900-2099 standing on its own (not part of a longer number).
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
# Where in a document a rule stands: 第二部分, 第（三）项, 第6条, 附件 …
_SECTION_REF_RE = re.compile(
    r"第\s*(?:[一二三四五六七八九十百零\d]+|[（(][一二三四五六七八九十\d]+[）)])\s*(?:部分|章|节|条|项|款|点|段)|附件"
)


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def visible_length(text: str) -> int:
    """Characters a reader sees: spaces do not count."""
    return len("".join(text.split()))


def sentences(text: str) -> list[str]:
    parts = (_MARK_RE.sub("", s).strip() for s in _SENTENCE_SPLIT_RE.split(text))
    return [p for p in parts if visible_length(p) >= 2]


def _front_line(article: Article, key: str) -> int:
    for number, line in enumerate(article.path.read_text("utf-8").splitlines(), 1):
        if line.startswith(f"{key}:"):
            return number
    return 1


def check_sources(article: Article) -> list[Problem]:
    """Every article names its sources, and each source says its year, so a reader can tell how current it is."""
    line = _front_line(article, "sources")
    if not article.sources:
        return [Problem(article.path, line, "sources must not be empty")]
    return [
        Problem(article.path, line, f"source {source!r} has no year (add the 4-digit year it was issued)")
        for source in article.sources
        if not _YEAR_RE.search(source)
    ]


def check_article(article: Article) -> list[Problem]:
    problems: list[Problem] = []

    def add(line: int, message: str) -> None:
        problems.append(Problem(article.path, line, message))

    if not _ID_RE.match(article.id):
        add(_front_line(article, "id"), f"id {article.id!r} must be lower-case letters, digits and hyphens")
    if article.path.stem != article.id:
        add(_front_line(article, "id"), f"id {article.id!r} must equal the file name {article.path.stem!r}")
    if article.topic not in TOPICS:
        add(_front_line(article, "topic"), f"topic {article.topic!r} is not one of {', '.join(TOPICS)}")
    unknown = [a for a in article.audience if a not in AUDIENCES]
    if not article.audience or unknown:
        add(_front_line(article, "audience"), f"audience must be some of {', '.join(AUDIENCES)}")
    if len(article.questions) < QUESTIONS_MIN:
        add(_front_line(article, "questions"), f"needs at least {QUESTIONS_MIN} questions, has {len(article.questions)}")
    problems.extend(check_sources(article))
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", article.reviewed):
        add(_front_line(article, "reviewed"), "reviewed must be a date like 2026-11-22")
    for name in REQUIRED_SECTIONS:
        if name not in article.sections:
            add(article.body_start_line, f"missing section '## {name}'")
    line_of = article.section_lines
    if "一句话" in article.sections and visible_length(article.one_liner) > ONE_LINER_MAX:
        add(line_of["一句话"], f"一句话 has {visible_length(article.one_liner)} characters (at most {ONE_LINER_MAX})")
    if "怎么做" in article.sections:
        steps = article.steps
        if not steps:
            add(line_of["怎么做"], "怎么做 needs numbered steps (1. …)")
        if len(steps) > STEPS_MAX:
            add(line_of["怎么做"], f"怎么做 has {len(steps)} steps (at most {STEPS_MAX})")
        for number, step in enumerate(steps, 1):
            if visible_length(step) > STEP_CHARS_MAX:
                add(line_of["怎么做"] + number, f"step {number} has {visible_length(step)} characters (at most {STEP_CHARS_MAX})")
    body = "\n".join(text for name, text in article.sections.items() if name != "出处")
    said = sentences(body)
    if said:
        average = sum(visible_length(s) for s in said) / len(said)
        if average > SENTENCE_AVG_MAX:
            add(article.body_start_line, f"sentences average {average:.1f} characters (at most {SENTENCE_AVG_MAX})")
    text = article.path.read_text("utf-8").splitlines()
    for number, line in enumerate(text, 1):
        own_words = _TITLE_RE.sub("", line)
        for phrase in STOCK_PHRASES:
            if phrase in own_words:
                add(number, f"policy stock phrase {phrase!r}: say what to do in plain words")
        if line.lstrip().startswith("|") and line.count("|") >= 2:
            add(number, "no tables: use short sentences or a numbered list")
    return problems


def place_names(meta: PolicyMeta) -> tuple[str, ...]:
    """The names a reader would recognise the document's area by (its aliases in documents.yaml)."""
    return meta.aliases


def _own_words(article: Article) -> list[tuple[int, str]]:
    """(line, text) of what the article says itself: title, questions and body, not its sources or 出处."""
    lines = article.path.read_text("utf-8").splitlines()
    out: list[tuple[int, str]] = []
    in_sources = False
    in_citations = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if number < article.body_start_line:
            if re.match(r"^[A-Za-z_]+:", line):
                in_sources = line.startswith("sources:")
            if not in_sources and not line.startswith(("place:", "id:")):
                out.append((number, line))
            continue
        if stripped.startswith("## "):
            in_citations = stripped[3:].strip() == "出处"
        if not in_citations:
            out.append((number, line))
    return out


def check_place(article: Article, policies: dict[str, PolicyMeta]) -> list[Problem]:
    """Local rules only in place articles, each tied to its document; national articles name no such place."""
    problems: list[Problem] = []

    def add(line: int, message: str) -> None:
        problems.append(Problem(article.path, line, message))

    own = _own_words(article)
    others = {doc_id: meta for doc_id, meta in policies.items() if doc_id != article.place}
    for doc_id, meta in sorted(others.items()):
        for name in place_names(meta):
            line = next((n for n, text in own if name in text), None)
            if line is None:
                continue
            if article.place:
                add(line, f"names {name!r} ({doc_id}): a place article speaks of its own place only")
            else:
                add(line, f"names {name!r}: a local rule goes in a place article (front matter `place: {doc_id}`)")
            break
    if not article.place:
        return problems
    meta = policies.get(article.place)
    if meta is None:
        known = ", ".join(sorted(policies)) or "none"
        add(_front_line(article, "place"), f"place {article.place!r} is not a document id in documents.yaml "
                                           f"(known: {known})")
        return problems
    names = place_names(meta) or (meta.region,)
    if "一句话" in article.sections and not any(name in article.one_liner for name in names):
        add(article.section_lines["一句话"], f"一句话 must name the place ({'/'.join(names)}): "
                                            "it is that place's plan, not everyone's")
    cited = article.sections.get("出处", "")
    if not any(f"《{meta.title}》" in line and _SECTION_REF_RE.search(line.replace(f"《{meta.title}》", ""))
               for line in cited.splitlines()):
        add(article.section_lines.get("出处", article.body_start_line),
            f"出处 must cite 《{meta.title}》 and where in it (e.g. 第二部分第（一）项)")
    return problems


def lint_folder(folder: Path, policy_dir: Path | None = None) -> tuple[int, list[Problem]]:
    """(articles checked, problems) for every article in `folder`, including cross-article checks.
    `policy_dir` (default: `folder`'s sibling policy/) holds documents.yaml, which place articles refer to."""
    problems: list[Problem] = []
    articles: list[Article] = []
    policy_dir = policy_dir or folder.parent / "policy"
    try:
        policies = {meta.doc_id: meta for meta in load_policy_meta(policy_dir)}
    except IngestError as exc:
        policies = {}
        problems.append(Problem(policy_dir / "documents.yaml", 1, str(exc)))
    for path in sorted(folder.glob("*.md")):
        if path.name in ("FORMAT.md", "README.md"):
            continue
        try:
            articles.append(parse_article(path))
        except IngestError as exc:
            problems.append(Problem(path, 1, str(exc).split(": ", 1)[-1]))
    ids: dict[str, Path] = {}
    questions: dict[str, Path] = {}
    for article in articles:
        problems.extend(check_article(article))
        problems.extend(check_place(article, policies))
        if article.id in ids:
            problems.append(Problem(article.path, _front_line(article, "id"),
                                    f"duplicate id {article.id!r} (also in {ids[article.id].name})"))
        ids.setdefault(article.id, article.path)
        for question in article.questions:
            key = "".join(question.split())
            if key in questions and questions[key] != article.path:
                problems.append(Problem(article.path, _front_line(article, "questions"),
                                        f"question {question!r} also in {questions[key].name}"))
            questions.setdefault(key, article.path)
    return len(articles), problems


def lint_crisis_sources(crisis_dir: Path) -> tuple[int, list[Problem]]:
    """(templates checked, problems): every crisis reply template in `crisis_dir` needs a non-empty list of
    sources in its sidecar sources.yaml, and every entry there must name an existing template."""
    sidecar = crisis_dir / "sources.yaml"
    templates = sorted(p.stem for p in crisis_dir.glob("*.txt"))
    try:
        data = yaml.safe_load(sidecar.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        return len(templates), [Problem(sidecar, 1, f"cannot read crisis sources: {exc}")]
    entries = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return len(templates), [Problem(sidecar, 1, "needs a `templates` map: template name -> list of sources")]
    lines = sidecar.read_text("utf-8").splitlines()

    def line_of(name: str) -> int:
        return next((n for n, line in enumerate(lines, 1) if line.strip().startswith(f"{name}:")), 1)

    problems = []
    for name in templates:
        sources = entries.get(name)
        if not sources or not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
            message = f"no sources for crisis template {name!r} in {sidecar.name}"
            problems.append(Problem(crisis_dir / f"{name}.txt", 1, message))
    for name in sorted(set(entries) - set(templates)):
        problems.append(Problem(sidecar, line_of(name), f"sources for {name!r}, but there is no {name}.txt"))
    return len(templates), problems
