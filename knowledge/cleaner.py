"""Cleans policy text converted from Word/PDF.

Artifacts handled (each has a test): `[bookmark: _Toc…]` anchors, Markdown heading marks, table-of-contents
lines ending in a tab and a page number, bare page numbers (`- 3 -`, `— 3 —`, `第 3 页`), titles spaced out
with ASCII or ideographic spaces, lines broken in mid-sentence (also across blank lines), and tables
flattened to one cell per line (tab-prefixed), which are rebuilt into one readable line per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOOKMARK_RE = re.compile(r"\[bookmark:[^\]]*\]")
_MD_HEADING_RE = re.compile(r"^\s*#{1,6}\s+")
_TOC_RE = re.compile(r"^.{1,60}\t+\s*\d{1,3}\s*$")
_PAGE_RE = re.compile(r"^\s*(?:[-－—–_]+\s*\d{1,3}\s*[-－—–_]+|\d{1,3}|第\s*\d{1,3}\s*页(?:\s*共\s*\d+\s*页)?|\d{1,3}\s*/\s*\d{1,3})\s*$")
_CJK = r"\u3400-\u9fff"
# A space with a CJK character on one side and a CJK character or digit on the other is a layout artifact.
_SPACED_RE = re.compile(rf"(?<=[{_CJK}])[ \u3000]+(?=[{_CJK}\d（(])|(?<=[\d）)、])[ \u3000]+(?=[{_CJK}])")
_TERMINAL = tuple("。！？；：…」”’）)》!?;:")
# Titles and letterheads end without punctuation but are complete lines.
_TITLE_END_RE = re.compile(r"(方案|规划|通知|意见|办法|文件|细则|清单|[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日|局|委员会|政府)$")

HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(r"^[一二三四五六七八九十]{1,3}、")),
    (2, re.compile(r"^[（(][一二三四五六七八九十]{1,3}[）)]")),
    (4, re.compile(r"^\d{1,2}\s*[.．、]")),
    (5, re.compile(r"^[（(]\d{1,2}[）)]")),
)
# Short label lines such as 主要目标： / 策略措施： group the numbered items below them.
_LABEL_RE = re.compile(r"^[\u4e00-\u9fff]{2,8}[：:]$")


@dataclass(frozen=True)
class Line:
    """One cleaned line; `table` is set for a rebuilt table row (the table's title)."""

    text: str
    table: str = ""
    group: str = ""


def heading_level(text: str) -> int:
    """0 for body text, 1–5 for the Chinese numbering levels (3 = a 主要目标： style label)."""
    if _LABEL_RE.match(text):
        return 3
    for level, pattern in HEADING_PATTERNS:
        if pattern.match(text):
            return level
    return 0


def _strip_line(raw: str) -> str:
    text = _BOOKMARK_RE.sub("", raw).replace("\ufeff", "").replace("\xa0", " ")
    text = _MD_HEADING_RE.sub("", text)
    # Keep tabs: a lone tab is an empty table cell.
    return text.rstrip(" \u3000")


def _is_noise(text: str) -> bool:
    stripped = text.strip()
    return stripped in {"目录", "目 录"} or bool(_TOC_RE.match(text)) or bool(_PAGE_RE.match(stripped))


def _despace(text: str) -> str:
    return _SPACED_RE.sub("", text.strip())


def _table_bounds(lines: list[str]) -> tuple[int, int] | None:
    """First and last line of a trailing flattened table (tab-prefixed cells), if there is one."""
    tab_rows = [i for i, line in enumerate(lines) if line.startswith("\t")]
    if len(tab_rows) < 6:
        return None
    return tab_rows[0], len(lines)


def _parse_table(lines: list[str], title: str) -> list[Line]:
    rows: list[list[str]] = []
    cells: list[str] = []
    for raw in lines:
        if not raw.strip() and not raw.startswith("\t"):
            if cells:
                rows.append(cells)
                cells = []
            continue
        if raw.startswith("\t"):
            cells.append(_despace(raw.strip("\t ")))
        elif cells:
            cells[-1] += _despace(raw)
        else:
            cells.append(_despace(raw))
    if cells:
        rows.append(cells)
    rows = [r for r in rows if any(c for c in r)]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    out: list[Line] = []
    group = ""
    for row in body:
        if row[0]:
            group = re.split(r"[（(]牵头", row[0])[0]
        pairs = [f"{header[i] if i < len(header) else ''}：{cell.rstrip('。；;')}".lstrip("：")
                 for i, cell in enumerate(row) if i > 0 and cell]
        if pairs:
            out.append(Line(text="；".join(pairs) + "。", table=title, group=group))
    return out


def _join_broken(lines: list[str]) -> list[str]:
    """Joins a line that stops mid-sentence with the next body line (blank lines between are allowed)."""
    out: list[str] = []
    pending_join = False
    for text in lines:
        if not text:
            continue
        if pending_join and heading_level(text) == 0 and out:
            out[-1] += text
        else:
            out.append(text)
        last = out[-1]
        pending_join = (
            len(last) >= 15
            and not last.endswith(_TERMINAL)
            and not _TITLE_END_RE.search(last)
            # A bare heading (no sentence inside it) is complete; a numbered item with text may wrap.
            and not (heading_level(last) and "。" not in last and len(last) <= 30)
        )
    return out


def clean_policy_text(raw: str) -> list[Line]:
    """Turns a converted policy document into clean body lines and rebuilt table rows."""
    lines = [_strip_line(line) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    bounds = _table_bounds(lines)
    table_lines: list[str] = []
    if bounds:
        table_lines = lines[bounds[0]:bounds[1]]
        lines = lines[:bounds[0]]
    body = [_despace(line) for line in lines if not _is_noise(line)]
    joined = _join_broken(body)
    out = [Line(text=t) for t in joined]
    if table_lines:
        title = out.pop().text if out and heading_level(out[-1].text) == 0 and len(out[-1].text) <= 60 else "附表"
        out.extend(_parse_table(table_lines, title))
    return out
