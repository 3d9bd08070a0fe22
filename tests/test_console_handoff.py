"""The console side of the human handoff through a real server, on SQLite and PostgreSQL: claim-and-send puts
the web chat in human mode, the family's next message reaches the live case page (JSON poll, not activity)
without a bot reply, the queue counts unread messages, a claim race names the holder (the page keeps the
unsent text in the browser, never echoed by the server), and
「交还给机器人」 tells the family."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, ConsoleSession
from tests.fakes.app_server import serve_app
from tests.fakes.console import add_account, csrf_of, login

RED = "我家孙子跟我说他不想活了，想去死"
SAFE_NOW = "在身边，我们安全，谢谢老师"


class Server(str):
    settings: Settings


@pytest.fixture
def server(db_settings: Settings) -> Iterator[Server]:
    settings = Settings(**{**db_settings.model_dump(), "sla_check_seconds": 3600})
    upgrade(settings)
    for url in serve_app(settings, None):
        served = Server(url)
        served.settings = settings
        yield served


@pytest.fixture
def family(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as client:
        client.get("/")
        yield client


def _red_case(family: httpx.Client, settings: Settings) -> int:
    """The console's case number of a red case the family opened (the family only sees its reference)."""
    reply = family.post("/api/chat", json={"text": RED}).json()
    assert reply["level"] == "red" and reply["case_id"]
    with session_scope(settings) as session:
        return int(session.scalar(select(Case.id).where(Case.public_ref == reply["case_id"])))


def _last_seen(settings: Settings, account_id: int) -> dt.datetime:
    with session_scope(settings) as session:
        return session.scalar(select(ConsoleSession.last_seen_at).where(ConsoleSession.account_id == account_id))


def _post(client: httpx.Client, case_id: int, action: str, **fields: str) -> httpx.Response:
    token = csrf_of(client, f"/console/cases/{case_id}")
    return client.post(f"/console/cases/{case_id}/{action}", data={"csrf": token, **fields}, follow_redirects=False)


def test_counsellor_and_family_talk_without_the_bot(server: Server, family: httpx.Client) -> None:
    case_id = _red_case(family, server.settings)
    amy = add_account(server.settings, "amy")
    client, _ = login(server, "amy")
    page = client.get(f"/console/cases/{case_id}")
    assert "认领并发送" in page.text and 'data-mode="bot"' in page.text
    after = int(re.search(r'data-after="(\d+)"', page.text)[1])
    sent = _post(client, case_id, "reply", text="孩子现在在您身边吗？")  # claims and sends in one step
    assert sent.status_code == 303
    assert 'data-mode="human"' in client.get(f"/console/cases/{case_id}").text
    history = family.get("/api/chat/history").json()["messages"]
    assert [m["author"] for m in history][-1] == "counsellor"
    answer = family.post("/api/chat", json={"text": SAFE_NOW}).json()
    assert answer["reply"] == "" and answer["case_id"]  # the bot does not talk over the counsellor
    with session_scope(server.settings) as session:
        assert session.scalar(select(Case.id).where(Case.public_ref == answer["case_id"])) == case_id
    seen = _last_seen(server.settings, amy)
    rows = client.get(f"/console/cases/{case_id}/messages", params={"after": after}).json()
    assert [(r["direction"], r["author"], r["text"]) for r in rows] == [
        ("out", "counsellor", "孩子现在在您身边吗？"), ("in", "family", SAFE_NOW)]
    assert rows[0]["by"] == "amy" and rows[1]["level"] in ("green", "yellow", "red") and rows[1]["created_at"]
    assert client.get(f"/console/cases/{case_id}/messages", params={"after": rows[-1]["id"]}).json() == []
    assert _last_seen(server.settings, amy) == seen  # polling is not activity


def test_queue_counts_unread_family_messages_until_the_case_is_seen(server: Server, family: httpx.Client) -> None:
    case_id = _red_case(family, server.settings)
    add_account(server.settings, "amy")
    client, _ = login(server, "amy")
    _post(client, case_id, "reply", text="我是童伴的老师，您别急")
    family.post("/api/chat", json={"text": SAFE_NOW})
    family.post("/api/chat", json={"text": "他刚才吃了点东西"})
    assert 'data-unread="2"' in client.get("/console/queue/rows").text
    client.get(f"/console/cases/{case_id}/messages", params={"after": 0})  # the open case page saw them
    assert "data-unread" not in client.get("/console/queue/rows").text


