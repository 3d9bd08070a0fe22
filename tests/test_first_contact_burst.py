"""A new user's first messages arriving at the same moment (found by benchmarks/load.py).

Both requests try to create the user; the one that loses used to be taken for a WeChat retry of itself and
was dropped: not stored, no case, no reply - even when it was the crisis message.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from bot.config import Settings
from bot.pipeline import Conversation, Inbound, Outcome
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, Message

# No question words, so the replies are fixed crisis texts and no knowledge index is needed.
FIRST_WORDS = ("您好", "孩子把家里的农药喝了一口，嘴里全是味道")
PAIRS = 8


def _send_together(convo: Conversation, openid: str, texts: tuple[str, ...],
                   outcomes: dict[tuple[str, int], Outcome]) -> None:
    barrier = threading.Barrier(len(texts))

    def send(number: int) -> None:
        barrier.wait()
        inbound = Inbound(openid, texts[number], "wechat", "text", f"wx:{openid}-{number}")
        outcomes[openid, number] = convo.handle(inbound)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_simultaneous_first_messages_are_all_stored_and_answered(db_settings: Settings) -> None:
    upgrade(db_settings)
    convo = Conversation(db_settings)
    outcomes: dict[tuple[str, int], Outcome] = {}
    for pair in range(PAIRS):
        _send_together(convo, f"burst-{pair}", FIRST_WORDS, outcomes)
    assert not [o for o in outcomes.values() if o.duplicate], "a first message was taken for a retry and dropped"
    assert all(o.reply_text for o in outcomes.values())
    crisis = [o for (_, number), o in outcomes.items() if number == 1]
    assert len(crisis) == PAIRS and all(o.level == "red" and o.case_id for o in crisis)
    with session_scope(db_settings) as session:
        stored = session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        cases = session.execute(select(Case.user_id, func.count()).group_by(Case.user_id)).all()
    assert stored == 2 * PAIRS
    assert len(cases) == PAIRS and all(count == 1 for _, count in cases)
