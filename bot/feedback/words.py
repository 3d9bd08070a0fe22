"""Words around the learning loop: is a message a vote, a question's grouping key, masking long numbers."""

from __future__ import annotations

import re
from typing import Literal

from bot.prompts import prompt_text, prompt_yaml
from bot.text import clean_for_search, normalize

Vote = Literal["up", "down"]
VOTES: tuple[Vote, ...] = ("up", "down")
KEY_CHARS = 200
# Punctuation, spaces and symbols around a vote (「有用！」「没用。。」); emoji votes (👍) are kept.
_NOISE_RE = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65!-/:-@\[-`{-~…—·]+")
_THANKS_RE = re.compile(r"(谢谢(你|您|了|老师)?|谢了|多谢|感谢)+$")
_LEADING_RE = re.compile(r"^(嗯+|哦+|好的?|是的?)")
_NOT_WORD_RE = re.compile(r"[^\u3400-\u9fffa-z0-9]")
_TAIL_RE = re.compile(r"[呢吗嘛啊呀吧哦啦么哈]+$")
# Phone, ID card, bank and QQ numbers: seven or more digits (spaces and dashes between them allowed).
_LONG_NUMBER_RE = re.compile(r"(?<![0-9])[0-9](?:[0-9 \-]{5,})[0-9Xx](?![0-9])")


def vote_in_text(text: str) -> Vote | None:
    """"up"/"down" when the whole message is a vote word (prompts/feedback.yaml), else None."""
    compact = _NOISE_RE.sub("", normalize(text))
    compact = _LEADING_RE.sub("", _THANKS_RE.sub("", compact)) or compact
    words = prompt_yaml("feedback.yaml")["vote_words"]
    for vote in VOTES:
        if compact in {str(word) for word in words[vote]}:
            return vote
    return None


def thanks_line(vote: Vote) -> str:
    return str(prompt_yaml("feedback.yaml")["thanks"][vote])


def feedback_hint() -> str:
    return prompt_text("replies/feedback_hint.txt")


def mask_numbers(text: str) -> str:
    """`text` with long digit runs (phone, ID, bank numbers) replaced: the console's question lists need the
    question, never a number someone typed into it."""
    return _LONG_NUMBER_RE.sub(str(prompt_yaml("console_feedback.yaml")["masked_number"]), text)


def question_key(text: str) -> str:
    """Grouping key: the words of the question without punctuation, emoji, spaces or final particles."""
    key = _NOT_WORD_RE.sub("", clean_for_search(text).lower())
    return (_TAIL_RE.sub("", key) or key)[:KEY_CHARS]
