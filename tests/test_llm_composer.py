"""The optional LLM composer against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from bot.answer.llm import LLMComposer, numbers_grounded
from bot.answer.model import Composed
from bot.config import Settings
from bot.metrics import LLM_FALLBACKS
from bot.pipeline import Conversation, Inbound
from bot.storage.migrate import upgrade
from tests.fakes.openai_server import FakeOpenAI

QUESTION = "景德镇村小的童心驿站一周开几天"


@pytest.fixture
def fake_llm():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def llm_convo(fake_llm: FakeOpenAI, built_settings: Settings, knowledge_index, tmp_path) -> Conversation:
    settings = Settings(**{
        **built_settings.model_dump(),
        "database_url": f"sqlite:///{tmp_path / 'llm.db'}",
        "llm_base_url": fake_llm.base_url, "llm_api_key": "test-key", "llm_model": "fake-model",
        "llm_timeout_seconds": 1.0,
    })
    upgrade(settings)
    return Conversation(settings, index=knowledge_index)


def test_numbers_grounding_check() -> None:
    assert numbers_grounded("每周开5天，每天2小时", ["每周开放不少于5天、每日开放2小时以上"])
    assert not numbers_grounded("每周开7天", ["每周开放不少于5天"])
    assert numbers_grounded("先问问儿童主任", ["任何材料"])
    assert numbers_grounded("1. 先问老师。\n2. 每周5天。", ["每周开放不少于5天"])


def test_llm_answer_is_used_when_grounded(fake_llm: FakeOpenAI, llm_convo: Conversation) -> None:
    fake_llm.script.content = "童心驿站每周开5天，每天开2小时以上。\n1. 问问班主任开放时间。"
    outcome = llm_convo.handle(Inbound(user_id="l1", text=QUESTION))
    assert outcome.composer == "llm" and outcome.grounded
    assert outcome.reply_text.startswith("童心驿站每周开5天")
    assert "出处：《" in outcome.reply_text
    # The background risk re-check may call the model too, in any order: find the answer request.
    answers = [r for r in list(fake_llm.script.requests) if "只根据下面给你的“资料”回答" in r["messages"][0]["content"]]
    assert len(answers) == 1
    sent = answers[0]
    assert sent["model"] == "fake-model"
    assert "童心驿站" in sent["messages"][1]["content"]


def test_markdown_from_the_model_is_stripped(fake_llm: FakeOpenAI, llm_convo: Conversation) -> None:
    fake_llm.script.content = "**童心驿站**每周开5天。"
    outcome = llm_convo.handle(Inbound(user_id="l2", text=QUESTION))
    assert outcome.composer == "llm" and "**" not in outcome.reply_text


@pytest.mark.parametrize("mode", ["stall", "error", "garbage"])
def test_failures_fall_back_to_extractive_within_the_deadline(
    fake_llm: FakeOpenAI, llm_convo: Conversation, mode: str
) -> None:
    fake_llm.script.mode = mode
    fake_llm.script.stall_seconds = 5.0
    before = llm_convo.llm.fallbacks
    reason = {"stall": "timeout", "error": "error", "garbage": "unusable"}[mode]
    counted = LLM_FALLBACKS.labels(reason)._value.get()
    started = time.perf_counter()
    outcome = llm_convo.handle(Inbound(user_id=f"l-{mode}", text=QUESTION))
    assert time.perf_counter() - started < 3.0
    assert outcome.composer == "extractive" and outcome.grounded
    assert "5天" in outcome.reply_text
    assert llm_convo.llm.fallbacks == before + 1
    assert LLM_FALLBACKS.labels(reason)._value.get() == counted + 1  # exported on /metrics


def test_invented_numbers_fall_back(fake_llm: FakeOpenAI, llm_convo: Conversation) -> None:
    fake_llm.script.content = "童心驿站每周开7天，每天开8小时。"
    counted = LLM_FALLBACKS.labels("ungrounded")._value.get()
    outcome = llm_convo.handle(Inbound(user_id="l3", text=QUESTION))
    assert outcome.composer == "extractive" and "7天" not in outcome.reply_text
    assert LLM_FALLBACKS.labels("ungrounded")._value.get() == counted + 1


def test_crisis_replies_never_call_the_llm(fake_llm: FakeOpenAI, llm_convo: Conversation) -> None:
    fake_llm.script.mode = "stall"
    started = time.perf_counter()
    outcome = llm_convo.handle(Inbound(user_id="l4", text="孙子说不想活了，已经写好遗书了"))
    assert outcome.level == "red" and time.perf_counter() - started < 2.5
    assert fake_llm.script.requests == []


def test_not_covered_questions_do_not_reach_the_llm(fake_llm: FakeOpenAI, llm_convo: Conversation) -> None:
    outcome = llm_convo.handle(Inbound(user_id="l5", text="孙子的户口怎么迁到城里"))
    assert not outcome.grounded and fake_llm.script.requests == []


def test_composer_from_settings_uses_the_configured_url(fake_llm: FakeOpenAI) -> None:
    composer = LLMComposer.from_settings(Settings(llm_base_url=fake_llm.base_url, llm_timeout_seconds=0.5))
    assert composer.deadline == 0.5


def test_the_clients_own_timeout_counts_as_a_timeout() -> None:
    # The client's timeout equals the deadline: when it fires first, /metrics must still say "timeout".
    class APITimeoutError(Exception):
        pass

    class Stalling:
        def invoke(self, messages):  # type: ignore[no-untyped-def]
            raise APITimeoutError("Request timed out.")

    composer = LLMComposer(Stalling(), 2.0)
    counted = LLM_FALLBACKS.labels("timeout")._value.get()
    fallback = Composed(body="extractive", grounded=True)
    assert composer.compose("问题", [], fallback) is fallback
    assert LLM_FALLBACKS.labels("timeout")._value.get() == counted + 1
