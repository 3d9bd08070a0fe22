"""POST /api/chat through a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import re

import httpx
import pytest

from bot.config import Settings
from bot.storage.models import PUBLIC_REF_ALPHABET
from tests.fakes.app_server import API_HEADERS, serve_app


@pytest.fixture(scope="module")
def server(built_settings: Settings, knowledge_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("api") / "api.db"
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{db}"})
    yield from serve_app(settings, knowledge_index)


def test_chat_answers_with_sources(server: str) -> None:
    response = httpx.post(f"{server}/api/chat", json={"user_id": "web-1", "text": "孩子挑食不吃青菜咋办"},
                          headers=API_HEADERS, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"reply", "sources", "level", "case_id"}
    assert body["level"] == "green" and body["case_id"] is None
    assert body["sources"] and set(body["sources"][0]) == {"doc_id", "title", "section"}


def test_chat_red_message_returns_a_case(server: str) -> None:
    response = httpx.post(f"{server}/api/chat", json={"user_id": "web-2", "text": "孙女说活着太累了，今晚就跳河"},
                          headers=API_HEADERS, timeout=30)
    body = response.json()
    assert body["level"] == "red" and re.fullmatch(f"[{PUBLIC_REF_ALPHABET}]{{8}}", body["case_id"])
    assert "12356" in body["reply"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"user_id": "x"}, {"user_id": "", "text": "你好"}, {"user_id": "x", "text": 5},
     {"user_id": "x", "text": "长" * 10_001}, {"user_id": "u" * 200, "text": "你好"}],
)
def test_bad_input_is_422(server: str, payload: dict) -> None:
    response = httpx.post(f"{server}/api/chat", json=payload, headers=API_HEADERS, timeout=10)
    assert response.status_code == 422


def test_not_json_is_422(server: str) -> None:
    response = httpx.post(f"{server}/api/chat", content=b"\xff\x00", headers={"content-type": "application/json"})
    assert response.status_code == 422
