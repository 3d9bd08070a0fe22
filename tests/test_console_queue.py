"""The console queue under a flood: every open red case stays reachable, a new one is on page 1, and the page
says how many cases it does not show (SQLite and PostgreSQL; the HTTP part on SQLite)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bot.config import Settings
from bot.console.views import QueueFilters, queue_rows
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, ChannelUser, Message
from tests.fakes.app_server import serve_app
from tests.fakes.console import actor, add_account, add_case, login

FLOOD = 520


def _flood(settings: Settings, count: int = FLOOD) -> None:
    """`count` red web cases, all older than anything created afterwards."""
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    with session_scope(settings) as session:
        users = [ChannelUser(channel="api", external_id=f"flood-{n}") for n in range(count)]
        session.add_all(users)
        session.flush()
        cases = [Case(user_id=user.id, channel="api", severity="red", categories=["suicide"], evidence=[],
                      reasons=["flood"], status="open", team="12356", created_at=start + dt.timedelta(seconds=n))
                 for n, user in enumerate(users)]
        session.add_all(cases)
        session.flush()
        session.add_all(Message(user_id=case.user_id, direction="in", text="不想活了", level="red", case_id=case.id)
                        for case in cases)


@pytest.fixture
def db(db_settings: Settings) -> Settings:
    upgrade(db_settings)
    return db_settings


def test_a_new_red_case_is_on_page_one_after_a_flood_of_older_ones(db: Settings) -> None:
    me = add_account(db, "flooded", on_call=True)
    _flood(db)
    genuine = add_case(db, "我孙子说不想活了", channel="wechat", external_id="genuine")
    who = actor(db, me)
    for filters in (QueueFilters(), QueueFilters(severity="red"), QueueFilters(category="suicide")):
        with session_scope(db) as session:
            page = queue_rows(session, who, db, filters)
        assert page.rows[0]["id"] == genuine, filters
        assert page.total == FLOOD + 1 and page.page == 1 and page.pages == 6
        assert len(page.rows) == 100 and page.not_shown == FLOOD + 1 - 100 and page.red_not_shown == page.not_shown
    with session_scope(db) as session:  # the last page holds the oldest unclaimed red cases: nothing is cut off
        last = queue_rows(session, who, db, QueueFilters(page=6))
        seen = {row["id"] for n in range(1, 7) for row in queue_rows(session, who, db, QueueFilters(page=n)).rows}
    assert len(last.rows) == 21 and last.not_shown == 500 and len(seen) == FLOOD + 1


def test_claimed_red_after_unclaimed_red_and_yellow_last_longest_waiting_first(db: Settings) -> None:
    me = add_account(db, "sorter", on_call=True)
    old_yellow = add_case(db, "孩子不爱说话", severity="yellow", categories=("low_mood",), external_id="y1")
    new_yellow = add_case(db, "孩子总哭", severity="yellow", categories=("low_mood",), external_id="y2")
    claimed = add_case(db, external_id="r1")
    older_red, newer_red = add_case(db, external_id="r2"), add_case(db, external_id="r3")
    with session_scope(db) as session:
        session.get(Case, claimed).assigned_to = me
        for offset, case_id in enumerate((old_yellow, new_yellow, claimed, older_red, newer_red)):
            session.get(Case, case_id).created_at = dt.datetime(2026, 1, 1, 8, offset, tzinfo=dt.timezone.utc)
    with session_scope(db) as session:
        page = queue_rows(session, actor(db, me), db, QueueFilters())
    assert [row["id"] for row in page.rows] == [newer_red, older_red, claimed, old_yellow, new_yellow]
    assert page.not_shown == 0


def test_queue_pages_over_http_with_severity_filter(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var", sla_check_seconds=3600)
    upgrade(settings)
    add_account(settings, "pager", on_call=True)
    _flood(settings)
    genuine = add_case(settings, "奶奶说孩子喝了农药", channel="wechat", external_id="genuine-http")
    for url in serve_app(settings, None):
        client, _ = login(url, "pager")
        for path in ("/console?severity=red", "/console/queue/rows?severity=red", "/console"):
            page = client.get(path).text
            assert f'data-case="{genuine}"' in page, path
            assert "还有 421 个个案在其他页" in page
        second = client.get("/console?severity=red&page=2").text
        assert f'data-case="{genuine}"' not in second and 'rel="prev"' in second
        assert "severity=red&amp;page=3" in second
        ids = re.findall(r'data-case="(\d+)"', client.get("/console?page=6").text)
        assert len(ids) == 21
