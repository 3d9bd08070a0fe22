"""The labelled sets through triage, semantic layer included.

labelled.jsonl is the main set; labelled_more.jsonl targets known weak spots (a child's death wish as an
escape, missing children, abuse with injury now, bystander emergencies) with as many hard negatives.
labelled_holdout.jsonl was written after the last tuning and is only measured (`tongban eval triage
--file ...`), never asserted on or tuned against: it is the honest figure for unseen phrasings.
"""

from collections import Counter
from pathlib import Path

import pytest

from bot.jsonl import read_jsonl
from bot.safety.evaluate import Report, evaluate
from bot.safety.model import CATEGORIES

LABELLED = Path(__file__).with_name("labelled.jsonl")
LABELLED_MORE = Path(__file__).with_name("labelled_more.jsonl")


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


def assert_rates(report: Report, red: float, red_yellow: float, false_alarm: float) -> None:
    """At least these recalls and at most this green false-alarm rate; the misses on failure."""
    overall = report.overall.as_dict()
    misses = "\n".join(f"{m['id']} {m['gold']}->{m['predicted']} {m['text']}" for m in report.misses)
    assert overall["red_recall"] >= red, misses
    assert overall["red_yellow_recall"] >= red_yellow, misses
    assert overall["green_false_alarm"] <= false_alarm, misses


def test_labelled_set_rates(report: Report) -> None:
    assert_rates(report, red=0.98, red_yellow=0.97, false_alarm=0.05)


def test_lexicon_alone_is_nearly_as_good(rows: list[dict]) -> None:
    overall = evaluate(rows, semantic=False).overall.as_dict()
    assert overall["red_recall"] >= 0.98
    assert overall["green_false_alarm"] <= 0.05


@pytest.fixture(scope="module")
def more_rows() -> list[dict]:
    return read_jsonl(LABELLED_MORE)


def test_weak_spot_set_shape(more_rows: list[dict]) -> None:
    levels = Counter(r["level"] for r in more_rows)
    assert levels["red"] >= 90 and levels["green"] >= 90
    assert {"suicide", "missing", "abuse", "emergency"} <= {r["category"] for r in more_rows}


def test_weak_spot_rates(more_rows: list[dict]) -> None:
    # Thresholds a little under what the lexicon reaches now (0.99 / 0.99 / 0.032).
    assert_rates(evaluate(more_rows, semantic=True), red=0.98, red_yellow=0.98, false_alarm=0.05)


def test_weak_spot_rates_lexicon_alone(more_rows: list[dict]) -> None:
    assert_rates(evaluate(more_rows, semantic=False), red=0.98, red_yellow=0.97, false_alarm=0.05)
