"""The 客服消息 outbox against a fake WeChat API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, ChannelUser, WechatOutbox, utcnow
from bot.wechat import followers
from bot.wechat.client import DatabaseStorage, TongbanWeChatClient, make_client
from bot.wechat.outbox import claim, deliver_due, enqueue
from tests.fakes.wechat_api import APP_ID, FakeWeChatAPI

SEND, TYPING, TOKEN_PATH = "/cgi-bin/message/custom/send", "/cgi-bin/message/custom/typing", "/cgi-bin/token"


@pytest.fixture
def api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture
def settings(db_settings: Settings, api: FakeWeChatAPI) -> Settings:
    configured = Settings(**{**db_settings.model_dump(), "wechat_app_id": APP_ID, "wechat_app_secret": "secret",
                             "wechat_api_base": api.base_url, "wechat_http_timeout_seconds": 2.0})
    upgrade(configured)
    return configured


def follower(settings: Settings, openid: str, last_seen: dt.datetime | None = None, case: bool = False) -> int | None:
    """A WeChat user who wrote at `last_seen` (default now); returns a case id when `case`."""
    with session_scope(settings) as session:
        user = ChannelUser(channel="wechat", external_id=openid, last_seen_at=last_seen or utcnow())
        session.add(user)
        session.flush()
        if not case:
            return None
        row = Case(user_id=user.id, channel="wechat", severity="red", categories=[], evidence=[], reasons=[],
                   status="open", mandatory_report=False)
        session.add(row)
        session.flush()
        return row.id


def statuses(settings: Settings, msg_key: str) -> list[str]:
    with session_scope(settings) as session:
        return list(session.scalars(select(WechatOutbox.status).where(WechatOutbox.msg_key == msg_key)
                                    .order_by(WechatOutbox.part)))


def test_parts_are_sent_in_order_after_typing(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o1")
    assert enqueue(settings, "o1", "wx:1", ["第一段。", "第二段。"]) == 2
    assert enqueue(settings, "o1", "wx:1", ["第一段。", "第二段。"]) == 0  # a retried enqueue adds nothing
    outcomes = deliver_due(settings, make_client(settings))
    assert outcomes["sent"] == 2
    sends = api.calls(SEND)
    assert [s["json"]["text"]["content"] for s in sends] == ["第一段。", "第二段。"]
    assert sends[0]["json"]["touser"] == "o1"
    typing = [i for i, r in enumerate(api.requests) if r["path"] == TYPING]
    assert typing and typing[0] < api.requests.index(sends[0])
    assert not deliver_due(settings, make_client(settings))
    assert statuses(settings, "wx:1") == ["sent", "sent"]


def test_dead_worker_row_is_delivered_once_after_the_lease(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o2")
    enqueue(settings, "o2", "wx:2", ["你好。"])
    assert len(claim(settings, 10, lease=dt.timedelta(seconds=0.5))) == 1  # the worker dies holding it
    assert not deliver_due(settings, make_client(settings))  # still leased
    time.sleep(0.6)
    assert deliver_due(settings, make_client(settings))["sent"] == 1  # "after restart"
    assert not deliver_due(settings, make_client(settings))
    assert len(api.calls(SEND)) == 1


def test_concurrent_workers_never_send_twice(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o3")
    for i in range(12):
        enqueue(settings, "o3", f"wx:c{i}", [f"消息{i}。"])
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client = make_client(settings)
            while deliver_due(settings, client, limit=3):
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    contents = [s["json"]["text"]["content"] for s in api.calls(SEND)]
    assert sorted(contents) == sorted(f"消息{i}。" for i in range(12))


def test_45015_marks_undeliverable_and_flags_the_case(settings: Settings, api: FakeWeChatAPI) -> None:
    case_id = follower(settings, "o4", case=True)
    enqueue(settings, "o4", "wx:4", ["你好。"], case_id=case_id)
    api.fail(SEND, 45015)
    assert deliver_due(settings, make_client(settings))["undeliverable"] == 1
    assert statuses(settings, "wx:4") == ["undeliverable"]
    with session_scope(settings) as session:
        kinds = list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))
    assert "delivery_failed" in kinds


def test_outside_48_hours_is_not_sent(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o5", last_seen=utcnow() - dt.timedelta(hours=49))
    enqueue(settings, "o5", "wx:5", ["你好。"])
    assert deliver_due(settings, make_client(settings))["undeliverable"] == 1
    assert not api.calls(SEND)


def test_40001_refreshes_the_token_once_then_sends(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o6")
    enqueue(settings, "o6", "wx:6", ["你好。"])
    api.fail(SEND, 40001)
    assert deliver_due(settings, make_client(settings))["sent"] == 1
    assert len(api.calls(TOKEN_PATH)) == 2
    sends = api.calls(SEND)
    assert len(sends) == 2 and sends[0]["query"]["access_token"] != sends[1]["query"]["access_token"]


def test_token_refresh_is_bounded(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o7")
    enqueue(settings, "o7", "wx:7", ["你好。"])
    api.fail(SEND, 42001, 42001, 42001)
    assert deliver_due(settings, make_client(settings))["retry"] == 1
    assert len(api.calls(SEND)) == 2 and len(api.calls(TOKEN_PATH)) == 2
    with session_scope(settings) as session:
        row = session.scalar(select(WechatOutbox).where(WechatOutbox.msg_key == "wx:7"))
        assert row.status == "queued" and row.attempts == 1


def test_45047_stops_the_rest(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o8")
    enqueue(settings, "o8", "wx:8", ["一。", "二。", "三。"])
    api.fail(SEND, 45047)
    outcomes = deliver_due(settings, make_client(settings))
    assert outcomes["stopped"] == 1
    assert statuses(settings, "wx:8") == ["stopped", "stopped", "stopped"]
    assert len(api.calls(SEND)) == 1


def test_45009_and_slow_api_retry_later_with_backoff(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o9")
    enqueue(settings, "o9", "wx:9", ["你好。"])
    api.fail(SEND, 45009)
    assert deliver_due(settings, make_client(settings))["retry"] == 1
    assert not deliver_due(settings, make_client(settings))  # backing off
    with session_scope(settings) as session:
        row = session.scalar(select(WechatOutbox).where(WechatOutbox.msg_key == "wx:9"))
        next_at = row.next_attempt_at.replace(tzinfo=dt.timezone.utc) if row.next_attempt_at.tzinfo is None \
            else row.next_attempt_at
        assert next_at > utcnow()
        row.next_attempt_at = utcnow()
    api.slow_seconds = 3.0  # longer than the 2 s HTTP timeout
    assert deliver_due(settings, make_client(settings))["retry"] == 1
    api.slow_seconds = 0.0
    with session_scope(settings) as session:
        session.scalar(select(WechatOutbox).where(WechatOutbox.msg_key == "wx:9")).next_attempt_at = utcnow()
    assert deliver_due(settings, make_client(settings))["sent"] == 1


def test_unsubscribe_cancels_queued_rows(settings: Settings, api: FakeWeChatAPI) -> None:
    follower(settings, "o10")
    enqueue(settings, "o10", "wx:10", ["一。", "二。"])
    assert followers.unsubscribe(settings, "o10") == 2
    assert not deliver_due(settings, make_client(settings))
    assert statuses(settings, "wx:10") == ["cancelled", "cancelled"]


def test_database_token_store_is_shared(settings: Settings, api: FakeWeChatAPI) -> None:
    first, second = make_client(settings), make_client(settings)
    assert first.access_token == second.access_token == "token-1"
    assert len(api.calls(TOKEN_PATH)) == 1
    storage = DatabaseStorage(settings)
    storage.set(first.access_token_key, "nearly-expired", ttl=60)  # inside the refresh margin
    assert make_client(settings).access_token == "token-2"


def test_redis_token_store(settings: Settings, api: FakeWeChatAPI) -> None:
    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    configured = Settings(**{**settings.model_dump(), "wechat_token_store": "redis", "redis_url": url})
    first, second = TongbanWeChatClient(configured), TongbanWeChatClient(configured)
    assert first.access_token == second.access_token == "token-1"
    assert len(api.calls(TOKEN_PATH)) == 1
