"""The 说明 line that answers what was asked (an age's row of a table, the figure behind a yes/no question)
follows the gist; the questions here are written for the tests, not taken from any evaluation set."""

from __future__ import annotations

import pytest

from bot.answer.extractive import age_fits
from bot.pipeline import Conversation


@pytest.mark.parametrize("question, line, fits", [
    ("我家娃3岁了，一天睡几个钟头", "3到4岁，一天10到13小时。", True),
    ("娃才八个月", "4到11个月，一天12到16小时。", True),
    ("孙子十岁了", "3到4岁，一天10到13小时。", False),
    ("孙子8岁", "4到11个月，一天12到16小时。", False),  # months are not years
    ("一天睡多久", "3到4岁，一天10到13小时。", False),   # no age asked
])
def test_an_age_picks_the_row_of_its_range(question: str, line: str, fits: bool) -> None:
    assert age_fits(question, line) is fits


@pytest.fixture(scope="module")
def convo(module_conversation: Conversation) -> Conversation:
    return module_conversation


@pytest.mark.parametrize("question, article, expected", [
    ("我家娃3岁了，一天该睡几个钟头", "growth-sleep-hours", "10到13小时"),
    ("娃才8个月，一天睡多长时间才够", "growth-sleep-hours", "12到16小时"),
    ("景德镇学校食堂做的饭菜会留样吗", "services-jingdezhen-school-meals", "48 小时"),
    ("兰溪图书馆一年办几回亲子活动", "services-lanxi-reading-venues", "3 次"),
    ("孩子说学校安全课啥时候上，云溪是放假前讲吗", "services-yunxi-school-safety", "安全知识大讲堂"),
])
def test_the_line_that_answers_follows_the_gist(convo: Conversation, question: str, article: str,
                                                expected: str) -> None:
    composed = convo._answer(question, []).composed
    assert composed.grounded and composed.sources[0].doc_id == article
    assert expected in composed.body
    gist = convo.extractive.articles[article].one_liner
    assert composed.body.index(gist) < composed.body.index(expected)


def test_an_age_the_table_does_not_cover_adds_no_row(convo: Conversation) -> None:
    composed = convo._answer("孩子一天要睡多久才够", []).composed
    assert composed.grounded and "一天10到13小时" not in composed.body


@pytest.mark.parametrize("question, national, policy", [
    ("全国心理援助热线是多少", True, False),
    ("心理热线电话多少", False, False),       # a number to call: the national article first
    ("国家规定作业写多久", True, False),
    ("学校有没有营养餐补助", False, True),     # services and rules still prefer the documents
])
def test_a_national_or_phone_question_does_not_prefer_a_county_document(question: str, national: bool,
                                                                         policy: bool) -> None:
    from bot.retrieval.routing import asks_national, prefers_policy
    assert asks_national(question) is national and prefers_policy(question) is policy


def test_the_national_helpline_question_gets_12356_and_no_county_rule(convo: Conversation) -> None:
    # Was a 景德镇 paragraph about teacher training (the policy route lifted every county passage that says 热线).
    composed = convo._answer("全国那个心理援助热线号码是多少", []).composed
    assert composed.grounded and composed.sources[0].doc_id == "services-hotlines"
    assert "12356" in composed.body and "景德镇" not in composed.body


def test_an_article_for_another_age_steps_back() -> None:
    from bot.answer.ages import for_another_age, prefer_age
    from bot.retrieval.search import Hit

    def hit(title: str, kind: str = "outreach") -> Hit:
        return Hit(chunk_id=title, score=0.0, text="", metadata={"kind": kind, "title": title})

    toddler, school, policy = hit("1到2岁的娃一天吃些啥"), hit("上学的娃早饭怎么吃"), hit("2到5岁", "policy")
    assert for_another_age(toddler, 8) and not for_another_age(toddler, 1)
    assert not for_another_age(school, 8) and not for_another_age(policy, 8)  # no range, or not an article
    assert prefer_age([toddler, school, policy], 8) == [school, policy, toddler]
    assert prefer_age([toddler, school], None) == [toddler, school]
