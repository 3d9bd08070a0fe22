"""Safe mode is strict: with an AES key set, only encrypted messages with a valid msg_signature are accepted;
a nonce cannot be reused with another request within 300 s (shared by all workers through the database or
Redis); and dedupe is per sender, so one openid cannot take another's MsgId."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.config import Settings
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, ChannelUser, Message
from bot.wechat import nonces
from handlers.app import create_app
from tests.fakes.wechat_api import (AES_KEY, APP_ID, TOKEN, message_xml, reply_content, sign,
                                    signed_request)

RED = "孙女说活着太累了，今晚就跳河"
_ids = iter(range(60_000_000, 69_999_999))


@pytest.fixture
def safe(db_settings: Settings) -> Iterator[tuple[TestClient, Settings]]:
    settings = db_settings.model_copy(update={"wechat_token": TOKEN, "wechat_aes_key": AES_KEY,
                                              "wechat_app_id": APP_ID, "wechat_rate_limit_per_minute": 1000})
    upgrade(settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, settings


def inbound(settings: Settings) -> int:
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count(Message.id)).where(Message.direction == "in")))


def text_xml(openid: str, text: str, msg_id: int) -> str:
    return message_xml(openid, "text", {"Content": text, "MsgId": msg_id})


def test_plaintext_post_is_refused_when_an_aes_key_is_set(safe: tuple[TestClient, Settings]) -> None:
    client, settings = safe
    params, body = signed_request(text_xml("o-forged", RED, next(_ids)), "plaintext")
    assert client.post("/wechat", params=params, content=body).status_code == 403
    # encrypt_type=aes without a valid msg_signature: refused as well
    params, body = signed_request(text_xml("o-forged", RED, next(_ids)), "aes")
    for bad in ({**params, "msg_signature": "0" * 40}, {k: v for k, v in params.items() if k != "msg_signature"}):
        assert client.post("/wechat", params=bad, content=body).status_code == 403
    assert inbound(settings) == 0
    assert client.post("/wechat", params=params, content=body).status_code == 200  # the real one passes
    assert inbound(settings) == 1


def test_a_captured_nonce_cannot_carry_another_body(safe: tuple[TestClient, Settings]) -> None:
    client, settings = safe
    params, body = signed_request(text_xml("o-victim", "你好", next(_ids)), "compatible")
    assert client.post("/wechat", params=params, content=body).status_code == 200
    # The same signature, timestamp and nonce with a different (validly encrypted) body: refused.
    other = text_xml("o-victim", RED, next(_ids))
    from wechatpy.crypto import WeChatCrypto

    envelope = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(other, params["nonce"], params["timestamp"])
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    forged = {**params, "msg_signature": sign(TOKEN, params["timestamp"], params["nonce"], encrypt)}
    forged_body = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    assert client.post("/wechat", params=forged, content=forged_body).status_code == 403
    # The identical request again (WeChat's own retry) is answered once, from the stored result.
    again = client.post("/wechat", params=params, content=body)
    assert again.status_code == 200
    assert inbound(settings) == 1


def test_nonce_store_forgets_after_the_window(db_settings: Settings) -> None:
    upgrade(db_settings)
    assert nonces.first_use(db_settings, "n-1", "a" * 64, 300)
    assert nonces.first_use(db_settings, "n-1", "a" * 64, 300)  # the same request
    assert not nonces.first_use(db_settings, "n-1", "b" * 64, 300)
    time.sleep(1.1)
    assert nonces.first_use(db_settings, "n-1", "b" * 64, 1)  # older than the window: usable again


def test_nonce_store_in_redis(db_settings: Settings) -> None:
    import redis

    settings = db_settings.model_copy(update={"wechat_token_store": "redis"})
    try:
        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable: {exc}")
    nonce = f"n-{time.time_ns()}"
    assert nonces.first_use(settings, nonce, "a" * 64, 300)
    assert nonces.first_use(settings, nonce, "a" * 64, 300)
    assert not nonces.first_use(settings, nonce, "b" * 64, 300)


def test_dedupe_is_per_sender(safe: tuple[TestClient, Settings]) -> None:
    client, settings = safe
    msg_id = next(_ids)
    params, body = signed_request(text_xml("o-first", RED, msg_id), "aes")
    first = client.post("/wechat", params=params, content=body)
    params2, body2 = signed_request(text_xml("o-second", "你好", msg_id), "aes")  # the same MsgId
    second = client.post("/wechat", params=params2, content=body2)
    crisis = reply_content(first.content, params) or ""
    assert "12356" in crisis and "110" in crisis
    assert reply_content(second.content, params2) == prompt_text("replies/greeting.txt")  # not the other's reply
    with session_scope(settings) as session:
        senders = session.scalars(select(ChannelUser.external_id).join(Message, Message.user_id == ChannelUser.id)
                                  .where(Message.direction == "in")).all()
        assert sorted(senders) == ["o-first", "o-second"]
        assert session.scalar(select(func.count(Case.id))) == 1
