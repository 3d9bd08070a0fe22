"""Dialect words are searched as the Mandarin the knowledge base is written in (knowledge/dialect.yaml)."""

from __future__ import annotations

import pytest

from bot.retrieval.expand import expand_query, plain_mandarin


def test_cantonese_and_southwestern_words_become_mandarin() -> None:
    assert plain_mandarin("个仔返学成日睇手机 有冇办法") == "儿子上学整天看手机 有没有办法"
    assert plain_mandarin("伢子屋头莫得人管 咋个办") == "孩子家里没有人管 怎么办"
    assert plain_mandarin("我个女系咪发烧 点算") == "我女儿是不是发烧 怎么办"


def test_mandarin_words_that_contain_dialect_characters_are_left_alone() -> None:
    text = "学校食堂的饮食卫生怎么样"
    assert plain_mandarin(text) == text


# Ordinary Mandarin in which a dialect entry straddles two words (个女, 点解, 而家, 返学, 边个, 打机, 么子, 老豆,
# 点样, 点算, 伐): the jieba split keeps the Mandarin words.
@pytest.mark.parametrize("text", [
    "一个女孩子住校安全吗", "我家有两个女儿一个儿子", "为什么子女不在身边补助就少了", "学校重点解决留守儿童的心理问题吗",
    "这个知识点解释一下", "孩子每天往返学校要多久", "然而家里没有大人管他", "孩子成绩好，而家长却不知道",
    "我们这边个别学校不开家长会", "拨打机构电话有人接吗", "老豆腐小孩能吃吗", "孩子有点样子了吗", "差一点算了",
    "孩子走路步伐不稳是怎么回事", "孩子学习一点解不开题", "孩子一个仔细检查都没做", "这个女孩很懂事",
    "农村饮水安全有人管吗", "家长学堂什么时候开", "班上有个女同学老欺负他",
])
def test_ordinary_mandarin_is_unchanged(text: str) -> None:
    assert plain_mandarin(text) == text


def test_expansion_works_on_the_mandarin_form() -> None:
    assert "有没有" in expand_query("细路有冇得打疫苗")
