"""Migrations and constraints on SQLite and PostgreSQL (the `db_settings` fixture runs both)."""

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.errors import StorageError
from bot.storage.db import get_engine, session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import ChannelUser, Message


def test_migrations_create_every_table(db_settings: Settings) -> None:
    upgrade(db_settings)
    upgrade(db_settings)  # idempotent
    tables = set(inspect(get_engine(db_settings)).get_table_names())
    assert {"channel_users", "messages", "cases", "case_events", "alembic_version"} <= tables


def test_duplicate_message_key_is_refused(db_settings: Settings) -> None:
    upgrade(db_settings)
    with session_scope(db_settings) as session:
        user = ChannelUser(channel="wechat", external_id="openid-1")
        session.add(user)
        session.flush()
        session.add(Message(user_id=user.id, direction="in", text="你好", msg_key="wechat:1"))
    with pytest.raises(IntegrityError):
        with session_scope(db_settings) as session:
            user_id = session.scalar(select(ChannelUser.id))
            session.add(Message(user_id=user_id, direction="in", text="你好", msg_key="wechat:1"))
    with session_scope(db_settings) as session:
        assert session.scalar(select(Message.text)) == "你好"


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_settings: Settings) -> None:
    upgrade(tmp_settings)
    with get_engine(tmp_settings).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000


def test_unreachable_database_is_one_clear_error(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="database not reachable"):
        upgrade(settings)


def test_sqlite_transactions_of_one_process_take_turns(tmp_path) -> None:
    """Threads wait on the process's writer lock, not in SQLite's busy handler (which sleeps up to 100 ms)."""
    import threading
    import time

    from bot.config import Settings
    from bot.storage.db import session_scope
    from bot.storage.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "var")
    upgrade(settings)
    inside = threading.Event()
    order: list[str] = []

    def first() -> None:
        with session_scope(settings):
            inside.set()
            time.sleep(0.2)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with session_scope(settings):
        order.append("second started")
    thread.join()
    assert order == ["first done", "second started"]
