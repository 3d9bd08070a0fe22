"""Structure-aware chunking of Chinese policy documents.

Headings (`一、` `（一）` `1.` `（1）` and labels such as `主要目标：`) build a section path. Each numbered item
becomes its own unit; a long unit is split at sentence ends with a one-sentence overlap. No chunk spans two
sections. Table rows (rebuilt by the cleaner) become one chunk each, under the table's title and row group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.chunks import Chunk
from knowledge.cleaner import Line, clean_policy_text, heading_level

TARGET_CHARS = 300
MAX_CHARS = 380
_SENTENCE_RE = re.compile(r"[^。！？；]*[。！？；]|[^。！？；]+$")
_TITLE_CUT_RE = re.compile(r"——|—|。|：")
# 「一是…。二是…。」 enumerates parts of one item; each part starts its own chunk.
_ENUMERATION_RE = re.compile(r"(?<=[。；：])(?=[一二三四五六七八九十]是)")


@dataclass(frozen=True)
class PolicyMeta:
    doc_id: str
    title: str
    short_title: str
    region: str
    source_file: str
    issuer: str = ""
    date: str = ""
    doc_number: str = ""
    aliases: tuple[str, ...] = ()


def _label(text: str, level: int) -> tuple[str, str]:
    """Splits a heading line into (path label, body text that shares its line)."""
    if level in (1, 2, 3):
        head, _, rest = text.partition("。") if len(text) > 30 else (text.rstrip("。：:"), "", "")
        label = _TITLE_CUT_RE.split(head)[0].strip() or head
        if len(head) > 30:  # no sentence end within a heading's length: body text was joined to it; keep all
            return label[:30], text
        return label[:30], rest.strip()
    number = re.match(r"^([（(]?\d{1,2}[）)]?\s*[.．、]?)", text)
    prefix = number.group(1).strip() if number else ""
    first = _SENTENCE_RE.match(text[len(prefix):].strip())
    first_text = first.group(0).strip("。；") if first else ""
    label = f"{prefix}{first_text}" if 0 < len(first_text) <= 20 else prefix
    return label, text


def split_sentences(text: str) -> list[str]:
    return [s for s in (m.group(0).strip() for m in _SENTENCE_RE.finditer(text)) if s]


def pack_sentences(sentences: list[str], target: int = TARGET_CHARS, limit: int = MAX_CHARS) -> list[str]:
    """Packs sentences into passages near `target` characters; overlap is the previous last sentence."""
    pieces: list[str] = []
    for sentence in sentences:
        # A single sentence longer than the limit is cut at commas so no chunk is unreadably long.
        if len(sentence) > limit:
            # A stretch without commas longer than the limit (a garbled conversion) is cut by length.
            parts = [p[i:i + limit] for p in re.findall(r"[^，,]+[，,]?", sentence) for i in range(0, len(p), limit)]
            buf = ""
            for part in parts:
                if len(buf) + len(part) > target and buf:
                    pieces.append(buf)
                    buf = ""
                buf += part
            if buf:
                pieces.append(buf)
        else:
            pieces.append(sentence)
    chunks: list[str] = []
    current: list[str] = []
    for piece in pieces:
        if current and len("".join(current)) + len(piece) > target:
            chunks.append("".join(current))
            overlap = current[-1] if len(current[-1]) <= 50 and len(current) > 1 else ""
            overlap = overlap if len(overlap) + len(piece) <= limit else ""  # the overlap never breaks the limit
            current = [overlap] if overlap else []
        current.append(piece)
    if current and (not chunks or "".join(current) not in chunks[-1]):
        chunks.append("".join(current))
    return chunks


@dataclass
class _Unit:
    path: tuple[str, ...]
    text: str


def _units(lines: list[Line]) -> list[_Unit]:
    units: list[_Unit] = []
    stack: list[tuple[int, str]] = []
    preamble = "开头"
    for line in lines:
        if line.table:
            # The row's first cell names the indicator; keep it in the path so every piece of a split row
            # still says what it is about.
            indicator = line.text.split("；")[0].split("：")[-1][:30]
            units.append(_Unit(path=("附件", line.table[:30], line.group[:30], indicator), text=line.text))
            continue
        level = heading_level(line.text)
        if level:
            label, body = _label(line.text, level)
            stack = [(lv, lb) for lv, lb in stack if lv < level] + [(level, label)]
            path = tuple(lb for _, lb in stack)
            if body:
                units.append(_Unit(path=path, text=body))
            continue
        path = tuple(lb for _, lb in stack) or (preamble,)
        if units and units[-1].path == path and level == 0 and len(units[-1].text) < TARGET_CHARS // 2:
            units[-1].text += line.text
        else:
            units.append(_Unit(path=path, text=line.text))
    return units


def chunk_policy(raw: str, meta: PolicyMeta) -> list[Chunk]:
    """Cleans and chunks one policy document."""
    chunks: list[Chunk] = []
    for unit in _units(clean_policy_text(raw)):
        section = " > ".join(unit.path)
        parts = [p for p in _ENUMERATION_RE.split(unit.text) if p]
        for passage in (piece for part in parts for piece in pack_sentences(split_sentences(part))):
            if len(passage) < 8:
                continue
            chunks.append(
                Chunk(
                    doc_id=meta.doc_id,
                    kind="policy",
                    title=meta.title,
                    short_title=meta.short_title,
                    region=meta.region,
                    topic="policy",
                    section=section,
                    position=len(chunks),
                    text=passage,
                    search_text=f"{meta.short_title}｜{section}｜{passage}",
                    source_file=meta.source_file,
                )
            )
    return chunks
