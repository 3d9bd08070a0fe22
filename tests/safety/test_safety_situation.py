"""What happened (bot.safety.situation) and who is writing (bot.safety.speaker), alone and through triage."""

import time

import pytest

from bot.safety.normalise import normalise
from bot.safety.situation import conversation_situation, detect_situation
from bot.safety.speaker import conversation_speaker, detect_speaker
from functools import partial

from bot.safety.triage import triage as _triage

# These tests pin the rules layer (lexicon, guards, situation, speaker, semantic fallback); the learned model
# on top is tested in test_risk_model.py and measured on the held-out set (benchmarks/data).
triage = partial(_triage, learned=False)


@pytest.mark.parametrize(
    ("text", "situation"),
    [
        ("孙子在塘边玩，掉进水里了", "drowning"),
        ("娃儿刚从河里捞上来，不出气了", "drowning"),
        ("伢子溺水了", "drowning"),
        ("孙女吃果冻噎住了，脸都紫了", "choking"),
        ("鱼刺卡在喉咙里咳不出来", "choking"),
        ("热水瓶倒了，孙子腿上烫起好多泡", "burn"),
        ("孩子被热油溅到脸上", "burn"),
        ("厨房失火了", "fire"),
        ("柴房烧起来了，烟好大", "fire"),
        ("孩子去摸插座，被电打了", "electric_shock"),
        ("孙女手粘在电线上", "electric_shock"),
        ("从二楼阳台掉下来了", "fall"),
        ("孙子爬树跌下来，头磕破了", "fall"),
        ("宝宝发高烧，翻白眼，手脚一直抖", "seizure"),
        ("孩子抽搐了", "seizure"),
        ("孙子把敌敌畏当饮料喝了", "poisoning"),
        ("烤炭火，一家人被熏晕了", "poisoning"),
        ("孩子吞了一颗纽扣电池", "poisoning"),
        ("在田埂上被蛇咬了一口", "snakebite"),
        ("眼睛里进了石灰", "eye_chemical"),
        ("打农药溅到娃眼睛里了", "eye_chemical"),  # rinse the eye; not a swallowed poison
        ("洗衣凝珠咬破了 溅到眼睛里", "eye_chemical"),
        ("孩子被大狼狗咬了，脸上好深的口子", "bite"),
        ("镰刀割到腿，血流不止", "bleeding"),
        ("孙子骑车被货车撞了", "traffic"),
        ("出车祸了", "traffic"),
        ("孩子今天不想吃饭", "none"),
        ("额头发烫，烧到39度", "none"),
        ("去镇上烫发了", "none"),
    ],
)
def test_situation_from_varied_wording(text: str, situation: str) -> None:
    assert detect_situation(normalise(text)) == situation


def test_what_must_be_done_first_wins() -> None:
    assert detect_situation("家里着火了，孙子手也烫伤了") == "fire"
    assert detect_situation("孩子触电后从梯子上摔下来") == "electric_shock"
    assert detect_situation("喝了农药，口吐白沫") == "poisoning"


