"""Who may speak on which channel: the `api` channel needs the API key (and is off without one), the web chat
visitor id is signed by the server (ids it never issued are refused and replaced), and rate limits count per
client address as well as per user."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.prompts import prompt_text
from bot.storage.migrate import upgrade
from handlers.app import create_app
from handlers.visitor import COOKIE_NAME, SECRET_FILE

KEY = "access-test-key-0123456789"
RED = "我家孙子跟我说他不想活了，想去死"


def app_client(settings: Settings) -> TestClient:
    upgrade(settings)
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def off(tmp_settings: Settings) -> Iterator[TestClient]:
    with app_client(tmp_settings) as client:
        yield client


@pytest.fixture
def keyed(tmp_settings: Settings) -> Iterator[TestClient]:
    with app_client(tmp_settings.model_copy(update={"api_key": KEY})) as client:
        yield client


def test_api_channel_is_off_without_a_key_and_the_web_chat_still_works(off: TestClient) -> None:
    assert off.post("/api/chat", json={"user_id": "someone", "text": "你好"}).status_code == 403
    assert off.post("/api/chat", json={"user_id": "someone", "text": "你好"},
                    headers={"Authorization": "Bearer anything"}).status_code == 403
    assert off.get("/").status_code == 200  # the page issues the signed visitor cookie
    body = off.post("/api/chat", json={"text": "你好"}).json()
    assert body["reply"] == prompt_text("replies/greeting.txt")


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", f"Basic {KEY}", KEY, f"Bearer {KEY}x"])
def test_api_channel_needs_the_key(keyed: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = keyed.post("/api/chat", json={"user_id": "victim", "text": RED}, headers=headers)
    assert response.status_code == 401 and RED not in response.text


def test_api_channel_with_the_key(keyed: TestClient) -> None:
    response = keyed.post("/api/chat", json={"user_id": "partner", "text": RED}, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200 and response.json()["level"] == "red"


@pytest.mark.parametrize("forged", ["x" * 32, "A" * 32 + "." + "B" * 43, "not a token"])
def test_visitor_ids_the_server_never_issued_are_refused_and_replaced(off: TestClient, forged: str) -> None:
    off.cookies.set(COOKIE_NAME, forged)
    assert off.post("/api/chat", json={"text": "你好"}).status_code == 401
    assert off.get("/api/chat/history").status_code == 401
    page = off.get("/")
    issued = page.cookies.get(COOKIE_NAME)
    assert issued and issued != forged and issued.count(".") == 1
    off.cookies.set(COOKIE_NAME, issued)
    assert off.post("/api/chat", json={"text": "你好"}).status_code == 200


def test_web_secret_is_generated_once_and_shared(tmp_settings: Settings) -> None:
    with app_client(tmp_settings) as first:
        first.get("/")
        cookie = first.cookies.get(COOKIE_NAME)
    path = tmp_settings.resolved_data_dir / SECRET_FILE
    assert path.exists() and oct(os.stat(path).st_mode & 0o777) == "0o600"
    with app_client(tmp_settings) as second:  # another worker (or a restart) on the same data dir
        second.cookies.set(COOKIE_NAME, cookie)
        assert second.get("/api/chat/history").status_code == 200
    other = tmp_settings.model_copy(update={"web_secret": "a-configured-secret-value"})
    with app_client(other) as third:  # a different secret: the cookie is not one it issued
        third.cookies.set(COOKIE_NAME, cookie)
        assert third.get("/api/chat/history").status_code == 401


def test_rate_limit_counts_per_client_address(tmp_settings: Settings) -> None:
    settings = tmp_settings.model_copy(update={"web_rate_limit_per_minute": 100, "web_rate_limit_per_ip_per_minute": 3})
    limited = prompt_text("replies/rate_limited.txt")
    with app_client(settings) as client:
        replies = []
        for _ in range(5):  # a new visitor id each time (cleared cookies), one address
            client.cookies.clear()
            client.get("/")
            replies.append(client.post("/api/chat", json={"text": "你好"}).json()["reply"])
        assert limited not in replies[:3] and replies[3:] == [limited, limited]
        red = client.post("/api/chat", json={"text": RED}).json()  # never held back
        assert red["level"] == "red" and "12356" in red["reply"]
