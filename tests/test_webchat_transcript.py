"""bot/transcript.py on SQLite and PostgreSQL: paging and telling the bot's replies from a person's
(Message.author, set by the pipeline and by the console)."""

from __future__ import annotations

import datetime as dt

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import ChannelUser, Message
from bot.transcript import transcript

T0 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone.utc)


def _conversation(settings: Settings) -> None:
    upgrade(settings)
    rows = [
        ("in", "娃挑食咋办", 0, None),
        ("out", "先定时吃饭……", 1, "bot"),
        ("out", "您好，我是社工，想再问问娃的情况。", 600, "counsellor"),
        ("in", "好的，娃今天吃了两碗饭", 700, None),
        ("out", "太好了，谢谢您告诉我。", 701, "counsellor"),  # a person answering at once is still a person
    ]
    with session_scope(settings) as session:
        user = ChannelUser(channel="web", external_id="visitor-abc")
        session.add_all([user, ChannelUser(channel="web", external_id="someone-else")])
        session.flush()
        for direction, text, seconds, author in rows:
            session.add(Message(user_id=user.id, direction=direction, text=text, author=author,
                                created_at=T0 + dt.timedelta(seconds=seconds)))
            session.flush()


def test_authors_are_told_apart(db_settings: Settings) -> None:
    _conversation(db_settings)
    entries = transcript(db_settings, "web", "visitor-abc", None, 100)
    assert [e.author for e in entries] == ["visitor", "bot", "counsellor", "visitor", "counsellor"]


def test_paging_keeps_authors_and_order(db_settings: Settings) -> None:
    _conversation(db_settings)
    everything = transcript(db_settings, "web", "visitor-abc", None, 100)
    latest_two = transcript(db_settings, "web", "visitor-abc", None, 2)
    assert [(e.id, e.author) for e in latest_two] == [(e.id, e.author) for e in everything[-2:]]
    after_first = transcript(db_settings, "web", "visitor-abc", everything[0].id, 1)
    assert [(e.id, e.author) for e in after_first] == [(everything[1].id, "bot")]
    assert transcript(db_settings, "web", "visitor-abc", everything[-1].id, 100) == []


def test_other_and_unknown_users_see_nothing(db_settings: Settings) -> None:
    _conversation(db_settings)
    assert transcript(db_settings, "web", "someone-else", None, 100) == []
    assert transcript(db_settings, "web", "nobody", None, 100) == []
    assert transcript(db_settings, "wechat", "visitor-abc", None, 100) == []
