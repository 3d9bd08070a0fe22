"""Long messages: triage reads every character, storage keeps the whole text (up to a generous cap, then the
beginning and the end), and only the reply is short. Through /wechat (safe mode) and /api/chat over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.safety.triage import WINDOW_CHARS, windows
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, ChannelUser, Message
from tests.fakes.app_server import serve_app
from tests.fakes.wechat_api import AES_KEY, APP_ID, TOKEN, message_xml, reply_content, signed_request

FILLER = "今天天气不错，我们去地里摘了菜，回来一起做了饭。"
CRISES = ["奶奶我不想活了，还问我农药放在哪", "我不想活了"]
POSITIONS = [550, 2000, 4000]
API_KEY = "test-api-key-0123456789"
_ids = iter(range(30_000_000, 39_999_999))


def long_text(position: int, crisis: str, after: int = 30) -> str:
    """Ordinary text with `crisis` starting at character `position`, then a little more ordinary text."""
    before = (FILLER * (position // len(FILLER) + 1))[:position]
    return before + crisis + FILLER[:after]


class ServerUrl(str):
    settings: Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("long") / "var"
    settings = Settings(data_dir=data, wechat_token=TOKEN, wechat_aes_key=AES_KEY, wechat_app_id=APP_ID,
                        api_key=API_KEY, wechat_rate_limit_per_minute=1000, web_rate_limit_per_minute=1000)
    for url in serve_app(settings, None):  # no knowledge index: crisis replies never need one
        served = ServerUrl(url)
        served.settings = settings
        yield served


def stored(settings: Settings, channel: str, user: str) -> tuple[str, int | None, str | None]:
    with session_scope(settings) as session:
        row = session.execute(
            select(Message.text, Message.case_id, Case.severity)
            .join(ChannelUser, ChannelUser.id == Message.user_id).outerjoin(Case, Case.id == Message.case_id)
            .where(ChannelUser.channel == channel, ChannelUser.external_id == user, Message.direction == "in")
        ).one()
        return row.text, row.case_id, row.severity


@pytest.mark.parametrize("crisis", CRISES)
@pytest.mark.parametrize("position", POSITIONS)
def test_crisis_late_in_a_long_wechat_message_is_red_and_stored_whole(server: str, position: int, crisis: str) -> None:
    openid = f"o-long-{position}-{len(crisis)}"
    text = long_text(position, crisis)
    xml = message_xml(openid, "text", {"Content": text, "MsgId": next(_ids)})
    params, body = signed_request(xml, "aes")
    response = httpx.post(f"{server}/wechat", params=params, content=body, timeout=30)
    assert response.status_code == 200
    content = reply_content(response.content, params)
    assert content and "12356" in content and len(content.encode()) <= 2048
    saved, case_id, severity = stored(server.settings, "wechat", openid)
    assert saved == text and case_id is not None and severity == "red"


@pytest.mark.parametrize("crisis", CRISES)
@pytest.mark.parametrize("position", POSITIONS)
def test_crisis_late_in_a_long_api_message_is_red_and_stored_whole(server: str, position: int, crisis: str) -> None:
    user = f"api-long-{position}-{len(crisis)}"
    text = long_text(position, crisis)
    response = httpx.post(f"{server}/api/chat", json={"user_id": user, "text": text},
                          headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == "red" and body["case_id"] is not None and "12356" in body["reply"]
    saved, case_id, severity = stored(server.settings, "api", user)
    assert saved == text and severity == "red"


def test_long_web_chat_message_is_red_and_stored_whole(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as page:
        html = page.get("/").text
        assert 'maxlength="8000"' in html  # the page does not cut what the grandparent types either
        text = long_text(4000, CRISES[1])
        body = page.post("/api/chat", json={"text": text}).json()
        assert body["level"] == "red" and body["case_id"] is not None
        history = page.get("/api/chat/history").json()["messages"]
        assert any(m["author"] == "visitor" and m["text"] == text for m in history)


def test_text_over_the_store_cap_keeps_beginning_and_end_and_is_triaged_whole(tmp_settings: Settings) -> None:
    settings = tmp_settings.model_copy(update={"max_stored_chars": 1000})
    upgrade(settings)
    convo = Conversation(settings)
    text = long_text(3000, CRISES[0], after=10) + FILLER * 40  # the crisis lies in the part not stored
    outcome = convo.handle(Inbound("cap-1", text, "api"))
    assert outcome.level == "red" and outcome.case_id is not None
    saved, _, severity = stored(settings, "api", "cap-1")
    assert severity == "red" and len(saved) < 1100
    assert saved.startswith(text[:600]) and saved.endswith(text[-300:]) and "没有保存" in saved


def test_triage_reads_long_texts_in_linear_time() -> None:
    from bot.safety import triage

    triage(FILLER)  # load the lexicon and the exemplar index
    started = time.perf_counter()
    assert triage(long_text(9500, CRISES[1])).level == "red"
    assert time.perf_counter() - started < 5.0
    text = "好" * 1234
    parts = windows(text)
    assert all(len(part) == WINDOW_CHARS for _, part in parts)
    assert parts[0][0] == 0 and parts[-1][0] + WINDOW_CHARS == len(text)
    assert all(b[0] - a[0] < WINDOW_CHARS - len("我不想活了") for a, b in zip(parts, parts[1:]))
