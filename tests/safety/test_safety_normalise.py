"""Safety normalisation: what grandparents, speech recognition and children actually send."""

import pytest

from bot.safety.normalise import normalise
from bot.safety.pinyin import fuzzy_key, is_pinyin


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我想自 杀", "我想自杀"),  # spaces split a word
        ("不 想 活 了", "不想活了"),
        ("自.杀", "自杀"),
        ("孫子說他不想活了", "孙子说他不想活了"),  # traditional
        ("他说zisha", "他说自杀"),  # pinyin
        ("wo bu xiang huo le", "wo不想活了"),
        ("误吃了lao shu yao", "误吃了老鼠药"),
        ("资杀", "自杀"),  # listed homophone
        ("喝了龙药", "喝了农药"),  # n/l merged by fuzzy pinyin
        ("我想💊", "我想药"),  # emoji
        ("佢唔想返学", "他不想上学"),  # Cantonese function words
        ("崽讲活唔落去", "崽讲活不下去"),
    ],
)
def test_normalise_maps_variants_to_plain_words(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw", ["村口那条河", "割完稻子", "价格上调了", "紫砂壶", "不想或者说不敢", "I love you"])
def test_normalise_leaves_real_words_alone(raw: str) -> None:
    assert normalise(raw) == raw.lower()


def test_spaces_between_words_stay_as_pauses() -> None:
    assert normalise("孙女被同学孤立 她们在抖因上笑话她") == "孙女被同学孤立 她们在抖音上笑话她"


def test_fuzzy_key_merges_southern_confusions() -> None:
    assert fuzzy_key("nong") == fuzzy_key("long")
    assert fuzzy_key("shi") == fuzzy_key("si")
    assert fuzzy_key("ying") == fuzzy_key("yin")


def test_is_pinyin_rejects_english() -> None:
    assert is_pinyin("buxianghuole")
    assert not is_pinyin("love")


@pytest.mark.parametrize("raw", ["晚饭吃老豆腐", "工资拖欠去劳动仲裁", "往返学校要两个钟头", "然而家里没人", "而家长不在身边"])
def test_mandarin_words_holding_a_dialect_key_stay_as_they_are(raw: str) -> None:
    assert normalise(raw) == raw


def test_cantonese_words_still_map_to_mandarin() -> None:
    assert normalise("佢老豆而家唔喺屋企") == "他爸爸现在不在屋企"
