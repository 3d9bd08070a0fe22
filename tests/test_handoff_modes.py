"""Human handoff (core, no HTTP), on SQLite and PostgreSQL: a counsellor's message puts the conversation in
human mode; the bot stays quiet there except for a rise in risk; hand-back, closing and idleness end it; the
holding line goes out once; a claim race names the holder."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.casework import workflow as wf
from bot.config import Settings
from bot.console.replies import send_reply
from bot.conversation.modes import HUMAN, in_human_mode
from bot.conversation.timers import expire_idle, send_holding_lines
from bot.pipeline import Conversation, Inbound
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, ChannelUser, ConversationMode, Message, utcnow
from tests.fakes.console import actor, add_account
from tests.fakes.webhook import WebhookReceiver

RED = "孩子说不想活了"
SAFE_NOW = "在身边，我们安全，谢谢老师"
WORSE = "老师，孩子现在不说话了，一直躺着，叫他也不理我，我好怕"
FALL = "孩子从楼梯上摔下来，叫不醒"
BEATEN = "他爸爸喝醉了用皮带抽他，身上全是血印子"


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def db(db_settings: Settings, hook: WebhookReceiver) -> Settings:
    settings = Settings(**{**db_settings.model_dump(), "notify_webhook_url": hook.url})
    upgrade(settings)
    return settings


@pytest.fixture
def convo(db: Settings) -> Conversation:
    return Conversation(db, index=None)  # crisis replies and human mode never need the knowledge index


def say(convo: Conversation, text: str, user: str = "grandma"):  # type: ignore[no-untyped-def]
    return convo.handle(Inbound(user, text, "web"))


def _user_id(settings: Settings, external: str = "grandma") -> int:
    with session_scope(settings) as session:
        return session.scalar(select(ChannelUser.id).where(ChannelUser.external_id == external))


def _outbound(settings: Settings, user_id: int) -> list[tuple[str | None, str]]:
    with session_scope(settings) as session:
        rows = session.execute(select(Message.author, Message.text).where(
            Message.user_id == user_id, Message.direction == "out").order_by(Message.id)).all()
    return [(author, text) for author, text in rows]


def _human_case(db: Settings, convo: Conversation) -> tuple[int, int, int]:
    """A red case from the family, taken by amy, who wrote to them: (case id, amy, user id)."""
    case_id = say(convo, RED).case_id
    amy = add_account(db, "amy")
    send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？")
    return case_id, amy, _user_id(db)


def test_claim_and_send_enters_human_mode_and_the_bot_stays_quiet(db: Settings, convo: Conversation,
                                                                  hook: WebhookReceiver) -> None:
    first = say(convo, RED)
    assert first.level == "red" and first.reply_text
    user_id = _user_id(db)
    with session_scope(db) as session:
        assert not in_human_mode(session, user_id)
    amy = add_account(db, "amy")
    send_reply(db, first.case_id, actor(db, amy), "孩子现在在您身边吗？")  # not claimed yet: claimed and sent
    with session_scope(db) as session:
        case = session.get(Case, first.case_id)
        assert (case.assigned_to, case.status) == (amy, "in_progress")
        assert session.get(ConversationMode, user_id).mode == HUMAN
    before = _outbound(db, user_id)
    calm = say(convo, SAFE_NOW)
    assert calm.reply_text == "" and calm.intent == "human" and calm.case_id == first.case_id
    same = say(convo, "孩子还是说不想活了")  # same level, same category: the counsellor's conversation
    assert same.reply_text == ""
    assert _outbound(db, user_id) == before  # the bot said nothing
    with session_scope(db) as session:
        family = list(session.scalars(select(Message.text).where(
            Message.user_id == user_id, Message.direction == "in", Message.case_id == first.case_id)))
    assert family == [RED, SAFE_NOW, "孩子还是说不想活了"]


def _wait_for_alerts(hook: WebhookReceiver, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(hook.received) < n and time.monotonic() < deadline:
        time.sleep(0.05)


def _raised(db: Settings, case_id: int) -> list[dict]:
    with session_scope(db) as session:
        return list(session.scalars(select(CaseEvent.payload).where(CaseEvent.case_id == case_id,
                                                                    CaseEvent.kind == "risk_raised")
                                    .order_by(CaseEvent.id)))


def test_a_rise_in_risk_gets_the_crisis_reply_and_alerts_the_counsellor(db: Settings, convo: Conversation,
                                                                        hook: WebhookReceiver) -> None:
    case_id, _, user_id = _human_case(db, convo)
    _wait_for_alerts(hook, 1)
    hook.received.clear()
    fall = say(convo, FALL)  # a new emergency situation: 120 at once
    assert fall.level == "red" and fall.intent == "crisis" and "120" in fall.reply_text.splitlines()[0]
    assert say(convo, FALL).reply_text == ""  # the same again is no rise: the counsellor answers
    beaten = say(convo, BEATEN)  # a new red category: its own reply (110), not the suicide script again
    assert beaten.level == "red" and beaten.intent == "crisis"
    assert beaten.reply_text.splitlines()[0] == prompt_text("crisis/red_abuse.txt").splitlines()[0]
    assert say(convo, BEATEN).reply_text == ""
    with session_scope(db) as session:
        assert session.get(ConversationMode, user_id).mode == HUMAN  # the counsellor still holds it
    assert [(p["level"], p["situation"], p["new_categories"], p["crisis_reply"]) for p in _raised(db, case_id)] == [
        ("red", "fall", ["emergency"], True), ("red", "fall", ["abuse"], True)]
    _wait_for_alerts(hook, 2)
    assert [(alert["kind"], alert["case_id"]) for alert in hook.received] == [("risk_raised", case_id)] * 2
    assert _outbound(db, user_id)[-1] == ("bot", beaten.reply_text)


def test_a_new_yellow_category_in_a_red_conversation_alerts_without_a_script(
        db: Settings, convo: Conversation, hook: WebhookReceiver) -> None:
    """The issue's grandmother: 「孩子现在不说话了…」 after the suicide talk adds low mood (a yellow category) to a
    red case whose red category is known. The counsellor is alerted; the bot does not repeat the red script."""
    case_id, _, user_id = _human_case(db, convo)
    _wait_for_alerts(hook, 1)
    hook.received.clear()
    before = _outbound(db, user_id)
    worse = say(convo, WORSE)
    assert worse.level == "red" and worse.reply_text == "" and worse.intent == "human"
    assert _outbound(db, user_id) == before
    assert [(p["new_categories"], p["crisis_reply"]) for p in _raised(db, case_id)] == [(["emotional"], False)]
    _wait_for_alerts(hook, 1)
    assert [(alert["kind"], alert["case_id"]) for alert in hook.received] == [("risk_raised", case_id)]


def test_a_yellow_case_escalated_to_red_in_human_mode_gets_the_red_reply(db: Settings, convo: Conversation) -> None:
    case_id = say(convo, "孩子最近总是哭，说想爸爸妈妈，晚上睡不着").case_id
    amy = add_account(db, "amy")
    send_reply(db, case_id, actor(db, amy), "孩子这样多久了？")
    red = say(convo, "孩子刚才说不想活了")  # a higher level
    assert red.level == "red" and red.intent == "crisis" and red.case_id == case_id
    assert red.reply_text.splitlines()[0] == prompt_text("crisis/red_suicide.txt").splitlines()[0]
    assert [p["crisis_reply"] for p in _raised(db, case_id)] == [True]


def test_a_new_yellow_category_alerts_without_a_script(db: Settings, convo: Conversation,
                                                       hook: WebhookReceiver) -> None:
    case_id = say(convo, "孩子最近总是哭，说想爸爸妈妈，晚上睡不着").case_id
    amy = add_account(db, "amy")
    send_reply(db, case_id, actor(db, amy), "孩子这样多久了？")
    bullied = say(convo, "他还说在学校老被同学欺负，抢他东西")
    assert bullied.level == "yellow" and bullied.reply_text == "" and bullied.case_id == case_id
    _wait_for_alerts(hook, 1)
    assert [(alert["kind"], alert["severity"]) for alert in hook.received] == [("risk_raised", "yellow")]
    assert [(p["new_categories"], p["crisis_reply"]) for p in _raised(db, case_id)] == [(["bullying"], False)]


def test_holding_line_once_until_the_counsellor_writes_again(db: Settings, convo: Conversation) -> None:
    case_id, amy, user_id = _human_case(db, convo)
    holding = prompt_text("replies/holding.txt")
    assert send_holding_lines(db) == []  # the family has not written since
    say(convo, SAFE_NOW)
    assert send_holding_lines(db) == []  # not waited long enough yet
    later = utcnow() + dt.timedelta(minutes=db.human_hold_minutes + 1)
    assert send_holding_lines(db, later) == [user_id]
    say(convo, "老师您在吗")
    assert send_holding_lines(db, later + dt.timedelta(minutes=10)) == []  # never twice in a row
    assert [text for _, text in _outbound(db, user_id)].count(holding) == 1
    send_reply(db, case_id, actor(db, amy), "在的，您别急")
    say(convo, "好的")
    assert send_holding_lines(db, utcnow() + dt.timedelta(minutes=db.human_hold_minutes + 1)) == [user_id]


def test_idle_counsellor_hands_back_to_the_bot_and_the_family_is_told(db: Settings, convo: Conversation) -> None:
    _, _, user_id = _human_case(db, convo)
    assert expire_idle(db) == []
    assert expire_idle(db, utcnow() + dt.timedelta(minutes=db.human_idle_minutes + 1)) == [user_id]
    with session_scope(db) as session:
        assert not in_human_mode(session, user_id)
    assert _outbound(db, user_id)[-1] == ("bot", prompt_text("replies/human_idle.txt"))
    again = say(convo, "你好")
    assert again.intent != "human" and again.reply_text  # the bot answers again


def test_idle_noticed_at_the_next_message_tells_the_family_in_the_reply(db: Settings, convo: Conversation) -> None:
    _, _, user_id = _human_case(db, convo)
    with session_scope(db) as session:
        row = session.get(ConversationMode, user_id)
        row.last_counsellor_at = utcnow() - dt.timedelta(minutes=db.human_idle_minutes + 5)
    reply = say(convo, "你好")
    assert reply.reply_text.startswith(prompt_text("replies/human_idle.txt")) and reply.intent != "human"
    with session_scope(db) as session:
        assert not in_human_mode(session, user_id)


def test_hand_back_and_close_return_the_conversation_to_the_bot(db: Settings, convo: Conversation) -> None:
    case_id, amy, user_id = _human_case(db, convo)
    who = actor(db, amy)
    with session_scope(db) as session:
        assert wf.hand_back(session, session.get(Case, case_id), who) is True
    with session_scope(db) as session:
        assert not in_human_mode(session, user_id)
        with pytest.raises(wf.WorkflowError, match="机器人"):
            wf.hand_back(session, session.get(Case, case_id), who)
    send_reply(db, case_id, who, "我又来了")
    with session_scope(db) as session:
        assert in_human_mode(session, user_id)
        assert wf.close(session, session.get(Case, case_id), who, "safe_now", "孩子安全") is True
    with session_scope(db) as session:
        assert not in_human_mode(session, user_id)


def test_claim_race_tells_the_loser_who_holds_the_case(db: Settings) -> None:
    from tests.fakes.console import add_case

    amy, ben = add_account(db, "amy"), add_account(db, "ben")
    case_id = add_case(db)
    with session_scope(db) as a_session, session_scope(db) as b_session:
        a_case, b_case = a_session.get(Case, case_id), b_session.get(Case, case_id)  # both read it unclaimed
        wf.claim(a_session, a_case, actor(db, amy))
        a_session.commit()
        with pytest.raises(wf.WorkflowError, match="amy"):
            wf.claim(b_session, b_case, actor(db, ben))
        b_session.rollback()
    with session_scope(db) as session:
        assert session.get(Case, case_id).assigned_to == amy


def test_the_bot_asks_once_for_a_call_back_number_and_stores_it(db: Settings, convo: Conversation) -> None:
    from bot.storage.models import AuditEntry, Contact

    ask = prompt_text("replies/ask_callback.txt")
    first = say(convo, RED)
    assert first.reply_text.endswith(ask) and "120" in first.reply_text  # the crisis reply comes first
    saved = say(convo, "电话 13812345678")
    assert saved.intent == "callback" and "13812345678" in saved.reply_text and saved.case_id == first.case_id
    again = say(convo, FALL)
    assert again.intent == "crisis" and ask not in again.reply_text  # asked once only
    user_id = _user_id(db)
    with session_scope(db) as session:
        assert session.get(Contact, user_id).phone == "13812345678"
        event = session.scalar(select(CaseEvent.payload).where(CaseEvent.kind == "callback_number"))
        audited = session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "callback_recorded"))
    assert event == {"phone": "138****5678"} and audited == {"phone": "138****5678"}
    from bot.conversation.contact import capture_phone

    assert capture_phone(db, user_id, first.case_id, "13900000000") is None  # a number stored: no second one


def test_a_number_nobody_asked_for_is_not_stored(db: Settings, convo: Conversation) -> None:
    from bot.storage.models import Contact

    from bot.conversation.contact import capture_phone

    say(convo, "你好")
    assert capture_phone(db, _user_id(db), None, "13812345678") is None
    with session_scope(db) as session:
        assert session.get(Contact, _user_id(db)) is None


def test_honest_sla_claim_is_not_a_response_and_red_restarts_the_clock(db: Settings, convo: Conversation) -> None:
    from bot.console.views import sla_deadline, sla_remaining_minutes

    case_id = say(convo, "孩子最近总是哭，说想爸爸妈妈，晚上睡不着").case_id
    amy = add_account(db, "amy")
    with session_scope(db) as session:
        wf.claim(session, session.get(Case, case_id), actor(db, amy))
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert case.first_response_at is None  # a claim is not a response
        wf.record_phone_call(session, case, actor(db, amy), "奶奶接了电话")
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert case.first_response_at is not None and sla_remaining_minutes(case, db, utcnow()) is None
    say(convo, "孩子说不想活了")  # escalates to red: a new response is due within the red window
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert case.severity == "red" and case.first_response_at is None
        left = sla_remaining_minutes(case, db, utcnow())
        assert db.sla_red_minutes - 1 <= left <= db.sla_red_minutes
        assert sla_deadline(case, db) > utcnow()
    send_reply(db, case_id, actor(db, amy), "我是童伴的老师，孩子现在在您身边吗？")
    with session_scope(db) as session:
        assert session.get(Case, case_id).first_response_at is not None  # the counsellor's message


def test_a_case_of_several_categories_alerts_every_team_concerned(db: Settings, convo: Conversation,
                                                                  hook: WebhookReceiver) -> None:
    from bot.casework.cases import teams_for

    assert teams_for(["bullying", "suicide"], db.teams_file) == ["12355", "12356"]
    say(convo, "孩子在学校被同学欺负，回来说不想活了")
    _wait_for_alerts(hook, 1)
    assert hook.received[0]["team"] == "12356" and hook.received[0]["teams"] == ["12356", "12355"]


def test_release_to_the_team_and_hand_to_a_named_colleague(db: Settings, convo: Conversation) -> None:
    case_id, amy, user_id = _human_case(db, convo)
    ben = add_account(db, "ben")
    outsider = add_account(db, "cat", teams=("12355",))
    with session_scope(db) as session:
        with pytest.raises(wf.WorkflowError, match="同事"):
            wf.hand_to(session, session.get(Case, case_id), actor(db, amy), outsider, "请接手")
    with session_scope(db) as session:
        with pytest.raises(wf.WorkflowError, match="交代"):
            wf.hand_to(session, session.get(Case, case_id), actor(db, amy), ben, " ")
    with session_scope(db) as session:
        wf.hand_to(session, session.get(Case, case_id), actor(db, amy), ben, "奶奶下午方便接电话")
    with session_scope(db) as session:
        assert session.get(Case, case_id).assigned_to == ben
        assert session.get(ConversationMode, user_id).account_id == ben  # the conversation stays human
        note = session.scalar(select(CaseEvent.payload).where(CaseEvent.kind == "handover"))
        assert note["note"] == "奶奶下午方便接电话" and note["to_account"] == "ben"
        assert wf.release(session, session.get(Case, case_id), actor(db, ben), "今晚谁有空接一下") is True
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert (case.assigned_to, case.status) == (None, "open") and not in_human_mode(session, user_id)


def test_the_issues_grandmother_hears_120_when_the_child_stops_answering_after_the_pesticide(
        db: Settings, convo: Conversation, hook: WebhookReceiver) -> None:
    """Issue 16's story: the grandson held a pesticide bottle; in human mode 「一直躺着，叫他也不理我」 may be a
    poisoning, a new emergency: the family gets 120 at once and the counsellor is alerted."""
    case_id = say(convo, "我孙子手里拿着农药瓶子，说不想活了").case_id
    amy = add_account(db, "amy")
    send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？")
    assert say(convo, SAFE_NOW).reply_text == ""
    worse = say(convo, WORSE)
    assert worse.level == "red" and worse.intent == "crisis" and worse.case_id == case_id
    assert "120" in worse.reply_text.splitlines()[0]
    assert any(p["situation"] == "poisoning" and p["crisis_reply"] for p in _raised(db, case_id))
    _wait_for_alerts(hook, 2)
    assert ("risk_raised", case_id) in [(alert["kind"], alert["case_id"]) for alert in hook.received]
