"""Fixed crisis and support replies (prompts/crisis/*.txt): format, first aid per situation, speaker."""

import re

import pytest
import yaml

from bot.config import get_settings
from bot.safety.model import Triage
from bot.safety.replies import crisis_reply, template_candidates, template_name
from bot.safety.situation import SITUATIONS
from bot.safety.triage import triage

CRISIS_DIR = get_settings().prompts_dir / "crisis"
RED = ["suicide", "self_harm", "abuse", "sexual_abuse", "missing", "emergency", "guardian_crisis"]
YELLOW = ["emotional", "bullying", "neglect", "abuse", "guardian_crisis", "default"]
EMERGENCIES = [s for s in SITUATIONS if s != "missing"]
# Describing a method or a quantity is never safe messaging; naming things to lock away is.
METHOD_WORDS = ["割腕", "上吊", "跳楼", "跳河", "喝农药", "服药", "吞药", "烧炭", "卧轨", "百草枯", "敌敌畏",
                "安眠药", "多少片", "多少毫升", "剂量", "致死", "解脱", "一了百了"]
LOCAL = "景德镇中小学心理服务热线 0798-8661120"
MAX_LINE = 30
NUMBER_RE = re.compile(r"(?<!\d)(?:110|119|120|122)(?!\d)")


def red(category: str, situation: str = "none", speaker: str = "unknown") -> Triage:
    return Triage("red", (category,), situation=situation, speaker=speaker)


def all_templates() -> list[str]:
    return sorted(p.stem for p in CRISIS_DIR.glob("*.txt"))


def red_templates() -> list[str]:
    return [n for n in all_templates() if n.startswith("red_")]


def template(name: str) -> str:
    return (CRISIS_DIR / f"{name}.txt").read_text(encoding="utf-8").strip()


def action_lines(reply: str) -> list[str]:
    """The lines between the first line (the number to call) and the hotline line."""
    lines = reply.splitlines()
    end = next(i for i, line in enumerate(lines) if "12356" in line or "12355" in line)
    return lines[1:end]


def test_every_template_exists() -> None:
    names = set(all_templates())
    assert {f"red_{c}" for c in RED if c != "emergency"} <= names
    assert {f"red_emergency_{s}" for s in EMERGENCIES} <= names
    assert {"red_default", "red_emergency_other_child"} <= names
    assert {f"red_{c}_child" for c in ("suicide", "self_harm", "abuse", "sexual_abuse")} <= names
    assert {f"yellow_{c}" for c in YELLOW} <= names


@pytest.mark.parametrize("name", red_templates())
def test_red_reply_format(name: str) -> None:
    reply = crisis_reply_of(name)
    lines = reply.splitlines()
    assert NUMBER_RE.search(lines[0]), lines[0]  # the number to call comes first
    assert 1 <= len(action_lines(reply)) <= 4
    assert "12356" in reply and "12355" in reply
    assert "联系" in reply  # a counsellor or worker will follow up
    assert lines[-1].endswith("？") and lines[-1].count("？") == 1  # one simple question
    assert len(reply.encode("utf-8")) <= 2048 and len(reply) < 400
    assert "{" not in reply


@pytest.mark.parametrize("name", all_templates())
def test_lines_are_short_without_semicolons(name: str) -> None:
    for line in template(name).replace("{local_lines}", "").splitlines():
        assert len(line) <= MAX_LINE, line
        assert "；" not in line and ";" not in line, line


@pytest.mark.parametrize("name", [n for n in all_templates() if n.startswith("yellow_")])
def test_yellow_reply_ends_with_a_question(name: str) -> None:
    assert template(name).endswith("？")


def crisis_reply_of(name: str) -> str:
    return template(name).replace("{local_lines}", "")


