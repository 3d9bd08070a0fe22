"""Human handoff over /wechat with the fake WeChat API, on SQLite and PostgreSQL: in human mode the passive
reply is `success`; a counsellor's message goes out as 客服消息 (服务号) or, on a 订阅号 that cannot push, as
the passive reply to the family's next message."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.console.replies import send_reply
from bot.prompts import prompt_text
from bot.storage.db import session_scope
from bot.storage.models import Account, Case, WechatOutbox
from tests.fakes.app_server import serve_app
from tests.fakes.console import actor, add_account
from tests.fakes.wechat_api import FakeWeChatAPI, reply_content, signed_request
from tests.test_wechat_endpoint import text_msg, wechat_settings

SEND = "/cgi-bin/message/custom/send"
RED = "孩子说不想活了"
SAFE_NOW = "在身边，我们安全，谢谢老师"
FALL = "孩子从楼梯上摔下来，叫不醒"
QUESTION = "孩子现在在您身边吗？"


@pytest.fixture
def api() -> Iterator[FakeWeChatAPI]:
    with FakeWeChatAPI() as fake:
        yield fake


def _server(db_settings: Settings, api: FakeWeChatAPI, account_type: str) -> Iterator[tuple[str, Settings]]:
    settings = wechat_settings(db_settings, db_settings.sqlalchemy_url, wechat_api_base=api.base_url,
                               wechat_outbox_poll_seconds=0.1, wechat_account_type=account_type)
    for url in serve_app(settings, None):  # crisis replies and human mode need no knowledge index
        yield url, settings


@pytest.fixture
def service(db_settings: Settings, api: FakeWeChatAPI) -> Iterator[tuple[str, Settings]]:
    yield from _server(db_settings, api, "service")


@pytest.fixture
def subscription(db_settings: Settings, api: FakeWeChatAPI) -> Iterator[tuple[str, Settings]]:
    yield from _server(db_settings, api, "subscription")


def send(url: str, openid: str, text: str) -> tuple[str, str | None]:
    params, body = signed_request(text_msg(openid, text), "aes")
    response = httpx.post(f"{url}/wechat", params=params, content=body, timeout=10)
    assert response.status_code == 200
    return response.text, reply_content(response.content, params)


def _counsellor_writes(settings: Settings, openid: str, text: str) -> int:
    """The counsellor amy writes on the newest case (claiming it first when nobody holds it)."""
    with session_scope(settings) as session:
        amy = session.scalar(select(Account.id).where(Account.username == "amy"))
        case_id = session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
    amy = amy or add_account(settings, "amy")
    send_reply(settings, case_id, actor(settings, amy), text)
    return case_id


def _first_response(settings: Settings, case_id: int):  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        return session.get(Case, case_id).first_response_at


def _wait_for(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_service_account_pushes_the_counsellor_and_stays_quiet(service: tuple[str, Settings],
                                                               api: FakeWeChatAPI) -> None:
    url, settings = service
    _, crisis = send(url, "o-grandma", RED)
    assert crisis and "12356" in crisis
    api.slow_path, api.slow_seconds = SEND, 2.0  # the 客服消息 call takes two seconds to be answered
    case_id = _counsellor_writes(settings, "o-grandma", QUESTION)
    assert _first_response(settings, case_id) is None  # written, queued: not yet a response
    _wait_for(lambda: any(call["json"].get("text", {}).get("content") == QUESTION for call in api.calls(SEND)))
    assert api.calls(SEND)[-1]["json"]["touser"] == "o-grandma"
    assert _first_response(settings, case_id) is None  # the API has the message, but has not accepted it yet
    _wait_for(lambda: _first_response(settings, case_id) is not None)  # counted once WeChat accepted it
    api.slow_seconds = 0.0
    raw, content = send(url, "o-grandma", SAFE_NOW)
    assert raw == "success" and content is None  # the counsellor answers, not the bot
    _, emergency = send(url, "o-grandma", FALL)
    assert emergency and "120" in emergency.splitlines()[0]


def test_subscription_account_gives_the_counsellor_message_as_the_next_passive_reply(
        subscription: tuple[str, Settings], api: FakeWeChatAPI) -> None:
    url, settings = subscription
    send(url, "o-sub", RED)
    case_id = _counsellor_writes(settings, "o-sub", QUESTION)
    time.sleep(0.5)  # the outbox worker runs, and must not push a 订阅号's message
    assert not api.calls(SEND)
    with session_scope(settings) as session:
        assert session.scalar(select(WechatOutbox.status).where(WechatOutbox.case_id == case_id)) == "held"
    assert _first_response(settings, case_id) is None  # held: the family has not seen it
    _, content = send(url, "o-sub", SAFE_NOW)
    assert content == QUESTION
    assert _first_response(settings, case_id) is not None  # it went out as the passive reply
    raw, content = send(url, "o-sub", "好的")
    assert raw == "success" and content is None  # given once
    _counsellor_writes(settings, "o-sub", "请一直陪着他")
    _, crisis = send(url, "o-sub", FALL)  # a red reply goes alone, number first; the held message waits
    assert crisis and "120" in crisis.splitlines()[0] and "请一直陪着他" not in crisis
    _, content = send(url, "o-sub", "知道了")
    assert content == "请一直陪着他"
    assert not api.calls(SEND)


def test_subscription_hand_back_line_comes_with_the_next_bot_reply(subscription: tuple[str, Settings]) -> None:
    from bot.casework import workflow as wf
    from bot.conversation.family import tell_family

    url, settings = subscription
    send(url, "o-back", "孩子最近总是哭，说想爸爸妈妈，晚上睡不着")
    case_id = _counsellor_writes(settings, "o-back", "孩子这样多久了？")
    send(url, "o-back", "一个多月了")
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        amy = case.assigned_to
        user_id = case.user_id
        assert wf.hand_back(session, case, actor(settings, amy))
    tell_family(settings, user_id, case_id, prompt_text("replies/handback.txt"))
    _, content = send(url, "o-back", "你好")
    assert content and content.startswith(prompt_text("replies/handback.txt"))
    assert len(content) > len(prompt_text("replies/handback.txt"))  # and the bot's own answer after it


def test_the_whole_story_over_a_service_account(service: tuple[str, Settings], api: FakeWeChatAPI) -> None:
    """Issue 16's story through /wechat (服务号): red -> counsellor -> quiet bot -> new emergency gets 120 ->
    call-back number stored -> hand back (told by 客服消息) -> the bot answers again -> close with the
    mandatory-report record kept on the closed case."""
    from bot.casework import workflow as wf
    from bot.conversation.family import tell_family
    from bot.storage.models import Contact, MandatoryReport

    url, settings = service
    _, crisis = send(url, "o-story", RED)
    assert crisis and "12356" in crisis and prompt_text("replies/ask_callback.txt") in crisis
    case_id = _counsellor_writes(settings, "o-story", QUESTION)
    assert send(url, "o-story", SAFE_NOW) == ("success", None)
    _, emergency = send(url, "o-story", FALL)
    assert emergency and "120" in emergency.splitlines()[0]
    assert send(url, "o-story", "我电话13812345678")[0] == "success"  # human mode: stored, the counsellor answers
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        assert session.get(Contact, case.user_id).phone == "13812345678"
        amy = case.assigned_to
        user_id = case.user_id
        assert wf.hand_back(session, case, actor(settings, amy))
    tell_family(settings, user_id, case_id, prompt_text("replies/handback.txt"))
    _wait_for(lambda: any(call["json"].get("text", {}).get("content") == prompt_text("replies/handback.txt")
                          for call in api.calls(SEND)))
    _, answer = send(url, "o-story", "谢谢老师，孩子没事了")
    assert answer  # the bot answers again
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        wf.record_mandatory_report(session, case, actor(settings, amy), "城关派出所", None, "JB-2026-118")
        wf.close(session, case, actor(settings, amy), next(iter(wf.labels()["outcomes"])), "已转介，回访一次")
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        assert case.status == "closed"
        report = session.scalar(select(MandatoryReport).where(MandatoryReport.case_id == case_id))
        assert (report.reported_to, report.reference) == ("城关派出所", "JB-2026-118")
