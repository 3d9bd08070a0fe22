"""What the learned risk model reads: character 1-3 grams and jieba words with their pairs.

Characters carry dialect, typos and voice-to-text errors; words carry what characters cannot tell apart
(「落户口」 is no 「落水」). The words come from the tokenizer retrieval already loads (one jieba dictionary in
memory, not two); the artifact records that dictionary's digest, and loading says so when it changed.
"""

from __future__ import annotations

import re

_TOKEN_RE = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")


def word_grams(text: str) -> list[str]:
    """jieba words of `text` (lower-cased, punctuation dropped) and each pair of neighbouring words."""
    from bot.retrieval.tokenizer import segment  # on first use: unpickling the artifact imports only this module

    tokens = [t.lower() for t in segment(text) if _TOKEN_RE.search(t)]
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
