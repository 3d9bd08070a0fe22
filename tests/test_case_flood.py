"""A flood of red messages from one client address (or on one channel) cannot bury genuine cases: every
message still gets its crisis reply at once, but past the limit new cases are grouped into one flagged
flood case for a supervisor; a WeChat red case sent during an API flood opens its own case."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.casework.flood import origin_ref
from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, Message
from tests.fakes.app_server import serve_app

RED = "孙女说活着太累了，今晚就跳河"
API_KEY = "flood-test-key-0123456789"


def cases(settings: Settings, *where) -> list[Case]:  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        rows = list(session.scalars(select(Case).where(*where).order_by(Case.id)))
        session.expunge_all()
        return rows


def test_flood_from_one_origin_is_grouped_and_every_reply_goes_out(db_settings: Settings) -> None:
    settings = db_settings.model_copy(update={"case_flood_per_origin": 3, "case_flood_per_channel": 100})
    upgrade(settings)
    convo = Conversation(settings)
    flood = origin_ref("203.0.113.9")
    outcomes = [convo.handle(Inbound(f"flood-{i}", RED, "api", origin=flood)) for i in range(8)]
    assert all(o.level == "red" and "12356" in o.reply_text and o.case_id for o in outcomes)
    own = cases(settings, Case.origin == flood, Case.flood.is_(False))
    grouped = cases(settings, Case.origin == flood, Case.flood.is_(True))
    assert len(own) == 3 and len(grouped) == 1
    assert grouped[0].severity == "red" and grouped[0].reasons[0].startswith("flood")
    with session_scope(settings) as session:  # every flooding message is kept, on the flood case
        on_flood = session.scalar(select(func.count(Message.id)).where(Message.case_id == grouped[0].id,
                                                                      Message.direction == "in"))
        assert on_flood == 5
    # Someone else (another address, or WeChat) in crisis at the same moment gets a case of their own.
    other = convo.handle(Inbound("genuine-web", RED, "api", origin=origin_ref("198.51.100.7")))
    wechat = convo.handle(Inbound("o-genuine", RED, "wechat", msg_key="wx:o-genuine:1"))
    for outcome in (other, wechat):
        case = cases(settings, Case.id == outcome.case_id)[0]
        assert not case.flood and case.severity == "red"


def test_flood_on_one_channel_is_grouped(db_settings: Settings) -> None:
    settings = db_settings.model_copy(update={"case_flood_per_origin": 0, "case_flood_per_channel": 2})
    upgrade(settings)
    convo = Conversation(settings)
    for i in range(4):
        assert convo.handle(Inbound(f"web-{i}", RED, "web", origin=origin_ref(f"10.0.0.{i}"))).level == "red"
    assert len(cases(settings, Case.flood.is_(False))) == 2
    assert len(cases(settings, Case.flood.is_(True))) == 2  # one per source: each address its own group


class ServerUrl(str):
    settings: Settings


@pytest.fixture
def server(tmp_path) -> Iterator[ServerUrl]:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "var", api_key=API_KEY, web_rate_limit_per_minute=1000,
                        case_flood_per_origin=5)
    for url in serve_app(settings, None):
        served = ServerUrl(url)
        served.settings = settings
        yield served


def test_api_flood_over_http_is_grouped_by_client_address(server: ServerUrl) -> None:
    started = time.perf_counter()
    with httpx.Client(base_url=server, timeout=30, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        for i in range(12):
            body = client.post("/api/chat", json={"user_id": f"flooder-{i}", "text": RED}).json()
            assert body["level"] == "red" and "12356" in body["reply"]
    assert time.perf_counter() - started < 30
    assert len(cases(server.settings, Case.flood.is_(False))) == 5
    assert len(cases(server.settings, Case.flood.is_(True))) == 1
