"""Per-visitor rate limit on POST /api/chat (web chat and API users): green messages over the limit get the
"please slow down" text; a red message is never held back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.config import Settings
from bot.prompts import prompt_text
from tests.fakes.app_server import API_HEADERS, serve_app


@pytest.fixture(scope="module")
def server(built_settings: Settings, knowledge_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("limit") / "limit.db"
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{db}",
                           "web_rate_limit_per_minute": 3})
    yield from serve_app(settings, knowledge_index)


def test_over_the_limit_green_waits_and_red_goes_through(server: str) -> None:
    limited = prompt_text("replies/rate_limited.txt")
    with httpx.Client(base_url=server, timeout=30) as web:
        web.get("/")  # the visitor cookie
        replies = [web.post("/api/chat", json={"text": f"孩子第{i}颗牙松了怎么办"}).json()["reply"] for i in range(4)]
        assert limited not in replies[:3] and replies[3] == limited
        red = web.post("/api/chat", json={"text": "孩子说不想活了，已经爬到窗台上"}).json()
        assert red["level"] == "red" and "12356" in red["reply"] and isinstance(red["case_id"], str)
    other = httpx.post(f"{server}/api/chat", json={"user_id": "someone-else", "text": "孩子牙松了怎么办"},
                       headers=API_HEADERS, timeout=30)
    assert other.json()["reply"] != limited  # the limit is per visitor
