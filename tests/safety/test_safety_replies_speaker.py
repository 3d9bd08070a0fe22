"""Crisis texts for a parent working away and for a bystander: a parent far from home was told 「先让孩子待在您身边」,
a neighbour reporting a beaten child next door was told 「请多陪陪孩子」 and asked 「孩子现在在您身边吗」."""

import pytest

from bot.safety.model import Triage
from bot.safety.replies import crisis_reply, template_candidates, template_name
from bot.safety.normalise import normalise
from bot.safety.subject import writer_hits
from bot.safety.triage import triage

AWAY = [("red", "abuse"), ("red", "sexual_abuse"), ("red", "suicide"), ("red", "self_harm"), ("red", "missing"),
        ("yellow", "abuse"), ("yellow", "neglect"), ("yellow", "emotional"), ("yellow", "bullying"),
        ("yellow", "default")]
OUTSIDE = [("red", "abuse"), ("red", "sexual_abuse"), ("red", "suicide"), ("red", "self_harm"), ("red", "missing"),
           ("yellow", "abuse"), ("yellow", "neglect"), ("yellow", "bullying"), ("yellow", "default")]


@pytest.mark.parametrize(("level", "category"), AWAY)
def test_a_parent_away_is_asked_to_send_someone_not_to_keep_the_child_near(level: str, category: str) -> None:
    name = template_name(Triage(level, (category,), speaker="parent"))
    assert name == f"{level}_{category}_parent"
    reply = crisis_reply(Triage(level, (category,), speaker="parent"))
    assert "待在您身边" not in reply and "在您身边吗" not in reply
    assert any(word in reply for word in ("请", "打给", "视频")), reply
    if level == "red" and category != "missing":
        # A carer misread as a parent still reads it right: being away is a condition, never assumed.
        assert "不在孩子身边" in reply or "不在身边" in reply, reply


@pytest.mark.parametrize(("level", "category"), OUTSIDE)
def test_a_bystander_is_pointed_to_the_family_school_or_police(level: str, category: str) -> None:
    assert template_name(Triage(level, (category,), speaker="bystander")) == f"{level}_{category}_bystander"
    reply = crisis_reply(Triage(level, (category,), speaker="bystander"))
    assert "在您身边" not in reply and "多陪陪孩子" not in reply
    assert any(number in reply for number in ("110", "120", "儿童主任")), reply
    assert any(word in reply for word in ("家人", "班主任", "儿童主任", "村委会", "警察")), reply


def test_what_happened_comes_before_who_writes() -> None:
    # A parent's bullied child gets the bullying text for parents; with no such text, the category's own
    # text beats a parent's general one.
    assert template_candidates(Triage("yellow", ("bullying",), speaker="parent")) == [
        "yellow_bullying_parent", "yellow_bullying", "yellow_default_parent", "yellow_default"]
    assert template_name(Triage("yellow", ("guardian_crisis",), speaker="parent")) == "yellow_guardian_crisis"
    assert template_name(Triage("red", ("emergency",), situation="burn", speaker="bystander")) == \
        "red_emergency_burn"
    # The child's order is unchanged.
    assert template_name(Triage("yellow", ("neglect",), speaker="child")) == "yellow_default_child"


def test_an_adult_at_risk_keeps_the_adult_texts() -> None:
    assert template_name(Triage("red", ("suicide",), speaker="parent", subject="writer")) == "red_guardian_crisis"
    assert template_name(Triage("red", ("suicide",), speaker="bystander", subject="adult")) == "red_adult_crisis"


@pytest.mark.parametrize(("text", "speaker", "first_words"), [
    ("隔壁那户的小孩天天被他后爸用皮带抽 昨晚叫得整条巷子都听得见", "bystander", "别一个人上门"),
    ("我在深圳上班 刚刚女儿打电话哭着说她爸喝醉了拿棍子打她 我该怎么办", "parent", "您不在孩子身边"),
])
def test_messages_from_outside_and_from_far_away_get_their_text(text: str, speaker: str, first_words: str) -> None:
    result = triage(text)
    assert result.level in ("red", "yellow") and result.speaker == speaker, result
    assert first_words in crisis_reply(result)


@pytest.mark.parametrize(("text", "hits"), [
    ("孙女十岁了还尿床 我揍过她几回也没用 到底咋办", True),
    ("娃跟我顶嘴 打一顿管用不", True),
    ("我没忍住扇了孩子一巴掌 心里难受", True),
    ("他爸喝了酒就打他 我拦不住", False),
    ("我被我爸打了一顿", False),
    ("孩子被他后妈打得身上青一块紫一块", False),
])
def test_who_did_the_hitting(text: str, hits: bool) -> None:
    assert writer_hits(normalise(text)) is hits


def test_a_carer_who_hit_the_child_is_told_what_works_instead() -> None:
    assert template_name(Triage("yellow", ("abuse",), speaker="guardian_about_child", writer_hits=True)) == \
        "yellow_abuse_writer"
    # A child who hit someone, or a red message, keeps its own text.
    assert template_name(Triage("yellow", ("abuse",), speaker="child", writer_hits=True)) != "yellow_abuse_writer"
    assert template_name(Triage("red", ("abuse",), speaker="guardian_about_child", writer_hits=True)) == "red_abuse"
    result = triage("我忍不住打了孩子两巴掌 现在好后悔")
    assert result.level == "yellow" and result.writer_hits, result
    reply = crisis_reply(result)
    assert "打骂管不住" in reply and "110" not in reply and "12356" in reply


@pytest.mark.parametrize("text", ["他爸喝了酒就打他 我拦不住", "孩子被他后妈打得身上青一块紫一块"])
def test_someone_else_hitting_keeps_the_abuse_text(text: str) -> None:
    result = triage(text)
    assert result.level in ("red", "yellow") and not result.writer_hits, result
    assert template_name(result) != "yellow_abuse_writer"
