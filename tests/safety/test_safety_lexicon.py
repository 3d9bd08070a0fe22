"""Lexicon groups, guards and their rules, driven by the examples in lexicon.yaml."""

import pytest

from bot.safety.lexicon import load_lexicon
from functools import partial

from bot.safety.triage import analyse_turn
from bot.safety.triage import triage as _triage

# These tests pin the rules layer (lexicon, guards, situation, speaker, semantic fallback); the learned model
# on top is tested in test_risk_model.py and measured on the held-out set (benchmarks/data).
triage = partial(_triage, learned=False)

LEX = load_lexicon()
GROUP_EXAMPLES = [(g.id, g.category, ex) for g in LEX.groups for ex in g.examples]
GUARD_EXAMPLES = [(g.id, ex) for g in LEX.guards for ex in g.examples]


def test_every_group_and_guard_has_examples() -> None:
    assert all(g.examples for g in LEX.groups)
    assert all(g.examples for g in LEX.guards)


@pytest.mark.parametrize(("group", "category", "example"), GROUP_EXAMPLES)
def test_group_example_triggers_its_category(group: str, category: str, example: str) -> None:
    assert group in {s.group for s in analyse_turn(example).signals}
    assert category in triage(example, semantic=False).categories


@pytest.mark.parametrize(("guard", "example"), GUARD_EXAMPLES)
def test_guard_example_is_green(guard: str, example: str) -> None:
    result = triage(example, semantic=False)
    assert result.level == "green", (guard, result)


@pytest.mark.parametrize(
    "text",
    [
        "游戏里输了，我不想活了，喝农药算了",
        "孙子玩游戏输了说不想活了要喝农药",  # no punctuation: the story guard covers it all
        "刚给稻子打完农药，孙子说活着没意思，想喝一口农药",
        "怎么预防孩子喝农药，孙子刚才说想死，要喝农药",
        "电视里演的那样，他说他也想死，想跳楼",
        "孙女留了纸条写着不要找我，旁边放着他爷爷打果树剩的一瓶药",
    ],
)
def test_guards_never_hide_method_and_intent(text: str) -> None:
    assert triage(text, semantic=False).level == "red"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("孙子说他不想死，只是心烦", "green"),  # "不想死" is not "想死"
        ("孙子说想死你了奶奶", "green"),
        ("这孩子真是要把我气死了", "green"),
        ("陪孙子跳绳跳得累死了", "green"),
        ("孙子从楼梯上滑了一跤，擦破点皮", "green"),
        ("给果树喷了杀虫剂，孩子别靠近", "green"),
        ("孙子说同学借他的笔没还", "green"),
        ("电视剧里演一个小女孩被后妈打得浑身是伤", "green"),
        ("孩子被狗吓哭了，哄一下就好了", "green"),
    ],
)
def test_hard_negatives(text: str, level: str) -> None:
    assert triage(text, semantic=False).level == level


def test_prevention_question_after_a_report_keeps_the_report() -> None:
    assert triage("孙子说不想活了，我要注意什么", semantic=False).level == "red"
    assert triage("孩子有轻生的念头会有什么信号", semantic=False).level == "green"
    assert triage("如果孩子说想死，该怎么跟他聊", semantic=False).level == "green"


def test_speaker_attribution() -> None:
    assert triage("我真的不想活了，太累了", semantic=False).category == "guardian_crisis"
    assert triage("孙子说：我不想活了", semantic=False).category == "suicide"
    assert triage("奶奶，我不想活了", semantic=False).category == "suicide"  # forwarded child message
    assert triage("我问孙子怎么了，他说想死", semantic=False).category == "suicide"


def test_peer_violence_is_bullying_not_abuse() -> None:
    result = triage("孙子被班上几个男生打得鼻青脸肿", semantic=False)
    assert result.categories[0] == "bullying"


def test_past_and_resolved_is_yellow() -> None:
    assert triage("孙子以前被他后爸打过，现在接到我家住了", semantic=False).level == "yellow"
    assert triage("孙女去年说过不想活，现在好多了", semantic=False).level == "yellow"
    assert triage("孙女去年说过不想活，昨天又说了", semantic=False).level == "red"


def test_one_phrase_is_not_two_signals() -> None:
    # "没用的人" is worthlessness only: it must not pair with itself into a red combination.
    assert triage("孙子老说自己是个没用的人", semantic=False).level == "yellow"


