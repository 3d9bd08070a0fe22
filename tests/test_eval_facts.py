"""Fact matching in the evaluations: a fact is one spelling or a list of acceptable spellings."""

from bot.retrieval.evaluate import covers


def test_a_list_of_spellings_accepts_any_one() -> None:
    assert covers(["每个月去一次"], [["一月一次", "每个月去一次"]])


def test_a_bare_string_fact_must_appear_whole() -> None:
    # A bare string used to be iterated character by character, so any one shared character counted.
    assert not covers(["孩子每学期查一次视力"], ["每年两次"])
    assert covers(["孩子每学期查一次视力"], ["每学期"])


def test_every_fact_is_needed_and_spaces_are_ignored() -> None:
    assert covers(["拨打 12356 心理援助热线"], ["12356", ["心理援助", "心理咨询"]])
    assert not covers(["拨打12356"], ["12356", "12355"])
