"""Procedure questions about reporting abuse are green; a described event is not; hyperbole is searched plainly."""

from __future__ import annotations

import pytest

from bot.safety import triage
from bot.safety.guards import without_hyperbole
from bot.safety.lexicon import load_lexicon


@pytest.mark.parametrize(
    "text",
    ["发现孩子疑似被家暴，儿童主任要第一时间向谁报告", "发现孩子被家暴要向谁报告", "老师发现学生被虐待要向哪里报告",
     "强制报告制度是什么"],
)
def test_how_to_report_is_a_question_not_an_event(text: str) -> None:
    result = triage(text)
    assert result.level == "green", result.reasons
    assert any(reason.startswith("guard procedure") for reason in result.reasons)


@pytest.mark.parametrize(
    "text",
    ["我孙子被他爸打了，我该向谁报告", "孙子说他爸天天打他，儿童主任要向谁报告", "他爸把孙子吊起来打，要不要报警"],
)
def test_an_event_with_a_reporting_question_is_still_triaged(text: str) -> None:
    assert triage(text).level in ("yellow", "red")


@pytest.mark.parametrize(
    ("text", "searched"),
    [("作业多得要死 烦死了", "作业多    烦  "), ("累死了 孙子不听话咋办", "累   孙子不听话咋办"),
     ("天天死记硬背有什么用", "天天死记硬背有什么用"), ("孙子差点淹死过", "孙子差点淹死过"), ("孙子说不想活了", "孙子说不想活了")],
)
def test_only_the_dying_words_of_hyperbole_leave_the_search_query(text: str, searched: str) -> None:
    assert without_hyperbole(text, load_lexicon()) == searched
