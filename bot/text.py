"""Text normalisation shared by triage, retrieval and the pipeline."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_SPACE_RE = re.compile(r"\s+")
# Emoji and pictographs carry no words for retrieval; triage keeps its own emoji map before calling this.
_EMOJI_RE = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0000FE0F\U0000200D\U00002B00-\U00002BFF]"
)
_REPEAT_PUNCT_RE = re.compile(r"([！？。，!?~～.,])\1+")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def fold_width(text: str) -> str:
    """Full-width letters, digits and spaces become half-width; CJK punctuation stays."""
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def strip_emoji(text: str) -> str:
    return _EMOJI_RE.sub(" ", text)


def normalize(text: str) -> str:
    """Canonical form for matching: NFC, half-width alphanumerics, simplified, single spaces.

    Keeps emoji; callers that do not want them use `clean_for_search`.
    """
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C" or ch == "\u200d")
    text = to_simplified(fold_width(text))
    text = _REPEAT_PUNCT_RE.sub(r"\1", text)
    return _SPACE_RE.sub(" ", text).strip()


def clean_for_search(text: str, max_chars: int = 500) -> str:
    """Normalised, emoji-free text cut to `max_chars`: what retrieval embeds and tokenises."""
    text = _SPACE_RE.sub(" ", strip_emoji(normalize(text))).strip()
    return text[:max_chars].rstrip()  # a cut just after a space must not leave it dangling


_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}


def small_number(word: str) -> int:
    """「8」「八」「十二」「二十」 as an int (ages and counts under 100); 99 for what it cannot read."""
    if word.isdigit():
        return int(word)
    if "十" not in word:
        return _DIGITS.get(word[0], 99)
    tens, _, ones = word.partition("十")
    return (_DIGITS.get(tens, 99) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0)
