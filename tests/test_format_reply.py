"""The reply's length: issue 17 asks for answers of at most 300 characters, source and hint lines included."""

from __future__ import annotations

from bot.answer.format import MIN_BODY, format_reply
from bot.answer.model import Composed, Source

SOURCE = Source("eyes-outdoor-time", "每天在外面玩多久能护眼", "一句话", "outreach")


def _composed(body_chars: int, steps: int) -> Composed:
    return Composed(body="娃" * body_chars, steps=tuple(f"第{i}步要做的事情写在这里说清楚" for i in range(steps)),
                    sources=(SOURCE,), grounded=True)


def test_source_and_hint_fit_inside_the_limit() -> None:
    hint = "您是哪个县市的？告诉我，以后按您那里的规定说。"
    reply = format_reply(_composed(60, 12), 300, hint)
    assert len(reply) <= 300
    assert reply.endswith(hint) and "出处：《每天在外面玩多久能护眼》" in reply
    assert "1. 第0步" in reply  # steps are dropped from the end, not all of them


def test_a_long_body_is_cut_to_leave_room_for_the_source() -> None:
    reply = format_reply(_composed(400, 0), 300, "还想知道别的，直接问我就行。")
    assert len(reply) <= 300 and "出处：" in reply


def test_the_body_is_never_cut_below_its_minimum() -> None:
    reply = format_reply(_composed(200, 0), 100, "提" * 60)
    assert reply.splitlines()[0].count("娃") >= MIN_BODY - 3  # cut with an ellipsis at most
