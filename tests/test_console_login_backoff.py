"""Per-IP login backoff and admin unlock: one address guessing at many names is slowed (and its later attempts
are never checked), a stranger cannot keep a named counsellor locked out, and an admin lifts both kinds of
limit from the console or the CLI, audited. Core on SQLite and PostgreSQL, console and CLI on SQLite."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.config import Settings, get_settings
from bot.console.accounts import MAX_FAILED_LOGINS, LoginRefused
from bot.console.login_guard import ip_wait
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Account, AuditEntry
from handlers.console_auth import _login
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account, csrf_of, login

STRANGER, OFFICE = "203.0.113.5", "198.51.100.7"


@pytest.fixture
def db(db_settings: Settings) -> Settings:
    upgrade(db_settings)
    return db_settings


def _try(settings: Settings, name: str, password: str, ip: str) -> str:
    """'ok' or the refusal's audit reason, through the console's own login path."""
    try:
        _login(settings, name, password, ip, "")
    except LoginRefused as exc:
        return exc.reason
    return "ok"


def _failed_logins(settings: Settings, name: str) -> tuple[int, dt.datetime | None]:
    with session_scope(settings) as session:
        account = session.scalar(select(Account).where(Account.username == name))
        return account.failed_logins, account.locked_until


def test_one_address_guessing_many_names_must_wait_and_is_not_checked(db: Settings) -> None:
    add_account(db, "zhang")
    reasons = [_try(db, name, "guess guess", STRANGER) for name in ("zhang", "li", "wang", "zhang", "zhao")]
    assert reasons == ["wrong_password", "unknown_or_inactive", "unknown_or_inactive", "wrong_password",
                       "unknown_or_inactive"]
    # Now the address must wait; even the right password is refused unchecked, so guessing on from here learns
    # nothing and does not count against the account.
    assert [_try(db, "zhang", PASSWORD, STRANGER) for _ in range(20)] == ["ip_backoff"] * 20
    assert _failed_logins(db, "zhang") == (2, None)
    assert _try(db, "zhang", PASSWORD, OFFICE) == "ok"  # the counsellor, from her own office
    with session_scope(db) as session:
        throttled = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "login_throttled")))
    assert len(throttled) == 20 and {entry.ip for entry in throttled} == {STRANGER}


def test_wait_doubles_per_failure_up_to_fifteen_minutes(db: Settings) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    waits = []
    with session_scope(db) as session:
        for failures in range(1, 14):
            session.add(AuditEntry(action="login_failed", ip=STRANGER, detail={}, at=now))
            session.flush()
            waits.append(ip_wait(session, db, STRANGER, now).total_seconds())
        assert ip_wait(session, db, OFFICE, now) == dt.timedelta(0)
        assert ip_wait(session, db, STRANGER, now + dt.timedelta(minutes=15)) == dt.timedelta(0)
    assert waits == [0] * 4 + [30, 60, 120, 240, 480, 900, 900, 900, 900]


def test_a_stranger_cannot_keep_a_counsellor_locked_out(db: Settings) -> None:
    """Even when the lock is reached (guesses from many addresses), it runs out after 15 minutes."""
    add_account(db, "liu")
    for n in range(MAX_FAILED_LOGINS):
        assert _try(db, "liu", "guess guess", f"192.0.2.{n}") in ("wrong_password", "locked_now")
    assert _try(db, "liu", PASSWORD, OFFICE) == "locked"
    with session_scope(db) as session:
        account = session.scalar(select(Account).where(Account.username == "liu"))
        until = account.locked_until.replace(tzinfo=dt.timezone.utc)
        assert until - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(minutes=15)
        account.locked_until = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    assert _try(db, "liu", PASSWORD, OFFICE) == "ok"


def test_admin_unlocks_an_address_and_an_account_on_the_console(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var", sla_check_seconds=3600)
    upgrade(settings)
    add_account(settings, "root", role="admin", teams=())
    add_account(settings, "chen")
    for url in serve_app(settings, None):
        admin, _ = login(url, "root")  # before the guessing: every request here comes from 127.0.0.1
        for _ in range(MAX_FAILED_LOGINS):
            login(url, "chen", "guess guess")
        _, refused = login(url, "chen")
        assert refused.status_code == 401 and "分钟后再试" in refused.text
        page = admin.get("/console/users").text
        assert "127.0.0.1" in page and 'value="unlock_ip"' in page
        done = admin.post("/console/users", data={"csrf": csrf_of(admin, "/console/users"), "action": "unlock_ip",
                                                  "ip": "127.0.0.1"})
        assert done.status_code == 200 and "现在没有" in done.text
        # five failures counted against the account so far: five more from the freed address lock it (ten in
        # all), and the address must wait again
        for _ in range(6):
            login(url, "chen", "guess guess")
        admin.post("/console/users", data={"csrf": csrf_of(admin, "/console/users"), "action": "unlock_ip",
                                           "ip": "127.0.0.1"})
        _, locked = login(url, "chen")
        assert locked.status_code == 401 and _failed_logins(settings, "chen")[1] is not None
        users = admin.get("/console/users").text
        assert re.search(r'name="username" value="chen">\s*<button type="submit" name="action" value="unlock"',
                         users)
        admin.post("/console/users", data={"csrf": csrf_of(admin, "/console/users"), "action": "unlock",
                                           "username": "chen"})
        _, answer = login(url, "chen")
        assert answer.status_code == 303
    with session_scope(settings) as session:
        actions = [(entry.action, entry.username, entry.detail) for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(("login_ip_unlock", "user_unlock"))).order_by(AuditEntry.id))]
    assert actions == [("login_ip_unlock", "root", {"ip": "127.0.0.1", "via": "console"})] * 2 + [
        ("user_unlock", "root", {"username": "chen"})]


def test_cli_unlocks_an_account_and_an_address(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    settings = Settings(data_dir=tmp_path / "var")
    try:
        upgrade(settings)
        add_account(settings, "sun")
        for n in range(MAX_FAILED_LOGINS):
            _try(settings, "sun", "guess guess", f"192.0.2.{n}")
        for _ in range(7):
            _try(settings, "nobody", "guess guess", STRANGER)
        assert _try(settings, "sun", PASSWORD, OFFICE) == "locked"
        runner = CliRunner()
        result = runner.invoke(main, ["user", "unlock", "sun"])
        assert result.exit_code == 0 and "unlocked" in result.output
        assert _failed_logins(settings, "sun") == (0, None)
        assert _try(settings, "sun", PASSWORD, STRANGER) == "ip_backoff"
        assert runner.invoke(main, ["user", "unlock-ip", STRANGER]).exit_code == 0
        assert _try(settings, "sun", PASSWORD, STRANGER) == "ok"
        assert runner.invoke(main, ["user", "unlock", "nobody"]).exit_code != 0
        with session_scope(settings) as session:
            details = [entry.detail for entry in session.scalars(select(AuditEntry).where(
                AuditEntry.action.in_(("login_ip_unlock", "user_unlock"))).order_by(AuditEntry.id))]
        assert details == [{"username": "sun", "via": "cli"}, {"ip": STRANGER, "via": "cli"}]
    finally:
        get_settings.cache_clear()
