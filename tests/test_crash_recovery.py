"""A process killed after committing a message (and its case) but before storing its reply: WeChat's retry
gets a reply then, and nothing is stored twice. Also: 「找人帮忙」 puts a request in a counsellor's queue."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import delete, func, select, update

from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, Message, utcnow

RED = "外孙女说她不想活了，把药都倒出来了"


def _crash_before_reply(settings: Settings, msg_key: str) -> None:
    """What the database holds when the process died right after the case commit."""
    with session_scope(settings) as session:
        inbound = session.scalar(select(Message).where(Message.msg_key == msg_key))
        session.execute(delete(Message).where(Message.user_id == inbound.user_id, Message.direction == "out"))
        session.execute(update(Message).where(Message.id == inbound.id)
                        .values(created_at=utcnow() - dt.timedelta(seconds=10)))


def _count(settings: Settings, model, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)))


def test_retry_after_a_crash_gets_the_crisis_reply(db_settings: Settings, knowledge_index) -> None:
    upgrade(db_settings)
    convo = Conversation(db_settings, index=knowledge_index)
    first = convo.handle(Inbound("o-crash", RED, "wechat", msg_key="wx:501"))
    assert first.level == "red"
    _crash_before_reply(db_settings, "wx:501")

    retry = convo.handle(Inbound("o-crash", RED, "wechat", msg_key="wx:501"))
    assert retry.duplicate and retry.level == "red" and retry.case_id == first.case_id
    assert "12356" in retry.reply_text and "120" in retry.reply_text
    assert _count(db_settings, Message, Message.direction == "in") == 1
    assert _count(db_settings, Case) == 1


def test_retry_while_the_first_attempt_is_still_working_stays_quiet(db_settings: Settings, knowledge_index) -> None:
    upgrade(db_settings)
    convo = Conversation(db_settings, index=knowledge_index)
    convo.handle(Inbound("o-slow", "孩子牙疼怎么办", "wechat", msg_key="wx:502"))
    with session_scope(db_settings) as session:  # the reply is not stored yet: the first attempt is busy
        session.execute(delete(Message).where(Message.direction == "out"))
    retry = convo.handle(Inbound("o-slow", "孩子牙疼怎么办", "wechat", msg_key="wx:502"))
    assert retry.duplicate and retry.reply_text == ""


def test_retry_of_a_first_attempt_slower_than_the_orphan_time_stays_quiet(db_settings: Settings,
                                                                         knowledge_index) -> None:
    """On a slow machine the first attempt can run past ORPHAN_AFTER: a retry must not answer it a second time
    (it did, and the first attempt's reply then differed from the retry's)."""
    upgrade(db_settings)
    convo = Conversation(db_settings, index=knowledge_index)
    stored, release = threading.Event(), threading.Event()
    respond = convo._respond

    def slow_respond(*args, **kwargs):  # type: ignore[no-untyped-def]
        stored.set()
        release.wait(10)
        return respond(*args, **kwargs)

    convo._respond = slow_respond  # type: ignore[method-assign]
    first: list = []
    worker = threading.Thread(target=lambda: first.append(
        convo.handle(Inbound("o-slower", "孩子牙疼怎么办", "wechat", msg_key="wx:504"))))
    worker.start()
    assert stored.wait(10)
    with session_scope(db_settings) as session:  # the first attempt has been working for 10 s
        session.execute(update(Message).where(Message.msg_key == "wx:504")
                        .values(created_at=utcnow() - dt.timedelta(seconds=10)))
    retry = convo.handle(Inbound("o-slower", "孩子牙疼怎么办", "wechat", msg_key="wx:504"))
    release.set()
    worker.join(10)
    assert retry.duplicate and retry.reply_text == ""
    assert first and "出处" in first[0].reply_text
    assert _count(db_settings, Message, Message.direction == "out") == 1


def test_retry_of_an_orphaned_question_is_answered(db_settings: Settings, knowledge_index) -> None:
    upgrade(db_settings)
    convo = Conversation(db_settings, index=knowledge_index)
    convo.handle(Inbound("o-green", "孩子牙疼怎么办", "wechat", msg_key="wx:503"))
    _crash_before_reply(db_settings, "wx:503")
    retry = convo.handle(Inbound("o-green", "孩子牙疼怎么办", "wechat", msg_key="wx:503"))
    assert retry.duplicate and retry.sources and "出处" in retry.reply_text


def test_asking_for_a_person_opens_a_request_in_the_local_queue(db_settings: Settings, knowledge_index) -> None:
    upgrade(db_settings)
    convo = Conversation(db_settings, index=knowledge_index)
    outcome = convo.handle(Inbound("v-help", "我想找人帮忙", "web"))
    assert outcome.intent == "human" and outcome.level == "green" and outcome.case_id is not None
    with session_scope(db_settings) as session:
        case = session.get(Case, outcome.case_id)
        assert (case.severity, case.categories, case.team, case.channel) == ("yellow", ["help_request"], "local", "web")
    again = convo.handle(Inbound("v-help", "人工客服", "web"))
    assert again.case_id == outcome.case_id  # joins the open request, no second case
