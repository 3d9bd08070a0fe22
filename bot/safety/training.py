"""`tongban train triage`: the learned risk model from the labelled corpus in bot/safety/corpus/.

Deterministic: the same corpus gives the same artifact. Steps: read and check every line, drop near-duplicates,
5-fold cross-validation (out-of-fold probabilities give the figures per category, style and speaker and the
decision thresholds, chosen for red recall first), then one fit on everything, written with its thresholds.
The held-out set in benchmarks/data/ is never read here.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import TongbanError
from bot.safety.normalise import normalise
from bot.safety.risk_model import (ARTIFACT_PATH, ARTIFACT_VERSION, CONVERSATION_TURNS, HEADS, LEVEL_CATEGORIES,
                                   RiskModel)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
LEVELS = ("red", "yellow", "green")
CATEGORIES = LEVEL_CATEGORIES
SITUATIONS = {"drowning", "choking", "burn", "fire", "electric_shock", "fall", "seizure", "poisoning", "bite",
              "bleeding", "traffic", "missing", "other", "none"}
SPEAKERS = {"child", "guardian_about_child", "guardian_self", "parent", "bystander"}
RED_RECALL_GOAL = 0.98  # thresholds are chosen on out-of-fold scores to reach these, then as high as allowed
RISK_RECALL_GOAL = 0.96
NEAR_DUPLICATE = 0.92  # cosine of character-trigram vectors
SEED = 13


class CorpusError(TongbanError):
    """A corpus line that cannot be used, with its file and line number."""


@dataclass(frozen=True)
class Example:
    text: str  # what the model sees: earlier turns and the message, one per line
    level: str
    category: str
    situation: str | None
    speaker: str | None
    style: str
    source: str


def example_text(text: str, history: Sequence[str] = ()) -> str:
    return "\n".join([*list(history)[-CONVERSATION_TURNS:], text])


def read_corpus(folder: Path = CORPUS_DIR) -> list[Example]:
    """Every line of every *.jsonl file in `folder`, checked; situation and speaker may be absent."""
    examples: list[Example] = []
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise CorpusError(f"no *.jsonl files in {folder}")
    for path in files:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not JSON ({exc})") from exc
            examples.append(_example(row, where))
    return examples


def _example(row: dict[str, Any], where: str) -> Example:
    level, category = row.get("level"), row.get("category")
    if level not in CATEGORIES or category not in CATEGORIES[level]:
        raise CorpusError(f"{where}: level/category {level}/{category} not allowed")
    situation, speaker = row.get("situation"), row.get("speaker")
    if situation is not None and situation not in SITUATIONS:
        raise CorpusError(f"{where}: situation {situation!r} unknown")
    if speaker is not None and speaker not in SPEAKERS:
        raise CorpusError(f"{where}: speaker {speaker!r} unknown")
    text, history = row.get("text"), row.get("history") or []
    if not isinstance(text, str) or not text.strip() or not all(isinstance(h, str) for h in history):
        raise CorpusError(f"{where}: text and history must be strings")
    return Example(example_text(text, history), level, category, situation, speaker, row.get("style") or "plain",
                   where)


def drop_near_duplicates(examples: list[Example], threshold: float = NEAR_DUPLICATE) -> list[Example]:
    """Keeps the first of any group of lines whose character-trigram vectors are nearly the same."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(analyzer="char", ngram_range=(3, 3)).fit_transform(
        [normalise(e.text) for e in examples])
    dropped: set[int] = set()
    for start in range(0, matrix.shape[0], 1000):
        block = (matrix[start:start + 1000] @ matrix.T).tocoo()
        for row, col, value in zip(block.row, block.col, block.data):
            i = start + int(row)
            if col < i and value >= threshold and col not in dropped:
                dropped.add(i)
    return [e for i, e in enumerate(examples) if i not in dropped]


