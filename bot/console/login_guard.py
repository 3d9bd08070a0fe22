"""Per-IP login backoff: many failed logins from one address, whatever the account names, make that address
wait longer and longer before its next attempt is even checked.

It carries most of the load against guessing, so the per-account lockout (bot.console.accounts) can be rare
and short: a stranger on one address cannot keep a named counsellor locked out. Failures are read from the
audit log (`login_failed` entries with the address), so every worker sees the same count without a new table;
an admin clears an address with `tongban user unlock-ip` or on the accounts page (`login_ip_unlock`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.console.accounts import aware
from bot.console.audit import audit
from bot.storage.models import Account, AuditEntry, utcnow

WINDOW = dt.timedelta(hours=1)  # failures older than this are forgotten
MAX_WAIT = dt.timedelta(minutes=15)
UNLOCK_ACTION = "login_ip_unlock"


def _since(session: Session, ip: str, now: dt.datetime) -> dt.datetime:
    """Start of the counting window: an hour ago, or the address's last admin unlock if later."""
    start = now - WINDOW
    unlocks = session.execute(select(AuditEntry.at, AuditEntry.detail)
                              .where(AuditEntry.action == UNLOCK_ACTION, AuditEntry.at > start)).all()
    return max([start, *(aware(at) for at, detail in unlocks if (detail or {}).get("ip") == ip)])


def ip_wait(session: Session, settings: Settings, ip: str, now: dt.datetime | None = None) -> dt.timedelta:
    """How long `ip` must still wait before a login attempt is checked (zero: go ahead).

    The first `console_ip_free_failures` failures in the window cost nothing; each later one doubles the wait
    after the last failure, from `console_ip_backoff_seconds` up to 15 minutes."""
    now = now or utcnow()
    since = _since(session, ip, now)
    failures, last = session.execute(select(func.count(), func.max(AuditEntry.at)).where(
        AuditEntry.action == "login_failed", AuditEntry.ip == ip[:64], AuditEntry.at > since)).one()
    extra = int(failures) - settings.console_ip_free_failures
    if extra < 0 or last is None:
        return dt.timedelta(0)
    wait = min(dt.timedelta(seconds=settings.console_ip_backoff_seconds * 2 ** min(extra, 20)), MAX_WAIT)
    return max(dt.timedelta(0), aware(last) + wait - now)


def unlock_ip(session: Session, ip: str, by: Account | None, from_ip: str = "", via: str = "console") -> None:
    """Forgets the address's failures (audited; the entry itself is what `ip_wait` reads)."""
    audit(session, by, UNLOCK_ACTION, detail={"ip": ip[:64], "via": via}, ip=from_ip)


def waiting_ips(session: Session, settings: Settings, now: dt.datetime | None = None) -> list[dict]:
    """Addresses that must wait now, for the admin's accounts page: address, failures, wait."""
    now = now or utcnow()
    rows = session.execute(select(AuditEntry.ip, func.count()).where(
        AuditEntry.action == "login_failed", AuditEntry.at > now - WINDOW).group_by(AuditEntry.ip)
        .having(func.count() >= settings.console_ip_free_failures)).all()
    waits = [(ip, failures, ip_wait(session, settings, ip, now)) for ip, failures in rows]
    return [{"ip": ip, "failures": int(failures), "minutes": -(-int(wait.total_seconds()) // 60)}
            for ip, failures, wait in waits if wait > dt.timedelta(0)]
