"""The web chat's HTTP side through a real uvicorn server, on SQLite and PostgreSQL: the visitor cookie,
history after a reload, one answer per client message id, counsellor replies, and bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import Case, ChannelUser, Message
from handlers.visitor import COOKIE_NAME
from tests.fakes.app_server import API_HEADERS, serve_app

RED_TEXT = "我家孙子跟我说他不想活了，想去死"


def visitor_part(cookie: str) -> str:
    """The visitor id in a signed cookie (`<id>.<signature>`)."""
    return cookie.rpartition(".")[0]


@pytest.fixture
def server(db_settings: Settings) -> Iterator[str]:
    # No knowledge index: greetings and crisis replies never need one.
    yield from serve_app(db_settings, None)


@pytest.fixture
def visitor(server: str) -> Iterator[httpx.Client]:
    """A browser that opened the chat page: it holds the visitor cookie."""
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.get("/").status_code == 200
        yield client


def test_page_sets_a_long_lived_httponly_visitor_cookie(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        page = client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "童伴" in page.text and "营养" in page.text and "tel:12356" in page.text
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Max-Age=34560000" in cookie and "Path=/" in cookie
        assert "script-src 'self'" in page.headers["content-security-policy"]
        first = client.cookies[COOKIE_NAME]
        assert len(first) >= 20
        client.get("/")
        assert client.cookies[COOKIE_NAME] == first  # a returning visitor keeps the id
    with httpx.Client(base_url=server) as other:
        other.get("/")
        assert other.cookies[COOKIE_NAME] != first


def test_page_assets_are_served_locally(server: str) -> None:
    page = httpx.get(f"{server}/").text
    assert "http://" not in page and "https://" not in page  # no CDN
    for name, kind in (("chat.js", "javascript"), ("chat.css", "text/css"), ("prefs.js", "javascript")):
        asset = httpx.get(f"{server}/static/webchat/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"]
        assert f"/static/webchat/{name}?v=" in page


def test_conversation_continues_after_reload(visitor: httpx.Client, server: str) -> None:
    reply = visitor.post("/api/chat", json={"text": "你好", "client_msg_id": "aaaaaaaa-1"})
    assert reply.status_code == 200 and reply.json()["reply"]
    with httpx.Client(base_url=server, cookies={COOKIE_NAME: visitor.cookies[COOKIE_NAME]}) as reloaded:
        messages = reloaded.get("/api/chat/history").json()["messages"]
        assert [(m["author"], m["text"]) for m in messages] == [("visitor", "你好"), ("bot", reply.json()["reply"])]
        assert messages[0]["client_msg_id"] == "aaaaaaaa-1" and messages[1]["client_msg_id"] is None
        assert reloaded.get("/api/chat/history", params={"after": messages[-1]["id"]}).json() == {"messages": []}
        after_first = reloaded.get("/api/chat/history", params={"after": messages[0]["id"]}).json()["messages"]
        assert [m["id"] for m in after_first] == [messages[1]["id"]]


def test_visitors_see_only_their_own_messages(visitor: httpx.Client, server: str) -> None:
    visitor.post("/api/chat", json={"text": "谢谢"})
    with httpx.Client(base_url=server) as stranger:
        stranger.get("/")
        assert stranger.get("/api/chat/history").json() == {"messages": []}


def test_resent_message_is_answered_once(visitor: httpx.Client, db_settings: Settings) -> None:
    first = visitor.post("/api/chat", json={"text": RED_TEXT, "client_msg_id": "resend-0001"})
    again = visitor.post("/api/chat", json={"text": RED_TEXT, "client_msg_id": "resend-0001"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    messages = visitor.get("/api/chat/history").json()["messages"]
    assert [m["author"] for m in messages] == ["visitor", "bot"]
    with session_scope(db_settings) as session:
        assert len(session.scalars(select(Case)).all()) == 1


def test_red_message_opens_a_case_on_the_web_channel(visitor: httpx.Client, db_settings: Settings) -> None:
    body = visitor.post("/api/chat", json={"text": RED_TEXT}).json()
    assert body["level"] == "red" and "12356" in body["reply"]
    assert not body["case_id"].isdigit()  # the family sees the public reference, never the sequential number
    assert [m["level"] for m in visitor.get("/api/chat/history").json()["messages"]] == ["red", "red"]
    with session_scope(db_settings) as session:
        case = session.scalar(select(Case).where(Case.public_ref == body["case_id"]))
        assert case is not None and case.channel == "web" and case.severity == "red"
        user = session.get(ChannelUser, case.user_id)
        assert user is not None and user.external_id == visitor_part(visitor.cookies[COOKIE_NAME])


def test_counsellor_reply_appears_in_history(visitor: httpx.Client, db_settings: Settings) -> None:
    visitor.post("/api/chat", json={"text": "你好"})
    seen = visitor.get("/api/chat/history").json()["messages"]
    with session_scope(db_settings) as session:  # what the counsellor console stores for a web visitor
        user = session.scalar(select(ChannelUser).where(ChannelUser.channel == "web",
                                                        ChannelUser.external_id == visitor_part(visitor.cookies[COOKIE_NAME])))
        assert user is not None
        session.add(Message(user_id=user.id, direction="out", author="counsellor", text="您好，我是县里的社工小李。"))
    new = visitor.get("/api/chat/history", params={"after": seen[-1]["id"]}).json()["messages"]
    assert [(m["author"], m["text"]) for m in new] == [("counsellor", "您好，我是县里的社工小李。")]
    # Read from the start, the authors are still told apart.
    assert [m["author"] for m in visitor.get("/api/chat/history").json()["messages"]] == ["visitor", "bot", "counsellor"]


def test_callers_with_a_user_id_keep_the_api_channel(visitor: httpx.Client, db_settings: Settings) -> None:
    body = {"user_id": "partner-7", "text": "你好", "client_msg_id": "partner-msg-1"}
    first = visitor.post("/api/chat", json=body, headers=API_HEADERS).json()
    assert first == visitor.post("/api/chat", json=body, headers=API_HEADERS).json()
    assert visitor.get("/api/chat/history").json() == {"messages": []}  # not the visitor's conversation
    with session_scope(db_settings) as session:
        user = session.scalar(select(ChannelUser).where(ChannelUser.external_id == "partner-7"))
        assert user is not None and user.channel == "api"
        assert len(session.scalars(select(Message).where(Message.user_id == user.id)).all()) == 2


@pytest.mark.parametrize(("params", "status"), [
    ({"after": "-1"}, 422), ({"after": "abc"}, 422), ({"limit": "0"}, 422), ({"limit": "1000"}, 422),
])
def test_bad_history_query_is_422(visitor: httpx.Client, params: dict, status: int) -> None:
    assert visitor.get("/api/chat/history", params=params).status_code == status


def test_history_without_visitor_cookie_is_401(server: str) -> None:
    assert httpx.get(f"{server}/api/chat/history").status_code == 401
    assert httpx.get(f"{server}/api/chat/history", cookies={COOKIE_NAME: "not a token"}).status_code == 401


@pytest.mark.parametrize("payload", [
    {"text": "你好", "client_msg_id": "short"}, {"text": "你好", "client_msg_id": "has space 123"},
    {"text": "你好", "client_msg_id": "x" * 65}, {"text": "长" * 10_001}, {"text": None},
])
def test_bad_chat_input_from_the_page_is_422(visitor: httpx.Client, payload: dict) -> None:
    assert visitor.post("/api/chat", json=payload).status_code == 422


def test_chat_without_user_id_or_cookie_is_401(server: str) -> None:
    assert httpx.post(f"{server}/api/chat", json={"text": "你好"}).status_code == 401
    forged = httpx.post(f"{server}/api/chat", json={"text": "你好"}, cookies={COOKIE_NAME: "x"})
    assert forged.status_code == 401
