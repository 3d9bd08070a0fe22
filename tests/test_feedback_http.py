"""The learning loop through the real HTTP interfaces (uvicorn on 127.0.0.1, SQLite and PostgreSQL): 👍/👎 from
the web chat, 「有用」/「没用」 from WeChat, and the supervisor's console pages — 「待补充的问题」, 整理的回答,
「命中测试」 — with their permissions and CSRF checks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from itertools import count

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.prompts import prompt_text, prompt_yaml
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import AnswerRecord, AuditEntry, CuratedAnswer, Message
from tests.fakes.app_server import serve_app
from tests.fakes.console import add_account, csrf_of, login
from tests.fakes.wechat_api import TOKEN, message_xml, reply_content, signed_request

KNOWN = "孩子挑食不吃青菜咋办"
UNKNOWN = "孩子左撇子要不要改"
UNKNOWN_AGAIN = "娃是左撇子要不要纠正"
ANSWER = "用左手是娃自己的习惯，不用打骂着改。吃饭、写字哪只手顺手就用哪只手，多夸他做得好的地方。"
RED = "我家孙子跟我说他不想活了，想去死"
_msg_ids = count(70_000_001)


class Server(str):
    settings: Settings


@pytest.fixture
def server(db_settings: Settings, built_settings: Settings, knowledge_index) -> Iterator[Server]:
    settings = Settings(**{**built_settings.model_dump(), "database_url": db_settings.sqlalchemy_url,
                           "chroma_collection": f"h{uuid.uuid4().hex[:10]}", "wechat_token": TOKEN,
                           "sla_check_seconds": 3600, "wechat_rate_limit_per_minute": 1000})
    upgrade(settings)
    add_account(settings, "counsellor1")
    add_account(settings, "sup1", role="supervisor")
    for url in serve_app(settings, knowledge_index):
        served = Server(url)
        served.settings = settings
        yield served


def visitor(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    assert client.get("/").status_code == 200  # the visitor cookie
    return client


def say(client: httpx.Client, text: str) -> dict:
    response = client.post("/api/chat", json={"text": text, "client_msg_id": uuid.uuid4().hex})
    assert response.status_code == 200, response.text
    return response.json()


def bot_messages(client: httpx.Client) -> list[dict]:
    return [m for m in client.get("/api/chat/history").json()["messages"] if m["author"] == "bot"]


def wechat(base: str, openid: str, text: str) -> str:
    params, body = signed_request(message_xml(openid, "text", {"Content": text, "MsgId": next(_msg_ids)}))
    response = httpx.post(f"{base}/wechat", params=params, content=body, timeout=30)
    assert response.status_code == 200
    return reply_content(response.content, params) or ""


def stored(settings: Settings, model, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)))


def test_web_votes_one_per_reply_changeable_only_on_answers(server: Server) -> None:
    family = visitor(server)
    say(family, KNOWN)
    say(family, RED)
    answer, crisis = bot_messages(family)
    assert answer["rateable"] and answer["vote"] is None
    assert not crisis["rateable"]  # no buttons under a crisis reply
    for vote in ("up", "down"):
        response = family.post("/api/chat/feedback", json={"message_id": answer["id"], "vote": vote})
        assert response.status_code == 200 and response.json()["vote"] == vote
    assert bot_messages(family)[0]["vote"] == "down"
    assert stored(server.settings, AnswerRecord) == 1
    assert family.post("/api/chat/feedback", json={"message_id": crisis["id"], "vote": "down"}).status_code == 404
    question_id = family.get("/api/chat/history").json()["messages"][0]["id"]
    assert family.post("/api/chat/feedback", json={"message_id": question_id, "vote": "up"}).status_code == 404
    stranger = visitor(server)
    assert stranger.post("/api/chat/feedback", json={"message_id": answer["id"], "vote": "up"}).status_code == 404
    assert httpx.post(f"{server}/api/chat/feedback", json={"message_id": answer["id"], "vote": "up"}).status_code == 401
    # A cross-site form can send text/plain only: it is not taken.
    plain = family.post("/api/chat/feedback", content=f'{{"message_id": {answer["id"]}, "vote": "up"}}',
                        headers={"content-type": "text/plain"})
    assert plain.status_code == 422
    assert family.post("/api/chat/feedback", json={"message_id": answer["id"], "vote": "meh"}).status_code == 422
    assert bot_messages(family)[0]["vote"] == "down"
    assert family.post("/api/chat/feedback", json={"message_id": answer["id"], "vote": None}).json()["vote"] is None


def test_wechat_family_rates_an_answer_with_a_word_and_a_crisis_is_never_a_vote(server: Server) -> None:
    hint = prompt_text("replies/feedback_hint.txt")
    assert wechat(server, "o-grandma", KNOWN).endswith(hint)
    assert wechat(server, "o-grandma", "没用！") == prompt_yaml("feedback.yaml")["thanks"]["down"]
    with session_scope(server.settings) as session:
        record = session.scalar(select(AnswerRecord))
        assert (record.channel, record.question, record.vote) == ("wechat", KNOWN, "down")
    wechat(server, "o-grandpa", KNOWN)
    crisis = wechat(server, "o-grandpa", "没用，我不想活了")
    assert "12356" in crisis and hint not in crisis
    assert stored(server.settings, AnswerRecord, AnswerRecord.vote.is_not(None)) == 1


def _form_values(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    return found[1] if found else ""


def test_the_supervisor_turns_an_unanswered_question_into_a_curated_answer(server: Server) -> None:
    family, other = visitor(server), visitor(server)
    assert say(family, UNKNOWN)["reply"].startswith(prompt_text("replies/not_covered.txt").splitlines()[0])
    say(other, UNKNOWN + "？")
    wechat(server, "o-1", UNKNOWN_AGAIN)

    counsellor, _ = login(server, "counsellor1")
    refused = counsellor.get("/console/gaps")
    assert refused.status_code == 403 and UNKNOWN not in refused.text
    assert counsellor.get("/console/hit-test").status_code == 403

    sup, _ = login(server, "sup1")
    gaps = sup.get("/console/gaps")
    assert gaps.status_code == 200 and gaps.headers["content-security-policy"]
    group = re.search(r'<li class="card gap" data-count="(\d+)">\s*<h2 class="gap-question">([^<]+)</h2>', gaps.text)
    assert group and (group[1], group[2]) == ("3", UNKNOWN)
    assert "网页聊天 2" in gaps.text and "微信 1" in gaps.text
    write = re.search(r'href="(/console/curated/new\?ids=[0-9,]+)"', gaps.text)[1]
    form = sup.get(write)
    assert _form_values(form.text, "question") == UNKNOWN and UNKNOWN_AGAIN in form.text
    covers = re.findall(r'name="covers" value="([0-9,]+)"', form.text)
    csrf = csrf_of(sup, "/console/gaps")
    fields = {"question": UNKNOWN, "variants": UNKNOWN_AGAIN, "answer": ANSWER, "source_title": "",
              "source_year": "", "covers": covers}

    assert sup.post("/console/curated/new", data={**fields, "csrf": "forged"}).status_code == 403
    assert counsellor.post("/console/curated/new",
                           data={**fields, "csrf": csrf_of(counsellor)}).status_code == 403
    needs_source = sup.post("/console/curated/new", data={**fields, "csrf": csrf, "answer": "发烧到39度要去医院。"})
    assert needs_source.status_code == 409
    assert prompt_yaml("console_feedback.yaml")["errors"]["source_needed"] in needs_source.text
    assert stored(server.settings, CuratedAnswer) == 0

    saved = sup.post("/console/curated/new", data={**fields, "csrf": csrf}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/console/curated?done=saved")
    assert UNKNOWN not in sup.get("/console/gaps").text  # answered

    later = visitor(server)  # in effect at once, for a new phrasing too
    reply = say(later, "孩子左撇子，要不要改呀")["reply"]
    assert reply.startswith(ANSWER)
    listing = sup.get("/console/curated").text
    curated_id = int(re.search(r'<tr id="c(\d+)" data-status="active" data-hits="1"', listing)[1])

    edited = {**fields, "csrf": csrf, "answer": "顺手用哪只手都行，别打骂。"}
    assert sup.post(f"/console/curated/{curated_id}", data=edited, follow_redirects=False).status_code == 303
    assert say(later, UNKNOWN_AGAIN)["reply"].startswith("顺手用哪只手都行")

    before = stored(server.settings, Message)
    test_page = sup.post("/console/hit-test", data={"csrf": csrf, "q": UNKNOWN})
    assert test_page.status_code == 200
    assert f'data-curated="{curated_id}" data-preferred="yes"' in test_page.text
    assert 'data-composer="curated"' in test_page.text and "顺手用哪只手都行" in test_page.text
    assert stored(server.settings, Message) == before  # nothing stored as a family message
    passages = sup.post("/console/hit-test", data={"csrf": csrf, "q": KNOWN}).text
    assert passages.count('class="score-fused"') >= 3 and 'class="score-vector">0.' in passages
    assert re.search(r'class="score-keyword">\d+\.\d\d', passages) and 'data-kind="outreach"' in passages
    assert sup.post("/console/hit-test", data={"csrf": "forged", "q": KNOWN}).status_code == 403

    retired = sup.post(f"/console/curated/{curated_id}/retire", data={"csrf": csrf}, follow_redirects=False)
    assert retired.status_code == 303
    assert not say(later, UNKNOWN)["reply"].startswith("顺手")
    assert 'data-status="retired"' in sup.get("/console/curated").text

    gap_ids = re.search(r'name="ids" value="([0-9,]+)"', sup.get("/console/gaps").text)[1]  # the retired-answer question
    assert sup.post("/console/gaps/dismiss", data={"csrf": csrf, "ids": gap_ids}, follow_redirects=False).status_code == 303
    assert prompt_yaml("console_feedback.yaml")["gaps"]["empty"] in sup.get("/console/gaps").text

    with session_scope(server.settings) as session:
        actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.username == "sup1")))
        refusals = set(session.scalars(select(AuditEntry.action).where(AuditEntry.username == "counsellor1")))
    assert {"view_gaps", "curated_create", "curated_edit", "hit_test", "curated_retire", "gaps_dismiss"} <= actions
    assert {"denied", "csrf_refused"} & refusals
    audit_page = sup.get("/console/audit").text
    assert "新建整理的回答" in audit_page and "命中测试" in audit_page
