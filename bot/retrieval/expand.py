"""Query expansion: everyday words guardians use -> the formal words the documents use; sound-alike typos
(voice-to-text, pinyin keyboards: 一苗 for 疫苗) -> the domain word they sound like."""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

import yaml
from pypinyin import Style, lazy_pinyin

from bot.retrieval.tokenizer import segment_with
from knowledge import KNOWLEDGE_DIR

_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]{2,}")


@lru_cache(maxsize=1)
def _thesaurus() -> dict[str, list[str]]:
    data = yaml.safe_load((KNOWLEDGE_DIR / "thesaurus.yaml").read_text("utf-8")) or {}
    return {str(formal): [str(v) for v in variants or ()] for formal, variants in data.items()}


# How often a dialect word counts as seen in jieba's dictionary (60 million words): about as often as 「学堂」
# or 「往返」, so 「个仔返学成日」 splits at the dialect words, while 「一个女孩子」, 「重点解决」 and 「然而家里」
# keep the common Mandarin words that a dialect word (个女, 点解, 而家) only straddles.
DIALECT_COUNT = 500


@lru_cache(maxsize=1)
def _dialect() -> dict[str, str]:
    data = yaml.safe_load((KNOWLEDGE_DIR / "dialect.yaml").read_text("utf-8")) or {}
    return {str(word): str(plain) for word, plain in data.items()}


def plain_mandarin(text: str) -> str:
    """`text` with dialect words (knowledge/dialect.yaml: 细路 -> 小孩, 有冇 -> 有没有) in Mandarin, where they are
    words of the sentence rather than pieces of Mandarin words around them (「一个女孩」 has no 个女 in it)."""
    table = _dialect()
    if not any(word in text for word in table):
        return text
    pieces = segment_with(text, dict.fromkeys(table, DIALECT_COUNT))
    return "".join(table.get(piece, piece) for piece in pieces)


@lru_cache(maxsize=1)
def _variants() -> tuple[tuple[str, str], ...]:
    pairs = [(variant, formal) for formal, variants in _thesaurus().items() for variant in variants]
    # Longest variants first so 「不想读了」 wins over 「读」-sized fragments.
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """The domain words we know are right: thesaurus terms and variants, and the tokenizer's user dictionary."""
    words = {w for formal, variants in _thesaurus().items() for w in (formal, *variants)}
    for line in (KNOWLEDGE_DIR / "userdict.txt").read_text("utf-8").splitlines():
        if line.split():
            words.add(line.split()[0])
    return frozenset(w for w in words if _CJK_RUN_RE.fullmatch(w))


@lru_cache(maxsize=1)
def _by_sound() -> dict[tuple[str, ...], tuple[str, ...]]:
    sounds: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for word in sorted(_vocabulary()):
        if len(word) <= 4:
            sounds[tuple(lazy_pinyin(word, style=Style.NORMAL))].append(word)
    return {key: tuple(words) for key, words in sounds.items()}


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from bot.retrieval.tokenizer import _tokenizer

    tokenizer = _tokenizer()
    tokenizer.check_initialized()
    return frozenset(w for w, freq in tokenizer.FREQ.items() if freq)


def correct_sound_alikes(text: str) -> str:
    """`text` with each 2-4 character sound-alike of a domain word replaced by that word.

    A stretch is replaced only if it is no word itself (neither a domain word nor in jieba's dictionary),
    sounds exactly like the domain word (toneless pinyin) and shares a character with it at the same place:
    一苗 (yi miao) becomes 疫苗, never 护苗 (hu miao), whose sound differs.
    """
    vocabulary, common, by_sound = _vocabulary(), _common_words(), _by_sound()
    out = text
    for run in _CJK_RUN_RE.findall(text):
        sounds = lazy_pinyin(run, style=Style.NORMAL)
        if len(sounds) != len(run):
            continue
        for size in (4, 3, 2):
            for i in range(len(run) - size + 1):
                stretch = run[i:i + size]
                if stretch in vocabulary or stretch in common:
                    continue
                for word in by_sound.get(tuple(sounds[i:i + size]), ()):
                    if any(a == b for a, b in zip(stretch, word)):
                        out = out.replace(stretch, word)
                        break
    return out


def expand_query(text: str) -> str:
    """`text` in Mandarin (dialect words replaced) with sound-alike typos corrected, plus the formal terms for
    any everyday expressions it contains (each added once)."""
    text = correct_sound_alikes(plain_mandarin(text))
    added: list[str] = []
    for variant, formal in _variants():
        if variant in text and formal not in text and formal not in added:
            added.append(formal)
    return f"{text} {' '.join(added)}" if added else text
