"""Console sessions over real HTTP: the queue's own polling is not activity, and a session ends after its
absolute lifetime whatever the activity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import ConsoleSession
from tests.fakes.app_server import serve_app
from tests.fakes.console import add_account, login


class Server(str):
    settings: Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("sessions") / "var", sla_check_seconds=3600,
                        console_idle_minutes=30, console_session_hours=12)
    upgrade(settings)
    for url in serve_app(settings, None):
        served = Server(url)
        served.settings = settings
        yield served


def _age(settings: Settings, account_id: int, idle: dt.timedelta, since_login: dt.timedelta) -> dt.datetime:
    """Makes the account's session look `idle` since its last activity and `since_login` old."""
    now = dt.datetime.now(dt.timezone.utc)
    with session_scope(settings) as session:
        row = session.scalar(select(ConsoleSession).where(ConsoleSession.account_id == account_id))
        row.last_seen_at, row.created_at = now - idle, now - since_login
        return row.last_seen_at


def _last_seen(settings: Settings, account_id: int) -> dt.datetime | None:
    with session_scope(settings) as session:
        row = session.scalar(select(ConsoleSession).where(ConsoleSession.account_id == account_id))
        return None if row is None else row.last_seen_at.replace(tzinfo=dt.timezone.utc)


def test_polling_does_not_keep_a_session_alive(server: Server) -> None:
    me = add_account(server.settings, "poller")
    client, _ = login(server, "poller")
    seen = _age(server.settings, me, dt.timedelta(minutes=29), dt.timedelta(hours=1))
    for _ in range(3):  # the queue page polls every few seconds
        assert client.get("/console/queue/rows", follow_redirects=False).status_code == 200
    assert _last_seen(server.settings, me) == seen
    _age(server.settings, me, dt.timedelta(minutes=31), dt.timedelta(hours=1))
    poll = client.get("/console/queue/rows", follow_redirects=False)
    assert poll.status_code == 303 and poll.headers["location"] == "/console/login"
    assert _last_seen(server.settings, me) is None


def test_a_real_page_view_is_activity(server: Server) -> None:
    me = add_account(server.settings, "clicker")
    client, _ = login(server, "clicker")
    seen = _age(server.settings, me, dt.timedelta(minutes=29), dt.timedelta(hours=1))
    assert client.get("/console", follow_redirects=False).status_code == 200
    assert _last_seen(server.settings, me) > seen + dt.timedelta(minutes=28)


def test_absolute_session_lifetime(server: Server) -> None:
    me = add_account(server.settings, "marathon")
    client, _ = login(server, "marathon")
    _age(server.settings, me, dt.timedelta(seconds=5), dt.timedelta(hours=11, minutes=59))
    assert client.get("/console", follow_redirects=False).status_code == 200
    _age(server.settings, me, dt.timedelta(seconds=5), dt.timedelta(hours=12, minutes=1))
    page = client.get("/console", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/console/login"
    assert _last_seen(server.settings, me) is None
