"""The live case page's poll, GET /console/cases/{id}/messages?after=ID, on a long conversation (SQLite and
PostgreSQL): the id, the permission and a page limit are applied in SQL, so a poll loads only the lines it
sends; messages of the person's cases in another team's queue never come; counsellor lines name their author
and a family message that raised the risk says whether the bot sent a safety reply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, insert, select

from bot.config import Settings
from bot.console.views import LIVE_LIMIT, live_messages
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, Message
from tests.fakes.app_server import serve_app
from tests.fakes.console import actor, add_account, add_case, login

MANY = 3000


@pytest.fixture
def db(db_settings: Settings) -> Settings:
    settings = Settings(**{**db_settings.model_dump(), "sla_check_seconds": 3600})
    upgrade(settings)
    return settings


@contextmanager
def counting_loads() -> Iterator[list[int]]:
    """Counts the Message rows the ORM builds inside the block."""
    loaded: list[int] = []

    def on_load(target: Message, _context: object) -> None:
        loaded.append(target.id)

    event.listen(Message, "load", on_load)
    try:
        yield loaded
    finally:
        event.remove(Message, "load", on_load)


def _long_conversation(settings: Settings) -> tuple[int, int, list[int]]:
    """A red case (team 12356) with MANY family messages, and the same person's case in 12355's queue with
    messages of its own: (case id, other case id, ids of the case's messages)."""
    case_id = add_case(settings, external_id="long-talker")
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        other = Case(user_id=case.user_id, channel="web", severity="yellow", categories=["bullying"], evidence=[],
                     reasons=["test"], status="open", team="12355")
        session.add(other)
        session.flush()
        rows = [{"user_id": case.user_id, "direction": "in", "text": f"第{n}条", "level": "yellow",
                 "case_id": other.id if n % 10 == 5 else case_id, "created_at": start + dt.timedelta(seconds=n)}
                for n in range(MANY)]
        session.execute(insert(Message), rows)
        other_id = other.id
    with session_scope(settings) as session:
        mine = list(session.scalars(select(Message.id).where(Message.case_id == case_id).order_by(Message.id)))
    return case_id, other_id, mine


def test_a_poll_loads_only_the_new_lines_it_may_show(db: Settings) -> None:
    case_id, other_id, mine = _long_conversation(db)
    amy = actor(db, add_account(db, "amy"))
    with session_scope(db) as session, counting_loads() as loaded:
        rows = live_messages(session, session.get(Case, case_id), amy, mine[-3])
    assert [row["id"] for row in rows] == mine[-2:] and len(loaded) == 2
    with session_scope(db) as session, counting_loads() as loaded:
        first = live_messages(session, session.get(Case, case_id), amy, 0)
    assert len(first) == LIVE_LIMIT == len(loaded) and [row["id"] for row in first] == mine[:LIVE_LIMIT]
    with session_scope(db) as session:
        hidden = set(session.scalars(select(Message.id).where(Message.case_id == other_id)))
        seen: list[int] = []
        after = 0
        while rows := live_messages(session, session.get(Case, case_id), amy, after):
            seen += [row["id"] for row in rows]
            after = rows[-1]["id"]
    assert seen == mine and not hidden & set(seen)  # every line once, in order; the other team's never
    boss = actor(db, add_account(db, "boss", role="supervisor"))
    with session_scope(db) as session:  # a supervisor may open both cases: both come
        everything = {row["id"] for row in live_messages(session, session.get(Case, case_id), boss, 0, 2 * MANY)}
    assert everything >= hidden | set(mine)


def test_live_lines_name_the_counsellor_and_a_rise_in_risk(db: Settings) -> None:
    case_id = add_case(db, external_id="raised")
    amy = actor(db, add_account(db, "amy"))
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        out = Message(user_id=case.user_id, direction="out", author="counsellor", text="您好", level="green",
                      case_id=case_id)
        calm = Message(user_id=case.user_id, direction="in", text="好的", level="red", case_id=case_id)
        fall = Message(user_id=case.user_id, direction="in", text="孩子摔了", level="red", case_id=case_id)
        low = Message(user_id=case.user_id, direction="in", text="他不理我", level="red", case_id=case_id)
        session.add_all([out, calm, fall, low])
        session.flush()
        session.add_all([CaseEvent(case_id=case_id, kind="reply", payload={"message_id": out.id, "by": "amy"}),
                         CaseEvent(case_id=case_id, kind="risk_raised",
                                   payload={"message_id": fall.id, "crisis_reply": True}),
                         CaseEvent(case_id=case_id, kind="risk_raised",
                                   payload={"message_id": low.id, "crisis_reply": False})])
    with session_scope(db) as session:
        rows = live_messages(session, session.get(Case, case_id), amy, 0)
    assert [(row["author"], row["by"], row["raised"]) for row in rows[1:]] == [
        ("counsellor", "amy", None), ("family", None, None), ("family", None, "reply"), ("family", None, "alert")]


def test_the_poll_over_http_on_a_long_conversation(db: Settings) -> None:
    case_id, other_id, mine = _long_conversation(db)
    add_account(db, "amy")
    for url in serve_app(db, None):
        client, _ = login(url, "amy")
        rows = client.get(f"/console/cases/{case_id}/messages", params={"after": mine[-3]}).json()
        assert [row["id"] for row in rows] == mine[-2:]
        assert len(client.get(f"/console/cases/{case_id}/messages", params={"after": 0}).json()) == LIVE_LIMIT
        assert client.get(f"/console/cases/{other_id}/messages").status_code == 403