def test_the_loser_of_a_claim_race_is_told_who_holds_the_case_and_keeps_the_text(
        server: Server, family: httpx.Client) -> None:
    case_id = _red_case(family, server.settings)
    add_account(server.settings, "amy")
    add_account(server.settings, "ben")
    amy, _ = login(server, "amy")
    ben, _ = login(server, "ben")
    ben_token = csrf_of(ben, f"/console/cases/{case_id}")  # ben opened the page while the case was free
    assert _post(amy, case_id, "claim").status_code == 303
    late = ben.post(f"/console/cases/{case_id}/reply", data={"csrf": ben_token, "text": "奶奶您好，我是小李"})
    assert late.status_code == 403 and "amy" in late.text and 'id="unsent-draft"' in late.text
    claim = ben.post(f"/console/cases/{case_id}/claim", data={"csrf": ben_token})
    assert claim.status_code == 403


def test_hand_back_tells_the_family_and_the_bot_answers_again(server: Server, family: httpx.Client) -> None:
    case_id = _red_case(family, server.settings)
    add_account(server.settings, "amy")
    client, _ = login(server, "amy")
    _post(client, case_id, "reply", text="孩子现在在您身边吗？")
    assert _post(client, case_id, "handback").status_code == 303
    assert family.get("/api/chat/history").json()["messages"][-1]["text"] == prompt_text("replies/handback.txt")
    assert family.post("/api/chat", json={"text": "谢谢"}).json()["reply"]  # the bot again
    assert 'data-mode="bot"' in client.get(f"/console/cases/{case_id}").text


def test_another_teams_counsellor_cannot_poll_the_case(server: Server, family: httpx.Client) -> None:
    case_id = _red_case(family, server.settings)
    add_account(server.settings, "cat", teams=("12355",))
    client, _ = login(server, "cat")
    assert client.get(f"/console/cases/{case_id}/messages").status_code == 403


@pytest.mark.parametrize("words", ["找个真人说说话", "我想和老师说说话", "转人工", "有老师吗"])
def test_asking_for_a_person_in_words_puts_the_family_in_the_queue(server: Server, family: httpx.Client,
                                                                   words: str) -> None:
    reply = family.post("/api/chat", json={"text": words}).json()
    assert reply["reply"] == prompt_text("replies/human.txt") and reply["case_id"]
    add_account(server.settings, "boss", role="supervisor")
    client, _ = login(server, "boss")
    with session_scope(server.settings) as session:
        case_id = session.scalar(select(Case.id).where(Case.public_ref == reply["case_id"]))
    assert f'data-case="{case_id}"' in client.get("/console/queue/rows").text


def test_contact_panel_stores_the_person_and_masks_the_phone_in_lists(server: Server, family: httpx.Client) -> None:
    from bot.storage.models import AuditEntry

    case_id = _red_case(family, server.settings)
    add_account(server.settings, "amy")
    client, _ = login(server, "amy")
    _post(client, case_id, "claim")
    bad = _post(client, case_id, "contact", phone="12356")
    assert bad.status_code == 409 and "电话号码格式不对" in bad.text
    saved = _post(client, case_id, "contact", relationship="奶奶", child_age="9岁", region="某县某镇",
                  phone="139 1234 5678")
    assert saved.status_code == 303
    page = client.get(f"/console/cases/{case_id}").text
    assert 'href="tel:13912345678"' in page and 'value="奶奶"' in page and "某县某镇" in page
    rows = client.get("/console/queue/rows").text
    assert "139****5678" in rows and "13912345678" not in rows
    with session_scope(server.settings) as session:
        detail = session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "contact"))
    assert detail["phone"] == "139****5678" and detail["relationship"] == "奶奶"


def test_one_search_box_finds_by_case_number_reference_or_phone(server: Server, family: httpx.Client) -> None:
    case_id = _red_case(family, server.settings)
    add_account(server.settings, "boss", role="supervisor")
    boss, _ = login(server, "boss")
    _post(boss, case_id, "contact", phone="13912345678")
    with session_scope(server.settings) as session:
        ref = session.get(Case, case_id).public_ref
    queue = boss.get("/console").text
    assert queue.count('type="search"') == 1 and 'name="ref"' not in queue  # one box
    found = (str(case_id), f"#{case_id}", ref, ref.lower(), f"#{ref[:4]}-{ref[4:]}", "5678", "139 1234 5678",
             "+86 139-1234-5678")
    for query in found:
        assert f'data-case="{case_id}"' in boss.get("/console/queue/rows", params={"q": query}).text, query
    for query in ("13800000000", "678", "ZZZZZZZZ", "1 OR 1=1", "1391234"):
        assert f'data-case="{case_id}"' not in boss.get("/console/queue/rows", params={"q": query}).text, query
    _post(boss, case_id, "claim")
    _post(boss, case_id, "close", outcome="resolved")  # a family calling back about a closed case is found too
    assert f'data-case="{case_id}"' not in boss.get("/console/queue/rows").text
    assert f'data-case="{case_id}"' in boss.get("/console/queue/rows", params={"q": "5678"}).text
    assert f'data-case="{case_id}"' not in boss.get("/console/queue/rows", params={"q": "5678", "status": "open"}).text
