"""Reply text for WeChat: no Markdown, CDATA-safe XML, and parts of at most 2048 UTF-8 bytes."""

from __future__ import annotations

import re

from wechatpy.replies import TextReply

from bot.answer.format import strip_markdown

MAX_REPLY_BYTES = 2048
MAX_PARTS = 5  # WeChat allows at most 5 客服消息 per user message
_BULLET_RE = re.compile(r"^\s*[-*+]\s+", re.M)
_SENTENCE_END_RE = re.compile(r"(?<=[。！？!?；;\n])")


def plain_text(text: str) -> str:
    """WeChat shows Markdown literally, so emphasis, headings and links become plain words."""
    return _BULLET_RE.sub("· ", strip_markdown(text)).strip()


def cdata_safe(text: str) -> str:
    """`]]>` would end the CDATA section that TextReply writes unescaped; split it across two sections."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut_by_bytes(text: str, limit: int) -> tuple[str, str]:
    """The longest prefix of whole characters within `limit` bytes, and the rest."""
    head = text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")
    return head, text[len(head):]


def split_reply(text: str, limit: int = MAX_REPLY_BYTES) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, cut after sentence ends where possible, never inside a character."""
    parts: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE_END_RE.split(text) if s):
        while _byte_len(sentence) > limit:  # one sentence longer than a part: cut it by bytes
            if current:
                parts.append(current)
                current = ""
            head, sentence = _cut_by_bytes(sentence, limit)
            parts.append(head)
        if _byte_len(current) + _byte_len(sentence) > limit:
            parts.append(current)
            current = ""
        current += sentence
    if current:
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def reply_parts(text: str, max_parts: int = MAX_PARTS) -> list[str]:
    """The pipeline's reply as WeChat text parts (plain, split, at most `max_parts`)."""
    return split_reply(plain_text(text))[:max_parts]


def text_reply_xml(text: str, to_user: str, from_account: str) -> str:
    """A passive text reply (first part only) as XML that stays valid whatever the text holds."""
    parts = reply_parts(text, 1)
    reply = TextReply(content=cdata_safe(parts[0] if parts else ""), target=to_user, source=from_account)
    return reply.render()
