"""The whole labelled set (tests/safety/labelled.jsonl) through triage, semantic layer included."""

from collections import Counter
from pathlib import Path

import pytest

from bot.jsonl import read_jsonl
from bot.safety.evaluate import Report, evaluate
from bot.safety.model import CATEGORIES

LABELLED = Path(__file__).with_name("labelled.jsonl")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return read_jsonl(LABELLED)


@pytest.fixture(scope="module")
def report(rows: list[dict]) -> Report:
    return evaluate(rows, semantic=True)


def test_labelled_set_covers_every_category(rows: list[dict]) -> None:
    assert len(rows) >= 350
    categories = Counter(r["category"] for r in rows)
    assert all(categories[c] >= 8 for c in CATEGORIES)
    greens = [r for r in rows if r["level"] == "green"]
    assert len(greens) >= 100
    assert sum(1 for r in rows if r.get("session")) >= 20


def test_labelled_set_rates(report: Report) -> None:
    overall = report.overall.as_dict()
    misses = "\n".join(f"{m['id']} {m['gold']}->{m['predicted']} {m['text']}" for m in report.misses)
    assert overall["red_recall"] >= 0.98, misses
    assert overall["red_yellow_recall"] >= 0.97, misses
    assert overall["green_false_alarm"] <= 0.05, misses


def test_lexicon_alone_is_nearly_as_good(rows: list[dict]) -> None:
    overall = evaluate(rows, semantic=False).overall.as_dict()
    assert overall["red_recall"] >= 0.98
    assert overall["green_false_alarm"] <= 0.05