@pytest.mark.parametrize(
    ("situation", "first", "must", "must_not"),
    [
        ("drowning", "120", ["按压胸口", "吹气", "救护车来"], ["控水", "侧躺", "倒"]),
        ("choking", "120", ["拍背5下", "压肚子5下", "不满1岁", "胸口5下"], []),
        ("burn", "120", ["冷水", "20分钟", "牙膏", "挑破"], []),
        ("fire", "119", ["湿毛巾", "弯腰", "不要再回去"], []),
        ("electric_shock", "120", ["断电", "干木棍", "别用手碰"], []),
        ("fall", "120", ["别挪动", "呼吸"], []),
        ("seizure", "120", ["侧躺", "嘴里什么都别塞", "别按住", "时间"], []),
        ("poisoning", "120", ["不要催吐", "药瓶", "开窗"], ["交给"]),
        ("snakebite", "120", ["别动", "不要切开", "不要用嘴吸", "不要绑紧"], []),
        # Rinsing starts at once, while someone else calls.
        ("stroke", "120", ["中风", "什么时候开始", "别喂药", "侧躺", "按压胸口"], ["催吐"]),
        ("eye_chemical", "120", ["冲眼睛", "清水", "15到20分钟", "别让孩子揉", "医院"], ["催吐", "呼吸"]),
        # A wasp sting got the dog-bite reply (rabies vaccine); anaphylaxis got the generic one.
        ("allergy", "120", ["坐着", "平躺", "腿垫高", "肾上腺素", "大腿外侧", "蜂刺", "按压胸口"], ["狂犬", "催吐"]),
        ("heat", "120", ["阴凉", "凉水", "淡盐水", "按压胸口"], ["催吐", "药瓶"]),
        ("bite", "120", ["按住", "肥皂", "15分钟", "狂犬疫苗"], []),
        ("bleeding", "120", ["用力按住", "别松手"], []),
        ("traffic", "120", ["122", "别挪动", "按住"], []),
        ("other", "120", ["按压胸口"], []),
    ],
)
def test_each_situation_reply_carries_its_key_actions(situation: str, first: str, must: list[str],
                                                       must_not: list[str]) -> None:
    reply = crisis_reply(red("emergency", situation))
    assert template_name(red("emergency", situation)) == f"red_emergency_{situation}"
    assert first in reply.splitlines()[0]
    assert reply.index(first) < reply.index("12356")
    for words in must:
        assert words in reply, words
    for words in must_not:
        assert words not in reply, words


def test_fire_first_line_is_119_then_120_if_hurt() -> None:
    first = crisis_reply(red("emergency", "fire")).splitlines()[0]
    assert first.index("119") < first.index("120")


def test_missing_calls_110_at_once() -> None:
    reply = crisis_reply(red("missing", "missing"))
    assert reply.startswith("马上打110") and "24小时" in reply and "照片" in reply


def test_self_harm_locks_away_every_means_and_sends_swallowing_to_120() -> None:
    reply = crisis_reply(red("self_harm"))
    for means in ("药", "农药", "绳子", "刀片"):
        assert means in reply
    assert "吞了或喝了" in reply and "120" in reply


@pytest.mark.parametrize("category", ["suicide", "self_harm", "abuse", "sexual_abuse"])
def test_child_versions_speak_to_the_child(category: str) -> None:
    reply = crisis_reply(red(category, speaker="child"))
    assert template_name(red(category, speaker="child")) == f"red_{category}_child"
    assert "你" in reply and "您" not in reply
    assert "信得过的大人" in reply
    assert reply.index("12355") < reply.index("12356")
    assert "交给" not in reply  # a child is never told to hand pesticide to someone


def test_child_in_a_general_emergency_and_in_a_fire() -> None:
    assert template_name(red("emergency", "other", "child")) == "red_emergency_other_child"
    assert "信得过的大人" in crisis_reply(red("emergency", "other", "child"))
    # What to do in a fire matters more than who writes: 119 and getting out.
    assert crisis_reply(red("emergency", "fire", "child")).startswith("马上打119")


def test_guardian_in_own_crisis_gets_the_guardian_text() -> None:
    for category in ("suicide", "guardian_crisis"):
        assert template_name(red(category, speaker="guardian_self")) == "red_guardian_crisis"
    reply = crisis_reply(red("guardian_crisis", speaker="guardian_self"))
    assert "您" in reply and "陪您" in reply


def test_guardian_about_a_child_gets_the_child_safety_text() -> None:
    reply = crisis_reply(red("suicide", speaker="guardian_about_child"))
    assert template_name(red("suicide", speaker="guardian_about_child")) == "red_suicide"
    assert "陪着孩子" in reply and "锁好" in reply


