"""The profile end to end through a real server (SQLite): the web chat page's /api/chat, the console's case page
(「自己说的」 vs 「工作人员填的」, a counsellor's entry kept until the person corrects it) and /wechat."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.prompts import prompt_yaml
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, ChannelUser, Contact
from tests.fakes.app_server import serve_app
from tests.fakes.console import add_account, csrf_of, login
from tests.fakes.wechat_api import APP_ID, TOKEN, message_xml, reply_content, signed_request

TEXTS = prompt_yaml("profile.yaml")
LABELS = prompt_yaml("console_labels.yaml")["profile_set_by"]
VISION = "学校一学期给孩子查几次视力"


class Server(str):
    settings: Settings


@pytest.fixture(scope="module")
def server(built_settings: Settings, knowledge_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("profile") / "profile.db"
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{db}", "wechat_token": TOKEN,
                           "wechat_app_id": APP_ID, "wechat_app_secret": "s", "wechat_aes_key": "",
                           "wechat_rate_limit_per_minute": 1000, "sla_check_seconds": 3600})
    upgrade(settings)
    for url in serve_app(settings, knowledge_index):
        served = Server(url)
        served.settings = settings
        yield served


@pytest.fixture
def family(server: Server) -> Iterator[httpx.Client]:
    """A browser that opened the web chat page (it holds the visitor cookie)."""
    with httpx.Client(base_url=server, timeout=30) as client:
        assert client.get("/").status_code == 200
        yield client


def say(family: httpx.Client, text: str) -> dict:
    response = family.post("/api/chat", json={"text": text})
    assert response.status_code == 200
    return response.json()


def test_web_chat_learns_the_profile_and_answers_for_the_place(family: httpx.Client) -> None:
    hello = say(family, "你好，我是小军的奶奶")
    assert "记下了：您是孩子的奶奶" in hello["reply"] and hello["level"] == "green"
    unknown = say(family, VISION)
    assert "各地规定不一样，比如景德镇：" in unknown["reply"] and TEXTS["ask_region"] in unknown["reply"]
    place = say(family, "兰溪")
    assert place["reply"].startswith(TEXTS["region_noted"].format(place="兰溪")) and "在兰溪，" in place["reply"]
    assert place["sources"][0]["doc_id"] == "lanxi-child-development-14th"
    again = say(family, "学校多久给孩子检查一次眼睛")
    assert TEXTS["ask_region"] not in again["reply"] and "各地规定不一样" not in again["reply"]
    moved = say(family, "我们搬到安化县了")
    assert moved["reply"].startswith(TEXTS["changed"].format(facts="在安化县"))
    elsewhere = say(family, VISION)
    assert "安化县不一定一样" in elsewhere["reply"] and TEXTS["ask_local"].format(home="安化县") in elsewhere["reply"]


def _post(client: httpx.Client, case_id: int, action: str, **fields: str) -> httpx.Response:
    token = csrf_of(client, f"/console/cases/{case_id}")
    return client.post(f"/console/cases/{case_id}/{action}", data={"csrf": token, **fields}, follow_redirects=False)


def _tag(page: str, name: str) -> str | None:
    found = re.search(rf'id="set-by-{name}">([^<]+)<', page)
    return found[1] if found else None


def _region(settings: Settings, case_id: int) -> str:
    with session_scope(settings) as session:
        return session.get(Contact, session.get(Case, case_id).user_id).region


def test_the_case_page_shows_who_said_what_and_a_counsellors_entry_holds(server: Server,
                                                                        family: httpx.Client) -> None:
    say(family, "我是小军的外婆，我们启东这边，孙女上三年级")
    red = say(family, "孙女说活着太累了，今晚就跳河")
    assert red["level"] == "red"
    with session_scope(server.settings) as session:
        case_id = session.scalar(select(Case.id).where(Case.public_ref == red["case_id"]))
    add_account(server.settings, "amy")
    client, _ = login(server, "amy")
    page = client.get(f"/console/cases/{case_id}").text
    assert 'value="外婆"' in page and 'value="启东"' in page and 'value="约8–9岁"' in page
    assert _tag(page, "relationship") == _tag(page, "region") == _tag(page, "child_age") == LABELS["family"]
    _post(client, case_id, "claim")
    saved = _post(client, case_id, "contact", relationship="外婆", child_age="约8–9岁", region="浮梁县", phone="")
    assert saved.status_code == 303
    page = client.get(f"/console/cases/{case_id}").text
    assert _tag(page, "region") == LABELS["counsellor"] and _tag(page, "relationship") == LABELS["family"]
    say(family, "我们启东这边的儿童主任多久来一趟")  # not a correction: the counsellor's entry stays
    assert _region(server.settings, case_id) == "浮梁县"
    say(family, "我不是浮梁的，是启东的")
    assert _region(server.settings, case_id) == "启东"
    assert _tag(client.get(f"/console/cases/{case_id}").text, "region") == LABELS["family"]


def _wechat(server: Server, openid: str, text: str, msg_id: int) -> str | None:
    params, body = signed_request(message_xml(openid, "text", {"Content": text, "MsgId": msg_id}))
    response = httpx.post(f"{server}/wechat", params=params, content=body, timeout=10)
    assert response.status_code == 200
    return reply_content(response.content, params)


def test_wechat_learns_the_profile(server: Server) -> None:
    hello = _wechat(server, "o-profile-1", "你好，我是孩子的爷爷，我们是兰溪的", 77000001)
    assert hello and "记下了：您是孩子的爷爷，在兰溪" in hello
    answer = _wechat(server, "o-profile-1", VISION, 77000002)
    assert answer and "在兰溪，" in answer and "各地规定不一样" not in answer
    with session_scope(server.settings) as session:
        user_id = session.scalar(select(ChannelUser.id).where(ChannelUser.external_id == "o-profile-1"))
        row = session.get(Contact, user_id)
        assert (row.relationship, row.region) == ("爷爷", "兰溪")
