"""The audit log: every view of a case and every console action, with who, when and from where."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import Account, AuditEntry


def audit(session: Session, actor: Account | None, action: str, case_id: int | None = None,
          detail: dict | None = None, ip: str = "") -> None:
    """Adds one entry in the caller's transaction (so an action and its audit entry commit together)."""
    session.add(AuditEntry(account_id=actor.id if actor else None, username=actor.username if actor else "",
                           action=action, case_id=case_id, detail=detail or {}, ip=ip[:64]))


def audit_entries(session: Session, case_id: int | None = None, username: str = "", action: str = "",
                  limit: int = 200) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    if username:
        query = query.where(AuditEntry.username == username)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))
