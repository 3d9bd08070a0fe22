"""Replay protection for signed WeChat requests: within the replay window a nonce belongs to one request.

A captured `signature`/`timestamp`/`nonce` cannot be reused with another body: the nonce is remembered with a
digest of the request it came with, and the same nonce with a different request is refused. The identical
request again (WeChat retries a message it got no answer for, byte for byte) is let through, and message
dedupe answers it from the first result without storing anything twice.

Shared by every worker, like message dedupe: a row per nonce in the database (the primary key decides), or
`SET NX EX` in Redis when the token store is Redis.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import WechatNonce, utcnow

NONCE_MAX_CHARS = 64


def request_digest(params: dict[str, str], body: bytes) -> str:
    """What identifies one signed request: its signatures, timestamp and body."""
    signed = "\n".join(params.get(k, "") for k in ("signature", "msg_signature", "timestamp", "nonce"))
    return hashlib.sha256(signed.encode("utf-8", "surrogatepass") + b"\n" + body).hexdigest()


def first_use(settings: Settings, nonce: str, digest: str, window_seconds: int) -> bool:
    """Records `nonce` for the request `digest`; False when the nonce came with another request within the
    last `window_seconds`."""
    nonce = nonce[:NONCE_MAX_CHARS]
    if settings.wechat_token_store == "redis":
        return _first_use_redis(settings, nonce, digest, window_seconds)
    now = utcnow()
    since = now - dt.timedelta(seconds=window_seconds)
    try:
        with session_scope(settings) as session:
            session.execute(delete(WechatNonce).where(WechatNonce.seen_at < since))  # keeps the table small
            session.add(WechatNonce(nonce=nonce, digest=digest, seen_at=now))
        return True
    except IntegrityError:
        with session_scope(settings) as session:
            seen = session.scalar(select(WechatNonce.digest).where(WechatNonce.nonce == nonce))
            if seen == digest:
                return True
            # Another worker may have deleted the old row and we lost the race to an expired nonce: reuse it.
            refreshed = session.execute(update(WechatNonce).where(WechatNonce.nonce == nonce, WechatNonce.seen_at < since)
                                        .values(seen_at=now, digest=digest))
            return bool(refreshed.rowcount)


def _first_use_redis(settings: Settings, nonce: str, digest: str, window_seconds: int) -> bool:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    key = f"tongban:wechat:nonce:{nonce}"
    if client.set(key, digest.encode(), nx=True, ex=window_seconds):
        return True
    seen = client.get(key)
    return seen is None or seen.decode() == digest  # expired between the two calls, or the same request