def test_conversation_situation() -> None:
    # The newest turn that names a situation; an emergency with none named is "other".
    assert conversation_situation(["现在叫不醒了", "孙子掉河里了"], ["emergency"]) == "drowning"
    assert conversation_situation(["叫不醒了"], ["emergency"]) == "other"
    assert conversation_situation(["孩子到现在还没回家"], ["missing"]) == "missing"
    assert conversation_situation(["孙子说不想活了"], ["suicide"]) == "none"


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ("我是小明，今年10岁，我想死", "child"),
        ("我今年十二岁，我爸在外面打工", "child"),
        ("我是三年级的学生，同学天天打我", "child"),
        ("我上初二了，我妈不要我了", "child"),
        ("老师，我不想活了", "child"),
        ("我孙子掉河里了", "guardian_about_child"),
        ("外孙女这几天老是哭", "guardian_about_child"),
        ("娃儿发烧抽搐了", "guardian_about_child"),
        ("我是他奶奶，孩子被狗咬了", "guardian_about_child"),
        ("我儿子在外打工，孙子喝了农药", "guardian_about_child"),
        ("我是孩子妈妈，在外地打工，孩子不见了", "parent"),
        ("我女儿在老家爷爷奶奶带，说被人欺负", "parent"),
        ("邻居家的孩子掉进粪坑了", "bystander"),
        ("我们村有个小孩被车撞了", "bystander"),
        ("我这把年纪，实在撑不下去了", "guardian_self"),
        ("我不想活了", "guardian_self"),
        ("孩子在学校食堂吃不饱，能自己带饭不", "parent"),  # bare 孩子: how parents working away write
        ("孩子和孙子都在家，孙子咳嗽", "guardian_about_child"),
        ("着火了", "unknown"),
    ],
)
def test_speaker_from_cues(text: str, speaker: str) -> None:
    assert detect_speaker(normalise(text)) == speaker


def test_an_earlier_introduction_decides_a_later_message() -> None:
    assert conversation_speaker("我想死", ["我叫小红，我今年9岁"]) == "child"
    assert conversation_speaker("我也不想活了", ["孙子老是哭"]) == "guardian_self"
    assert conversation_speaker("现在怎么办", ["我孙子掉河里了"]) == "guardian_about_child"


def test_category_follows_the_speaker() -> None:
    child = triage("我今年11岁，我想死", semantic=False)
    assert child.category == "suicide" and child.speaker == "child"
    assert "guardian_crisis" not in child.categories
    later = triage("我好想死", ["你好，我是五年级的学生"], semantic=False)
    assert later.category == "suicide" and later.speaker == "child"
    grandma = triage("我不想活了", semantic=False)
    assert grandma.category == "guardian_crisis" and grandma.speaker == "guardian_self"


def test_triage_carries_situation_and_speaker() -> None:
    result = triage("孙子掉进塘里了，捞上来没气了", semantic=False)
    assert (result.level, result.category, result.situation, result.speaker) == (
        "red", "emergency", "drowning", "guardian_about_child")
    assert triage("孩子今天不想吃饭", semantic=False).situation == "none"


@pytest.mark.parametrize(
    ("text", "situation"),
    [
        ("孙子被开水烫了一大片，都起泡了", "burn"),
        ("八个月的宝宝被稀饭烫到手", "burn"),
        ("孙女被开水烫到脸了", "burn"),
        ("孩子抓着电线不放", "electric_shock"),
        ("孙子手粘在插座上松不开", "electric_shock"),
        ("孙女被电线电住了", "electric_shock"),
        ("家里着火了", "fire"),
        ("孙子发烧抽筋了", "seizure"),
    ],
)
def test_missed_emergencies_are_red_with_their_situation(text: str, situation: str) -> None:
    result = triage(text, semantic=False)
    assert result.level == "red" and result.category == "emergency", result
    assert result.situation == situation


@pytest.mark.parametrize("text", ["手指烫红了一点", "插座怎么防触电", "今天去烫发了", "饭太烫了孙子不吃",
                                  "孙子手上烫了个小泡", "小腿抽筋了", "孩子手里抓着充电线玩",
                                  "孩子发烧烧得整个人都烫", "怎么防止孩子被开水烫伤"])
def test_hard_negatives_stay_green(text: str) -> None:
    assert triage(text, semantic=False).level == "green"


def test_situation_and_speaker_are_fast() -> None:
    text = normalise("我是他奶奶，孙子在河边玩，掉进水里了，捞上来没气了，现在怎么办" * 3)
    start = time.perf_counter()
    for _ in range(200):
        detect_situation(text)
        detect_speaker(text)
    assert (time.perf_counter() - start) / 200 < 0.001


