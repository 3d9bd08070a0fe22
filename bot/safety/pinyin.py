"""Sound-alike repair for safety terms: Latin pinyin typed instead of characters, and homophones that
voice-to-text or a pinyin keyboard produce (资杀 for 自杀, 龙药 for 农药 from an n/l-merging speaker)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

_LATIN_RUN = re.compile(r"[a-z]+(?:[ '\-]?[a-z]+)*")
_FINAL_NG = re.compile(r"([aei])ng$")


def _strip_tone(syllable: str) -> str:
    plain = unicodedata.normalize("NFD", syllable)
    return "".join(ch for ch in plain if not unicodedata.combining(ch))


def fuzzy_key(syllable: str) -> str:
    """Collapse the distinctions southern speakers (and ASR on their speech) often lose."""
    s = syllable
    for retroflex, flat in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if s.startswith(retroflex):
            s = flat + s[2:]
    if s.startswith("l"):
        s = "n" + s[1:]
    elif s.startswith("f"):
        s = "h" + s[1:]
    return _FINAL_NG.sub(r"\1n", s)


@lru_cache(maxsize=8192)
def _char_keys(ch: str) -> frozenset[str]:
    readings = pinyin_dict.get(ord(ch))
    if not readings:
        return frozenset()
    return frozenset(fuzzy_key(_strip_tone(r)) for r in readings.split(","))


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    return frozenset(_strip_tone(r) for readings in pinyin_dict.values() for r in readings.split(","))


def is_pinyin(run: str) -> bool:
    """True when the letters split completely into Mandarin syllables (so they are not English)."""
    syllables = _syllables()
    ok = [True] + [False] * len(run)
    for end in range(1, len(run) + 1):
        ok[end] = any(ok[start] and run[start:end] in syllables for start in range(max(0, end - 6), end))
    return ok[-1]


def latin_table(terms: Iterable[str], extra: dict[str, str]) -> dict[str, str]:
    """Toneless pinyin spelling -> term, for every term, plus hand-written spellings."""
    table = {"".join(lazy_pinyin(term, style=Style.NORMAL)): term for term in terms}
    table.update(extra)
    return table


class SoundAlikes:
    """Rewrites pinyin fragments and fuzzy homophones of a fixed term list back to the real terms."""

    def __init__(self, latin: dict[str, str], terms: Iterable[str], exclude: Iterable[str]) -> None:
        self._latin = sorted(latin.items(), key=lambda kv: -len(kv[0]))
        self._mixed = _mixed_pattern([hanzi for _, hanzi in self._latin])
        self._exclude = tuple(exclude)
        self._terms: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for term in terms:
            keys = tuple(fuzzy_key(s) for s in lazy_pinyin(term, style=Style.NORMAL))
            self._terms.setdefault(keys[0], []).append((term, keys))

    def latin_to_hanzi(self, text: str) -> str:
        """`wo bu xiang huo le` -> `wo不想活了`: known phrases inside runs of valid pinyin."""
        def convert(m: re.Match[str]) -> str:
            run = re.sub(r"[ '\-]", "", m.group(0))
            if not is_pinyin(run):
                return m.group(0)
            replaced = run
            for latin, hanzi in self._latin:
                replaced = replaced.replace(latin, hanzi)
            return replaced if replaced != run else m.group(0)

        return _LATIN_RUN.sub(convert, text)

    def mixed_to_hanzi(self, text: str) -> str:
        """`我想zi杀` / `自sha` / `bu想活了` -> the term: a term written part in pinyin, part in characters."""
        if self._mixed is None or not _LATIN_RUN.search(text):  # every variant holds a pinyin syllable
            return text
        return self._mixed[0].sub(lambda m: self._mixed[1][m.lastgroup or ""], text)

    def fix_homophones(self, text: str) -> str:
        """Replace a span that sounds like a term when at least half its characters already are the term's."""
        out: list[str] = []
        i = 0
        while i < len(text):
            hit = self._term_at(text, i)
            if hit:
                out.append(hit)
                i += len(hit)
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def _term_at(self, text: str, i: int) -> str | None:
        for key in _char_keys(text[i]):
            for term, keys in self._terms.get(key, ()):
                span = text[i : i + len(term)]
                if span == term or len(span) < len(term):
                    continue
                if not all(k in _char_keys(ch) for k, ch in zip(keys, span)):
                    continue
                same = sum(a == b for a, b in zip(term, span))
                if same * 2 < len(term) or self._excluded(text, i, i + len(term)):
                    continue
                return term
        return None

    def _excluded(self, text: str, start: int, end: int) -> bool:
        for word in self._exclude:
            for m in re.finditer(re.escape(word), text):
                if m.start() < end and m.end() > start:
                    return True
        return False


def _mixed_pattern(terms: Iterable[str]) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """One regex for every mix of characters and toneless pinyin syllables of each term (at least one of
    each), longest first; group names map back to the term. Pinyin parts must not touch other letters."""
    variants: list[tuple[str, str]] = []
    for term in dict.fromkeys(t for t in terms if 2 <= len(t) <= 5):
        syllables = lazy_pinyin(term, style=Style.NORMAL)
        if len(syllables) != len(term):
            continue
        for mask in itertools.product((False, True), repeat=len(term)):
            if all(mask) or not any(mask):
                continue
            parts = [re.escape(syl) if latin else re.escape(ch) for ch, syl, latin in zip(term, syllables, mask)]
            body = "[\\s'\\-]*".join(parts)
            pattern = ("(?<![a-z])" if mask[0] else "") + body + ("(?![a-z])" if mask[-1] else "")
            variants.append((pattern, term))
    if not variants:
        return None
    variants.sort(key=lambda v: -len(v[1]))
    names = {f"m{i}": term for i, (_, term) in enumerate(variants)}
    regex = "|".join(f"(?P<m{i}>{pattern})" for i, (pattern, _) in enumerate(variants))
    return re.compile(regex), names
