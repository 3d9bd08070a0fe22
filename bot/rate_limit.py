"""Message rate limits per user and per client address, shared by all workers (they count stored messages).
Triage runs first: a red or yellow message is never held back, whatever the count."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.safety import triage
from bot.storage.db import session_scope
from bot.storage.models import ChannelUser, Message, utcnow

if TYPE_CHECKING:
    from bot.pipeline import Conversation, Inbound

log = logging.getLogger(__name__)


def recent_inbound_count(settings: Settings, channel: str, external_id: str, seconds: int = 60) -> int:
    """Inbound messages stored for this user in the last `seconds`."""
    since = utcnow() - dt.timedelta(seconds=seconds)
    with session_scope(settings) as session:
        return int(session.scalar(
            select(func.count(Message.id)).join(ChannelUser, ChannelUser.id == Message.user_id)
            .where(ChannelUser.channel == channel, ChannelUser.external_id == external_id,
                   Message.direction == "in", Message.created_at >= since)
        ) or 0)


def recent_origin_count(settings: Settings, origin: str, seconds: int = 60) -> int:
    """Inbound messages stored from this client address (its pseudonym) in the last `seconds`, any channel."""
    since = utcnow() - dt.timedelta(seconds=seconds)
    with session_scope(settings) as session:
        return int(session.scalar(
            select(func.count(Message.id)).where(Message.origin == origin, Message.direction == "in",
                                                 Message.created_at >= since)
        ) or 0)


def _over(settings: Settings, inbound: Inbound, per_minute: int, per_origin: int) -> bool:
    if per_minute > 0 and recent_inbound_count(settings, inbound.channel, inbound.user_id) >= per_minute:
        return True
    return bool(per_origin > 0 and inbound.origin and recent_origin_count(settings, inbound.origin) >= per_origin)


def held_back(settings: Settings, convo: Conversation, inbound: Inbound, per_minute: int, per_origin: int = 0) -> bool:
    """Over `per_minute` for the user or `per_origin` for the client address (0 = no limit) and green: answer
    with the "please slow down" text instead."""
    try:
        if not _over(settings, inbound, per_minute, per_origin):
            return False
    except SQLAlchemyError:  # a busy database must not stop the answer; the pipeline reports real failures
        log.warning("rate limit not checked: database error", exc_info=True)
        return False
    # The whole text the pipeline would triage: nothing is cut (triage reads long texts in windows, so its time
    # grows linearly with the length, and the bodies are capped by the channels).
    return triage(convo.normalise(inbound)[0]).level == "green"
