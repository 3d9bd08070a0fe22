"""`tongban user add|reset-password` and `tongban cases export` through Click's runner."""

from __future__ import annotations

import csv
import io
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.config import Settings, get_settings
from bot.console.accounts import authenticate
from bot.storage.db import session_scope
from bot.storage.models import Account
from tests.fakes.console import add_case


@pytest.fixture
def settings(tmp_path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield Settings(data_dir=tmp_path / "var")
    get_settings.cache_clear()


def _can_log_in(settings: Settings, name: str, password: str) -> bool:
    with session_scope(settings) as session:
        try:
            authenticate(session, name, password)
            return True
        except Exception:
            return False


def test_user_add_to_a_regions_local_team_from_the_routing_file(settings: Settings) -> None:
    from bot.console.accounts import teams_of
    from bot.storage.models import Team

    result = CliRunner().invoke(main, ["user", "add", "qd", "--role", "counsellor", "--team", "qidong",
                                       "--password-stdin"], input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    with session_scope(settings) as session:
        account = session.scalar(select(Account).where(Account.username == "qd"))
        assert teams_of(session, account.id) == {"qidong"}
        assert session.get(Team, "qidong").name == "启东市未成年人保护工作站"


def test_user_add_with_password_from_stdin(settings: Settings) -> None:
    result = CliRunner().invoke(main, ["user", "add", "li", "--role", "counsellor", "--team", "12356",
                                       "--password-stdin"], input="a long enough secret\n")
    assert result.exit_code == 0, result.output
    assert "password" not in result.output.lower().replace("password-stdin", "")
    assert _can_log_in(settings, "li", "a long enough secret")
    with session_scope(settings) as session:
        account = session.scalar(select(Account).where(Account.username == "li"))
        assert account.role == "counsellor" and account.password_hash.startswith("$argon2")


def test_user_add_generates_a_password_once_and_reset_changes_it(settings: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["user", "add", "wang", "--role", "supervisor"])
    assert result.exit_code == 0, result.output
    first = re.search(r"password \(shown once\): (\S+)", result.output)[1]
    assert _can_log_in(settings, "wang", first)
    reset = runner.invoke(main, ["user", "reset-password", "wang"])
    second = re.search(r"password \(shown once\): (\S+)", reset.output)[1]
    assert second != first and _can_log_in(settings, "wang", second) and not _can_log_in(settings, "wang", first)


def test_user_add_refuses_bad_input(settings: Settings) -> None:
    runner = CliRunner()
    short = runner.invoke(main, ["user", "add", "zhao", "--role", "admin", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "至少" in short.output
    team = runner.invoke(main, ["user", "add", "qian", "--role", "counsellor", "--team", "nope"])
    assert team.exit_code == 2 and "unknown team" in team.output
    missing = runner.invoke(main, ["user", "reset-password", "nobody"])
    assert missing.exit_code == 2


def test_cases_export_csv_for_a_date_range(settings: Settings) -> None:
    from bot.storage.migrate import upgrade

    upgrade(settings)
    case_id = add_case(settings, "13812345678 不想活了")
    result = CliRunner().invoke(main, ["cases", "export", "--from", "2020-01-01", "--to", "2099-12-31", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [int(r["case_id"]) for r in rows] == [case_id]
    assert rows[0]["severity"] == "red" and rows[0]["team"] == "12356" and rows[0]["categories"] == "suicide"
    assert "13812345678" not in result.output
    empty = CliRunner().invoke(main, ["cases", "export", "--from", "2001-01-01", "--to", "2001-01-31", "--csv"])
    assert len(empty.output.strip().splitlines()) == 1
