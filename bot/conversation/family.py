"""A message from the service to the family outside a reply: a counsellor's words, the holding line, the
hand-back line. Stored as an outbound message first (the web chat's page polls for it), then delivered by the
channel: WeChat 服务号 as 客服消息 through the outbox; a 订阅号 cannot push, so the message is held and becomes
the passive reply to the family's next message (bot.wechat.outbox.take_held)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.casework.cases import response_delivered
from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelUser, Message
from bot.wechat.outbox import enqueue, outbox_key
from bot.wechat.replies import reply_parts


def store_outbound(session: Session, user: ChannelUser, text: str, case_id: int | None, author: str) -> Message:
    """Stores the message. In the web chat that is its delivery: the family's page shows what is stored (it
    polls its history), so a counsellor's message counts as a response now (bot.casework.cases.response_delivered);
    WeChat confirms delivery later, in the outbox."""
    message = Message(user_id=user.id, direction="out", author=author, text=text, level="green", case_id=case_id)
    session.add(message)
    session.flush()
    if user.channel == "web":
        response_delivered(session, message.id, message.created_at)
    return message


def deliver(settings: Settings, channel: str, external_id: str, case_id: int | None, message_id: int,
            text: str) -> str:
    """Delivers a stored outbound message (call after its commit); returns "wechat", "wechat_held", "web"
    or "none"."""
    if channel == "wechat":
        held = settings.wechat_account_type == "subscription"
        enqueue(settings, external_id, outbox_key(case_id, message_id), reply_parts(text), case_id,
                status="held" if held else "queued")
        return "wechat_held" if held else "wechat"
    return "web" if channel == "web" else "none"


def tell_family(settings: Settings, user_id: int, case_id: int | None, text: str) -> str:
    """Stores and delivers one line from the service (author "bot") to the person; returns the delivery kind."""
    with session_scope(settings) as session:
        user = session.get(ChannelUser, user_id)
        message = store_outbound(session, user, text, case_id, "bot")
        channel, external_id, message_id = user.channel, user.external_id, message.id
    return deliver(settings, channel, external_id, case_id, message_id, text)
