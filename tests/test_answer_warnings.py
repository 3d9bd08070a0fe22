"""要警惕 and the plan for a named worry reach the reader when the question is about danger or a worry."""

from __future__ import annotations

import pytest

from bot.pipeline import Conversation
from bot.prompts import prompt_text


@pytest.fixture(scope="module")
def convo(module_conversation: Conversation) -> Conversation:
    return module_conversation


def test_a_fever_after_an_earlier_fit_gets_the_plan_for_a_fit(convo: Conversation) -> None:
    composed = convo._answer("娃以前高烧抽过，这次又发烧了我好怕", []).composed
    assert composed.grounded and composed.sources[0].doc_id == "growth-fever"
    assert prompt_text("replies/watch_out.txt") in composed.body
    seizure = convo.extractive.articles["safety-seizure"]
    assert seizure.one_liner in composed.body and "safety-seizure" in {s.doc_id for s in composed.sources}


def test_a_fit_question_answered_by_the_fit_article_gets_its_warning_signs(convo: Conversation) -> None:
    composed = convo._answer("孙子去年发烧抽过一回筋，今天又烧起来了", []).composed
    article = composed.sources[0].doc_id
    assert article in ("safety-seizure", "growth-fever")
    assert prompt_text("replies/watch_out.txt") in composed.body
    assert "抽" in composed.body and "120" in composed.body


def test_a_plain_fever_question_gets_no_worry_plan(convo: Conversation) -> None:
    composed = convo._answer("娃发烧了怎么给他降温", []).composed
    assert composed.grounded and prompt_text("replies/worry_plan.txt").split("《")[0] not in composed.body


def test_a_bleeding_bite_gets_the_extra_injection_warning(convo: Conversation) -> None:
    composed = convo._answer("狗咬出血了，还要加打什么针", []).composed
    assert composed.sources[0].doc_id == "safety-dog-bite" and "加打" in composed.body
