"""Families never see the sequential case number: every case has a random public reference (migration 0005
backfills old rows), /api/chat returns it, and the console shows both and finds a case by either."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.casework.cases import normalise_ref, record_case
from bot.config import Settings
from bot.safety import triage
from bot.storage.db import get_engine, session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import PUBLIC_REF_ALPHABET, Case, ChannelUser, Message
from tests.fakes.app_server import API_HEADERS, serve_app
from tests.fakes.console import add_account, add_case, login

REF = re.compile(f"[{PUBLIC_REF_ALPHABET}]{{8}}")


def test_0005_backfills_a_unique_reference_for_every_case(db_settings: Settings) -> None:
    upgrade(db_settings, "0004_message_author")
    with get_engine(db_settings).begin() as conn:
        conn.execute(text("INSERT INTO channel_users (id, channel, external_id, active, created_at, last_seen_at) "
                          "VALUES (1, 'web', 'v1', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        for case_id in (1, 2, 3):
            conn.execute(text(
                "INSERT INTO cases (id, user_id, channel, severity, categories, evidence, reasons, status, "
                "mandatory_report, created_at, updated_at, sla_breach_notified) VALUES "
                f"({case_id}, 1, 'web', 'red', '[]', '[]', '[]', 'closed', false, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, false)"))
    upgrade(db_settings)
    with get_engine(db_settings).connect() as conn:
        refs = [ref for (ref,) in conn.execute(text("SELECT public_ref FROM cases ORDER BY id"))]
    assert len(set(refs)) == 3 and all(REF.fullmatch(ref) for ref in refs)
    with pytest.raises(IntegrityError), get_engine(db_settings).begin() as conn:
        conn.execute(text("UPDATE cases SET public_ref = :ref WHERE id = 2"), {"ref": refs[0]})


def test_new_cases_get_random_references(db_settings: Settings) -> None:
    upgrade(db_settings)
    refs = []
    with session_scope(db_settings) as session:
        for n in range(20):
            user = ChannelUser(channel="wechat", external_id=f"openid-{n}")
            session.add(user)
            session.flush()
            message = Message(user_id=user.id, direction="in", text="孩子说不想活了", level="red")
            session.add(message)
            session.flush()
            change = record_case(session, user, message, triage("孩子说不想活了", semantic=False))
            refs.append(session.get(Case, change.case_id).public_ref)
    assert len(set(refs)) == 20 and all(REF.fullmatch(ref) for ref in refs)
    assert normalise_ref(f" #{refs[0][:4].lower()}-{refs[0][4:]} ") == refs[0]
    assert normalise_ref("1 OR 1=1") == "" and normalise_ref("OIL0") == ""


class Server(str):
    settings: Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("refs") / "var", sla_check_seconds=3600)
    upgrade(settings)
    for url in serve_app(settings, None):
        served = Server(url)
        served.settings = settings
        yield served


def test_api_chat_returns_the_public_reference_not_the_number(server: Server) -> None:
    """Triage runs before retrieval, so a red message is answered without a knowledge index."""
    response = httpx.post(f"{server}/api/chat", json={"user_id": "family-1", "text": "孙女说活着太累了，今晚就跳河"},
                          headers=API_HEADERS, timeout=30)
    body = response.json()
    assert response.status_code == 200 and body["level"] == "red" and REF.fullmatch(body["case_id"])
    with session_scope(server.settings) as session:
        case = session.scalar(select(Case).where(Case.public_ref == body["case_id"]))
        assert case is not None and str(case.id) not in body["case_id"]
    schema = httpx.get(f"{server}/openapi.json").json()["components"]["schemas"]["ChatResponse"]
    assert {"type": "integer"} not in schema["properties"]["case_id"].get("anyOf", [])


def test_console_shows_both_and_finds_a_case_by_reference(server: Server) -> None:
    add_account(server.settings, "finder")
    wanted, other = add_case(server.settings, external_id="find-me"), add_case(server.settings, external_id="not-me")
    with session_scope(server.settings) as session:
        case = session.get(Case, wanted)
        ref, case.status = case.public_ref, "closed"  # a closed case is found too
    client, _ = login(server, "finder")
    for query in (ref, ref.lower(), f"#{ref[:4]}-{ref[4:]}", str(wanted), f"#{wanted}"):
        page = client.get("/console", params={"ref": query}).text
        assert f'data-case="{wanted}"' in page and f'data-case="{other}"' not in page, query
        assert ref in page
    assert 'data-case="' not in client.get("/console", params={"ref": "ZZZZZZZZ"}).text
    assert 'data-case="' not in client.get("/console", params={"ref": "1 OR 1=1"}).text
    assert ref in client.get(f"/console/cases/{wanted}").text


def _holds_integer(value: object, number: int) -> bool:
    """Whether a JSON value holds `number` as an integer, or as a string that is just that number."""
    if isinstance(value, dict):
        return any(_holds_integer(item, number) for item in value.values())
    if isinstance(value, list):
        return any(_holds_integer(item, number) for item in value)
    return (isinstance(value, int) and not isinstance(value, bool) and value == number) or value == str(number)


def test_family_facing_answers_never_carry_the_case_number(server: Server) -> None:
    """The web chat's answer and history (what a family's page reads) name the case by its reference only."""
    for n in range(3):  # the family's case is not case 1: an integer 1 elsewhere would prove nothing
        add_case(server.settings, external_id=f"earlier-{n}")
    with httpx.Client(base_url=server, timeout=30) as family:
        family.get("/")
        answer = family.post("/api/chat", json={"text": "孙女说活着太累了，今晚就跳河"}).json()
        history = family.get("/api/chat/history").json()
    with session_scope(server.settings) as session:
        case = session.scalar(select(Case).where(Case.public_ref == answer["case_id"]))
    assert case is not None and case.id > 3 and REF.fullmatch(answer["case_id"])
    assert not _holds_integer({key: value for key, value in answer.items() if key != "reply"}, case.id)
    assert history["messages"] and all("case_id" not in message for message in history["messages"])
