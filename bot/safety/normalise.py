"""Safety-specific normalisation on top of bot.text.normalize.

Messages reach us typed by grandparents on pinyin keyboards, dictated through WeChat's speech
recognition, or forwarded from children: emoji instead of words, spaces, dots, punctuation, emoji or
invisible fillers between characters, Kangxi radicals and other compatibility forms, tone-marked or mixed
pinyin (我想zi杀), dialect function words and homophones. Everything is mapped back to one plain form so the
lexicon needs each word only once. The result is for matching only: the stored message stays as written.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.safety.lexicon import Lexicon, load_lexicon
from bot.safety.pinyin import SoundAlikes, latin_table
from bot.text import normalize

_CJK = r"[\u3400-\u9fff]"
# Visible separators: spaces, ASCII and CJK punctuation, middle dots, box and line symbols.
_SEP = (r"[\s!-/:-@\[-`{-~\u00a1-\u00bf\u00d7\u2010-\u205e\u2190-\u23ff\u2500-\u25ff"
        r"\u3000-\u303f\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+")
# Invisible or meaningless in a word, removed everywhere: fillers (Hangul U+3164 / U+FFA0 / U+115F / U+1160,
# braille blank U+2800), zero-width characters, variation selectors, and emoji the table below does not map
# to a word. Combining marks go too (after NFD), which also strips pinyin tone marks (zì shā -> zi sha).
_NOISE = re.compile(
    "[\u115f\u1160\u3164\uffa0\u2800\u200b-\u200f\u2060-\u2064\ufeff\ufe00-\ufe0f"
    "\U000e0100-\U000e01ef\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]"
)
# Spaces or filler symbols that split a word ("自 杀", "我想自.杀", "不 想 活"): at least one side is a lone
# character. Other spaces between Chinese words are the writer's punctuation and stay (clause breaks).
_INNER_SEPARATORS = re.compile(
    rf"(?<={_CJK}){_SEP}(?={_CJK}(?!{_CJK}))|(?<=(?<!{_CJK}){_CJK}){_SEP}(?={_CJK})"
)
_JOINERS = re.compile("[\ufe0f\u200d]")
_BETWEEN_CJK = re.compile(rf"(?<={_CJK}){_SEP}(?={_CJK})")


class SafetyNormaliser:
    """Compiled replacement tables from the `normalise` section of lexicon.yaml."""

    def __init__(self, lexicon: Lexicon) -> None:
        data = lexicon.normalise
        self._emoji = str.maketrans({k: v for k, v in data.get("emoji", {}).items() if len(k) == 1})
        self._dialect = _replacer(data.get("dialect", {}))
        variants = {v: canon for canon, vs in data.get("homophones", {}).items() for v in vs}
        self._homophones = _replacer(variants)
        self._sound = SoundAlikes(
            latin=latin_table(data.get("pinyin_terms", ()), data.get("pinyin_extra", {})),
            terms=data.get("fuzzy_terms", ()),
            exclude=data.get("fuzzy_exclude", ()),
        )

    def __call__(self, text: str) -> str:
        # NFKC first: Kangxi radicals (⾃ -> 自), circled and full-width forms, compatibility ideographs.
        text = normalize(unicodedata.normalize("NFKC", text or "")).translate(self._emoji)
        text = _NOISE.sub("", _strip_marks(_JOINERS.sub("", text))).lower()
        text = _INNER_SEPARATORS.sub("", text)
        text = self._sound.latin_to_hanzi(text)
        text = self._sound.mixed_to_hanzi(text)
        text = self._dialect(text)
        text = self._homophones(text)
        return self._sound.fix_homophones(text)


def squeeze(text: str) -> tuple[str, tuple[int, ...]]:
    """`text` (already normalised) with every separator run between two CJK characters removed, and the
    positions in the result where a run was removed. Triage reads this second version for words broken by
    punctuation (我想自，杀了) and keeps only the hits that span such a join, so real clause breaks still count."""
    out: list[str] = []
    joins: list[int] = []
    last = 0
    for m in _BETWEEN_CJK.finditer(text):
        out.append(text[last:m.start()])
        joins.append(sum(map(len, out)))
        last = m.end()
    out.append(text[last:])
    return "".join(out), tuple(joins)


def _strip_marks(text: str) -> str:
    """Without combining marks (strikethrough overlays, Zalgo stacks, pinyin tones)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me")))


def _replacer(table: dict[str, str]):
    """One alternation regex, longest keys first, so overlapping keys resolve to the longest."""
    if not table:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(k) for k in sorted(table, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: table[m.group(0)], text)


@lru_cache(maxsize=1)
def _default() -> SafetyNormaliser:
    return SafetyNormaliser(load_lexicon())


def normalise(text: str) -> str:
    """Plain simplified form of `text` for safety matching (see the module docstring)."""
    return _default()(text)
