"""The optional LLM risk re-check: background only, can raise a level, never lowers one."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.safety.second_opinion import parse_opinion
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case
from tests.fakes.openai_server import FakeOpenAI

MARKER = "儿童安全风险复核员"


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def convo(fake: FakeOpenAI, built_settings: Settings, knowledge_index, tmp_path) -> Conversation:
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{tmp_path / 's.db'}",
                           "llm_base_url": fake.base_url, "llm_timeout_seconds": 1.0})
    upgrade(settings)
    return Conversation(settings, index=knowledge_index)


def wait_for_case(convo: Conversation, user_external: str, seconds: float = 5.0, severity: str | None = None
                  ) -> Case | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with session_scope(convo.settings) as session:
            case = session.scalar(select(Case))
            if case is not None and severity in (None, case.severity):
                return case
        time.sleep(0.05)
    return None


@pytest.mark.parametrize(
    ("raw", "level"),
    [('{"level": "red", "category": "suicide"}', "red"), ('好的。{"level":"yellow","category":"x"}', "yellow"),
     ("不确定", None), ('{"level": "purple"}', None), ("{bad json}", None)],
)
def test_parse_opinion(raw: str, level: str | None) -> None:
    opinion = parse_opinion(raw)
    assert (opinion.level if opinion else None) == level


def test_higher_opinion_opens_a_case_after_the_reply(fake: FakeOpenAI, convo: Conversation) -> None:
    fake.script.by_marker = {MARKER: '{"level": "red", "category": "suicide"}'}
    fake.script.content = "孩子挑食，要定时吃饭。"
    outcome = convo.handle(Inbound(user_id="so1", text="孩子最近不爱吃饭，总说以后就不麻烦大家了"))
    assert outcome.level in ("green", "yellow")  # the reply follows the deterministic triage
    case = wait_for_case(convo, "so1", severity="red")  # the deterministic triage may open a yellow case first
    assert case is not None and case.severity == "red" and "llm second opinion" in case.reasons


def test_lower_opinion_never_lowers(fake: FakeOpenAI, convo: Conversation) -> None:
    fake.script.by_marker = {MARKER: '{"level": "green", "category": "none"}'}
    outcome = convo.handle(Inbound(user_id="so2", text="孙子这几天天天哭，说想妈妈，饭也不吃"))
    assert outcome.level == "yellow"
    time.sleep(0.5)
    with session_scope(convo.settings) as session:
        case = session.get(Case, outcome.case_id)
        assert case.severity == "yellow" and case.status == "open"


def test_a_stalled_model_does_not_delay_the_reply(fake: FakeOpenAI, convo: Conversation) -> None:
    fake.script.mode = "stall"
    fake.script.stall_seconds = 3.0
    started = time.perf_counter()
    convo.handle(Inbound(user_id="so3", text="你好"))
    assert time.perf_counter() - started < 1.0


def test_red_messages_are_not_sent_for_review(fake: FakeOpenAI, convo: Conversation) -> None:
    convo.handle(Inbound(user_id="so4", text="孙子说不想活了，刚才爬到楼顶上去了"))
    time.sleep(0.3)
    assert not any(MARKER in str(r["messages"][0]["content"]) for r in fake.script.requests)
