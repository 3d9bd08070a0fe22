"""Out-of-scope and not-covered replies say what Tongban helps with and name the public line that fits."""

from __future__ import annotations

import pytest

from bot.conversation.intents import detect_intent
from bot.prompts import prompt_text
from bot.referrals import not_covered_reply, referral_line

SCOPE = "营养、护眼、牙齿、长个、心理、安全，还有政策和补贴"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("打工的工资被老板拖欠了三个月", "12333"),
        ("我的养老金怎么还没到账", "12333"),
        ("儿子儿媳要离婚了孙子归谁", "12348"),
        ("老头走了遗产怎么分", "12348"),
        ("宅基地被邻居占了", "12348"),
        ("孙子的户口怎么迁到城里", "12345"),
        ("补办身份证要带什么", "12345"),
    ],
)
def test_the_fitting_line_is_named(text: str, number: str) -> None:
    line = referral_line(text)
    assert line is not None and number in line
    reply = not_covered_reply(text)
    assert reply.startswith(prompt_text("replies/not_covered.txt")) and reply.endswith(line)


@pytest.mark.parametrize("text", ["娃挑食咋办", "明天天气怎么样", "孙子晚上老是哭"])
def test_no_line_when_none_fits(text: str) -> None:
    assert referral_line(text) is None
    assert not_covered_reply(text) == prompt_text("replies/not_covered.txt")


def test_both_replies_say_in_one_line_what_tongban_helps_with() -> None:
    for name in ("replies/not_covered.txt", "replies/out_of_scope.txt"):
        assert sum(SCOPE in line for line in prompt_text(name).splitlines()) == 1


def test_wages_without_a_child_are_out_of_scope_with_the_labour_line() -> None:
    intent = detect_intent("工资被拖欠了怎么办")
    assert intent is not None and intent.name == "out_of_scope"
    assert intent.reply.startswith(prompt_text("replies/out_of_scope.txt")) and "12333" in intent.reply


def test_a_question_about_a_child_is_not_cut_off_by_a_line_word() -> None:
    assert detect_intent("离婚了孩子的抚养费怎么要") is None  # goes to search; not covered names 12348 there
    assert "12348" in not_covered_reply("离婚了孩子的抚养费怎么要")


def test_plain_out_of_scope_keeps_the_fixed_reply() -> None:
    intent = detect_intent("明天天气怎么样")
    assert intent is not None and intent.reply == prompt_text("replies/out_of_scope.txt")


@pytest.mark.parametrize("text", ["你好，我是小军的奶奶", "我是他外婆", "俺是娃的爷爷哈"])
def test_a_self_introduction_alone_is_an_intent(text: str) -> None:
    intent = detect_intent(text)
    assert intent is not None and intent.name == "introduction"


def test_an_introduction_with_a_question_goes_to_search() -> None:
    assert detect_intent("我是奶奶，孙子挑食咋办") is None


def test_asking_for_a_real_teacher_is_asking_for_a_person() -> None:
    intent = detect_intent("我想找个真人老师说说话")
    assert intent is not None and intent.name == "human"


@pytest.mark.parametrize("text", ["能不能找个真的人聊聊", "我想换个活人跟我说说", "请个老师跟我讲讲",
                                  "不想跟机器人说了", "叫个工作人员来"])
def test_asking_for_a_person_in_other_words(text: str) -> None:
    intent = detect_intent(text)
    assert intent is not None and intent.name == "human", text


@pytest.mark.parametrize("text", ["你们是干啥子的", "这个是搞么子的？", "你能帮我些啥", "你是机器人吗", "这是什么公众号"])
def test_asking_what_tongban_is_gets_the_menu(text: str) -> None:
    intent = detect_intent(text)
    assert intent is not None and intent.name == "menu", text


@pytest.mark.parametrize("text", ["能不能找个人帮我带孩子", "找个老师给孙子补课要多少钱", "你们村的儿童主任是干啥的"])
def test_a_real_question_about_people_is_not_an_intent(text: str) -> None:
    assert detect_intent(text) is None, text


@pytest.mark.parametrize("text", ["娃咳嗽 感冒药一次喝几毫升", "我自己血糖高 那个药能不能停", "外孙手上起疹子 这个软膏能不能长期用",
                                  "头孢和阿莫西林哪种好"])
def test_a_dose_or_a_choice_of_medicine_is_for_the_doctor(text: str) -> None:
    intent = detect_intent(text)
    assert intent is not None and intent.name == "medicine_dose", text
    assert "医生" in intent.reply and "120" in intent.reply


@pytest.mark.parametrize("text", ["维生素D每天给娃吃多少", "拉肚子喝补液盐一次喂多少", "退烧药啥时候该吃", "娃发烧了咋办"])
def test_nutrients_and_care_questions_still_go_to_search(text: str) -> None:
    assert detect_intent(text) is None, text


def test_a_childs_father_is_an_adult_whose_wages_go_to_the_labour_line() -> None:
    # 「孩子他爸」 names an adult: his injury pay is a labour question, not a question about a child.
    intent = detect_intent("孩子他爸在工地上摔伤了 老板不给工伤赔偿咋弄")
    assert intent is not None and intent.name == "out_of_scope" and "12333" in intent.reply
    assert detect_intent("孩子他爸不管娃 能不能申请困境儿童补贴") is None  # the child is still asked about
