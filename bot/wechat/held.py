"""订阅号 delivery: an account that cannot push 客服消息 gives counsellors' held messages (and the service's
lines such as the hand-back) back as the passive reply to the follower's next message."""

from __future__ import annotations

from bot.config import Settings
from bot.wechat.outbox import take_held
from bot.wechat.replies import MAX_REPLY_BYTES, plain_text


def passive_reply(settings: Settings, openid: str, reply: str, level: str) -> str:
    """The passive reply for a 订阅号: held messages first, then the bot's own reply when both fit in one
    message. A red reply goes alone (its first line is the number to call); held messages wait for the next."""
    if settings.wechat_account_type != "subscription" or (level == "red" and reply):
        return reply
    held = take_held(settings, openid)
    combined = "\n\n".join(part for part in (*held, reply) if part)
    if held and reply and len(plain_text(combined).encode("utf-8")) > MAX_REPLY_BYTES:
        return "\n\n".join(held)  # the counsellor's words first; the bot's answer was only a fallback
    return combined
