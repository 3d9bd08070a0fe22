"""Plain text for WeChat: no Markdown, a length budget, steps on their own lines, a short source line."""

from __future__ import annotations

import re

from bot.answer.model import Composed

_MARKDOWN_RE = re.compile(r"(\*\*|__|`+|^#{1,6}\s*|^>\s*|\[([^\]]*)\]\([^)]*\))", re.M)
_SECTION_NUMBER_RE = re.compile(r"^[（(]?[一二三四五六七八九十\d]{1,3}[）)、.．]\s*")


def strip_markdown(text: str) -> str:
    return _MARKDOWN_RE.sub(lambda m: m.group(2) or "", text)


def _cut(text: str, limit: int) -> str:
    """Cuts at the last sentence end within `limit` characters."""
    if len(text) <= limit:
        return text
    window = text[:limit]
    end = max(window.rfind(mark) for mark in "。！？；")
    return window[: end + 1] if end >= limit // 3 else window[: limit - 1].rstrip("，、；") + "…"  # … counts too


def source_line(composed: Composed) -> str:
    if not composed.sources:
        return ""
    first = composed.sources[0]
    if first.kind == "curated":  # a supervisor's answer: its 出处 as written, with the year
        return f"出处：{first.title}（{first.section}）" if first.title else ""
    title = first.title.strip("《》")
    section = _SECTION_NUMBER_RE.sub("", first.section) if first.kind == "policy" else ""
    return f"出处：《{title}》{section}"


MIN_BODY = 80  # a body cut shorter than this says too little: the reply may then run over


def format_reply(composed: Composed, max_chars: int, hint: str = "", min_body: int = MIN_BODY) -> str:
    """Body and numbered steps, then the source line and an optional hint line, the whole reply within
    `max_chars` where it can be: the source and the hint are kept, steps are dropped from the end first, and
    the body is cut last (never below `min_body` characters)."""
    source = source_line(composed)
    reserved = sum(len(part) + 1 for part in (source, hint) if part)
    budget = max(max_chars - reserved, min_body)
    body = _cut(strip_markdown(composed.body).strip(), budget)
    lines = [body] if body else []
    used = len(body)
    for number, step in enumerate(composed.steps, 1):
        line = f"{number}. {strip_markdown(step).strip()}"
        if used + len(line) + 1 > budget:
            break
        lines.append(line)
        used += len(line) + 1
    if source:
        lines.append(source)
    if hint:
        lines.append(hint)
    return "\n".join(lines)
