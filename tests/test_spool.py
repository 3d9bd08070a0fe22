"""Messages that arrive while the database is unavailable: answered at once, spooled, stored later."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import spool
from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.spool import SpooledMessage
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, Message

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"
RED = "孩子刚才说不想活了，爬到楼顶边上了"


def _entry(msg_key: str, level: str = "green") -> SpooledMessage:
    return SpooledMessage(user_id="u1", channel="api", kind="text", text="你好", msg_key=msg_key, reply_text="您好",
                          level=level, categories=[], evidence=[], reasons=[], received_at="2026-01-02T03:04:05+00:00")


def test_replay_stops_while_the_store_fails_and_resumes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    for n in range(3):
        spool.write(settings, _entry(f"k{n}"))
    assert spool.pending(settings) == 3
    calls: list[str] = []

    def down(entry: SpooledMessage) -> None:
        calls.append(entry.msg_key)
        raise ConnectionError("still down")

    assert spool.replay(settings, down) == 0
    assert calls == ["k0"] and spool.pending(settings) == 3  # nothing lost, order kept

    stored: list[str] = []
    assert spool.replay(settings, lambda e: stored.append(e.msg_key)) == 3
    assert stored == ["k0", "k1", "k2"] and spool.pending(settings) == 0


def test_a_claim_left_by_a_dead_worker_is_released(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    path = spool.write(settings, _entry("k-dead"))
    claimed = path.with_name(f"{path.stem}.99999.claimed")
    os.replace(path, claimed)
    old = time.time() - spool.CLAIM_STALE_SECONDS - 1
    os.utime(claimed, (old, old))
    stored: list[str] = []
    assert spool.replay(settings, lambda e: stored.append(e.msg_key)) == 1 and stored == ["k-dead"]


def test_an_unreadable_file_is_set_aside(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    spool.spool_dir(settings).mkdir(parents=True)
    (spool.spool_dir(settings) / "1-bad.json").write_text("{not json", "utf-8")
    assert spool.replay(settings, lambda e: None) == 0
    assert [p.suffix for p in spool.spool_dir(settings).iterdir()] == [".bad"]


def test_red_message_with_the_database_down_gets_its_reply_and_its_case_later(
        db_settings: Settings, knowledge_index) -> None:
    down = Settings(**{**db_settings.model_dump(), "database_url": UNREACHABLE})
    outcome = Conversation(down, index=knowledge_index).handle(Inbound("family-9", RED, "api", msg_key="api:red-1"))
    assert outcome.spooled and outcome.level == "red" and outcome.case_id is None
    assert "12356" in outcome.reply_text and "120" in outcome.reply_text
    files = list(spool.spool_dir(down).glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text("utf-8"))["level"] == "red"

    upgrade(db_settings)  # the database is back (same data dir, so the same spool)
    working = Conversation(db_settings, index=knowledge_index)
    assert spool.replay(db_settings, working.store_spooled) == 1
    with session_scope(db_settings) as session:
        message = session.scalar(select(Message).where(Message.msg_key == "api:red-1"))
        case = session.get(Case, message.case_id)
        assert case.severity == "red" and case.status == "open"
        reply = session.scalar(select(Message).where(Message.direction == "out"))
        assert reply.text == outcome.reply_text and reply.case_id == case.id
    # A replay interrupted after its commit runs again harmlessly.
    spool.write(db_settings, SpooledMessage(**json.loads(json.dumps(_entry("api:red-1").__dict__))))
    assert spool.replay(db_settings, working.store_spooled) == 1
    with session_scope(db_settings) as session:
        assert len(session.scalars(select(Case)).all()) == 1


def test_green_question_with_the_database_down_is_still_answered(tmp_path: Path, built_settings: Settings,
                                                                 knowledge_index) -> None:
    down = Settings(**{**built_settings.model_dump(), "data_dir": tmp_path / "var", "database_url": UNREACHABLE})
    outcome = Conversation(down, index=knowledge_index).handle(Inbound("family-3", "孩子挑食不爱吃青菜怎么办", "api"))
    assert outcome.spooled and outcome.level == "green" and outcome.sources
    entry = json.loads(next(spool.spool_dir(down).glob("*.json")).read_text("utf-8"))
    assert entry["msg_key"].startswith("spool:") and entry["reply_text"] == outcome.reply_text


def test_the_service_starts_and_answers_while_the_database_is_down(built_settings: Settings, knowledge_index,
                                                                    tmp_path: Path) -> None:
    import httpx

    from tests.fakes.app_server import API_HEADERS, serve_app

    down = Settings(**{**built_settings.model_dump(), "data_dir": tmp_path / "var", "database_url": UNREACHABLE,
                       "purge_interval_hours": 0})
    for base in serve_app(down, knowledge_index):
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
        red = httpx.post(f"{base}/api/chat", json={"user_id": "u-down", "text": RED},
                         headers=API_HEADERS, timeout=30).json()
        assert red["level"] == "red" and "12356" in red["reply"]
    assert spool.pending(down) == 1
