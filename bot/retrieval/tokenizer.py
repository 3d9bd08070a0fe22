"""Chinese tokenisation for BM25: jieba (search mode) with a domain dictionary and stop words."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba

from knowledge import KNOWLEDGE_DIR

_WORD_RE = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]{2,}")
jieba.setLogLevel(logging.WARNING)


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.load_userdict(str(KNOWLEDGE_DIR / "userdict.txt"))
    return tokenizer


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(w.strip() for w in (KNOWLEDGE_DIR / "stopwords.txt").read_text("utf-8").splitlines() if w.strip())


def tokenize(text: str) -> list[str]:
    """Search-mode jieba words plus character bigrams, lower-cased, without punctuation or stop words.

    Bigrams let a colloquial question (「住校」) meet formal policy wording (「寄宿」 shares none, but
    「留守儿童寄宿」 vs 「寄宿需求」 share 「寄宿」) even where jieba segments the two texts differently.
    """
    stop = _stopwords()
    words = [tok.lower() for tok in _tokenizer().cut_for_search(text) if _WORD_RE.search(tok) and tok not in stop]
    bigrams = [run[i:i + 2] for run in _CJK_RUN_RE.findall(text) for i in range(len(run) - 1)]
    return words + [b for b in bigrams if b not in stop]


def words(text: str) -> list[str]:
    """jieba words only (no bigrams): for weighing how much of a question a passage answers."""
    stop = _stopwords()
    return [tok.lower() for tok in _tokenizer().cut(text) if _WORD_RE.search(tok) and tok not in stop]


def warm_up() -> None:
    """Loads jieba's dictionary now rather than on the first query."""
    tokenize("预热")