def test_lime_in_the_eye_gets_the_eye_rinse_not_the_drowning_reply() -> None:
    # The model read it as drowning and the reply said 「别花时间把水弄出来…孩子现在有呼吸吗」.
    result = _triage("孩子跟人闹着玩 眼睛里进了石灰 咋整")
    assert (result.level, result.situation) == ("red", "eye_chemical")
    assert _triage("孩子眼里进了洗衣液").level == "red"  # was green
    assert _triage("怎么防止石灰进眼睛").level == "green"


@pytest.mark.parametrize("text", [
    "现在奶奶叫不醒了 嘴巴歪了 说话说不清楚 家里就我一个 我打谁的电话",  # was the poisoning reply
    "爷爷突然说不出话 嘴歪了 一边手也抬不起来 我该怎么办",  # was the seizure reply
])
def test_signs_of_a_stroke_get_the_stroke_reply(text: str) -> None:
    result = _triage(text)
    assert (result.level, result.situation) == ("red", "stroke"), result


def test_a_child_found_in_the_well_not_breathing_gets_cpr_not_the_missing_reply() -> None:
    result = _triage("找到了 在井头 捞起来了 不出气 我不会弄 咋个按胸口", ["娃刚才还在院坝里耍", "一转眼就不见了"])
    assert result.level == "red" and result.categories[0] == "emergency" and result.situation == "drowning", result


@pytest.mark.parametrize("text", [
    "孩子被马蜂蛰了十几下，头晕想吐",  # was the dog-bite reply (rabies vaccine)
    "孙子被一群黄蜂叮了满头包",  # was green
    "女儿吃虾过敏，全身起疙瘩，喉咙发紧",  # was the generic reply
    "孙子吃了退烧药以后嘴唇肿了，喘不上气",
])
def test_stings_and_a_severe_allergy_get_the_allergy_reply(text: str) -> None:
    for result in (_triage(text), triage(text)):  # with the model and on the rules alone
        assert (result.level, result.situation) == ("red", "allergy"), result


@pytest.mark.parametrize("text", ["被蜜蜂蛰了一下，手有点红肿，要紧不", "孩子对花生过敏，平时要注意什么",
                                  "过敏严重会休克吗", "怎么防止孩子被马蜂蛰", "孩子鼻炎过敏，老打喷嚏"])
def test_one_sting_and_questions_about_allergy_stay_green(text: str) -> None:
    assert _triage(text).level == "green"
    assert triage(text).level == "green"


@pytest.mark.parametrize("text", ["爷爷前年中风过 现在恢复得好 平时吃什么好", "娃嘴巴歪着笑", "我气得不出气"])
def test_a_past_stroke_a_crooked_smile_and_anger_are_not_emergencies(text: str) -> None:
    assert _triage(text).level == "green"


def test_a_head_cut_bleeding_over_the_face_is_an_emergency_not_abuse() -> None:
    # The model alone read it as abuse, and the family got the abuse reply instead of first aid.
    result = _triage("娃的头磕破了血流满脸，我是拿毛巾按还是拿布包")
    assert result.level == "red" and result.categories[0] == "emergency" and result.situation in ("fall", "bleeding")
    assert _triage("电视里那个人满脸是血").level == "green"


@pytest.mark.parametrize(("text", "speaker", "category"), [
    # Both were read as a child by the model and got the child's text (你…找一个你信得过的大人).
    ("打棉花剩的那半瓶药我没扔 我想今晚喝了 我这病治不好了 不想再拖累孩子们", "guardian_self", "guardian_crisis"),
    ("阮老啊，目睭看无，腰骨嘛痛，囝仔的爸母拢无转来，我真正想欲去死，药仔我已经储够啊", "guardian_self", "guardian_crisis"),
    ("我不想活了 我拖累奶奶了", "child", "suicide"),  # a child who feels a burden stays a child
    ("我今年10岁 我不想活了", "child", "suicide"),
])
def test_a_self_introduction_decides_who_is_in_crisis(text: str, speaker: str, category: str) -> None:
    result = _triage(text)
    assert (result.level, result.speaker, result.categories[0]) == ("red", speaker, category), result


