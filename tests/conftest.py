"""Shared fixtures: settings in a temp data dir, SQLite + PostgreSQL databases, one built index."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from bot.config import PROJECT_ROOT, Settings

_UNTRACKED_BEFORE = pytest.StashKey[set[str] | None]()
_LEFT_BEHIND = pytest.StashKey[list[str]]()

PG_ADMIN_URL = os.environ.get("TONGBAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure means: skip the PostgreSQL runs, saying why
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).strip().splitlines()[0]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@contextmanager
def fresh_pg_schema(prefix: str = "t") -> Iterator[str]:
    """A SQLAlchemy URL for a new, empty schema in the test PostgreSQL, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1) + f"?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        from bot.storage.db import engine_for

        engine_for(url).dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings whose database is a fresh SQLite file, or a fresh schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path / "var")
        return
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    with fresh_pg_schema() as url:
        yield Settings(data_dir=tmp_path / "var", database_url=url)


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The full shipped knowledge base, ingested once for the whole test session."""
    from bot.retrieval.ingest import ingest

    settings = Settings(data_dir=tmp_path_factory.mktemp("built") / "var")
    report = ingest(settings)
    assert report.chunks > 0 and not report.errors, report.errors
    return settings


@pytest.fixture(scope="session")
def knowledge_index(built_settings: Settings):
    from bot.retrieval.search import KnowledgeIndex

    return KnowledgeIndex(built_settings)


@pytest.fixture(scope="module")
def module_conversation(built_settings: Settings, knowledge_index, tmp_path_factory: pytest.TempPathFactory):
    """A pipeline on the shared index with its own SQLite database, one per test module."""
    from bot.pipeline import Conversation
    from bot.storage.migrate import upgrade

    db = tmp_path_factory.mktemp("conversation") / "c.db"
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{db}"})
    upgrade(settings)
    return Conversation(settings, index=knowledge_index)


@pytest.fixture
def small_knowledge(tmp_path: Path) -> Path:
    """A copy of one policy document and three articles, for fast ingestion tests."""
    root = tmp_path / "knowledge"
    (root / "policy").mkdir(parents=True)
    (root / "outreach").mkdir()
    src = PROJECT_ROOT / "knowledge"
    shutil.copy(src / "policy" / "yunxi-left-behind-care-3year.txt", root / "policy")
    docs = (src / "policy" / "documents.yaml").read_text("utf-8")
    entry = docs[docs.index("- id: yunxi-left-behind-care-3year"):]
    (root / "policy" / "documents.yaml").write_text(entry, "utf-8")
    for name in sorted(p.name for p in (src / "outreach").glob("*.md") if p.name != "FORMAT.md")[:3]:
        shutil.copy(src / "outreach" / name, root / "outreach" / name)
    return root


# --- a clean tree: the suite must not leave files behind in the repository --------------------------------------

def _untracked_files() -> set[str] | None:
    """Untracked, not ignored files in the checkout, or None outside a git checkout."""
    try:
        result = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return {line[3:] for line in result.stdout.splitlines() if line.startswith("?? ")}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_UNTRACKED_BEFORE] = _untracked_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_UNTRACKED_BEFORE, None)
    after = _untracked_files()
    if before is None or after is None:
        return
    left = sorted(after - before)
    if left:
        session.config.stash[_LEFT_BEHIND] = left
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    left = terminalreporter.config.stash.get(_LEFT_BEHIND, [])
    if left:
        terminalreporter.section("files left in the repository by the test run", red=True)
        for path in left:
            terminalreporter.write_line(f"FAILED: left behind: {path}")
