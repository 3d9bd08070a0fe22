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


def segment(text: str) -> list[str]:
    """jieba's plain cut of `text`, every character kept (punctuation too): the pieces join back to `text`."""
    return list(_tokenizer().cut(text))


@lru_cache(maxsize=1)
def _pos_tokenizer():  # type: ignore[no-untyped-def]
    """jieba's part-of-speech tagger over our tokenizer: the standard tags (loaded once, by jieba.posseg) plus
    the domain dictionary's own (「留守儿童 20 n」)."""
    import jieba.posseg

    tagger = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
    tagger.tokenizer = _tokenizer()
    tagger.word_tag_tab = dict(jieba.posseg.dt.word_tag_tab)
    for line in (KNOWLEDGE_DIR / "userdict.txt").read_text("utf-8").splitlines():
        fields = line.split()
        if fields:
            tagger.word_tag_tab[fields[0]] = fields[2] if len(fields) >= 3 else "n"
    return tagger


def pos_segment(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs, e.g. ("对于", "p"), ("就诊", "v"). The first call loads the tags
    (seconds): `warm_up` does it at start."""
    return [(pair.word, pair.flag) for pair in _pos_tokenizer().cut(text)]


def warm_up() -> None:
    """Loads jieba's dictionary (and its part-of-speech tags) now rather than on the first query."""
    tokenize("预热")
    pos_segment("预热")
