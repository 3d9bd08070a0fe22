"""One channel user's messages in both directions, for a page that shows the conversation (the web chat).

The messages table does not record who wrote an outbound message. The pipeline stores its reply right after
the inbound message it answers, so an outbound message that directly follows an inbound one within
BOT_REPLY_WINDOW is the bot's; any other outbound message was written by a person (the counsellor console).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelUser, Message

BOT_REPLY_WINDOW = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class TranscriptEntry:
    id: int
    direction: str  # "in" | "out"
    author: str  # "visitor" | "bot" | "counsellor"
    text: str
    level: str
    sources: list[dict]
    msg_key: str | None
    created_at: dt.datetime


def _author(message: Message, previous: Message | None) -> str:
    if message.direction == "in":
        return "visitor"
    answers_previous = (previous is not None and previous.direction == "in"
                        and message.created_at - previous.created_at <= BOT_REPLY_WINDOW)
    return "bot" if answers_previous else "counsellor"


def transcript(settings: Settings, channel: str, external_id: str, after: int | None, limit: int) -> list[TranscriptEntry]:
    """Messages of one channel user, oldest first: the first `limit` with an id above `after`, or the last
    `limit` when `after` is None. An unknown user has no messages."""
    with session_scope(settings) as session:
        user_id = session.scalar(
            select(ChannelUser.id).where(ChannelUser.channel == channel, ChannelUser.external_id == external_id)
        )
        if user_id is None:
            return []
        query = select(Message).where(Message.user_id == user_id)
        if after is None:
            rows = list(reversed(session.scalars(query.order_by(Message.id.desc()).limit(limit)).all()))
        else:
            rows = list(session.scalars(query.where(Message.id > after).order_by(Message.id).limit(limit)).all())
        if not rows:
            return []
        previous = session.scalar(query.where(Message.id < rows[0].id).order_by(Message.id.desc()).limit(1))
        entries = []
        for message in rows:
            entries.append(TranscriptEntry(
                id=message.id, direction=message.direction, author=_author(message, previous), text=message.text,
                level=message.level, sources=list(message.sources or []), msg_key=message.msg_key,
                created_at=message.created_at,
            ))
            previous = message
        return entries
