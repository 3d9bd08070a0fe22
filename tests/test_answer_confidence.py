"""The calibrated answer confidence: shipped coefficients that match the training data, sensible signs, and
the right top passage no longer refused."""

from __future__ import annotations

import json

import pytest

from bot.answer.calibrate import QUESTIONS, choose_threshold, digest, examples, refusal_figures
from bot.answer.confidence import ARTIFACT, FEATURES, Calibration, features, load, read
from bot.config import PROJECT_ROOT
from bot.jsonl import read_jsonl
from bot.pipeline import Conversation, Inbound
from bot.retrieval.search import Hit

import numpy as np


def test_the_shipped_calibration_matches_the_training_questions() -> None:
    """Changing an article's questions or the calibration file needs `python -m bot.answer.calibrate` again."""
    shipped = json.loads(ARTIFACT.read_text("utf-8"))
    assert shipped["data"] == digest(examples(PROJECT_ROOT / "knowledge")), "run python -m bot.answer.calibrate"
    assert tuple(shipped["features"]) == FEATURES and 0.05 <= shipped["threshold"] <= 0.95


def test_calibration_questions_are_our_own_and_enough() -> None:
    rows = read_jsonl(QUESTIONS)
    assert len(rows) >= 150
    assert sum(1 for r in rows if r["doc"] is None) >= 60 and sum(1 for r in rows if r["doc"]) >= 90
    # None of them comes from a test or evaluation set in the repository.
    scope = {row["question"] for row in read_jsonl(PROJECT_ROOT / "tests" / "data" / "scope_calibration.jsonl")}
    assert not scope & {r["question"] for r in rows}
    assert len({r["question"] for r in rows}) == len(rows)


def test_more_similarity_and_more_matching_words_mean_more_confidence() -> None:
    calibration = load()
    similarity = FEATURES.index("similarity")
    keyword = FEATURES.index("keyword")
    assert calibration.coef[similarity] > 0 and calibration.coef[keyword] > 0
    base = tuple(calibration.mean)
    higher = tuple(v + 2 * s if i == similarity else v for i, (v, s) in enumerate(zip(base, calibration.scale)))
    assert calibration.probability(higher) > calibration.probability(base)


def test_an_unreadable_artifact_is_refused(tmp_path) -> None:
    bad = tmp_path / "confidence.json"
    bad.write_text(json.dumps({"features": ["fused"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0,
                               "threshold": 0.5}), "utf-8")
    with pytest.raises(ValueError):
        read(bad)


def test_features_of_keyword_only_hits_are_none() -> None:
    hit = Hit(chunk_id="c", score=0.1, text="t", metadata={"doc_id": "d"}, similarity=None, keyword_score=3.0)
    assert features([hit], 0.5, 20) is None
    dense = Hit(chunk_id="c", score=0.1, text="t", metadata={"doc_id": "d"}, similarity=0.9, keyword_score=3.0)
    values = features([dense, dense], 0.5, 20)
    assert values is not None and values[FEATURES.index("margin")] == 0.0


def test_threshold_refuses_out_of_scope_and_answers_in_scope_best_together() -> None:
    # Out-of-scope questions score low, in-scope ones high, with one in-scope question among the low ones.
    probs = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9, 0.95])
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    threshold = choose_threshold(probs, labels)
    figures = refusal_figures(probs, labels, threshold)
    assert figures["out_of_scope_refused"] == 1.0 and figures["in_scope_answered"] == 1.0
    assert 0.3 < threshold <= 0.35  # of the equally good thresholds, the highest: when unsure, say less


def test_threshold_weighs_a_refused_in_scope_question_as_much_as_an_answered_out_of_scope_one() -> None:
    # An in-scope question at 0.12 among out-of-scope ones up to 0.4: refusing all four out-of-scope questions
    # costs one in-scope answer (1.0 + 0.8 = 1.8); stopping below it refuses only one (0.25 + 1.0).
    probs = np.array([0.1, 0.2, 0.3, 0.4, 0.12, 0.6, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    threshold = choose_threshold(probs, labels)
    figures = refusal_figures(probs, labels, threshold)
    assert figures["out_of_scope_refused"] + figures["in_scope_answered"] == pytest.approx(1.8)
    assert 0.4 < threshold <= 0.6


def test_probability_is_monotone_in_each_positive_coefficient() -> None:
    calibration = Calibration(features=FEATURES, mean=(0,) * 5, scale=(1,) * 5, coef=(1, 1, 1, 1, 1), intercept=0,
                              threshold=0.5)
    assert calibration.probability((0, 0, 0, 0, 0)) == pytest.approx(0.5)
    assert calibration.confident((0.1, 0, 0, 0, 0)) and not calibration.confident((-0.1, 0, 0, 0, 0))


@pytest.fixture(scope="module")
def convo(module_conversation: Conversation) -> Conversation:
    return module_conversation


@pytest.mark.parametrize("question, doc", [
    # Colloquial questions whose right article ranks first.
    ("娃放学就想去水塘里泡着洗澡，咋个跟他讲", "safety-drowning"),
    ("孙子一到夏天就要去河里耍水", "safety-drowning"),  # refused by the old fixed bar
])
def test_the_right_top_passage_is_not_refused(convo: Conversation, question: str, doc: str) -> None:
    composed = convo._answer(question, []).composed  # the answer itself, whatever triage makes of the words
    assert composed.grounded and composed.sources[0].doc_id == doc


@pytest.mark.parametrize("question", ["我家的羊不吃草怎么办", "城里的房子贷款利率是多少", "帮我查一下明天的火车"])
def test_out_of_scope_is_still_refused(convo: Conversation, question: str) -> None:
    assert not convo._answer(question, []).composed.grounded
    assert not convo.handle(Inbound(user_id="c-out", text=question)).grounded