def test_result_shape() -> None:
    result = triage("孙子喝了农药，还说不想活了", semantic=False)
    assert result.level == "red"
    assert result.categories[0] == "emergency"  # 120 first
    assert "suicide" in result.categories
    assert any("不想活" in quote for quote in result.evidence)  # the words as written, for highlighting
    assert any(r.startswith("ingestion+intent") for r in result.reasons)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("孙女半夜在房里哭，说死了就不用读书了", "suicide"),  # death as the way out: a child's passive wish
        ("孩子说去河边玩，到现在天黑了还没见回来，电话也打不通", "missing"),
        ("他爸喝醉了就把娃往墙上撞，头都撞破了", "abuse"),
        ("邻居家孩子掉河里了", "emergency"),  # another family's child: still a life at stake
        ("我不想活了", "guardian_crisis"),  # no one else named: the writer's own crisis
        ("不想活了", "suicide"),  # no subject at all: treated as the child's
    ],
)
def test_reported_weak_spots_are_red(text: str, category: str) -> None:
    result = triage(text, semantic=False)
    assert (result.level, result.category) == ("red", category), result


def test_an_all_clear_closes_a_missing_child_or_an_accident() -> None:
    assert triage("刚才孩子不见了，原来在邻居家看电视，虚惊一场", semantic=False).level == "green"
    assert triage("去年孙子掉进水沟，被拉上来了，一点事都没有", semantic=False).level == "green"
    # ...but not while the case is still open.
    assert triage("孩子不见了，找到了他的书包，人还没找到", semantic=False).level == "red"
    assert triage("孩子不见了，原来是被一个陌生人带走了", semantic=False).level == "red"


def test_a_story_told_on_is_a_story_but_the_childs_own_words_are_not() -> None:
    assert triage("孙女讲了个鬼故事，说有个小孩在河里不见了", semantic=False).level == "green"
    assert triage("孙子玩游戏，说他的角色被打死了好几次", semantic=False).level == "green"
    assert triage("孩子看了电视，说不想活了", semantic=False).level == "red"
    assert triage("孙子在抖音上发了个视频，说这是最后一个视频了，谢谢大家", semantic=False).level == "red"


def test_a_dream_is_not_an_event() -> None:
    assert triage("孩子梦见自己掉进河里，醒来说好吓人", semantic=False).level == "green"


@pytest.mark.parametrize("text", [
    "六岁娃的大牙要做窝沟封闭 卫生院收不收钱",  # 收钱 was read as extortion
    "娃叫他不应 也不看人 医生讲要去筛查自闭",  # not answering to his name is a screening question
    "儿子坐牢 新抱走咗 孙子冇人养 政府管唔管",  # 新抱 is a daughter-in-law, not a child carried off
])
def test_ordinary_questions_with_alarming_substrings_are_not_raised_by_the_rules(text: str) -> None:
    assert triage(text, semantic=False).level == "green"


@pytest.mark.parametrize(("text", "category"), [
    ("高年级的天天收他的饭钱，不给就打", "bullying"),
    ("孩子摔了一跤，叫他不应了", "emergency"),
])
def test_the_narrowed_patterns_still_catch_the_real_thing(text: str, category: str) -> None:
    assert category in triage(text, semantic=False).categories


@pytest.mark.parametrize("text", [
    "孙子没发烧也没抽筋，就是晚上睡觉老磨牙",
    "没有中毒，就是吃多了青枣肚子胀",
    "万一孩子走丢了，是不是要等一天才能报警",
    "小学的时候我被同学欺负过，后来转学就好了，现在同学都挺好",
    "以前我很想爸妈，天天哭，现在他们回老家了，我好开心",
])
def test_absent_symptoms_hypotheticals_and_worries_that_are_over_are_green(text: str) -> None:
    assert triage(text, semantic=False).level == "green", triage(text, semantic=False)


@pytest.mark.parametrize(("text", "category"), [
    ("孩子发烧抽筋了，眼睛往上翻", "emergency"),
    ("孩子喝了一口农药，有没有中毒啊", "emergency"),
    ("孩子走丢了，是不是要等一天才能报警", "missing"),
    ("我被同学欺负，现在他们还天天欺负我", "bullying"),
])
def test_the_new_guards_leave_real_events_alone(text: str, category: str) -> None:
    assert category in triage(text, semantic=False).categories


@pytest.mark.parametrize("text", [
    "娃儿掉堰塘头了 咋个救嘛",  # 川渝: 堰塘头 is "in the pond"; the rescue question follows the event
    "娃儿掉堰塘头了 我不会水 屋头就我一个人 咋个救嘛 急死了",
    "孙子掉到河头去了",
    "孩子跌落河中",
])
def test_a_child_in_the_water_said_in_dialect_is_red_drowning(text: str) -> None:
    result = triage(text)  # rules and model together: the model must not veto it
    assert (result.level, result.situation) == ("red", "drowning"), result


