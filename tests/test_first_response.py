"""First response = the first counsellor message DELIVERED to the family, or a recorded phone call (SQLite and
PostgreSQL): web chat when stored (the family's page shows it), WeChat 服务号 when the 客服消息 API accepted it,
订阅号 when it went out as the passive reply; never when typed or queued, never for a message the API refused,
never for the service's own lines (holding line), and never on a channel that cannot receive it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.casework import workflow as wf
from bot.config import Settings
from bot.console.replies import send_reply
from bot.conversation.family import tell_family
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, Message, WechatOutbox
from bot.wechat.client import make_client
from bot.wechat.outbox import deliver_due, take_held
from tests.fakes.console import actor, add_account, add_case
from tests.fakes.wechat_api import APP_ID, FakeWeChatAPI

SEND = "/cgi-bin/message/custom/send"


@pytest.fixture
def api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture
def db(db_settings: Settings, api: FakeWeChatAPI) -> Settings:
    settings = Settings(**{**db_settings.model_dump(), "wechat_app_id": APP_ID, "wechat_app_secret": "secret",
                           "wechat_api_base": api.base_url, "wechat_http_timeout_seconds": 2.0})
    upgrade(settings)
    return settings


def _first_response(settings: Settings, case_id: int):  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        return session.get(Case, case_id).first_response_at


def _events(settings: Settings, case_id: int, kind: str) -> list[dict]:
    with session_scope(settings) as session:
        return list(session.scalars(select(CaseEvent.payload).where(CaseEvent.case_id == case_id,
                                                                    CaseEvent.kind == kind)))


def test_web_chat_counts_when_stored_where_the_family_sees_it(db: Settings) -> None:
    case_id = add_case(db, channel="web", external_id="visitor")
    amy = add_account(db, "amy")
    assert send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？") == "web"
    with session_scope(db) as session:
        stored = session.scalar(select(Message).where(Message.author == "counsellor"))
        case = session.get(Case, case_id)
        assert case.first_response_at == stored.created_at and case.answered_upto == stored.id
    assert _events(db, case_id, "first_response") == [{"message_id": stored.id}]
    send_reply(db, case_id, actor(db, amy), "别急")
    assert len(_events(db, case_id, "first_response")) == 1  # the first only


def test_wechat_service_counts_when_the_api_accepted_it_not_when_queued(db: Settings, api: FakeWeChatAPI) -> None:
    case_id = add_case(db, channel="wechat", external_id="o-grandma")
    amy = add_account(db, "amy")
    assert send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？") == "wechat"
    assert _first_response(db, case_id) is None  # written and queued: the family has heard nothing yet
    tell_family(db, _user(db, case_id), case_id, "老师看到了，马上回复您")  # a service line is no response
    assert deliver_due(db, make_client(db))["sent"] == 2
    with session_scope(db) as session:
        sent = session.scalar(select(WechatOutbox.sent_at).where(WechatOutbox.msg_key.like(f"console:{case_id}:%"))
                              .order_by(WechatOutbox.id).limit(1))
    assert _first_response(db, case_id) == sent
    with session_scope(db) as session:
        counsellor = session.scalar(select(Message.id).where(Message.author == "counsellor"))
    assert _events(db, case_id, "first_response") == [{"message_id": counsellor}]


def _user(settings: Settings, case_id: int) -> int:
    with session_scope(settings) as session:
        return session.get(Case, case_id).user_id


def test_a_message_wechat_refused_is_no_response_and_a_phone_call_is(db: Settings, api: FakeWeChatAPI) -> None:
    case_id = add_case(db, channel="wechat", external_id="o-gone")
    amy = add_account(db, "amy")
    api.fail(SEND, 43004)  # the family unfollowed: undeliverable
    send_reply(db, case_id, actor(db, amy), "孩子现在在您身边吗？")
    assert deliver_due(db, make_client(db))["undeliverable"] == 1
    assert _first_response(db, case_id) is None
    with session_scope(db) as session:
        wf.record_phone_call(session, session.get(Case, case_id), actor(db, amy), "奶奶接了电话")
    assert _first_response(db, case_id) is not None


def test_subscription_counts_when_the_held_message_went_out_as_the_passive_reply(db: Settings) -> None:
    settings = Settings(**{**db.model_dump(), "wechat_account_type": "subscription"})
    case_id = add_case(settings, channel="wechat", external_id="o-sub")
    amy = add_account(settings, "amy")
    assert send_reply(settings, case_id, actor(settings, amy), "孩子现在在您身边吗？") == "wechat_held"
    assert _first_response(settings, case_id) is None
    assert take_held(settings, "o-sub") == ["孩子现在在您身边吗？"]  # the passive reply to her next message
    assert _first_response(settings, case_id) is not None


def test_a_channel_that_cannot_receive_it_gets_no_response(db: Settings) -> None:
    case_id = add_case(db, channel="api", external_id="partner-user")
    amy = add_account(db, "amy")
    assert send_reply(db, case_id, actor(db, amy), "您好") == "none"
    assert _first_response(db, case_id) is None
