"""Safety-specific normalisation on top of bot.text.normalize.

Messages reach us typed by grandparents on pinyin keyboards, dictated through WeChat's speech
recognition, or forwarded from children: emoji instead of words, spaces or dots between characters,
pinyin fragments, dialect function words and homophones. Everything is mapped back to one plain form so
the lexicon needs each word only once.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.safety.lexicon import Lexicon, load_lexicon
from bot.safety.pinyin import SoundAlikes, latin_table
from bot.text import normalize

_CJK = r"[\u3400-\u9fff]"
_SEP = r"[\s.\-_*·~/|\\]+"
# Spaces or filler symbols that split a word ("自 杀", "我想自.杀", "不 想 活"): at least one side is a lone
# character. Other spaces between Chinese words are the writer's punctuation and stay (clause breaks).
_INNER_SEPARATORS = re.compile(
    rf"(?<={_CJK}){_SEP}(?={_CJK}(?!{_CJK}))|(?<=(?<!{_CJK}){_CJK}){_SEP}(?={_CJK})"
)
_JOINERS = re.compile("[\ufe0f\u200d]")


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
        text = normalize(text).translate(self._emoji)
        text = _JOINERS.sub("", text).lower()
        text = _INNER_SEPARATORS.sub("", text)
        text = self._sound.latin_to_hanzi(text)
        text = self._dialect(text)
        text = self._homophones(text)
        return self._sound.fix_homophones(text)


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
