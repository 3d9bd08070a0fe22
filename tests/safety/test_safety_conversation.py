"""Conversation-level risk: signals add up over the turns, and the history still counts."""

from functools import partial

from bot.safety.triage import triage as _triage

# These tests pin the rules layer (lexicon, guards, situation, speaker, semantic fallback); the learned model
# on top is tested in test_risk_model.py and measured on the held-out set (benchmarks/data).
triage = partial(_triage, learned=False)


def test_weak_signals_across_turns_add_up() -> None:
    assert triage("孙子最近总是说没意思", semantic=False).level == "yellow"
    assert triage("今天他把自己的东西都送给同学了", semantic=False).level == "green"
    result = triage("今天他把自己的东西都送给同学了", ["孙子最近总是说没意思"], semantic=False)
    assert result.level == "red"
    assert any("earlier turn" in r for r in result.reasons)


def test_passive_wish_after_low_mood_is_red() -> None:
    assert triage("要是死了就好了", ["孩子说什么都没意思"], semantic=False).level == "red"


def test_joke_or_all_clear_alone_is_green() -> None:
    for text in ("开玩笑的", "没事了", "开玩笑的，没事了"):
        assert triage(text, semantic=False).level == "green"
        assert triage(text).level == "green"


def test_red_history_dominates_a_later_all_clear() -> None:
    result = triage("开玩笑的，没事了", ["孙子说他不想活了"], semantic=False)
    assert result.level == "red"
    assert result.categories == ("suicide",)


def test_a_missing_child_found_closes_the_conversation() -> None:
    """Regression: 「找回来了…没事了」 after 「娃儿不见了」 stayed red (the earlier turn counted and the model,
    reading the whole conversation, raised it again). Other risk said with the all-clear still counts."""
    history = ["村里有个娃儿不见了 大家帮忙找找", "他奶奶急得直哭"]
    assert _triage("娃儿找回来了 在他姑姑家 没事了 谢谢大伙", history).level == "green"
    assert _triage("手机已经找到了 孩子还没回来", ["孙子不见了"]).level == "red"
    hurt = _triage("已经找到了 但是他身上好多伤 说是被人打的", ["孙子不见了"])
    assert hurt.level == "red" and "abuse" in hurt.categories
    # A denial after a disclosure of suicidal talk keeps the case.
    assert _triage("开玩笑的，没事了", ["孙子说他不想活了"]).level == "red"


def test_only_recent_turns_count() -> None:
    history = ["孙子说他不想活了"] + ["低保怎么申请"] * 5
    assert triage("谢谢", history, semantic=False).level == "green"


def test_history_does_not_change_a_green_conversation() -> None:
    assert triage("好的谢谢", ["孩子的营养餐怎么申请"], semantic=False).level == "green"


def test_an_unresponsive_child_after_poison_in_the_conversation_is_an_emergency() -> None:
    """Issue 16: after a pesticide scene, 「一直躺着，叫他也不理我」 may be a poisoning — 120, not a mood."""
    history = ["我孙子手里拿着一瓶农药，说不想活了", "在身边，我们安全，谢谢老师"]
    result = triage("老师，孩子现在不说话了，一直躺着，叫他也不理我，我好怕", history)
    assert result.level == "red" and "emergency" in result.categories
    assert result.situation == "poisoning"
    alone = triage("孩子最近不说话了，回家就躺着，叫他也不理我")
    assert "emergency" not in alone.categories  # without poison or a method it is low mood, not 120
