"""Bot or human mode per channel user, stored in `conversation_modes`.

A conversation enters human mode when a counsellor who holds the case writes to the family, and leaves it on
「交还给机器人」, when the case is closed, or after `human_idle_minutes` with no counsellor message. Every change
is a conditional UPDATE, so two workers (or the timer and a request) never both act on one change.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import ConversationMode, utcnow

BOT, HUMAN = "bot", "human"


def aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def _row(session: Session, user_id: int) -> ConversationMode:
    row = session.get(ConversationMode, user_id)
    if row is None:
        row = ConversationMode(user_id=user_id, mode=BOT, holding_sent=False, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def idle_cutoff(settings: Settings, now: dt.datetime) -> dt.datetime:
    """A human-mode conversation whose counsellor last wrote before this goes back to the bot."""
    return now - dt.timedelta(minutes=settings.human_idle_minutes)


def is_idle(row: ConversationMode, settings: Settings, now: dt.datetime) -> bool:
    last = aware(row.last_counsellor_at) or aware(row.since)
    return last is not None and last < idle_cutoff(settings, now)


def mode_of(session: Session, user_id: int) -> ConversationMode | None:
    return session.get(ConversationMode, user_id)


def in_human_mode(session: Session, user_id: int) -> bool:
    row = mode_of(session, user_id)
    return row is not None and row.mode == HUMAN


def counsellor_wrote(session: Session, user_id: int, case_id: int, account_id: int) -> bool:
    """A counsellor's message to the family: human mode from now (or still), and the holding line may go out
    again later. Returns True when the conversation was in bot mode before."""
    row = _row(session, user_id)
    now = utcnow()
    entered = row.mode != HUMAN
    if entered:
        row.since = now
    row.mode, row.case_id, row.account_id = HUMAN, case_id, account_id
    row.last_counsellor_at, row.holding_sent, row.updated_at = now, False, now
    return entered


def leave_human(session: Session, user_id: int) -> bool:
    """Back to bot mode; True if this call made the change (False: it was not in human mode)."""
    changed = session.execute(update(ConversationMode).where(ConversationMode.user_id == user_id,
                                                             ConversationMode.mode == HUMAN)
                              .values(mode=BOT, updated_at=utcnow(), holding_sent=False)).rowcount
    return changed == 1


def expire_if_idle(session: Session, settings: Settings, user_id: int, now: dt.datetime | None = None) -> bool:
    """Back to bot mode when the counsellor has been silent past `human_idle_minutes`; True if this call did it."""
    now = now or utcnow()
    row = mode_of(session, user_id)
    if row is None or row.mode != HUMAN or not is_idle(row, settings, now):
        return False
    return leave_human(session, user_id)


def claim_holding_line(session: Session, user_id: int) -> bool:
    """True for exactly one caller per counsellor message: the holding line is never sent twice in a row."""
    return session.execute(update(ConversationMode).where(ConversationMode.user_id == user_id,
                                                          ConversationMode.mode == HUMAN,
                                                          ConversationMode.holding_sent.is_(False))
                           .values(holding_sent=True)).rowcount == 1


EXPIRED = "expired"  # was human until this message: the counsellor had been silent too long


def current_mode(settings: Settings, user_id: int) -> str:
    """HUMAN, BOT, or EXPIRED (human mode ended by idleness just now: the family is told with this reply)."""
    with session_scope(settings) as session:
        row = mode_of(session, user_id)
        if row is None or row.mode != HUMAN:
            return BOT
        return EXPIRED if expire_if_idle(session, settings, user_id) else HUMAN
