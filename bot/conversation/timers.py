"""Periodic checks of human-mode conversations (run by the console's checker thread, bot.console.sla):

- the holding line 「老师看到了，马上回复您」 once when the family has waited `human_hold_minutes` for the
  counsellor (never twice in a row: it may go out again only after the counsellor's next message);
- back to the bot after `human_idle_minutes` without a counsellor message, and the family told in one line.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.conversation.family import tell_family
from bot.conversation.modes import HUMAN, aware, claim_holding_line, expire_if_idle
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.models import ConversationMode, Message, utcnow

log = logging.getLogger(__name__)


def _waiting_since(session: Session, row: ConversationMode) -> dt.datetime | None:
    """When the family's oldest message not yet answered by the counsellor arrived (None: none waiting)."""
    after = aware(row.last_counsellor_at) or aware(row.since)
    query = select(func.min(Message.created_at)).where(Message.user_id == row.user_id, Message.direction == "in")
    if after is not None:
        query = query.where(Message.created_at > after)
    return aware(session.scalar(query))


def expire_idle(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Hands idle human-mode conversations back to the bot and tells each family; returns their user ids."""
    now = now or utcnow()
    with session_scope(settings) as session:
        rows = list(session.scalars(select(ConversationMode).where(ConversationMode.mode == HUMAN)))
        expired = [(row.user_id, row.case_id) for row in rows if expire_if_idle(session, settings, row.user_id, now)]
    for user_id, case_id in expired:
        tell_family(settings, user_id, case_id, prompt_text("replies/human_idle.txt"))
    return [user_id for user_id, _ in expired]


def send_holding_lines(settings: Settings, now: dt.datetime | None = None) -> list[int]:
    """Sends the holding line where the family has waited too long; returns the user ids it went to."""
    now = now or utcnow()
    wait = dt.timedelta(minutes=settings.human_hold_minutes)
    due: list[tuple[int, int | None]] = []
    with session_scope(settings) as session:
        rows = list(session.scalars(select(ConversationMode).where(ConversationMode.mode == HUMAN,
                                                                   ConversationMode.holding_sent.is_(False))))
        for row in rows:
            since = _waiting_since(session, row)
            if since is not None and now - since >= wait and claim_holding_line(session, row.user_id):
                due.append((row.user_id, row.case_id))
    for user_id, case_id in due:
        tell_family(settings, user_id, case_id, prompt_text("replies/holding.txt"))
    return [user_id for user_id, _ in due]


def check_conversations(settings: Settings, now: dt.datetime | None = None) -> None:
    expire_idle(settings, now)
    send_holding_lines(settings, now)
