"""Calibrated confidence that retrieval found the answer: a small logistic model over five features of the
ranked hits, fitted by `python -m bot.answer.calibrate` and shipped as coefficients (confidence.json).

The features: the fused score of the first hit, the best vector similarity of the hits that can answer, the
best BM25 score among them, the first hit's margin over the second, and how much of the question's weighted
words the best passage holds. A probability below the shipped threshold (chosen for the precision of the
"not covered" replies) means "not covered". Only numpy at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.retrieval.search import Hit

ARTIFACT = Path(__file__).resolve().parent / "calibration" / "confidence.json"
FEATURES = ("fused", "similarity", "keyword", "margin", "coverage")
# Hits that can carry an answer (the composer looks this far for a matching article).
TOP = 4


def features(hits: list[Hit], coverage: float, rrf_k: int) -> tuple[float, ...] | None:
    """The five features, or None when there is no vector similarity (keyword-only search)."""
    if not hits:
        return None
    similarities = [h.similarity for h in hits[:TOP] if h.similarity is not None]
    if not similarities:
        return None
    scale = rrf_k + 1  # a first place in one ranking is worth 1.0
    fused = hits[0].score * scale
    margin = (hits[0].score - hits[1].score) * scale if len(hits) > 1 else fused
    keyword = math.log1p(max((h.keyword_score or 0.0) for h in hits[:TOP]))
    return (fused, max(similarities), keyword, margin, coverage)


@dataclass(frozen=True)
class Calibration:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, values: tuple[float, ...]) -> float:
        z = self.intercept + sum(c * (v - m) / s for c, v, m, s in zip(self.coef, values, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def confident(self, values: tuple[float, ...]) -> bool:
        return self.probability(values) >= self.threshold


def read(path: Path) -> Calibration:
    data = json.loads(path.read_text("utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path}: features {data['features']} are not {list(FEATURES)}; run the calibration again")
    return Calibration(
        features=tuple(data["features"]), mean=tuple(data["mean"]), scale=tuple(data["scale"]),
        coef=tuple(data["coef"]), intercept=float(data["intercept"]), threshold=float(data["threshold"]),
    )


@lru_cache(maxsize=4)
def load(path: Path = ARTIFACT) -> Calibration:
    return read(path)