def test_heat_illness_gets_cooling_not_the_poisoning_reply() -> None:
    # The model's situation was poisoning: 「把药瓶带给医生看…不要催吐」.
    result = _triage("大热天孙子在地里玩了一下午 说头晕想吐")
    assert (result.level, result.situation) == ("red", "heat"), result
    assert triage("孙子中暑晕倒了叫不醒").situation == "heat"
    assert _triage("大热天孙子喝了农药").situation == "poisoning"  # a poison named is still the poisoning reply
    assert _triage("热天怎么防中暑").level == "green"


def test_a_parent_out_of_reach_is_not_a_missing_child() -> None:
    # Both were red with the missing-child reply (「马上打110…告诉警察孩子穿什么衣服」).
    assert _triage("云溪 伢子的爷爷奶奶都过世了 爹娘联系不上 哪个来管").category != "missing"
    assert _triage("孙子爹没了娘走了 屋里困难 政府能给点保障伐").level == "green"
    assert triage("孙子跟奶奶在集上走散了").category == "missing"  # separated from grandma: still missing
    assert triage("孙女昨晚没回家，电话也联系不上").category == "missing"


def test_who_takes_charge_of_an_orphaned_child_is_a_welfare_question_not_a_suicide() -> None:
    # Was red suicide (the model read 都不在了 as a wish to die) with the suicide reply about locking away pesticide.
    result = _triage("孩子爹娘都不在了 屋里没人管 哪个部门兜底")
    assert result.level != "red" and "suicide" not in result.categories, result
    assert _triage("娃爸妈都走了 政府咋安置").level != "red"
    assert triage("邻居家娃被他爸打得浑身是伤，政府谁来管").level == "red"  # an event told before the question stays


def test_a_what_if_question_in_dialect_is_not_an_event() -> None:
    assert _triage("要是看到同学掉进塘里 我孙子该咋弄").level == "green"  # was red drowning
    assert _triage("孙子掉进塘里了 咋弄").level == "red"


@pytest.mark.parametrize("text", [
    "女儿跟我视频哭着说，她表舅晚上钻她被窝摸她，已经好几次了，她跟奶奶说过，奶奶让她别乱讲",  # was yellow
    "阮孫仔講伊的老師摸伊的身軀，閣叫伊毋通講出去",  # was yellow: touching and a demand for secrecy
])
def test_ongoing_touching_with_secrecy_is_red_sexual_abuse(text: str) -> None:
    result = triage(text)
    assert (result.level, result.category) == ("red", "sexual_abuse"), result


def test_stockpiled_medicine_is_red_even_after_a_denial() -> None:
    for result in (triage("我没想不开 就是把这几个月的药都攒起来了 想一次睡个够"),  # was green
                   _triage("我没想不开 就是把这几个月的药都攒起来了 想一次睡个够")):
        assert result.level == "red" and result.category in ("suicide", "guardian_crisis"), result
    assert triage("孩子冷，钻我被窝里睡了").level == "green"  # the rules; the model alone still raises it
    assert triage("医生摸了摸孩子的身子说没事，不用担心").level == "green"


def test_something_swallowed_that_will_not_come_up_is_choking() -> None:
    # Was green after retraining: 「咋拍」 read as a how-to question and the model scored it 0.36.
    result = triage("外孙女吞了颗纽扣 咳不出来 咋拍")
    assert (result.level, result.situation) == ("red", "choking"), result
    assert _triage("娃吃了冰的咳嗽，痰咳不出来").level != "red"  # phlegm, not something stuck
    assert _triage("娃吃了感冒药还是咳不出来").level != "red"


def test_a_step_that_made_things_safe_is_no_emergency_alone() -> None:
    assert _triage("出门前把电闸拉了").level == "green"
    assert triage("孩子触电了 我拉了电闸 他叫不醒").level == "red"


