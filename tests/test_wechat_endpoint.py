"""POST/GET /wechat over real HTTP (uvicorn on 127.0.0.1), passive delivery, all three encryption modes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.models import Case, Message, WechatFollower
from tests.fakes.app_server import serve_app
from tests.fakes.wechat_api import (AES_KEY, APP_ID, TOKEN, message_xml, reply_content, sign,
                                    signed_request)

MODES = ["plaintext", "compatible", "aes"]
_ids = iter(range(10_000_000, 99_999_999))


def wechat_settings(base: Settings, database_url: str, **extra: object) -> Settings:
    return Settings(**{**base.model_dump(), "database_url": database_url, "wechat_token": TOKEN,
                       "wechat_aes_key": AES_KEY, "wechat_app_id": APP_ID, "wechat_app_secret": "s", **extra})


class ServerUrl(str):
    """The server's base URL (safe mode: an AES key is set), carrying the settings it runs with (to inspect its
    database) and `plain`, the URL of a second server on the same database without an AES key (plaintext mode
    is only accepted when no key is set)."""

    settings: Settings
    plain: str


@pytest.fixture(scope="module")
def server(built_settings: Settings, knowledge_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("wechat") / "wechat.db"
    settings = wechat_settings(built_settings, f"sqlite:///{db}", wechat_rate_limit_per_minute=1000)
    plain = settings.model_copy(update={"wechat_aes_key": ""})
    for url in serve_app(settings, knowledge_index):
        for plain_url in serve_app(plain, knowledge_index):
            served = ServerUrl(url)
            served.settings, served.plain = settings, plain_url
            yield served


def target(url: str, mode: str) -> str:
    """Where a request in `mode` goes: plaintext to the server without an AES key."""
    return getattr(url, "plain", url) if mode == "plaintext" else url


def post(url: str, xml: str, mode: str = "plaintext", **kw: object) -> tuple[httpx.Response, str | None]:
    params, body = signed_request(xml, mode, **kw)
    response = httpx.post(f"{target(url, mode)}/wechat", params=params, content=body, timeout=10)
    content = reply_content(response.content, params) if response.status_code == 200 else None
    return response, content


def text_msg(openid: str, text: str, msg_id: int | None = None) -> str:
    return message_xml(openid, "text", {"Content": text, "MsgId": msg_id or next(_ids)})


def count(settings: Settings, model, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)))


def test_get_verification(server: str) -> None:
    stamp, nonce = str(int(time.time())), "n1"
    good = {"signature": sign(TOKEN, stamp, nonce), "timestamp": stamp, "nonce": nonce, "echostr": "e123"}
    response = httpx.get(f"{server}/wechat", params=good)
    assert response.status_code == 200 and response.text == "e123"
    assert response.headers["content-type"].startswith("text/plain")
    assert httpx.get(f"{server}/wechat", params={**good, "signature": "0" * 40}).status_code == 403


@pytest.mark.parametrize("mode", MODES)
def test_text_question_is_answered_in_every_mode(server: str, mode: str) -> None:
    response, content = post(server, text_msg(f"o-text-{mode}", "孩子挑食不吃青菜咋办"), mode)
    assert response.status_code == 200
    assert content and "**" not in content and len(content.encode()) <= 2048
    if mode != "plaintext":
        assert b"<Encrypt>" in response.content


@pytest.mark.parametrize("mode", MODES)
def test_red_message_gets_crisis_reply_and_a_case(server: str, mode: str) -> None:
    openid = f"o-red-{mode}"
    _, content = post(server, text_msg(openid, "孙女说活着太累了，今晚就跳河"), mode)
    assert content and "12356" in content
    assert count(server.settings, Case) >= 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
def test_voice_with_and_without_recognition(server: str, mode: str) -> None:
    with_text = message_xml(f"o-voice-{mode}", "voice", {"MediaId": "m", "Format": "amr", "Recognition": "你好",
                                                         "MsgId": next(_ids)})
    _, content = post(server, with_text, mode)
    assert content == prompt_text("replies/greeting.txt")
    without = message_xml(f"o-voice-{mode}", "voice", {"MediaId": "m", "Format": "amr", "MsgId": next(_ids)})
    _, content = post(server, without, mode)
    assert content == prompt_text("replies/voice_unrecognised.txt")


@pytest.mark.parametrize("kind", ["image", "video", "shortvideo", "location", "link", "file"])
@pytest.mark.parametrize("mode", MODES)
def test_unsupported_media_gets_a_polite_text(server: str, kind: str, mode: str) -> None:
    _, content = post(server, message_xml("o-media", kind, {"MediaId": "m", "MsgId": next(_ids)}), mode)
    assert content == prompt_text("replies/unsupported_media.txt")


@pytest.mark.parametrize("mode", MODES)
def test_subscribe_welcome_and_unsubscribe(server: str, mode: str) -> None:
    openid = f"o-follow-{mode}"
    _, content = post(server, message_xml(openid, "event", {"Event": "subscribe"}), mode)
    assert content == prompt_text("replies/welcome.txt")
    assert all(line in content for line in ("12356", "12355", "110", "120", "找人"))
    with session_scope(server.settings) as session:  # type: ignore[attr-defined]
        assert session.get(WechatFollower, openid).active
    response, content = post(server, message_xml(openid, "event", {"Event": "unsubscribe"}), mode)
    assert response.text == "success" or content is None
    with session_scope(server.settings) as session:  # type: ignore[attr-defined]
        assert not session.get(WechatFollower, openid).active


@pytest.mark.parametrize("mode", MODES)
def test_menu_clicks(server: str, mode: str) -> None:
    _, content = post(server, message_xml("o-menu", "event", {"Event": "CLICK", "EventKey": "营养"}), mode)
    assert content and "挑食" in content
    openid = f"o-person-{mode}"
    _, content = post(server, message_xml(openid, "event", {"Event": "CLICK", "EventKey": "找人帮忙"}), mode)
    assert content == prompt_text("replies/human.txt")
    with session_scope(server.settings) as session:  # type: ignore[attr-defined]
        assert session.get(WechatFollower, openid).wants_person_at is not None


@pytest.mark.parametrize("event", [{"Event": "VIEW", "EventKey": "https://example.org"},
                                   {"Event": "SCAN", "EventKey": "1", "Ticket": "t"},
                                   {"Event": "CLICK", "EventKey": "没有这个键"}])
def test_ignored_events_answer_success(server: str, event: dict) -> None:
    response, _ = post(server, message_xml("o-ev", "event", event), "aes")
    assert response.status_code == 200 and response.text == "success"


def test_unknown_message_type_is_success(server: str) -> None:
    response, _ = post(server, message_xml("o-unk", "hologram", {"MsgId": next(_ids)}))
    assert response.status_code == 200 and response.text == "success"


def test_reply_with_cdata_terminator_stays_valid_xml(server: str) -> None:
    # No shipped reply contains "]]>", so render one directly and read it back with a real XML parser.
    import xmltodict

    from bot.wechat.replies import text_reply_xml

    xml = text_reply_xml("a]]>b <c> & d", "o", "gh")
    assert xmltodict.parse(xml)["xml"]["Content"] == "a]]>b <c> & d"


# --- refused input ----------------------------------------------------------------------------------------

def _stored_messages(server: str) -> int:
    return count(server.settings, Message)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
def test_wrong_signature_and_stale_timestamp_are_403(server: str, mode: str) -> None:
    before = _stored_messages(server)
    response, _ = post(server, text_msg("o-bad", "你好"), mode, token="wrong-token")
    assert response.status_code == 403
    response, _ = post(server, text_msg("o-bad", "你好"), mode, timestamp=int(time.time()) - 301)
    assert response.status_code == 403
    assert _stored_messages(server) == before


def test_wrong_msg_signature_is_403(server: str) -> None:
    params, body = signed_request(text_msg("o-bad", "你好"), "aes")
    params["msg_signature"] = "0" * 40
    assert httpx.post(f"{server}/wechat", params=params, content=body).status_code == 403


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
                  ']><xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>'
                  '<MsgType>text</MsgType><Content>&lol2;</Content><MsgId>1</MsgId></xml>')


@pytest.mark.parametrize(("body", "mode"), [
    ("<xml><ToUserName>gh", "plaintext"),                                    # malformed
    ("<xml><MsgType>text</MsgType></xml>", "plaintext"),                     # missing fields
    ("<xml><ToUserName>g</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
     "<MsgType>text</MsgType><Content>x</Content></xml>", "plaintext"),     # text without MsgId
    (BILLION_LAUGHS, "plaintext"),
    (BILLION_LAUGHS, "aes"),
    ("", "plaintext"),
], ids=["malformed", "missing-fields", "no-msgid", "billion-laughs", "billion-laughs-encrypted", "empty"])
def test_bad_xml_is_refused_without_storing(server: str, body: str, mode: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    before = _stored_messages(server)
    params, data = signed_request(body, mode) if body else signed_request("", "plaintext")
    with caplog.at_level("WARNING", logger="handlers.wechat"):
        response = httpx.post(f"{target(server, mode)}/wechat", params=params, content=data)
    assert response.status_code == 400
    assert _stored_messages(server) == before
    assert "wechat request refused (400)" in caplog.text


def test_garbage_ciphertext_and_wrong_appid(server: str) -> None:
    before = _stored_messages(server)
    stamp, nonce = str(int(time.time())), "n"
    garbage = "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0IGF0IGFsbA=="
    params = {"signature": sign(TOKEN, stamp, nonce), "timestamp": stamp, "nonce": nonce, "encrypt_type": "aes",
              "msg_signature": sign(TOKEN, stamp, nonce, garbage)}
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>"
    assert httpx.post(f"{server}/wechat", params=params, content=body).status_code == 400
    params, body = signed_request(text_msg("o-appid", "你好"), "aes", app_id="wxsomeoneelse0000")
    assert httpx.post(f"{server}/wechat", params=params, content=body).status_code == 400
    assert _stored_messages(server) == before


def test_oversize_body_is_413(server: str) -> None:
    before = _stored_messages(server)
    params, body = signed_request(text_msg("o-big", "长" * 30_000))
    assert len(body) > 64 * 1024
    assert httpx.post(f"{server}/wechat", params=params, content=body).status_code == 413
    assert _stored_messages(server) == before


def test_every_post_answers_within_the_deadline(server: str) -> None:
    started = time.monotonic()
    response, content = post(server, text_msg("o-fast", "娃儿眼睛看不清黑板咋办"), "aes")
    assert response.status_code == 200 and content
    assert time.monotonic() - started < 4.5
