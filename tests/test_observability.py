"""/metrics, /readyz, request ids and JSON logs, through a real uvicorn server."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from bot.config import Settings
from bot.logs import JsonFormatter
from bot.logsafe import user_ref
from tests.fakes.app_server import API_HEADERS, serve_app


@pytest.fixture(scope="module")
def server(built_settings: Settings, knowledge_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("obs") / "obs.db"
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{db}"})
    yield from serve_app(settings, knowledge_index)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def _sample(metrics: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" ([0-9.e+]+)"
    match = re.search(pattern, metrics)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_messages_cases_and_latency(server: str) -> None:
    before = httpx.get(f"{server}/metrics").text
    httpx.post(f"{server}/api/chat", json={"user_id": "m-1", "text": "孩子牙疼怎么办"},
               headers=API_HEADERS, timeout=30)
    red = httpx.post(f"{server}/api/chat", json={"user_id": "m-2", "text": "我家娃说不想活了，刀都拿出来了"},
                     headers=API_HEADERS, timeout=30).json()
    assert red["level"] == "red"
    after = httpx.get(f"{server}/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    red_before = _sample(before, "tongban_messages_total", channel="api", level="red")
    assert _sample(text, "tongban_messages_total", channel="api", level="red") == red_before + 1
    assert _sample(text, "tongban_cases_opened_total", severity="red") >= 1
    assert _sample(text, "tongban_reply_seconds_count", channel="api", level="red") >= 1
    assert "tongban_outbox_backlog 0.0" in text
    assert "tongban_llm_fallbacks_total" in text or "# HELP tongban_llm_fallbacks_total" in text


def test_readyz_reports_each_part(server: str) -> None:
    body = httpx.get(f"{server}/readyz").json()
    assert body == {"ready": True, "status": "ok", "database": "ok", "index": "ok", "embedder": "ok", "chroma": "ok",
                    "spool": "empty"}


def test_request_id_is_returned_and_logged_without_message_text(server: str, json_lines: io.StringIO) -> None:
    given = httpx.post(f"{server}/api/chat", json={"user_id": "o-secret-openid", "text": "电话13912345678孩子发烧"},
                       headers={"X-Request-ID": "abc-123<script>", **API_HEADERS}, timeout=30)
    assert given.headers["x-request-id"] == "abc-123script"
    fresh = httpx.get(f"{server}/healthz")
    assert re.fullmatch(r"[0-9a-f]{16}", fresh.headers["x-request-id"])
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    access = [e for e in lines if e["logger"] == "tongban.access" and e.get("request_id") == "abc-123script"]
    assert access and access[0]["path"] == "/api/chat" and access[0]["status"] == 200 and access[0]["ms"] >= 0
    raw = json_lines.getvalue()
    assert "13912345678" not in raw and "o-secret-openid" not in raw and "发烧" not in raw


def test_user_ref_is_stable_and_hides_the_id() -> None:
    assert user_ref("o-abc") == user_ref("o-abc") != user_ref("o-abd")
    assert "o-abc" not in user_ref("o-abc")
