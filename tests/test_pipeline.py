"""The conversation engine end to end: real index, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, Message


@pytest.fixture
def convo(db_settings: Settings, built_settings: Settings, knowledge_index) -> Conversation:
    settings = Settings(**{**built_settings.model_dump(), "database_url": db_settings.sqlalchemy_url})
    upgrade(settings)
    return Conversation(settings, index=knowledge_index)


def ask(convo: Conversation, text: str, user: str = "u1", **kw) -> object:
    return convo.handle(Inbound(user_id=user, text=text, **kw))


@pytest.mark.parametrize(
    ("text", "intent", "reply_file"),
    [
        ("你好", "greeting", "replies/greeting.txt"),
        ("谢谢你！", "thanks", "replies/thanks.txt"),
        ("你能做什么？", "menu", "replies/menu.txt"),
        ("找人", "human", "replies/human.txt"),
        ("能不能找个人聊聊", "human", "replies/human.txt"),
        ("我要跟真人说话", "human", "replies/human.txt"),
        ("明天天气怎么样", "out_of_scope", "replies/out_of_scope.txt"),
        ("帮我看看股票", "out_of_scope", "replies/out_of_scope.txt"),
    ],
)
def test_fixed_reply_intents(convo: Conversation, text: str, intent: str, reply_file: str) -> None:
    outcome = ask(convo, text)
    assert outcome.intent == intent and outcome.level == "green"
    assert outcome.reply_text == prompt_text(reply_file)
    assert not outcome.grounded


def test_in_scope_topic_words_beat_out_of_scope_words(convo: Conversation) -> None:
    outcome = ask(convo, "天气太热了，怎么防止娃中暑")
    assert outcome.intent == "answer" and outcome.grounded


def test_grounded_answer_has_facts_and_a_source(convo: Conversation) -> None:
    outcome = ask(convo, "景德镇村小的童心驿站一周开几天")
    assert outcome.grounded and outcome.sources
    assert "5天" in outcome.reply_text
    # The plan itself, or its plain explainer (a place article for it), which is cited by the plan's title.
    assert outcome.sources[0]["doc_id"] in ("jingdezhen-rural-child-health", "services-jingdezhen-heart-station")
    assert "出处：《景德镇" in outcome.reply_text


def test_article_answer_is_steps_on_their_own_lines(convo: Conversation) -> None:
    outcome = ask(convo, "娃儿眼睛看不清黑板咋办")
    lines = outcome.reply_text.splitlines()
    assert outcome.grounded
    assert any(re.match(r"^1\. ", line) for line in lines)
    assert "**" not in outcome.reply_text and "#" not in outcome.reply_text
    body = "\n".join(line for line in lines if not line.startswith("出处") and "直接问我" not in line)
    assert len(body) <= 300


def test_not_covered_is_honest(convo: Conversation) -> None:
    outcome = ask(convo, "孙子的户口怎么迁到城里")
    assert not outcome.grounded and outcome.intent == "not_covered"
    assert outcome.reply_text.startswith(prompt_text("replies/not_covered.txt"))
    assert "12345" in outcome.reply_text  # papers: the government service line
    assert outcome.sources == []


def test_follow_up_about_health_checks(convo: Conversation) -> None:
    first = ask(convo, "小娃娃出生以后要去卫生院做体检吗", user="mt1")
    second = ask(convo, "要查几次", user="mt1")
    assert first.grounded and second.grounded
    assert any(word in second.reply_text for word in ("体检", "健康检查", "月", "岁"))
    # The same follow-up after a question about eyesight is about vision checks instead.
    ask(convo, "学校会给孩子查视力吗", user="mt1b")
    eyes = ask(convo, "要查几次", user="mt1b")
    assert "视力" in eyes.reply_text and eyes.reply_text != second.reply_text


def test_contextual_query_joins_only_follow_ups() -> None:
    from bot.conversation.memory import contextual_query

    history = ["孩子查出来缺铁性贫血"]
    assert contextual_query("那吃什么好", history) == "孩子查出来缺铁性贫血 那吃什么好"
    assert contextual_query("夏天怎么防止孩子下河游泳", history) == "夏天怎么防止孩子下河游泳"
    assert contextual_query("那吃什么好", []) == "那吃什么好"


def test_follow_up_after_anaemia(convo: Conversation) -> None:
    ask(convo, "孩子查出来缺铁性贫血", user="mt2")
    outcome = ask(convo, "那吃什么好", user="mt2")
    assert outcome.grounded
    assert any(food in outcome.reply_text for food in ("肉", "猪肝", "鸭血"))


def test_memory_expires_after_silence(convo: Conversation) -> None:
    ask(convo, "孩子查出来缺铁性贫血", user="mt3")
    with session_scope(convo.settings) as session:
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=convo.settings.memory_ttl_minutes + 5)
        session.execute(update(Message).values(created_at=old))
    outcome = ask(convo, "那吃什么好", user="mt3")
    assert not any(food in outcome.reply_text for food in ("猪肝", "鸭血"))


def test_memory_is_shared_by_workers(convo: Conversation, knowledge_index) -> None:
    ask(convo, "孩子查出来缺铁性贫血", user="mt4")
    other_worker = Conversation(convo.settings, index=knowledge_index)
    outcome = other_worker.handle(Inbound(user_id="mt4", text="那吃什么好"))
    assert any(food in outcome.reply_text for food in ("肉", "猪肝", "鸭血"))


def test_red_message_creates_a_case_before_replying(convo: Conversation) -> None:
    outcome = ask(convo, "孙子刚才说不想活了，他把自己关在屋里", user="red1")
    assert outcome.level == "red" and outcome.case_id
    assert "12356" in outcome.reply_text and "12355" in outcome.reply_text
    with session_scope(convo.settings) as session:
        case = session.get(Case, outcome.case_id)
        assert case.severity == "red" and case.status == "open" and "suicide" in case.categories
        inbound = session.scalar(select(Message).where(Message.direction == "in", Message.case_id == case.id))
        assert inbound is not None and "不想活" in inbound.text
        assert session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == 1


@pytest.mark.parametrize(
    ("text", "first", "action", "situation", "speaker"),
    [
        ("家里着火了，孙子还在屋里", "119", "湿毛巾", "fire", "guardian_about_child"),
        ("孙子掉河里了，捞上来没气了", "120", "按压胸口", "drowning", "guardian_about_child"),
        ("开水烫了一大片，都起泡了", "120", "20分钟", "burn", "guardian_about_child"),
        ("孙女不见了，到处都找不到", "110", "24小时", "missing", "guardian_about_child"),
        ("我是小明，今年10岁，我想死", "120", "信得过的大人", "none", "child"),
    ],
)
def test_emergency_reply_starts_with_the_number_for_what_happened(
        convo: Conversation, text: str, first: str, action: str, situation: str, speaker: str) -> None:
    outcome = ask(convo, text, user=f"em-{situation}-{speaker}")
    assert outcome.level == "red" and outcome.case_id
    assert first in outcome.reply_text.splitlines()[0]
    assert action in outcome.reply_text
    with session_scope(convo.settings) as session:
        event = session.scalar(select(CaseEvent).where(CaseEvent.case_id == outcome.case_id))
        assert (event.payload["situation"], event.payload["speaker"]) == (situation, speaker)


def test_case_stays_open_after_its_only_a_joke(convo: Conversation) -> None:
    first = ask(convo, "孙子这几天天天哭，说想妈妈，饭也不吃", user="y1")
    assert first.level == "yellow" and first.case_id
    later = ask(convo, "开玩笑的，没事了", user="y1")
    assert later.case_id == first.case_id
    with session_scope(convo.settings) as session:
        assert session.get(Case, first.case_id).status == "open"
        kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == first.case_id)).all()
        assert kinds == ["created", "message"]


def test_later_red_escalates_the_yellow_case(convo: Conversation) -> None:
    first = ask(convo, "孙子这几天天天哭，说想妈妈，饭也不吃", user="y2")
    second = ask(convo, "他刚才说活着没意思，想喝农药", user="y2")
    assert second.level == "red" and second.case_id == first.case_id
    with session_scope(convo.settings) as session:
        case = session.get(Case, first.case_id)
        assert case.severity == "red"
        assert "escalated" in session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()


def test_abuse_sets_mandatory_report(convo: Conversation) -> None:
    outcome = ask(convo, "邻居家的男人老是摸我孙女下面，还叫她别告诉别人", user="sa1")
    assert outcome.level == "red" and "110" in outcome.reply_text
    with session_scope(convo.settings) as session:
        assert session.get(Case, outcome.case_id).mandatory_report


def test_retry_with_the_same_key_is_answered_once(convo: Conversation) -> None:
    first = ask(convo, "孩子几岁开始刷牙", user="d1", msg_key="wechat:123")
    again = ask(convo, "孩子几岁开始刷牙", user="d1", msg_key="wechat:123")
    assert again.duplicate and again.reply_text == first.reply_text
    with session_scope(convo.settings) as session:
        count = session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        assert count == 1


def test_long_input_is_stored_whole_and_the_answer_says_it_read_the_beginning(convo: Conversation) -> None:
    outcome = ask(convo, "孩子近视了怎么办" * 200)
    assert outcome.reply_text.startswith(prompt_text("replies/truncated_note.txt"))
    with session_scope(convo.settings) as session:
        stored = session.scalar(select(Message.text).where(Message.direction == "in"))
        assert stored == "孩子近视了怎么办" * 200


def test_voice_uses_recognition_text(convo: Conversation) -> None:
    heard = ask(convo, "", kind="voice", recognition="娃儿挑食不吃青菜咋办")
    assert heard.grounded
    unheard = ask(convo, "", kind="voice")
    assert unheard.intent == "voice_unrecognised"


def test_traditional_and_full_width_input(convo: Conversation) -> None:
    outcome = ask(convo, "孩子近視了戴眼鏡會不會越戴越深？")
    assert outcome.grounded


def test_yellow_message_with_a_question_gets_support_and_the_answer(convo: Conversation) -> None:
    convo.warm_up()
    outcome = ask(convo, "孙子在学校被同学欺负了，回来一直哭，我该怎么跟他说？", user="yq1")
    assert outcome.level == "yellow" and outcome.case_id
    assert "12355" in outcome.reply_text and "出处：《" in outcome.reply_text
    assert outcome.grounded


def test_prevention_questions_get_the_answer_and_the_hotlines(convo: Conversation) -> None:
    outcome = ask(convo, "怎么教孩子防溺水", user="pv1")
    assert outcome.level == "green" and outcome.grounded and outcome.case_id is None
    assert "12356" in outcome.reply_text and "120" in outcome.reply_text
    plain = ask(convo, "孩子挑食不吃青菜咋整", user="pv2")
    assert "12356" not in plain.reply_text


def test_crisis_answer_does_not_touch_chroma(convo: Conversation, monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def query(self, *args, **kwargs):
            raise RuntimeError("chroma must not be called on the crisis path")

    convo.warm_up()
    monkeypatch.setattr(convo.index, "_store", Broken())
    outcome = ask(convo, "孙子在学校被同学欺负了，回来一直哭，我该怎么跟他说？", user="yq2")
    assert outcome.level == "yellow" and outcome.grounded and "出处：《" in outcome.reply_text


@pytest.mark.parametrize(
    "text",
    ["孙子被开水烫了起泡 抹牙膏行不行", "孙子被狗咬出血了 这事村医管不管", "孙子在学校被同学欺负了，回来一直哭，有没有办法",
     "孙子被狗咬出血了，打疫苗能不能等到明天", "孙子被狗咬出血了咋办", "孙子被开水烫伤了"],
)
def test_support_replies_look_for_the_answer_whatever_the_question_words(
    convo: Conversation, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(convo, "_answer_in_time", lambda t, history, profile=None: asked.append(t))
    outcome = ask(convo, text, user="sq1")
    assert outcome.level in ("red", "yellow") and asked == [text]


@pytest.mark.parametrize(("text", "source"), [("孙子被烫伤了起了泡 有没有药可以抹", "safety-burn"),
                                              ("孙子被狗咬出血了咋办", "safety-dog-bite")])
def test_support_reply_adds_the_grounded_answer(convo: Conversation, text: str, source: str) -> None:
    convo.warm_up()
    outcome = ask(convo, text, user="sq2")
    assert outcome.level == "red" and outcome.grounded and "出处：《" in outcome.reply_text
    assert outcome.sources[0]["doc_id"].startswith(source)
    support, answer = outcome.reply_text.split("\n\n", 1)
    assert "120" in support and "出处：《" not in support and "出处：《" in answer


@pytest.mark.parametrize("text", ["发现孩子疑似被家暴，儿童主任要第一时间向谁报告", "老师发现学生被虐待要向哪里报告"])
def test_a_question_about_how_to_report_abuse_is_answered_not_scripted(convo: Conversation, text: str) -> None:
    outcome = ask(convo, text, user="proc1")
    assert outcome.level == "green" and outcome.case_id is None
    assert outcome.intent == "answer" and outcome.grounded


def test_a_described_event_still_gets_the_support_script(convo: Conversation) -> None:
    outcome = ask(convo, "我孙子被他爸打了，我该向谁报告", user="proc2")
    assert outcome.level in ("yellow", "red") and outcome.case_id and "abuse" in outcome.categories


def test_a_self_introduction_is_greeted(convo: Conversation) -> None:
    outcome = ask(convo, "我是小军的奶奶", user="intro1")
    assert outcome.intent == "introduction" and outcome.reply_text.startswith(prompt_text("replies/introduction.txt"))
    assert "记下了：您是孩子的奶奶" in outcome.reply_text  # and remembered (tests/test_profile_pipeline.py)


@pytest.mark.parametrize("text", ["作业多得要死 烦死了", "孙子说作业多得要死 烦死了 咋办", "孙子天天玩手机 气死我了 咋办"])
def test_hyperbole_is_not_answered_with_the_suicide_article(convo: Conversation, text: str) -> None:
    outcome = ask(convo, text, user="hyp1")
    assert outcome.level == "green" and outcome.case_id is None
    assert all("suicide" not in source["doc_id"] for source in outcome.sources)


def test_a_question_about_when_to_see_a_doctor_gets_the_warning_signs(convo: Conversation) -> None:
    outcome = ask(convo, "孩子发烧什么情况要去医院", user="warn1")
    assert outcome.grounded and outcome.sources[0]["doc_id"] == "growth-fever"
    warnings = convo.extractive.articles["growth-fever"].warnings
    assert prompt_text("replies/watch_out.txt") in outcome.reply_text
    assert any(line in outcome.reply_text for line in warnings)
    body = [line for line in outcome.reply_text.splitlines() if not line.startswith("出处") and "直接问我" not in line]
    assert len("\n".join(body)) <= 300


def test_a_plain_how_to_question_gets_no_warning_block(convo: Conversation) -> None:
    outcome = ask(convo, "娃挑食咋办", user="warn2")
    assert outcome.grounded and prompt_text("replies/watch_out.txt") not in outcome.reply_text


def test_a_follow_up_gets_the_line_it_asks_about_not_the_whole_answer_again(convo: Conversation) -> None:
    first = ask(convo, "孩子发烧了怎么办", user="fu1")
    second = ask(convo, "要不要用酒精擦", user="fu1")
    assert first.grounded and second.grounded
    assert "酒精" in second.reply_text and second.reply_text != first.reply_text
    assert not any(re.match(r"^\d\. ", line) for line in second.reply_text.splitlines())
    assert second.sources[0]["doc_id"] == first.sources[0]["doc_id"]


def test_a_follow_up_asking_only_how_often_gets_the_line_that_says_how_often(convo: Conversation) -> None:
    # 「多久查一次」 has no topic word of its own: the line of the same answer that states a frequency answers it,
    # instead of the whole answer again.
    first = ask(convo, "我们兰溪这边 学校给娃查不查视力", user="fu3")
    again = ask(convo, "多久查一次", user="fu3")
    assert first.grounded and again.grounded and again.reply_text != first.reply_text
    assert "每年" in again.reply_text.splitlines()[0]
    assert not any(re.match(r"^\d\. ", line) for line in again.reply_text.splitlines())


def test_a_follow_up_no_line_answers_gets_the_whole_answer(convo: Conversation) -> None:
    ask(convo, "孩子近视了怎么办", user="fu2")
    again = ask(convo, "要多久复查一次", user="fu2")
    assert again.grounded and any(re.match(r"^1\. ", line) for line in again.reply_text.splitlines())


@pytest.mark.parametrize("text", ["孙子在学校心情不好老是哭 有没有心理热线可以打 要钱不",
                                  "孙子被烫伤了起了泡 有没有药可以抹"])
def test_support_reply_with_its_answer_and_the_callback_question_fits_the_length_budget(
        convo: Conversation, text: str) -> None:
    convo.warm_up()
    outcome = ask(convo, text, user=f"len-{len(text)}")
    assert outcome.level in ("red", "yellow") and outcome.grounded
    assert "电话号码" in outcome.reply_text  # the call-back question is asked after the first support reply
    assert len(outcome.reply_text) <= convo.settings.reply_max_chars, outcome.reply_text
    support, answer = outcome.reply_text.split("\n\n", 1)
    assert "出处：《" in answer and ("12356" in support or "120" in support)


def test_the_line_that_answers_the_specific_question_follows_the_gist(convo: Conversation) -> None:
    # 「酒精擦身行不行」 is answered by a 说明 line of the fever article, not by its steps.
    outcome = ask(convo, "用酒精给娃擦身子退烧行不行")
    lines = outcome.reply_text.splitlines()
    assert outcome.grounded and "酒精" in lines[1] and "不要用" in lines[1]
