"""Dialect words are searched as the Mandarin the knowledge base is written in (knowledge/dialect.yaml)."""

from __future__ import annotations

from bot.retrieval.expand import expand_query, plain_mandarin


def test_cantonese_and_southwestern_words_become_mandarin() -> None:
    assert plain_mandarin("个仔返学成日睇手机 有冇办法") == "儿子上学整天看手机 有没有办法"
    assert plain_mandarin("伢子屋头莫得人管 咋个办") == "孩子家里没有人管 怎么办"


def test_mandarin_words_that_contain_dialect_characters_are_left_alone() -> None:
    text = "学校食堂的饮食卫生怎么样"
    assert plain_mandarin(text) == text


def test_expansion_works_on_the_mandarin_form() -> None:
    assert "有没有" in expand_query("细路有冇得打疫苗")
