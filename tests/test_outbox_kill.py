"""A worker process killed (SIGKILL) while it holds outbox rows: after the restart nothing is sent twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, ChannelUser, WechatOutbox, utcnow
from bot.wechat.client import make_client
from bot.wechat.outbox import deliver_due, enqueue
from tests.fakes.wechat_api import APP_ID, FakeWeChatAPI

SEND = "/cgi-bin/message/custom/send"
WORKER = textwrap.dedent("""
    import datetime as dt, json, sys, time
    from bot.config import Settings
    from bot.wechat.client import make_client
    from bot.wechat import outbox
    settings = Settings(**json.loads(sys.argv[1]))
    outbox.LEASE = dt.timedelta(seconds=2)
    if sys.argv[2] == "claim-only":
        print(outbox.claim(settings, 10, lease=dt.timedelta(seconds=2)), flush=True)
        time.sleep(60)
    else:
        outbox.deliver_due(settings, make_client(settings))
""")


@pytest.fixture
def api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as fake:
        yield fake


@pytest.fixture
def settings(db_settings: Settings, api: FakeWeChatAPI) -> Settings:
    configured = Settings(**{**db_settings.model_dump(), "wechat_app_id": APP_ID, "wechat_app_secret": "secret",
                             "wechat_api_base": api.base_url, "wechat_http_timeout_seconds": 30.0})
    upgrade(configured)
    return configured


def _queue(settings: Settings, openid: str, msg_key: str) -> int:
    with session_scope(settings) as session:
        user = ChannelUser(channel="wechat", external_id=openid, last_seen_at=utcnow())
        session.add(user)
        session.flush()
        case = Case(user_id=user.id, channel="wechat", severity="yellow", categories=[], evidence=[], reasons=[],
                    status="open", mandatory_report=False)
        session.add(case)
        session.flush()
        case_id = case.id
    enqueue(settings, openid, msg_key, ["您好，这是答复。"], case_id)
    return case_id


def _worker(settings: Settings, mode: str) -> subprocess.Popen:
    payload = json.dumps(settings.model_dump(mode="json"))
    return subprocess.Popen([sys.executable, "-c", WORKER, payload, mode], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})


def _wait(condition, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _status(settings: Settings, msg_key: str) -> str:
    with session_scope(settings) as session:
        return session.scalar(select(WechatOutbox.status).where(WechatOutbox.msg_key == msg_key))


def test_killed_after_claiming_then_delivered_exactly_once(settings: Settings, api: FakeWeChatAPI) -> None:
    _queue(settings, "o-kill-1", "wx:k1")
    worker = _worker(settings, "claim-only")
    assert worker.stdout.readline().strip() != b"[]"  # it holds the row
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    client = make_client(settings)
    assert not deliver_due(settings, client)  # the dead worker's lease still runs
    time.sleep(2.1)
    assert deliver_due(settings, client)["sent"] == 1
    assert not deliver_due(settings, client)
    assert len(api.calls(SEND)) == 1 and _status(settings, "wx:k1") == "sent"


def test_killed_during_the_api_call_is_never_sent_again(settings: Settings, api: FakeWeChatAPI) -> None:
    case_id = _queue(settings, "o-kill-2", "wx:k2")
    api.slow_seconds, api.slow_path = 20.0, SEND  # WeChat has the request; the worker dies before it hears back
    worker = _worker(settings, "deliver")
    _wait(lambda: len(api.calls(SEND)) == 1)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    api.slow_seconds = 0.0
    assert _status(settings, "wx:k2") == "sending"
    client = make_client(settings)
    _wait(lambda: (deliver_due(settings, client), _status(settings, "wx:k2"))[1] == "uncertain")
    assert len(api.calls(SEND)) == 1  # not sent a second time
    with session_scope(settings) as session:
        kinds = list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))
    assert "delivery_failed" in kinds  # a counsellor sees that the answer may not have arrived