@pytest.mark.parametrize("text", [
    "怎么防止娃掉堰塘头",
    "学校讲了怎么救落水的同学",
    "书掉河里了",
])
def test_water_words_in_prevention_questions_and_lost_things_stay_green(text: str) -> None:
    assert triage(text).level == "green", triage(text)


@pytest.mark.parametrize("text", [
    "小娃在澡盆里会不会淹着",  # a worry, not an event
    "院子里大水盆装满了水 一岁半的娃趴边上玩 我怕他栽进去",
    "屋里要是起火了 娃要往哪里躲 还是往外跑",
    "赶集人多 怕孙子被人抱走 有啥法子",
    "娃的接种本找不到了 打过哪几针也记不清了 咋整",  # a lost booklet, not a lost child
])
def test_worries_drills_and_lost_papers_are_green(text: str) -> None:
    assert triage(text).level == "green", triage(text)


@pytest.mark.parametrize(("text", "category"), [
    ("孙子淹着了 没气了", "emergency"),
    ("孙子被人抱走了", "missing"),
    ("孙子栽进水缸里了", "emergency"),
    ("屋里起火了 娃往哪里躲", "emergency"),
])
def test_the_same_words_as_events_stay_red(text: str, category: str) -> None:
    result = triage(text)
    assert result.level == "red" and category in result.categories, result


@pytest.mark.parametrize(("text", "category", "situation"), [
    # Each was green or yellow: a real danger in words the rules did not know.
    ("我想死我爷爷把我的手机摔了我爸妈也不回我消息我知道那个农药放在哪里", "suicide", None),  # not 「想死你了」
    # Whose crisis is the model's to say (with the rules alone the writer is taken for the adult).
    ("我没有哭 也没有不开心 就是觉得活着好累 想喝奶奶打虫子那个药 那个瓶子放哪了", None, None),
    ("孙子不见三个钟头了 是不是要等二十四小时才能报警 去派出所要带什么", "missing", "missing"),
    ("七个月的娃呛到东西了 咋拍", "emergency", "choking"),
    ("俺邻居家小孩让他家大黄狗咬了脖子 血哗哗的 孩子他爹妈都在外地打工 俺这咋整", "emergency", "bite"),
    ("我孩子刚在老家被五步蛇咬了，县医院说没有抗蛇毒血清，附近哪里有？要往哪送？", "emergency", "snakebite"),
    ("佢发烧抽起筋嚟，使唔使掐人中", "emergency", "seizure"),
])
def test_dangers_the_rules_missed_are_red(text: str, category: str | None, situation: str | None) -> None:
    result = triage(text)
    assert result.level == "red" and (category is None or category in result.categories), result
    assert situation is None or result.situation == situation, result


@pytest.mark.parametrize("text", [
    "想死你了乖孙", "想死我了 你啥时候回来", "喝水呛到了 咳了几声就好了", "娃以前发烧抽过筋 这回又烧了咋办",
    "奶奶要打虫子的药 我帮她去买", "孙子放学不见了一会 原来在同学家 虚惊一场",
])
def test_their_look_alikes_stay_green(text: str) -> None:
    assert triage(text).level == "green", triage(text)


@pytest.mark.parametrize(("text", "category"), [
    ("网上认识的一个哥哥让我拍没穿衣服的照片给他，我不拍他就说要把我以前发的照片发到班级群里", "sexual_abuse"),  # sextortion
    ("我系学校社工 有个女仔话佢网友听日嚟学校门口接佢去酒店 已经讲好咗 之前仲叫佢影过裸照 佢只有十三岁", "sexual_abuse"),
    # A reporting question after a long unpunctuated report no longer hides the report.
    ("村里有户人家把孩子用铁链子锁在猪圈旁边我路过看到孩子瘦得皮包骨身上都是伤大人说是不听话要报警吗", "abuse"),
    ("个孙女留低张纸仔话唔想读书 要去广州揾佢阿妈 佢身上冇几多钱 成日都冇返嚟 点算", "missing"),
])
def test_coercion_an_arranged_meeting_a_chained_child_and_a_runaway_are_red(text: str, category: str) -> None:
    result = triage(text)
    assert result.level == "red" and category in result.categories, result


@pytest.mark.parametrize("text", [
    "我不发作业他就告诉老师", "佢成日都冇返嚟食饭 喺学校食", "用链子拴着狗",
    "老鼠把仓里的谷子吃了好多，放老鼠药怎么放才不会被孩子碰到",  # the prevention question keeps its sentence
    "发现孩子疑似被家暴儿童主任要第一时间向谁报告",
])
def test_threats_about_homework_lunch_at_school_and_reporting_questions_stay_green(text: str) -> None:
    assert triage(text).level == "green", triage(text)
