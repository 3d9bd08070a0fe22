"""Engine and session factory. SQLite gets WAL and a busy timeout so readers never block the writer."""

from __future__ import annotations

import logging
from collections.abc import Iterator
import threading
from contextlib import contextmanager, nullcontext
from functools import lru_cache

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings

SQLITE_BUSY_MS = 5000


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    sql_log = logging.getLogger("sqlalchemy.engine")
    if sql_log.level == logging.NOTSET:  # a DEBUG root logger would otherwise log result rows (message texts)
        sql_log.setLevel(logging.WARNING)
    # hide_parameters: SQL logging (any DEBUG/INFO set-up) and error messages would otherwise carry the bound
    # values, i.e. what children and guardians wrote.
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000},
                               hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, hide_parameters=True)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings) -> Engine:
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return engine_for(settings.sqlalchemy_url)


def session_factory(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(settings), expire_on_commit=False)


# SQLite has one writer at a time. Threads of one process that wait for it inside SQLite's busy handler sleep
# in growing steps (up to 100 ms each), which made the slowest replies wait a second under load; waiting on a
# lock here wakes each one as soon as the previous transaction ends. (Several processes: use PostgreSQL.)
_SQLITE_WRITER = threading.RLock()


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (one at a time per process on SQLite)."""
    one_at_a_time = _SQLITE_WRITER if get_engine(settings).dialect.name == "sqlite" else nullcontext()
    with one_at_a_time:
        session = session_factory(settings)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