@pytest.mark.parametrize("text, level", [
    ("娃要是在集上走散了，先报警还是先广播？", "green"),   # imagined in advance, asked about
    ("万一孙女在河边滑下去了，我该先干嘛", "green"),
    ("如果有小孩吞了硬币，家长第一步做什么？想提前学学", "green"),
    ("要是我死了，爷爷会哭吗", "red"),                      # the writer imagining their own death
    ("万一他现在已经吃了老鼠药怎么办", "red"),              # happening now
    ("孩子掉进塘里了 要是捞不上来咋办", "red"),             # the event told before the worry
])
def test_a_danger_imagined_in_advance_is_a_question_not_an_event(text: str, level: str) -> None:
    assert _triage(text).level == level  # rules and model, as the service runs


@pytest.mark.parametrize("text, level", [
    ("外孙五岁那年被开水烫过手，早好了，现在想问烫伤膏要备哪种", "green"),   # long over, asking now
    ("前几年孙女在河里呛过水，现在十岁了，想送她学游泳", "green"),
    ("前年就离家出走过一回，这次三天了还没消息", "red"),                     # this time is now
    ("孙子前年掉进过鱼塘，今天又掉进去了，叫不醒", "red"),
    ("孙女去年想过不活了，现在好些了", "yellow"),                            # past wish to die stays yellow
])
def test_an_event_long_over_is_no_emergency_but_this_time_is(text: str, level: str) -> None:
    assert _triage(text).level == level


@pytest.mark.parametrize("text, level, situation", [
    ("wo di di diao he li le, jiu ming", "red", "drowning"),         # written for the test: pinyin only
    ("ge bi shu shu mo wo, hai bu rang wo shuo", "red", "none"),
    ("wu li zhao huo le, men hao tang", "red", "fire"),
    ("ming tian kao shi hao jin zhang a", "green", "none"),
])
def test_a_whole_message_typed_in_pinyin_is_read(text: str, level: str, situation: str) -> None:
    result = _triage(text)
    assert (result.level, result.situation) == (level, situation), result


def test_leaving_life_said_as_logging_off_is_red_but_a_game_is_not() -> None:
    assert _triage("孙女空间里写 累了 准备真人下线").level == "red"
    assert _triage("打完这把就下线 奶奶喊吃饭").level == "green"


def test_touching_told_with_a_dialect_pronoun_is_sexual_abuse() -> None:
    # Wu 伊 and Cantonese 佢 for her/him: 「有人摸伊屁股」 was green.
    assert _triage("阿拉囡囡讲楼下男人摸伊屁股").level == "red"
    assert triage("有个男人成日摸佢屁股").category == "sexual_abuse"


def test_choking_now_and_a_gas_smell_now_are_red_by_the_rules() -> None:
    # The retrained model scores both just under its red threshold (0.37-0.39); the rules must carry them.
    assert (triage("小孙女吃馒头噎着了 咋拍").level, triage("小孙女吃馒头噎着了 咋拍").situation) == ("red", "choking")
    gas = triage("灶屋里液化气味道很浓")
    assert (gas.level, gas.situation) == ("red", "poisoning")  # the poisoning reply: windows open, no switch
    assert triage("小娃吃饭总是噎着，怎么预防").level == "green"
    assert triage("课上会教急救 比如噎着了怎么拍").level != "red"
    assert triage("怎么检查家里燃气管有没有漏").level == "green"


@pytest.mark.parametrize("text, level", [
    ("外婆摸摸他的头说真乖", "green"),        # the model alone reads a family touch as abuse
    ("爷爷拍了拍孙子的肩膀", "green"),
    ("奶奶摸他的脸 还不让他告诉别人", "red"),   # a secret marks abuse
    ("那个人摸了摸她的头就把她带走了", "red"),  # a stranger, a child taken
    ("爷爷喝醉了老摸她的脸", "red"),
])
def test_a_family_touch_of_the_head_is_affection(text: str, level: str) -> None:
    assert _triage(text).level == level  # rules and model, as the service runs
