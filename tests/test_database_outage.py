"""PostgreSQL stopped in the middle of a run and started again: a red message still gets its crisis reply at
once, and its case is stored as soon as the database is back (the local spool). Needs root and the local
PostgreSQL cluster (as on the development and CI machines); skipped otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import Case, Message
from tests.conftest import fresh_pg_schema, pg_available
from tests.fakes.app_server import API_HEADERS, serve_app

CLUSTERS = Path("/etc/postgresql")


def _cluster() -> list[str] | None:
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or not CLUSTERS.exists():
        return None
    versions = sorted(p.name for p in CLUSTERS.iterdir() if (p / "main").exists())
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"] if versions else None


def _postgres(action: str, check: bool = True) -> None:
    command = _cluster()
    assert command is not None
    subprocess.run([*command, action, *(["-m", "fast"] if action == "stop" else [])], check=check, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(condition, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except Exception:  # the database may still be coming up
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


@pytest.fixture
def pg_server(built_settings: Settings, knowledge_index, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    if _cluster() is None or pg_available():
        pytest.skip("needs root and a running local PostgreSQL cluster managed by pg_ctlcluster")
    with fresh_pg_schema("o") as url:
        settings = Settings(**{**built_settings.model_dump(), "data_dir": tmp_path / "var", "database_url": url})
        shutil.copytree(built_settings.resolved_data_dir, settings.resolved_data_dir)
        try:
            for base in serve_app(settings, knowledge_index):
                yield base, settings
        finally:
            if pg_available():  # whatever happened above, leave PostgreSQL running for the rest of the suite
                _postgres("start", check=False)
                _wait(lambda: pg_available() is None)


def _chat(base: str, user: str, text: str) -> dict:
    response = httpx.post(f"{base}/api/chat", json={"user_id": user, "text": text},
                          headers=API_HEADERS, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_postgres_stopped_mid_run(pg_server: tuple[str, Settings]) -> None:
    base, settings = pg_server
    before = _chat(base, "family-before", "孩子说活着没意思，想从楼上跳下去")
    assert before["level"] == "red" and isinstance(before["case_id"], str)

    _postgres("stop")
    try:
        started = time.monotonic()
        red = _chat(base, "family-during", "我家小孙子不见了，找了一下午都没找到")
        assert time.monotonic() - started < 5
        assert red["level"] == "red" and red["case_id"] is None and "110" in red["reply"]
        green = _chat(base, "family-green", "孩子挑食不爱吃青菜怎么办")
        assert green["level"] == "green" and green["sources"]
        ready = httpx.get(f"{base}/readyz", timeout=30).json()
        assert ready["ready"] is False and ready["database"].startswith("error") and ready["spool"] == "2 waiting"
    finally:
        _postgres("start", check=False)
        _wait(lambda: pg_available() is None)

    def stored() -> bool:
        return httpx.get(f"{base}/readyz", timeout=10).json()["spool"] == "empty"

    _wait(stored)
    with session_scope(settings) as session:
        message = session.scalar(select(Message).where(Message.text.like("我家小孙子不见了%")))
        case = session.get(Case, message.case_id)
        assert case.severity == "red" and "missing" in case.categories and case.status == "open"
        texts = set(session.scalars(select(Message.text).where(Message.direction == "in")))
    assert {"孩子挑食不爱吃青菜怎么办"} <= texts and len(texts) == 3
