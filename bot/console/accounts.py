"""Console accounts: argon2 passwords, roles, lockout after failed logins, server-side sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.errors import TongbanError
from bot.storage.models import Account, ConsoleSession, Team, TeamMember, utcnow

ROLES = ("counsellor", "supervisor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
# Per-IP backoff (bot.console.login_guard) stops one guesser long before this; the account lock is for guesses
# spread over many addresses, and it always runs out (or an admin lifts it: `tongban user unlock`).
MAX_FAILED_LOGINS = 10
LOCK_DURATION = dt.timedelta(minutes=15)
MIN_PASSWORD_CHARS = 10
LOGIN_REFUSED = "用户名或密码不对。连续输错多次，账号会锁定 15 分钟。"
LOGIN_THROTTLED = "这台电脑所在网络输错密码的次数太多，请 {minutes} 分钟后再试，或请管理员解除限制。"
_hasher = PasswordHasher()
# Verified when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(TongbanError):
    """An account cannot be created or changed as asked."""


class LoginRefused(TongbanError):
    """Wrong name or password, or a locked / inactive account. The message is always the same (it never says
    whether a name exists or is locked); `reason` is for the audit log only."""

    def __init__(self, reason: str, message: str = LOGIN_REFUSED) -> None:
        super().__init__(message)
        self.reason = reason


def throttled(wait: dt.timedelta) -> LoginRefused:
    """The refusal for an address that must wait (it says nothing about the account)."""
    return LoginRefused("ip_backoff", LOGIN_THROTTLED.format(minutes=max(1, -(-int(wait.total_seconds()) // 60))))


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; we only ever store UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def at_least(account: Account, role: str) -> bool:
    return ROLE_RANK.get(account.role, -1) >= ROLE_RANK[role]


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符 / password needs at least {MIN_PASSWORD_CHARS} characters")


def create_account(session: Session, username: str, password: str, role: str, teams: tuple[str, ...] = (),
                   display_name: str = "", on_call: bool = False) -> Account:
    if role not in ROLES:
        raise AccountError(f"未知角色 / unknown role {role!r} (use {', '.join(ROLES)})")
    if not username.strip() or len(username) > 64:
        raise AccountError("用户名不能为空，最多 64 个字符 / username must be 1-64 characters")
    if session.scalar(select(Account.id).where(Account.username == username)):
        raise AccountError(f"用户名已存在 / account {username!r} exists")
    _check_password(password)
    account = Account(username=username, display_name=display_name or username, password_hash=_hasher.hash(password),
                      role=role, on_call=on_call, active=True, failed_logins=0)
    session.add(account)
    session.flush()
    set_teams(session, account, teams)
    return account


def set_teams(session: Session, account: Account, teams: tuple[str, ...]) -> None:
    known = set(session.scalars(select(Team.key)))
    unknown = [team for team in teams if team not in known]
    if unknown:
        raise AccountError(f"未知队伍 / unknown team(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    session.execute(delete(TeamMember).where(TeamMember.account_id == account.id))
    session.add_all(TeamMember(team_key=team, account_id=account.id) for team in dict.fromkeys(teams))


def teams_of(session: Session, account_id: int) -> set[str]:
    return set(session.scalars(select(TeamMember.team_key).where(TeamMember.account_id == account_id)))


def find_account(session: Session, username: str) -> Account:
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise AccountError(f"没有这个用户 / no account {username!r}")
    return account


def set_password(session: Session, account: Account, password: str) -> None:
    """New password; also unlocks the account and ends its sessions."""
    _check_password(password)
    account.password_hash = _hasher.hash(password)
    account.failed_logins, account.locked_until = 0, None
    session.execute(delete(ConsoleSession).where(ConsoleSession.account_id == account.id))


def unlock(account: Account) -> None:
    """Lifts a lockout at once (an admin's action; the password stays)."""
    account.failed_logins, account.locked_until = 0, None


def authenticate(session: Session, username: str, password: str, now: dt.datetime | None = None) -> Account:
    """The account for a correct name + password; LoginRefused (with a reason for the audit) otherwise.

    Each attempt is counted and committed *before* the password is checked, and the count is taken under the
    row's write lock, so parallel guesses cannot slip past the limit: the MAX_FAILED_LOGINS-th attempt locks
    the account (undone only if that attempt is right), and every later one is refused unchecked.
    Unknown, inactive and locked accounts all get the same message and the same argon2 work.
    """
    now = now or utcnow()
    session.commit()  # a fresh transaction whose first statement takes the lock
    counted = session.execute(update(Account).where(Account.username == username, Account.active.is_(True))
                              .values(failed_logins=Account.failed_logins + 1)).rowcount
    account = (session.scalar(select(Account).where(Account.username == username)
                              .execution_options(populate_existing=True)) if counted else None)
    if account is None:
        session.rollback()
        _verify(_DUMMY_HASH, password)
        raise LoginRefused("unknown_or_inactive")
    locked_until = aware(account.locked_until)
    if locked_until and locked_until > now:
        account.failed_logins -= 1  # attempts during a lock change nothing
        session.commit()
        _verify(_DUMMY_HASH, password)
        raise LoginRefused("locked")
    if locked_until:  # the lock has run out: counting starts again
        account.failed_logins, account.locked_until = 1, None
    attempt = account.failed_logins
    if attempt >= MAX_FAILED_LOGINS:
        account.locked_until = now + LOCK_DURATION
    session.commit()
    if not _verify(account.password_hash, password):
        raise LoginRefused("locked_now" if attempt >= MAX_FAILED_LOGINS else "wrong_password")
    account.failed_logins, account.locked_until, account.last_login_at = 0, None, now
    return account


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- sessions -----------------------------------------------------------------------------------------------

def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, account: Account, ip: str) -> tuple[str, str]:
    """A fresh session (never a reused id: no fixation); returns (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(ConsoleSession(id=_session_id(token), account_id=account.id, csrf_token=csrf, ip=ip[:64]))
    return token, csrf


def load_session(session: Session, token: str, idle: dt.timedelta, lifetime: dt.timedelta,
                 now: dt.datetime | None = None, touch: bool = True) -> tuple[ConsoleSession, Account] | None:
    """The live session and its account; None (and the row deleted) after `idle` of silence or `lifetime`
    since login, whatever the activity. `touch` marks activity: polling passes False, so an open queue page
    alone never keeps a session alive."""
    if not token:
        return None
    now = now or utcnow()
    row = session.get(ConsoleSession, _session_id(token))
    if row is None:
        return None
    account = session.get(Account, row.account_id)
    if (account is None or not account.active or now - aware(row.last_seen_at) > idle
            or now - aware(row.created_at) > lifetime):
        session.delete(row)
        return None
    if touch:
        row.last_seen_at = now
    return row, account


def end_session(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id == _session_id(token)))
