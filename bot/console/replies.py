"""A counsellor's reply to the family, through the channel the case came from.

WeChat: stored as an outbound message and queued as 客服消息 (allowed within 48 h of the user's last
message); a 订阅号 cannot push, so it is held for the family's next message (bot.conversation.family). Web chat:
stored only; the visitor's page polls for new outbound messages. Other channels cannot receive replies; the
message is still stored so the transcript shows what was meant to be said.

The reply counts as the case's (first) response when it reaches the family, not when it is sent from here:
web chat at once (stored is shown), WeChat when the 客服消息 API accepted it or the 订阅号's passive reply
carried it (bot.casework.cases.response_delivered).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.casework.workflow import Actor, WorkflowError, claim, mark_reply
from bot.config import Settings
from bot.console.accounts import aware
from bot.storage.db import session_scope
from bot.storage.models import Case, ChannelUser, Message, WechatOutbox, utcnow
from bot.conversation.family import deliver, outbox_key, store_outbound
from bot.conversation.modes import counsellor_wrote
from bot.wechat.outbox import WINDOW

__all__ = ["ReplyWindow", "delivery_states", "outbox_key", "reply_window", "send_reply"]

REPLY_CHANNELS = ("wechat", "web")
MAX_REPLY_CHARS = 1000


@dataclass(frozen=True)
class ReplyWindow:
    """Whether the user can be reached now: WeChat only within 48 h of their last message."""

    channel: str
    can_reply: bool
    last_inbound_at: dt.datetime | None
    closes_at: dt.datetime | None


def reply_window(session: Session, user: ChannelUser, now: dt.datetime | None = None) -> ReplyWindow:
    now = now or utcnow()
    last = aware(session.scalar(select(func.max(Message.created_at)).where(Message.user_id == user.id,
                                                                          Message.direction == "in")))
    if user.channel == "wechat":
        closes = last + WINDOW if last else None
        return ReplyWindow("wechat", bool(closes and closes > now), last, closes)
    return ReplyWindow(user.channel, user.channel in REPLY_CHANNELS, last, None)


def send_reply(settings: Settings, case_id: int, actor: Actor, text: str) -> str:
    """Stores the reply, records it on the case and queues it for the channel; returns the delivery kind
    ("wechat", "wechat_held", "web" or "none"). An unclaimed case is claimed first, in the same transaction
    (a reply typed before claiming is never lost). The conversation is in human mode from here on.
    Raises WorkflowError when the user cannot be reached or someone else holds the case."""
    text = text.strip()
    if not text:
        raise WorkflowError("回复内容不能为空 / the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise WorkflowError(f"回复最多 {MAX_REPLY_CHARS} 字 / at most {MAX_REPLY_CHARS} characters")
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        user = session.get(ChannelUser, case.user_id)
        window = reply_window(session, user)
        if user.channel == "wechat" and not window.can_reply and settings.wechat_account_type != "subscription":
            raise WorkflowError("已超过微信 48 小时回复时限，请改用电话等方式联系 / the 48-hour WeChat window has passed")
        if case.assigned_to is None and case.status == "open":
            claim(session, case, actor)
        message = store_outbound(session, user, text, case.id, "counsellor")
        delivery = user.channel if user.channel in REPLY_CHANNELS else "none"
        mark_reply(session, case, actor, message.id, delivery)
        counsellor_wrote(session, user.id, case.id, actor.account.id)
        channel, external_id, message_id = user.channel, user.external_id, message.id
    return deliver(settings, channel, external_id, case_id, message_id, text)


def delivery_states(session: Session, case_id: int) -> dict[str, str]:
    """Outbox status of each console reply on the case, by outbox key (all parts sent = "sent")."""
    rows = session.execute(select(WechatOutbox.msg_key, WechatOutbox.status)
                           .where(WechatOutbox.msg_key.like(f"console:{case_id}:%"))).all()
    states: dict[str, str] = {}
    for key, status in rows:
        states[key] = status if states.get(key, "sent") == "sent" else states[key]
    return states
