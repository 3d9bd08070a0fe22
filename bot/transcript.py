"""One channel user's messages in both directions, for a page that shows the conversation (the web chat).
Outbound messages say who wrote them (`Message.author`: the bot, or a counsellor through the console)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelUser, Message

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


def _author(message: Message) -> str:
    if message.direction == "in":
        return "visitor"
    return "counsellor" if message.author == "counsellor" else "bot"


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
        return [TranscriptEntry(
            id=message.id, direction=message.direction, author=_author(message), text=message.text,
            level=message.level, sources=list(message.sources or []), msg_key=message.msg_key,
            created_at=message.created_at,
        ) for message in rows]
