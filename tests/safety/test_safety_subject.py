"""Whose life is at risk (bot.safety.subject) and the crisis text it picks: a neighbour or a parent reporting
an adult's suicide talk got the text for a child at risk (「孩子有危险…孩子现在在您身边吗」)."""

import pytest

from bot.safety.model import Triage
from bot.safety.normalise import normalise
from bot.safety.replies import crisis_reply, template_name
from bot.safety.subject import risk_subject
from bot.safety.triage import triage


@pytest.mark.parametrize(("text", "speaker", "subject"), [
    ("隔壁的张奶奶跟我说她不想活了", "bystander", "adult"),  # 跟我说: 我 is the listener
    ("有个爷爷说带孙子太累了想喝农药", "bystander", "adult"),  # 带孙子: the grandson is the object
    ("我妈在电话里哭着说不想活了", "parent", "adult"),
    ("孩子他妈说活不下去了", "guardian_about_child", "adult"),
    ("奶奶说她孙子不想活了", "bystander", "child"),
    ("孙子说他不想活了", "guardian_about_child", "child"),
    ("孩子说：奶奶，我不想活了", "parent", "child"),  # quoted: the child's words
    ("奶奶说我不听话，我不想活了", "child", "writer"),  # the second 我 is the writer again
    ("我一个人在外地打工，真的不想活了", "parent", "writer"),
    ("我女儿想自杀", "parent", "child"),
    ("我女儿说不想活了", "guardian_about_child", "unknown"),  # a grandmother's daughter is an adult
    ("今天天气很好", "parent", "unknown"),
])
def test_subject_of_the_first_risk_phrase(text: str, speaker: str, subject: str) -> None:
    assert risk_subject(normalise(text), speaker) == subject


@pytest.mark.parametrize("text", [
    "隔壁的张奶奶跟我说她不想活了，床头放着农药瓶",
    "我是村里的儿童主任，有个爷爷说带孙子太累了想喝农药一了百了",
    "我妈在电话里哭着说不想活了，我在外地打工怎么办",
])
def test_someone_reporting_an_adult_gets_the_text_for_helping_that_adult(text: str) -> None:
    result = triage(text)
    assert result.level == "red" and result.subject == "adult", result
    assert template_name(result) == "red_adult_crisis"
    reply = crisis_reply(result)
    assert reply.splitlines()[0].startswith("他现在有危险") and "110" in reply.splitlines()[0]
    assert "孩子有危险" not in reply and "您很重要" not in reply
    assert "邻居或村干部" in reply and "农药" in reply


def test_a_child_reporting_a_parent_gets_the_childs_words() -> None:
    result = triage("妈妈打电话哭，说不想活了，我好害怕")
    assert result.speaker == "child" and result.subject == "adult"
    reply = crisis_reply(result)
    assert template_name(result) == "red_adult_crisis_child"
    assert "你" in reply and "您" not in reply and "信得过的大人" in reply


def test_an_adult_who_writes_about_their_own_death_gets_the_text_for_themselves() -> None:
    assert template_name(Triage("red", ("suicide",), speaker="parent", subject="writer")) == "red_guardian_crisis"
    # A child's 我 stays the child's.
    assert template_name(Triage("red", ("suicide",), speaker="child", subject="writer")) == "red_suicide_child"


def test_a_carer_about_a_child_keeps_the_child_safety_text() -> None:
    result = triage("孙子说他不想活了，把自己关在屋里")
    assert template_name(result) == "red_suicide"
    # A bystander about a child gets the child-safety text written for someone outside the family.
    assert template_name(Triage("red", ("suicide",), speaker="bystander", subject="unknown")) == "red_suicide_bystander"