def test_ten_year_old_wanting_to_die_gets_the_child_suicide_reply() -> None:
    result = triage("我是小明，今年10岁，我想死", semantic=False)
    assert result.level == "red" and result.category == "suicide" and result.speaker == "child"
    reply = crisis_reply(result)
    assert "你" in reply and "信得过的大人" in reply and "您辛苦" not in reply


def test_grandmother_own_crisis_gets_the_guardian_reply() -> None:
    result = triage("我这把老骨头不想活了，一个人带孙子太难了", semantic=False)
    assert result.category == "guardian_crisis"
    assert template_name(result) == "red_guardian_crisis"


def test_red_categories_without_their_own_text_get_red_default() -> None:
    assert template_name(Triage("red", ("bullying",))) == "red_default"
    assert template_name(Triage("red", ("neglect",), speaker="child")) == "red_default_child"


@pytest.mark.parametrize(("category", "number"), [("emergency", "120"), ("missing", "110"), ("abuse", "110"),
                                                  ("sexual_abuse", "110")])
def test_red_reply_names_the_emergency_number_first(category: str, number: str) -> None:
    assert number in crisis_reply(red(category)).splitlines()[0]


def test_abuse_replies_mention_the_duty_to_report_and_promise_no_secrecy() -> None:
    for category in ("abuse", "sexual_abuse"):
        for speaker in ("unknown", "child"):
            reply = crisis_reply(red(category, speaker=speaker))
            assert "报" in reply or "说出来" in reply or "告诉" in reply
            assert "保密" not in reply and "不告诉" not in reply
        assert "保护孩子" in crisis_reply(red(category))


@pytest.mark.parametrize("category", YELLOW)
def test_yellow_reply_offers_lines_and_follow_up(category: str) -> None:
    reply = crisis_reply(Triage("yellow", (category,)))
    assert "12356" in reply and "12355" in reply
    assert "联系" in reply
    assert reply.endswith("？")


@pytest.mark.parametrize("name", all_templates())
def test_no_template_describes_methods(name: str) -> None:
    text = template(name)
    assert not [w for w in METHOD_WORDS if w in text]
    assert not re.search(r"[a-zA-Z]{3,}", text.replace("{local_lines}", ""))  # simplified Chinese only


def test_local_lines_are_added_and_national_numbers_stay() -> None:
    for name in all_templates():
        reply = template(name).replace("{local_lines}", f"、{LOCAL}")
        assert LOCAL in reply, name
        assert reply.index("12356") < reply.index(LOCAL) and reply.index("12355") < reply.index(LOCAL)
    assert LOCAL in crisis_reply(red("emergency", "burn"), local_hotlines=LOCAL)
    assert LOCAL not in crisis_reply(red("suicide"))


def test_template_choice_and_fallback_order() -> None:
    assert template_name(Triage("green")) is None
    assert crisis_reply(Triage("green")) == ""
    assert template_name(Triage("red", ("emergency", "suicide"), situation="poisoning")) == "red_emergency_poisoning"
    assert template_name(Triage("red", ("emergency",))) == "red_emergency_other"
    assert template_name(Triage("yellow", ("suicide",))) == "yellow_default"
    assert template_name(Triage("yellow", ("bullying", "emotional"))) == "yellow_bullying"
    assert template_name(Triage("yellow", ("emotional",), speaker="child")) == "yellow_default_child"
    assert template_candidates(red("emergency", "fire", "child")) == [
        "red_emergency_fire_child", "red_emergency_fire", "red_emergency_other_child", "red_emergency_other"]


def test_every_template_has_sources() -> None:
    entries = yaml.safe_load((CRISIS_DIR / "sources.yaml").read_text("utf-8"))["templates"]
    assert set(entries) == set(all_templates())
    assert all(entries[name] for name in entries)


def test_eye_chemical_reply_fits_lime_as_well_as_a_bottle() -> None:
    # 「眼睛里进了石灰」 was told to bring the pesticide bottle to the doctor.
    text = crisis_reply(triage("孩子跟人闹着玩，眼睛里进了石灰，咋整"))
    assert "农药" not in text and "带给医生看" in text


def test_self_harm_reply_sends_the_child_to_be_seen_after_the_wound() -> None:
    text = crisis_reply(red("self_harm"))
    assert "心理科" in text and "按住伤口" in text
