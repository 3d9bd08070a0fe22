"""Obfuscation that must not get past triage: punctuation, emoji, fillers, combining marks and variation
selectors between characters; Kangxi radicals and compatibility forms; tone-marked and mixed pinyin; current
slang and stockpiling; a beating with a threat to kill. The property test inserts random noise into a fixed
list of red phrases: each stays red."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functools import partial

from bot.safety import triage as _triage
from bot.safety.normalise import normalise

# The rules layer: a random separator must never break a lexicon match (the learned model is a further layer).
triage = partial(_triage, learned=False)

# Written for this test (not taken from any evaluation set).
RED_PHRASES = ["我不想活了", "我想自杀", "孙子说他不想活了", "孩子说想跳楼", "孙女割腕了", "孩子说他想死",
               "他说活不下去了", "我想喝农药"]
# Separators, emoji, fillers and marks seen in messages that hide a word from keyword filters.
NOISE = ["，", "。", "、", "・", "·", " ", "\u3000", ".", "-", "_", "*", "/", "|", "~", "！", "？", "…", "😀", "🙂",
         "🌸", "\u3164", "\u2800", "\uffa0", "\u200b", "\u200c", "\u2060", "\ufeff", "\ufe0f", "\ufe0e", "\u0336",
         "\u0301", "\u20e3", "\U000e0101"]


@pytest.mark.parametrize(("raw", "plain"), [
    ("⾃杀", "自杀"),  # Kangxi radical
    ("我想zi杀", "我想自杀"),  # mixed pinyin and characters
    ("自sha", "自杀"),
    ("wǒ bù xiǎng huó le", "wo不想活了"),  # tone marks
    ("自，杀", "自杀"),
    ("不，想，活，了", "不想活了"),
    ("自・杀", "自杀"),
    ("自😀杀", "自杀"),
    ("自\u3164杀", "自杀"),
    ("自\u2800杀", "自杀"),
    ("自\u0336杀", "自杀"),
    ("自\ufe0e杀", "自杀"),
])
def test_noise_between_characters_is_removed_for_matching(raw: str, plain: str) -> None:
    assert normalise(raw) == plain


@pytest.mark.parametrize("text", [
    "⾃杀", "我想zi杀", "我想zì shā", "自，杀", "不，想，活，了", "自・杀", "自😀杀", "自\u3164杀", "自\u2800杀",
    "自\u0336杀", "自\ufe0f杀", "我想自，杀了", "我不想。活了",
    "我想紫砂", "孙女说她想紫砂了", "他说想去见太奶了", "孙女存了好多安眠药", "发现孩子在攒药",
    "他爸天天打他，还说要打死他", "孩子他爸打孩子，扬言要弄死他", "他爸打了他一顿，说要杀了他",
])
def test_obfuscated_and_slang_crisis_is_red(text: str) -> None:
    assert triage(text).level == "red", triage(text)


@pytest.mark.parametrize("text", ["紫砂壶多少钱一把", "买了个紫砂锅炖汤", "他不想，活动也不去", "孙女被同学孤立 她们在抖因上笑话她",
                                  "家里存了几瓶农药", "给孩子打了疫苗"])
def test_real_words_next_to_the_new_rules_stay_below_red(text: str) -> None:
    assert triage(text).level != "red", triage(text)


def test_the_stored_text_is_not_the_matching_text() -> None:
    """Normalisation for matching never reaches storage: the pipeline stores bot.text.normalize output."""
    from bot.text import normalize

    assert normalize("⾃，杀😀") == "⾃，杀😀"


@st.composite
def obfuscated(draw: st.DrawFn) -> str:
    phrase = draw(st.sampled_from(RED_PHRASES))
    out = [phrase[0]]
    for ch in phrase[1:]:
        out.extend(draw(st.lists(st.sampled_from(NOISE), max_size=3)))
        out.append(ch)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(obfuscated())
def test_red_phrase_with_random_noise_between_characters_stays_red(text: str) -> None:
    assert triage(text).level == "red", (text, triage(text))
