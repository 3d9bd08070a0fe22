"""Data protection: retention (purge), and a person's request to see or erase their data.

Retention rules:
- a message that belongs to no case is kept `retention_days` (30 by default);
- a closed case, with its events and its messages, is kept `case_retention_days` (3 years) after it last changed;
  open cases are never purged (a person must close them);
- a channel user with nothing left and not seen within `retention_days` is deleted, as are sent or failed
  outbox rows and unsubscribed followers older than that;
- an answer record (the question, the family's 👍/👎, bot/feedback/) goes with the bot's reply it belongs to.
  Curated answers are written by supervisors and are not personal data; their phrasings are typed or checked
  by the supervisor, with long numbers masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.errors import TongbanError
from bot.storage.db import session_scope
from bot.storage.models import (AnswerRecord, Case, CaseEvent, ChannelUser, Contact, Message, WechatFollower,
                                WechatOutbox, utcnow)

log = logging.getLogger(__name__)


class UserNotFound(TongbanError):
    """No user with that channel and id."""


@dataclass(frozen=True)
class PurgeReport:
    messages: int
    cases: int
    users: int
    outbox: int
    followers: int
    answer_records: int = 0

    def summary(self) -> str:
        return (f"purged {self.messages} messages, {self.cases} closed cases, {self.users} users, "
                f"{self.outbox} outbox rows, {self.followers} unsubscribed followers, "
                f"{self.answer_records} answer records")


def purge(settings: Settings, now: dt.datetime | None = None) -> PurgeReport:
    """Deletes what the retention settings no longer allow us to keep (safe to run in every worker)."""
    now = now or utcnow()
    chat_cutoff = now - dt.timedelta(days=settings.retention_days)
    case_cutoff = now - dt.timedelta(days=settings.case_retention_days)
    with session_scope(settings) as session:
        old_cases = select(Case.id).where(Case.status == "closed", Case.updated_at < case_cutoff)
        # Explicitly, not only by the foreign key's cascade: the records go with the messages purged below.
        records = session.execute(delete(AnswerRecord).where(AnswerRecord.message_id.in_(
            select(Message.id).where(Message.case_id.in_(old_cases) |
                                     (Message.case_id.is_(None) & (Message.created_at < chat_cutoff)))))).rowcount
        case_messages = session.execute(delete(Message).where(Message.case_id.in_(old_cases))).rowcount
        cases = session.execute(delete(Case).where(Case.id.in_(old_cases))).rowcount
        loose = session.execute(
            delete(Message).where(Message.case_id.is_(None), Message.created_at < chat_cutoff)).rowcount
        users = session.execute(delete(ChannelUser).where(
            ChannelUser.last_seen_at < chat_cutoff,
            ~exists().where(Message.user_id == ChannelUser.id),
            ~exists().where(Case.user_id == ChannelUser.id),
        )).rowcount
        outbox = session.execute(delete(WechatOutbox).where(
            WechatOutbox.status != "queued", WechatOutbox.created_at < chat_cutoff)).rowcount
        followers = session.execute(delete(WechatFollower).where(
            WechatFollower.active.is_(False), WechatFollower.updated_at < chat_cutoff)).rowcount
    report = PurgeReport(case_messages + loose, cases, users, outbox, followers, records)
    log.info("retention purge done", extra=asdict(report))
    return report


def _user(session: Session, channel: str, external_id: str) -> ChannelUser:
    user = session.scalar(select(ChannelUser).where(ChannelUser.channel == channel,
                                                    ChannelUser.external_id == external_id))
    if user is None:
        raise UserNotFound(f"no {channel} user with that id")
    return user


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_user(settings: Settings, channel: str, external_id: str) -> dict[str, Any]:
    """Everything stored about one person, as plain JSON-ready data."""
    with session_scope(settings) as session:
        user = _user(session, channel, external_id)
        messages = session.scalars(select(Message).where(Message.user_id == user.id).order_by(Message.id)).all()
        cases = session.scalars(select(Case).where(Case.user_id == user.id).order_by(Case.id)).all()
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_([c.id for c in cases]))
                                 .order_by(CaseEvent.id)).all()
        contact = session.get(Contact, user.id)
        records = session.scalars(select(AnswerRecord).where(AnswerRecord.user_id == user.id)
                                  .order_by(AnswerRecord.id)).all()
        return {
            "user": {"channel": user.channel, "id": user.external_id, "active": user.active,
                     "created_at": _iso(user.created_at), "last_seen_at": _iso(user.last_seen_at)},
            # who they are (learned from what they said, or set by a counsellor) and the call-back number
            "profile": {"relationship": contact.relationship, "child_age": contact.child_age,
                        "region": contact.region, "phone": contact.phone, "set_by": contact.set_by or {}}
            if contact else {},
            "messages": [{"direction": m.direction, "text": m.text, "level": m.level, "case_id": m.case_id,
                          "at": _iso(m.created_at)} for m in messages],
            "cases": [{"id": c.id, "severity": c.severity, "categories": c.categories, "status": c.status,
                       "region": c.region, "created_at": _iso(c.created_at), "updated_at": _iso(c.updated_at),
                       "events": [{"kind": e.kind, "payload": e.payload, "at": _iso(e.created_at)}
                                  for e in events if e.case_id == c.id]} for c in cases],
            "answer_feedback": [{"question": r.question, "outcome": r.outcome, "vote": r.vote,
                                 "at": _iso(r.created_at), "voted_at": _iso(r.voted_at)} for r in records],
        }


def delete_user(settings: Settings, channel: str, external_id: str) -> dict[str, int]:
    """Erases one person: answer records and votes, messages, cases (with their events) and WeChat delivery
    state. Returns counts."""
    with session_scope(settings) as session:
        user = _user(session, channel, external_id)
        counts = {
            "answer_records": session.execute(delete(AnswerRecord).where(AnswerRecord.user_id == user.id)).rowcount,
            "messages": session.execute(delete(Message).where(Message.user_id == user.id)).rowcount,
            "cases": session.execute(delete(Case).where(Case.user_id == user.id)).rowcount,
        }
        if channel == "wechat":
            counts["outbox"] = session.execute(
                delete(WechatOutbox).where(WechatOutbox.openid == external_id)).rowcount
            counts["followers"] = session.execute(
                delete(WechatFollower).where(WechatFollower.openid == external_id)).rowcount
        session.execute(delete(ChannelUser).where(ChannelUser.id == user.id))
    log.info("user erased on request", extra={"channel": channel, **counts})
    return counts


class PurgeJob(threading.Thread):
    """Runs `purge` once soon after start-up and then every `purge_interval_hours`."""

    def __init__(self, settings: Settings, first_delay: float = 60.0) -> None:
        super().__init__(daemon=True, name="retention-purge")
        self.settings = settings
        self.first_delay = first_delay
        self._stop_event = threading.Event()

    def run(self) -> None:
        delay = self.first_delay
        while not self._stop_event.wait(delay):
            try:
                purge(self.settings)
            except Exception:  # a failed purge is retried next round; it must not kill the worker
                log.exception("retention purge failed")
            delay = self.settings.purge_interval_hours * 3600

    def stop(self) -> None:
        self._stop_event.set()
