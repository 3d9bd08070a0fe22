"""Fixed crisis and support replies (prompts/crisis/*.txt)."""

import re

import pytest

from bot.config import get_settings
from bot.safety.model import Triage
from bot.safety.replies import crisis_reply, template_name

CRISIS_DIR = get_settings().prompts_dir / "crisis"
RED = ["suicide", "self_harm", "abuse", "sexual_abuse", "missing", "emergency", "guardian_crisis"]
YELLOW = ["emotional", "bullying", "neglect", "abuse", "guardian_crisis", "default"]
# Describing a method or a quantity is never safe messaging; naming things to lock away is.
METHOD_WORDS = ["割腕", "上吊", "跳楼", "跳河", "喝农药", "服药", "吞药", "烧炭", "卧轨", "百草枯", "敌敌畏",
                "安眠药", "多少片", "多少毫升", "剂量", "致死", "解脱", "一了百了"]
LOCAL = "景德镇中小学心理服务热线 0798-8661120"


def red(category: str) -> Triage:
    return Triage("red", (category,))


def all_templates() -> list[str]:
    return sorted(p.stem for p in CRISIS_DIR.glob("*.txt"))


def test_every_template_exists() -> None:
    names = set(all_templates())
    assert {f"red_{c}" for c in RED} <= names
    assert {f"yellow_{c}" for c in YELLOW} <= names


@pytest.mark.parametrize("category", RED)
def test_red_reply_is_short_and_complete(category: str) -> None:
    reply = crisis_reply(red(category))
    assert len(reply) <= 200, len(reply)
    assert "12356" in reply and "12355" in reply
    assert "联系您" in reply  # a counsellor or worker will follow up
    assert reply.rstrip().endswith("？")  # one simple question keeps the conversation open
    assert "{" not in reply


@pytest.mark.parametrize(("category", "number"), [("emergency", "120"), ("missing", "110"), ("abuse", "110"),
                                                  ("sexual_abuse", "110")])
def test_red_reply_names_the_emergency_number(category: str, number: str) -> None:
    assert number in crisis_reply(red(category))


def test_emergency_puts_120_first_and_missing_110_first() -> None:
    assert crisis_reply(red("emergency")).index("120") < crisis_reply(red("emergency")).index("12356")
    assert crisis_reply(red("missing")).startswith("请马上打110")


def test_abuse_replies_mention_the_duty_to_report_and_promise_no_secrecy() -> None:
    for category in ("abuse", "sexual_abuse"):
        reply = crisis_reply(red(category))
        assert "报" in reply and "保护孩子" in reply
        assert "保密" not in reply and "不告诉" not in reply


@pytest.mark.parametrize("category", YELLOW)
def test_yellow_reply_offers_lines_and_follow_up(category: str) -> None:
    reply = crisis_reply(Triage("yellow", (category,)))
    assert "12356" in reply and "12355" in reply
    assert "联系" in reply


@pytest.mark.parametrize("name", all_templates())
def test_no_template_describes_methods(name: str) -> None:
    text = (CRISIS_DIR / f"{name}.txt").read_text(encoding="utf-8")
    assert not [w for w in METHOD_WORDS if w in text]
    assert not re.search(r"[a-zA-Z]{3,}", text.replace("{local_lines}", ""))  # simplified Chinese only


def test_local_lines_are_added_and_national_numbers_stay() -> None:
    for category in RED:
        reply = crisis_reply(red(category), local_hotlines=LOCAL)
        assert LOCAL in reply
        assert reply.index("12356") < reply.index(LOCAL) and reply.index("12355") < reply.index(LOCAL)
    assert LOCAL not in crisis_reply(red("suicide"))


def test_template_choice() -> None:
    assert template_name(Triage("green")) is None
    assert crisis_reply(Triage("green")) == ""
    assert template_name(Triage("red", ("emergency", "suicide"))) == "red_emergency"
    assert template_name(Triage("yellow", ("suicide",))) == "yellow_default"
    assert template_name(Triage("yellow", ("bullying", "emotional"))) == "yellow_bullying"
