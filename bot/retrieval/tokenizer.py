"""Chinese tokenisation for BM25: jieba (search mode) with a domain dictionary and stop words."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Mapping
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


def dictionary_digest() -> str:
    """What the words depend on: jieba's version and the domain dictionary. The risk model's word features were
    counted with them (bot/safety/features.py), so a change means retraining it."""
    digest = hashlib.sha256(jieba.__version__.encode())
    digest.update((KNOWLEDGE_DIR / "userdict.txt").read_bytes())
    return digest.hexdigest()[:16]


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


def segment_with(text: str, extra: Mapping[str, int]) -> list[str]:
    """jieba's most probable split of `text` into dictionary words, with the words of `extra` added at the given
    counts for this call only: the shared dictionary stays as it is (retrieval's tokens and the risk model's word
    features are read with it). No HMM guesses: an unknown character stays on its own."""
    tokenizer = _tokenizer()
    dag = tokenizer.get_DAG(text)
    for word in extra:
        start = text.find(word)
        while start >= 0:
            if start + len(word) - 1 not in dag[start]:
                dag[start].append(start + len(word) - 1)
            start = text.find(word, start + 1)
    log_total = math.log(tokenizer.total)
    route: dict[int, tuple[float, int]] = {len(text): (0.0, 0)}
    for i in range(len(text) - 1, -1, -1):
        route[i] = max((math.log(max(extra.get(text[i:j + 1], 0), tokenizer.FREQ.get(text[i:j + 1]) or 1))
                        - log_total + route[j + 1][0], j) for j in dag[i])
    pieces, i = [], 0
    while i < len(text):
        end = route[i][1] + 1
        pieces.append(text[i:end])
        i = end
    return pieces


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
