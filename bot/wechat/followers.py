"""Follower state: subscribed or not, and whether they asked for a person."""

from __future__ import annotations

from sqlalchemy import update

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelUser, WechatFollower, WechatOutbox, utcnow

CHANNEL = "wechat"


def _follower(session, openid: str) -> WechatFollower:  # type: ignore[no-untyped-def]
    row = session.get(WechatFollower, openid)
    if row is None:
        row = WechatFollower(openid=openid, active=True)
        session.add(row)
    row.updated_at = utcnow()
    return row


def _set_channel_user_active(session, openid: str, active: bool) -> None:  # type: ignore[no-untyped-def]
    session.execute(update(ChannelUser).where(ChannelUser.channel == CHANNEL, ChannelUser.external_id == openid)
                    .values(active=active))


def subscribe(settings: Settings, openid: str) -> None:
    """Records the follower as active (idempotent: WeChat may send the event more than once)."""
    with session_scope(settings) as session:
        _follower(session, openid).active = True
        _set_channel_user_active(session, openid, True)


def unsubscribe(settings: Settings, openid: str) -> int:
    """Marks the follower inactive and cancels their queued deliveries; returns how many were cancelled."""
    with session_scope(settings) as session:
        _follower(session, openid).active = False
        _set_channel_user_active(session, openid, False)
        result = session.execute(
            update(WechatOutbox).where(WechatOutbox.openid == openid, WechatOutbox.status.in_(("queued", "held")))
            .values(status="cancelled", last_error="unsubscribed")
        )
        return int(result.rowcount or 0)


def want_person(settings: Settings, openid: str) -> None:
    """The follower pressed 找人帮忙: counsellors see `wants_person_at` on the follower."""
    with session_scope(settings) as session:
        _follower(session, openid).wants_person_at = utcnow()

