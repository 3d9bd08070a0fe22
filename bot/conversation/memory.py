"""Conversation memory in the database: the last turns of a user's current conversation.

A conversation ends after `memory_ttl_minutes` of silence. Several workers share it because it is
read from the messages table, not from process memory.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import Message, utcnow

# Short messages that lean on the previous question: 「要查几次」「那吃什么好」「多大开始」.
_FOLLOW_UP_RE = re.compile(
    r"^(那|那么|那要|那该|那得|还有|还要|还能|还是|要|它|这个|那个|这样|那样|多久|几次|几天|几岁|多大|多少|"
    r"什么时候|啥时候|在哪|去哪|找谁|怎么办|咋办|吃什么|吃啥|为什么|为啥|是不是|能不能|可不可以|要不要|"
    r"一年|一周|每天|平时|如果|要是)"
)


@dataclass(frozen=True)
class Turn:
    direction: str
    text: str
    at: dt.datetime


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def recent_turns(session: Session, user_id: int, turns: int, ttl_minutes: int, now: dt.datetime | None = None) -> list[Turn]:
    """The last `turns` messages (oldest first) of the current conversation."""
    rows = session.execute(
        select(Message.direction, Message.text, Message.created_at)
        .where(Message.user_id == user_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(turns * 2)
    ).all()
    gap = dt.timedelta(minutes=ttl_minutes)
    current = now or utcnow()
    kept: list[Turn] = []
    for direction, text, created in rows:
        created = _aware(created)
        if current - created > gap:
            break
        kept.append(Turn(direction, text, created))
        current = created
    return list(reversed(kept))[-turns:]


def user_history(turns: list[Turn]) -> list[str]:
    return [t.text for t in turns if t.direction == "in"]


def is_follow_up(text: str) -> bool:
    """A short message that only makes sense with the question before it."""
    compact = "".join(text.split())
    return (len(compact) <= 14 and bool(_FOLLOW_UP_RE.match(compact))) or len(compact) <= 6


def contextual_query(text: str, history: list[str]) -> str:
    """The retrieval query: a follow-up is joined to the previous question of the same conversation."""
    if history and is_follow_up(text):
        return f"{history[-1]} {text}"
    return text
