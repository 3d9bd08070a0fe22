"""One AnswerRecord per knowledge answer or not-covered reply the bot sends, and the family's vote on it.

Crisis and support replies, menu and small-talk replies get no record: nobody is asked to rate them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.feedback.words import Vote, mask_numbers, question_key, vote_in_text
from bot.storage.db import session_scope
from bot.storage.models import AnswerRecord, ChannelUser, CuratedAnswer, Message, utcnow

log = logging.getLogger(__name__)
CURATED_PREFIX = "curated:"


def curated_id_of(sources: Iterable[dict]) -> int | None:
    """The curated answer an outcome's sources name (doc_id "curated:<id>"), or None."""
    for source in sources:
        doc_id = str(source.get("doc_id", ""))
        if doc_id.startswith(CURATED_PREFIX) and doc_id[len(CURATED_PREFIX):].isdigit():
            return int(doc_id[len(CURATED_PREFIX):])
    return None


def answer_kind(intent: str, grounded: bool, composer: str) -> str | None:
    """"answer", "curated" or "not_covered" for a reply a family may rate; None for any other reply."""
    if intent == "not_covered":
        return "not_covered"
    if intent == "answer" and grounded:
        return "curated" if composer == "curated" else "answer"
    return None


def record_reply(session: Session, reply: Message, question_id: int, channel: str, intent: str, grounded: bool,
                 composer: str, sources: Sequence[dict], max_chars: int) -> None:
    """In the transaction that stores the bot's `reply` to message `question_id`: a curated answer's hit is
    counted (whatever the reply was), and a rateable reply gets its AnswerRecord. Never raises: the reply
    matters more than its record."""
    try:
        _record(session, reply, question_id, channel, answer_kind(intent, grounded, composer), curated_id_of(sources),
                max_chars)
    except Exception:
        log.exception("answer record not stored")


def _record(session: Session, reply: Message, question_id: int, channel: str, kind: str | None,
            curated_id: int | None, max_chars: int) -> None:
    if curated_id is not None:
        session.execute(update(CuratedAnswer).where(CuratedAnswer.id == curated_id)
                        .values(hits=CuratedAnswer.hits + 1, last_hit_at=utcnow()))
    question = session.get(Message, question_id) if question_id else None
    if kind is None or question is None or vote_in_text(question.text):  # a stray 「有用」 is no question
        return
    text = question.text[:max_chars]
    session.add(AnswerRecord(message_id=reply.id, user_id=reply.user_id, channel=channel, question=mask_numbers(text),
                             question_key=question_key(text), outcome=kind,
                             curated_id=curated_id if kind == "curated" else None))
    session.flush()


def take_text_vote(settings: Settings, user_id: int, message_id: int, vote: Vote) -> bool:
    """A 「有用」/「没用」 message (`message_id`, already stored) that comes right after a rateable reply: rates
    it if it is a knowledge answer (a not-covered reply is on 「待补充的问题」 already); returns whether the
    message was taken as feedback."""
    with session_scope(settings) as session:
        before = session.scalar(select(Message).where(Message.user_id == user_id, Message.id < message_id)
                                .order_by(Message.id.desc()).limit(1))
        if before is None or before.direction != "out":
            return False
        record = session.scalar(select(AnswerRecord).where(AnswerRecord.message_id == before.id))
        if record is None:
            return False
        if record.outcome != "not_covered":
            record.vote, record.voted_at = vote, utcnow()
        return True


def _records_of(session: Session, channel: str, external_id: str, message_ids: Sequence[int]) -> list[AnswerRecord]:
    return list(session.scalars(
        select(AnswerRecord).join(ChannelUser, ChannelUser.id == AnswerRecord.user_id)
        .where(ChannelUser.channel == channel, ChannelUser.external_id == external_id,
               AnswerRecord.message_id.in_(list(message_ids)))))


def cast_vote(settings: Settings, channel: str, external_id: str, message_id: int, vote: Vote | None) -> bool:
    """Sets (or with None clears) the vote on one of this person's rateable replies; False when `message_id`
    is not one (another person's message, a crisis reply, no such message)."""
    with session_scope(settings) as session:
        found = _records_of(session, channel, external_id, [message_id])
        if not found:
            return False
        found[0].vote, found[0].voted_at = vote, utcnow() if vote else None
        return True


def votes_for(settings: Settings, channel: str, external_id: str, message_ids: Sequence[int]) -> dict[int, str | None]:
    """{message id: vote or None} for this person's rateable replies among `message_ids`."""
    if not message_ids:
        return {}
    with session_scope(settings) as session:
        return {record.message_id: record.vote for record in _records_of(session, channel, external_id, message_ids)}
