"""Malformed input gets a 4xx, never a 500: nested or repeated XML fields, bodies in a declared (or wrongly
undeclared) encoding, lone surrogates, oversized bodies; a 422 never echoes the input; no message text in a
traceback log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Message
from handlers.app import create_app
from tests.fakes.app_server import API_HEADERS, TEST_API_KEY
from tests.fakes.wechat_api import APP_ID, TOKEN, reply_content, signed_request

RED = "孙女说不想活了"


@pytest.fixture
def client(tmp_settings: Settings) -> Iterator[TestClient]:
    settings = tmp_settings.model_copy(update={"wechat_token": TOKEN, "wechat_app_id": APP_ID,
                                               "api_key": TEST_API_KEY, "max_body_bytes": 128 * 1024})
    upgrade(settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.settings = settings  # type: ignore[attr-defined]
        yield test_client


def stored(client: TestClient) -> int:
    with session_scope(client.settings) as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count(Message.id))))


def xml(inner: str, sender: str = "<FromUserName>o-robust</FromUserName>") -> str:
    return (f"<xml><ToUserName>gh</ToUserName>{sender}<CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType>text</MsgType>{inner}</xml>")


@pytest.mark.parametrize("body", [
    xml("<Content>你好</Content><MsgId>1</MsgId>", "<FromUserName><a>o</a></FromUserName>"),
    xml("<Content>你好</Content><MsgId>1</MsgId>", "<FromUserName>o</FromUserName><FromUserName>p</FromUserName>"),
    xml("<Content>你好</Content><Content>不想活了</Content><MsgId>2</MsgId>"),
    xml("<Content><b>x</b></Content><MsgId>3</MsgId>"),
    xml("<Content>你好</Content><MsgId>4</MsgId><MsgId>5</MsgId>"),
    xml("<Content>你好</Content><MsgId><n>6</n></MsgId>"),
], ids=["nested-from", "repeated-from", "repeated-content", "nested-content", "repeated-msgid", "nested-msgid"])
def test_malformed_signed_xml_is_400(client: TestClient, body: str) -> None:
    params, data = signed_request(body, "plaintext")
    response = client.post("/wechat", params=params, content=data)
    assert response.status_code == 400
    assert stored(client) == 0


def test_declared_gbk_is_read_in_gbk(client: TestClient) -> None:
    body = '<?xml version="1.0" encoding="GBK"?>' + xml(f"<Content>{RED}</Content><MsgId>11</MsgId>")
    params, _ = signed_request(body, "plaintext")
    response = client.post("/wechat", params=params, content=body.encode("gbk"))
    assert response.status_code == 200 and "12356" in (reply_content(response.content, params) or "")
    with session_scope(client.settings) as session:  # type: ignore[attr-defined]
        assert session.scalar(select(Message.text).where(Message.direction == "in")) == RED


@pytest.mark.parametrize(("declaration", "encoding"), [("", "gbk"), ('<?xml version="1.0" encoding="no-such"?>', "utf-8"),
                                                        ('<?xml version="1.0" encoding="utf-8"?>', "gbk")])
def test_undeclared_or_unknown_encoding_is_refused(client: TestClient, declaration: str, encoding: str) -> None:
    body = declaration + xml(f"<Content>{RED}</Content><MsgId>12</MsgId>")
    params, _ = signed_request(body, "plaintext")
    assert client.post("/wechat", params=params, content=body.encode(encoding)).status_code == 400
    assert stored(client) == 0


@pytest.mark.parametrize("payload", ['{"text": "x\\ud800' + RED + '"}', '{"user_id": "a\\udfff", "text": "hi"}',
                                     '{"user_id": "u", "text": "\\ud83d"}'])
def test_lone_surrogates_are_never_a_500(client: TestClient, payload: str) -> None:
    client.get("/")
    response = client.post("/api/chat", content=payload, headers={"content-type": "application/json", **API_HEADERS})
    assert response.status_code < 500
    assert RED not in response.text


def test_422_never_echoes_the_input(client: TestClient) -> None:
    text = "长" * 10_001
    response = client.post("/api/chat", json={"user_id": "u", "text": text}, headers=API_HEADERS)
    assert response.status_code == 422
    assert "长长长" not in response.text and len(response.content) < 500
    detail = response.json()["detail"]
    assert detail and all(set(item) == {"loc", "msg", "type"} for item in detail)


def test_bodies_over_the_cap_are_413(client: TestClient) -> None:
    big = b'{"text": "' + b"a" * (200 * 1024) + b'"}'
    assert client.post("/api/chat", content=big, headers={"content-type": "application/json"}).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while the body streams in
        yield b'{"text": "'
        for _ in range(50):
            yield b"a" * 4096
        yield b'"}'

    streamed = client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_no_message_text_in_a_traceback_log(client: TestClient, caplog: pytest.LogCaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception whose text holds the user's words (here: raised by the pipeline) is logged without them."""
    secret_words = "奶奶我不想活了还问我农药放在哪"

    def explode(inbound):  # type: ignore[no-untyped-def]
        raise ValueError(f"cannot handle {inbound.text!r}")

    monkeypatch.setattr(client.app.state.conversation, "handle", explode)  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO)
    from bot.logsafe import install_redaction

    install_redaction()  # the service's handlers (and pytest's capture handler) get the filter
    params, data = signed_request(xml(f"<Content>{secret_words}</Content><MsgId>21</MsgId>"), "plaintext")
    response = client.post("/wechat", params=params, content=data)
    assert response.status_code == 200
    assert "ValueError" in caplog.text
    assert secret_words not in caplog.text and "不想活" not in caplog.text
