"""The next-response clock of human mode (SQLite and PostgreSQL): when the family writes and no delivered
counsellor message (or phone call) has answered yet, the queue shows 「等回复 N 分钟」 counting down to
TONGBAN_SLA_NEXT_RESPONSE_MINUTES; an overdue case sorts up right after the unclaimed red ones; the clock
stops when the counsellor's message is delivered (web: stored; 客服消息: the API accepted it), not when typed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.casework import workflow as wf
from bot.config import Settings
from bot.console.replies import send_reply
from bot.console.views import QueueFilters, queue_rows
from bot.pipeline import Conversation, Inbound
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, ConversationMode, Message, utcnow
from bot.wechat.client import make_client
from bot.wechat.outbox import deliver_due
from tests.fakes.app_server import serve_app
from tests.fakes.console import actor, add_account, add_case, csrf_of, login
from tests.fakes.wechat_api import APP_ID, FakeWeChatAPI

RED = "孩子说不想活了"
SAFE_NOW = "在身边，我们安全，谢谢老师"
TARGET = 5


@pytest.fixture
def api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture
def db(db_settings: Settings, api: FakeWeChatAPI) -> Settings:
    settings = Settings(**{**db_settings.model_dump(), "sla_next_response_minutes": TARGET, "sla_check_seconds": 3600,
                           "wechat_app_id": APP_ID, "wechat_app_secret": "secret", "wechat_api_base": api.base_url})
    upgrade(settings)
    return settings


@pytest.fixture
def convo(db: Settings) -> Conversation:
    return Conversation(db, index=None)  # crisis replies and human mode never need the knowledge index


def _rows(settings: Settings, account_id: int, minutes_later: float = 0) -> dict[int, dict]:
    with session_scope(settings) as session:
        page = queue_rows(session, actor(settings, account_id), settings, QueueFilters(),
                          utcnow() + dt.timedelta(minutes=minutes_later))
    return {row["id"]: row for row in page.rows}


def _order(settings: Settings, account_id: int, minutes_later: float = 0) -> list[int]:
    return list(_rows(settings, account_id, minutes_later))


def test_the_family_waiting_in_human_mode_counts_down_and_stops_when_answered(db: Settings,
                                                                               convo: Conversation) -> None:
    case_id = convo.handle(Inbound("grandma", RED, "web")).case_id
    amy = add_account(db, "amy")
    send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？")  # web: delivered at once, the first response
    assert _rows(db, amy)[case_id]["reply_wait"] is None  # nobody waits
    convo.handle(Inbound("grandma", SAFE_NOW, "web"))
    convo.handle(Inbound("grandma", "老师您在吗", "web"))
    now = _rows(db, amy)[case_id]
    assert (now["reply_wait"], now["reply_left"], now["reply_overdue"]) == (0, TARGET, False)
    late = _rows(db, amy, TARGET + 2)[case_id]  # from the older of the two messages
    assert (late["reply_wait"], late["reply_left"], late["reply_overdue"]) == (TARGET + 2, -2, True)
    send_reply(db, case_id, actor(db, amy), "在的，您别急")  # delivered: the clock stops
    assert _rows(db, amy, TARGET + 2)[case_id]["reply_wait"] is None
    convo.handle(Inbound("grandma", "好的", "web"))
    assert _rows(db, amy)[case_id]["reply_wait"] == 0  # a new wait
    with session_scope(db) as session:
        wf.record_phone_call(session, session.get(Case, case_id), actor(db, amy), "打电话问了情况")
    assert _rows(db, amy)[case_id]["reply_wait"] is None  # a call answers too
    with session_scope(db) as session:
        wf.hand_back(session, session.get(Case, case_id), actor(db, amy))
    convo.handle(Inbound("grandma", "你好", "web"))  # a greeting: answered without the knowledge index
    assert _rows(db, amy, TARGET + 2)[case_id]["reply_wait"] is None  # the bot answers in bot mode


def test_wechat_stops_the_clock_when_the_message_is_delivered_not_when_typed(db: Settings,
                                                                              convo: Conversation) -> None:
    case_id = convo.handle(Inbound("o-grandma", RED, "wechat")).case_id
    amy = add_account(db, "amy")
    client = make_client(db)
    send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？")
    convo.handle(Inbound("o-grandma", SAFE_NOW, "wechat", msg_key="wx:1"))
    assert _rows(db, amy)[case_id]["reply_wait"] is None  # no first response yet: the first-response clock runs
    assert _rows(db, amy)[case_id]["remaining"] is not None
    deliver_due(db, client)
    assert _rows(db, amy)[case_id]["reply_wait"] == 0  # the answer reached her; her later message waits
    send_reply(db, case_id, actor(db, amy), "好的，您先陪着他")
    assert _rows(db, amy)[case_id]["reply_wait"] == 0  # typed and queued: she still waits
    deliver_due(db, client)
    assert _rows(db, amy)[case_id]["reply_wait"] is None


def _waiting_case(settings: Settings, convo: Conversation, user: str, text: str, account_id: int) -> int:
    case_id = convo.handle(Inbound(user, text, "web")).case_id
    send_reply(settings, case_id, actor(settings, account_id), "您好，我是童伴的老师")
    convo.handle(Inbound(user, "老师您在吗", "web"))
    return case_id


def test_an_overdue_next_response_sorts_up(db: Settings, convo: Conversation) -> None:
    amy = add_account(db, "amy", on_call=True)
    waiting_red = _waiting_case(db, convo, "g1", RED, amy)
    waiting_yellow = _waiting_case(db, convo, "g2", "孩子最近总是哭，说想爸爸妈妈，晚上睡不着", amy)
    unread_red = add_case(db, external_id="g3")
    unclaimed_red = add_case(db, external_id="g4")
    with session_scope(db) as session:
        session.get(Case, unread_red).assigned_to = amy  # claimed, with a family message nobody has read
        for case_id in (waiting_red, waiting_yellow):
            session.get(Case, case_id).read_upto = 10**9  # seen, but not answered
    assert _order(db, amy) == [unclaimed_red, unread_red, waiting_red, waiting_yellow]
    assert _order(db, amy, TARGET + 1) == [unclaimed_red, waiting_red, waiting_yellow, unread_red]


def test_the_queue_page_shows_the_clock(db: Settings, convo: Conversation) -> None:
    case_id = _waiting_case(db, convo, "g-http", RED, add_account(db, "amy"))
    with session_scope(db) as session:  # seven minutes ago she wrote, and human mode began before that
        user_id = session.get(Case, case_id).user_id
        mode = session.get(ConversationMode, user_id)
        mode.since = utcnow() - dt.timedelta(minutes=10)
        waiting = session.scalar(select(Message).where(Message.user_id == user_id, Message.direction == "in")
                                 .order_by(Message.id.desc()).limit(1))
        waiting.created_at = utcnow() - dt.timedelta(minutes=7)
    for url in serve_app(db, None):
        client, _ = login(url, "amy")
        row = re.search(rf'<tr class="([^"]*)" data-case="{case_id}".*?</tr>', client.get("/console/queue/rows").text,
                        re.S)
        assert "reply-overdue" in row[1] and "等回复 7 分钟 · 超时 2 分钟" in row[0]
        assert "家长等回复 7 分钟（超时 2 分钟）" in client.get(f"/console/cases/{case_id}").text
        token = csrf_of(client, f"/console/cases/{case_id}")
        client.post(f"/console/cases/{case_id}/reply", data={"csrf": token, "text": "在的"})
        assert "等回复" not in client.get("/console/queue/rows").text
