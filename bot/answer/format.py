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
    return window[: end + 1] if end >= limit // 3 else window.rstrip("，、；") + "…"


def source_line(composed: Composed) -> str:
    if not composed.sources:
        return ""
    first = composed.sources[0]
    if first.kind == "curated":  # a supervisor's answer: its 出处 as written, with the year
        return f"出处：{first.title}（{first.section}）" if first.title else ""
    title = first.title.strip("《》")
    section = _SECTION_NUMBER_RE.sub("", first.section) if first.kind == "policy" else ""
    return f"出处：《{title}》{section}"


def format_reply(composed: Composed, max_chars: int, hint: str = "") -> str:
    """Body and numbered steps within `max_chars`, then the source line and an optional hint line."""
    body = _cut(strip_markdown(composed.body).strip(), max_chars)
    lines = [body] if body else []
    used = len(body)
    for number, step in enumerate(composed.steps, 1):
        line = f"{number}. {strip_markdown(step).strip()}"
        if used + len(line) > max_chars:
            break
        lines.append(line)
        used += len(line)
    source = source_line(composed)
    if source:
        lines.append(source)
    if hint:
        lines.append(hint)
    return "\n".join(lines)