def _vectorizers() -> list[Any]:
    """Character 1-3 grams and word uni/bigrams (bot/safety/features.py), each tf-idf weighted on its own."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from bot.safety.features import word_grams

    return [TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=60000,
                            dtype=np.float32),
            TfidfVectorizer(analyzer=word_grams, min_df=2, sublinear_tf=True, max_features=60000, dtype=np.float32)]


def _classifier() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=8.0, class_weight="balanced", max_iter=3000)


def _labels(examples: Sequence[Example], head: str) -> list[str | None]:
    return [getattr(e, head) for e in examples]


def fit(examples: Sequence[Example], thresholds: dict[str, float], meta: dict[str, Any]) -> dict[str, Any]:
    """The artifact: the vectorizers over all texts, one classifier per head (on the lines that carry it)."""
    from scipy.sparse import hstack

    vectorizers = _vectorizers()
    texts = [normalise(e.text) for e in examples]
    features = hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
    heads = {}
    for head in HEADS:
        labels = _labels(examples, head)
        rows = [i for i, label in enumerate(labels) if label is not None]
        classifier = _classifier().fit(features[rows], [labels[i] for i in rows])
        classifier.coef_ = classifier.coef_.astype(np.float32)  # half the size; scores are unchanged in practice
        heads[head] = classifier
    return {"version": ARTIFACT_VERSION, "vectorizers": vectorizers, "heads": heads, "thresholds": thresholds,
            "meta": meta}


@dataclass
class CrossValidation:
    """Out-of-fold predictions for every example."""

    p_red: np.ndarray
    p_risk: np.ndarray
    predicted: dict[str, list[str]] = field(default_factory=dict)


def cross_validate(examples: Sequence[Example], folds: int = 5) -> CrossValidation:
    from sklearn.model_selection import StratifiedKFold

    n = len(examples)
    p_red, p_risk = np.zeros(n), np.zeros(n)
    predicted: dict[str, list[str]] = {head: [""] * n for head in HEADS}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    for train, test in splitter.split(np.zeros(n), [e.level for e in examples]):
        model = RiskModel(fit([examples[i] for i in train], {"red": 0.5, "risk": 0.5}, {}))
        probs = model.probabilities([examples[i].text for i in test])
        classes = {head: list(model.heads[head].classes_) for head in HEADS}
        red = probs["level"][:, classes["level"].index("red")]
        p_red[test] = red
        p_risk[test] = red + probs["level"][:, classes["level"].index("yellow")]
        situation = probs["situation"].copy()
        if "none" in classes["situation"]:  # as at run time: an emergency always gets a situation
            situation[:, classes["situation"].index("none")] = -1.0
        probs = {**probs, "situation": situation}
        for head in HEADS:
            for row, i in enumerate(test):
                predicted[head][i] = classes[head][int(np.argmax(probs[head][row]))]
    return CrossValidation(p_red, p_risk, predicted)


def choose_thresholds(examples: Sequence[Example], cv: CrossValidation) -> dict[str, float]:
    """The highest thresholds that still reach the recall goals on out-of-fold scores."""
    gold = np.array([e.level for e in examples])
    return {"red": _highest(cv.p_red[gold == "red"], RED_RECALL_GOAL),
            "risk": _highest(cv.p_risk[gold != "green"], RISK_RECALL_GOAL)}


def _highest(scores: np.ndarray, recall: float) -> float:
    if len(scores) == 0:
        return 0.5
    ranked = np.sort(scores)
    allowed_misses = int(np.floor((1 - recall) * len(ranked)))
    return float(min(0.5, ranked[allowed_misses]))  # never above 0.5: the plain argmax stays a floor


def corpus_digest(examples: Iterable[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.text, e.level, e.category, e.situation, e.speaker], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


@dataclass
class TrainingReport:
    examples: int
    dropped: int
    thresholds: dict[str, float]
    figures: dict[str, dict[str, dict[str, float | int | None]]]
    artifact: Path
    examples_used: list[Example] = field(default_factory=list)
    cross_validation: CrossValidation | None = None


def train(folder: Path = CORPUS_DIR, out: Path = ARTIFACT_PATH, folds: int = 5) -> TrainingReport:
    """Reads the corpus, cross-validates, fits on everything and writes the artifact."""
    import joblib
    import sklearn

    raw = read_corpus(folder)
    examples = drop_near_duplicates(raw)
    cv = cross_validate(examples, folds)
    thresholds = choose_thresholds(examples, cv)
    from bot.retrieval.tokenizer import dictionary_digest

    meta = {"corpus": corpus_digest(examples), "examples": len(examples), "sklearn": sklearn.__version__,
            "words": dictionary_digest()}
    artifact = fit(examples, thresholds, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(artifact, out, compress=3)
    model = RiskModel(artifact)
    levels = [model.level_for(r, k) for r, k in zip(cv.p_red, cv.p_risk)]
    figures = {by: breakdown(examples, levels, cv, by) for by in ("overall", "category", "style", "speaker")}
    return TrainingReport(len(examples), len(raw) - len(examples), thresholds, figures, out, examples, cv)


def breakdown(examples: Sequence[Example], levels: Sequence[str], cv: CrossValidation,
              by: str) -> dict[str, dict[str, float | int | None]]:
    """Red recall, red+yellow recall, green false alarms and head accuracies per group."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        groups["all" if by == "overall" else str(getattr(e, by))].append(i)
    return {name: _figures([examples[i] for i in rows], [levels[i] for i in rows],
                           {h: [cv.predicted[h][i] for i in rows] for h in HEADS})
            for name, rows in sorted(groups.items())}


def _figures(examples: Sequence[Example], levels: Sequence[str],
             predicted: dict[str, list[str]]) -> dict[str, float | int | None]:
    def ratio(hit: int, total: int) -> float | None:
        return round(hit / total, 3) if total else None

    red = [lv for e, lv in zip(examples, levels) if e.level == "red"]
    risk = [lv for e, lv in zip(examples, levels) if e.level != "green"]
    green = [lv for e, lv in zip(examples, levels) if e.level == "green"]
    speakers = [(e.speaker, p) for e, p in zip(examples, predicted["speaker"]) if e.speaker]
    emergencies = [(e.situation, p) for e, p in zip(examples, predicted["situation"])
                   if e.category in ("emergency", "missing") and e.situation]
    return {
        "n": len(examples),
        "red_recall": ratio(sum(lv == "red" for lv in red), len(red)),
        "red_yellow_recall": ratio(sum(lv != "green" for lv in risk), len(risk)),
        "green_false_alarm": ratio(sum(lv != "green" for lv in green), len(green)),
        "speaker_accuracy": ratio(sum(g == p for g, p in speakers), len(speakers)),
        "situation_accuracy": ratio(sum(g == p for g, p in emergencies), len(emergencies)),
    }
