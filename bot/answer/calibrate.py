"""`python -m bot.answer.calibrate`: fits the answer confidence (bot/answer/confidence.py) from the knowledge
base itself, and writes bot/answer/calibration/confidence.json.

Training questions, none from any evaluation set:
- every article's `questions:` (front matter), each a positive for its own article (weighted half: those
  wordings are embedded with the article, so they match better than a new question would);
- bot/answer/calibration/questions.jsonl: paraphrases written for this calibration (a positive for the
  document named in `doc`) and out-of-scope questions (`doc` null, the negatives).
A positive whose document is not among the hits that can answer is left out (retrieval missed it: neither
answering nor refusing would be right). Deterministic: fixed folds, lbfgs, rounded coefficients. The threshold
is chosen on out-of-fold probabilities of the written questions: the one with the most out-of-scope questions
refused plus in-scope questions answered (see `choose_threshold`).

Needs an ingested data dir (TONGBAN_DATA_DIR) and scikit-learn (`pip install -e '.[train]'`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.confidence import ARTIFACT, FEATURES, TOP, features
from bot.answer.extractive import ExtractiveComposer
from bot.config import Settings, get_settings
from bot.jsonl import read_jsonl
from bot.retrieval.search import KnowledgeIndex
from bot.text import normalize
from knowledge.loader import load_corpus

QUESTIONS = Path(__file__).resolve().parent / "calibration" / "questions.jsonl"
ARTICLE_WEIGHT = 0.5
FOLDS = 5
SEED = 13


@dataclass(frozen=True)
class Example:
    question: str
    doc: str | None
    source: str  # "article", "paraphrase" or "out_of_scope"


def examples(knowledge_dir: Path, questions: Path = QUESTIONS) -> list[Example]:
    corpus = load_corpus(knowledge_dir)
    out = [Example(q, article.id, "article") for article in corpus.articles.values() for q in article.questions]
    for row in read_jsonl(questions):
        doc = row.get("doc")
        out.append(Example(str(row["question"]), doc, "paraphrase" if doc else "out_of_scope"))
    return out


def digest(items: list[Example]) -> str:
    """Identifies the training questions: the shipped artifact must match the current knowledge and data."""
    sha = hashlib.sha256()
    for e in sorted(items, key=lambda e: (e.source, e.question, e.doc or "")):
        sha.update(json.dumps([e.question, e.doc, e.source], ensure_ascii=False).encode())
    return sha.hexdigest()[:16]


def feature_rows(settings: Settings, items: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, list[str]]:
    """(features, labels, weights, left out, sources) for the examples retrieval can be judged on."""
    index = KnowledgeIndex(settings)
    # Exact in-process vector search: Chroma's approximate index may order near-ties differently run to run.
    index.load_vectors()
    corpus = load_corpus(settings.knowledge_dir)
    composer = ExtractiveComposer(index, corpus.articles, {})
    rows, labels, weights, sources = [], [], [], []
    left_out = 0
    for item in items:
        question = normalize(item.question)
        hits = index.search(question, k=settings.search_k, mode="local")
        values = features(hits, composer.support(question, hits), settings.rrf_k)
        if values is None:
            left_out += 1
            continue
        if item.doc is not None and item.doc not in {h.doc_id for h in hits[:TOP]}:
            left_out += 1
            continue
        rows.append([round(v, 4) for v in values])  # float noise of the embedder must not move the fit
        labels.append(int(item.doc is not None))
        weights.append(ARTICLE_WEIGHT if item.source == "article" else 1.0)
        sources.append(item.source)
    return np.array(rows, dtype=float), np.array(labels), np.array(weights), left_out, sources


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, class_weight="balanced", solver="lbfgs", max_iter=1000)
    model.fit(scaler.transform(x), y, sample_weight=w)
    return scaler, model


def out_of_fold(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    probs = np.zeros(len(y))
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(x, y):
        scaler, model = _fit(x[train], y[train], w[train])
        probs[test] = model.predict_proba(scaler.transform(x[test]))[:, 1]
    return probs


def refusal_figures(probs: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    refused = probs < threshold
    negatives = int((y == 0).sum())
    right = int((refused & (y == 0)).sum())
    return {
        "not_covered_precision": round(right / refused.sum(), 3) if refused.sum() else 1.0,
        "out_of_scope_refused": round(right / negatives, 3) if negatives else 1.0,
        "in_scope_answered": round(float((~refused & (y == 1)).sum() / max((y == 1).sum(), 1)), 3),
    }


def choose_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    """The threshold (0.05–0.95) that does best by both kinds of question at once: the share of out-of-scope
    questions refused plus the share of in-scope ones answered, on out-of-fold probabilities of the written
    questions (the articles' own questions match too easily to judge by). Ties go to the higher threshold:
    when unsure, say less. (Refused-precision alone, the old rule, sank to refusing 84 % of out-of-scope
    questions once the negatives were realistic.)"""
    def balanced(t: float) -> float:
        figures = refusal_figures(probs, y, t)
        return figures["out_of_scope_refused"] + figures["in_scope_answered"]

    return max((t / 100 for t in range(5, 96)), key=lambda t: (round(balanced(t), 6), t))


def calibrate(settings: Settings, out: Path = ARTIFACT) -> dict:
    items = examples(settings.knowledge_dir)
    x, y, w, left_out, sources = feature_rows(settings, items)
    probs = out_of_fold(x, y, w)
    # The figures without the articles' own questions (which match their article better than new wordings do).
    written = np.array([source != "article" for source in sources])
    threshold = choose_threshold(probs[written], y[written])
    scaler, model = _fit(x, y, w)
    import sklearn

    artifact = {
        "features": list(FEATURES),
        "mean": [round(float(v), 4) for v in scaler.mean_],
        "scale": [round(float(v), 4) for v in scaler.scale_],
        "coef": [round(float(v), 4) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 4),
        "threshold": threshold,
        "data": digest(items),
        "examples": {"positives": int(y.sum()), "negatives": int((y == 0).sum()), "left_out": left_out},
        "out_of_fold": refusal_figures(probs, y, threshold),
        "out_of_fold_written_questions": refusal_figures(probs[written], y[written], threshold),
        "embedder": settings.embedder,
        "sklearn": sklearn.__version__,
    }
    out.write_text(json.dumps(artifact, ensure_ascii=False, indent=1) + "\n", "utf-8")
    return artifact


def main() -> None:
    artifact = calibrate(get_settings())
    json.dump({k: artifact[k] for k in ("coef", "intercept", "threshold", "examples", "out_of_fold")}, sys.stdout,
              ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
