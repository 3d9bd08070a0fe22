"""The learned risk model: character n-gram features and linear heads for level, category, situation, speaker.

Trained by `tongban train triage` from bot/safety/corpus/ (see bot/safety/training.py) into a small versioned
artifact that ships with the package and loads offline. At run time it scores the message as a whole, each
sentence-sized window of it (a crisis sentence buried in a long message is not diluted) and the recent turns
together (risk that builds over a conversation), and reports the highest.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.retrieval.tokenizer import dictionary_digest
from bot.safety.normalise import normalise

log = logging.getLogger(__name__)

ARTIFACT_VERSION = 2  # 2: character grams and word grams (bot/safety/features.py)
ARTIFACT_PATH = Path(__file__).resolve().parent / "artifacts" / "risk_model.joblib"
HEADS = ("level", "category", "situation", "speaker")
CONVERSATION_TURNS = 3  # earlier turns scored together with the current one
WINDOW = 60  # characters per window of a long message
# Categories a level can carry (the model's category head is read within these).
LEVEL_CATEGORIES: dict[str, frozenset[str]] = {
    "red": frozenset({"suicide", "self_harm", "abuse", "sexual_abuse", "missing", "emergency", "guardian_crisis"}),
    "yellow": frozenset({"emotional", "bullying", "neglect", "abuse", "guardian_crisis", "sexual_abuse"}),
    "green": frozenset({"none"}),
}
_CLAUSES = re.compile(r"(?<=[。！？!?；;\n])")
_SENTENCES = re.compile(r"[。！？!?；;\n]+")
MIN_SENTENCE = 4  # shorter pieces (「好的」, 「咋办」) say nothing on their own
LONE_RED, LONE_RISK = 0.8, 0.9  # what a sentence scored without its neighbours must reach to count


@dataclass(frozen=True)
class RiskScores:
    """What the model says about one message in its conversation."""

    level: str
    p_red: float
    p_risk: float  # red + yellow
    category: str
    situation: str
    speaker: str
    speaker_confidence: float
    situation_confidence: float
    trigger: str  # the part of the text that scored highest
    trigger_turn: int  # 0 = the current message, 1 = the one before it, ... (-1 = the turns together)
    probabilities: dict[str, dict[str, float]] = field(default_factory=dict)

    def category_for(self, level: str) -> str:
        """The most likely category this level can carry (for a level other than the model's own)."""
        ranked = sorted(self.probabilities.get("category", {}).items(), key=lambda kv: -kv[1])
        return next((c for c, _ in ranked if c in LEVEL_CATEGORIES[level]), "emotional" if level == "yellow" else "none")

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "p_red": round(self.p_red, 4), "p_risk": round(self.p_risk, 4),
                "category": self.category, "situation": self.situation, "speaker": self.speaker,
                "trigger_turn": self.trigger_turn, "probabilities": self.probabilities}


def sentences(text: str) -> list[str]:
    """The sentences of `text`, split at 。！？； and line breaks. Not at the spaces voice-to-text puts for pauses:
    those pieces are too short to be read without their neighbours (「我不知道写什么」 in a diary question)."""
    return [part.strip() for part in _SENTENCES.split(text) if len(part.strip()) >= MIN_SENTENCE]


def windows(text: str) -> list[str]:
    """The text itself; each of its sentences on its own; and, when it is longer than WINDOW, its clauses packed
    into windows of about WINDOW characters (overlapping by one clause). A short danger sentence beside ordinary
    ones (「…孩子写作业写到很晚。孙女说今晚就跳河」) is diluted in the whole and in a packed window, but not alone."""
    return _parts(text)[0]


def _parts(text: str) -> tuple[list[str], set[str]]:
    """(windows, the lone sentences among them that are neither the text nor a packed window)."""
    packed = packed_windows(text)
    own = sentences(text)
    lone = [s for s in own if len(s) <= WINDOW] if len(own) > 1 else []
    return [text, *dict.fromkeys([*packed, *lone])], set(lone) - {text, *packed}


def packed_windows(text: str) -> list[str]:
    """Clauses packed into windows of about WINDOW characters (none for a text that is shorter)."""
    if len(text) <= WINDOW:
        return []
    clauses = [c for c in _CLAUSES.split(text) if c.strip()]
    parts: list[str] = []
    current: list[str] = []
    for clause in clauses:
        while len(clause) > WINDOW:  # a long run-on voice message without punctuation
            parts.append(clause[:WINDOW])
            clause = clause[WINDOW // 2:]
        if current and sum(map(len, current)) + len(clause) > WINDOW:
            parts.append("".join(current))
            current = current[-1:]
        current.append(clause)
    if current:
        parts.append("".join(current))
    return parts


class RiskModel:
    """Loaded artifact: a fitted vectorizer, one classifier per head and the chosen thresholds."""

    def __init__(self, artifact: dict[str, Any]) -> None:
        if artifact.get("version") != ARTIFACT_VERSION:
            raise ValueError(f"risk model artifact version {artifact.get('version')} != {ARTIFACT_VERSION}")
        self.vectorizers: list[Any] = artifact["vectorizers"]
        self.heads: dict[str, Any] = artifact["heads"]
        self.thresholds: dict[str, float] = artifact["thresholds"]
        self.meta: dict[str, Any] = artifact.get("meta", {})
        # The same arithmetic as each vectorizer's transform, side by side, + predict_proba, without
        # scikit-learn's per-call input checks, which cost more than the sums themselves for one short message
        # (tested to agree).
        self._parts: list[tuple[Any, dict[str, int], np.ndarray, int]] = []
        offset = 0
        for vectorizer in self.vectorizers:
            idf = np.asarray(vectorizer.idf_, dtype=np.float32)
            self._parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, idf, offset))
            offset += len(idf)
        if self.meta.get("words") and self.meta["words"] != dictionary_digest():
            # The words are cut differently from training: scores drift without any error. The rules still floor
            # every decision, so the model is kept, loudly.
            log.error("risk model trained with another jieba dictionary (knowledge/userdict.txt or jieba changed): "
                      "retrain it with `tongban train triage`")
        self._weights = {head: (np.ascontiguousarray(clf.coef_.T, dtype=np.float32),
                                np.asarray(clf.intercept_, dtype=np.float32)) for head, clf in self.heads.items()}

    def level_for(self, p_red: float, p_risk: float) -> str:
        if p_red >= self.thresholds["red"]:
            return "red"
        return "yellow" if p_risk >= self.thresholds["risk"] else "green"

    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per head, one row of class probabilities per text (classes in `heads[head].classes_` order)."""
        rows = [self._features(normalise(t)) for t in texts]
        out = {}
        for head, (weights, intercept) in self._weights.items():
            logits = np.stack([values @ weights[indices] for indices, values in rows]) + intercept
            if logits.shape[1] == 1:  # a two-class head: one logit for the second class
                second = 1.0 / (1.0 + np.exp(-logits[:, 0]))
                out[head] = np.stack([1.0 - second, second], axis=1)
            else:
                logits -= logits.max(axis=1, keepdims=True)
                exp = np.exp(logits)
                out[head] = exp / exp.sum(axis=1, keepdims=True)
        return out

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sublinear tf-idf with l2 norm per vectorizer, as the fitted vectorizers compute it, side by side:
        (indices, values)."""
        all_indices, all_values = [], []
        for analyse, vocabulary, idf, offset in self._parts:
            counts: dict[int, int] = {}
            for gram in analyse(text):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * idf[indices]
            norm = float(np.sqrt(values @ values))
            all_indices.append(indices + offset)
            all_values.append((values / norm if norm else values).astype(np.float32))
        return np.concatenate(all_indices), np.concatenate(all_values)

    def transform(self, texts: Sequence[str]) -> Any:
        """The feature matrix as scikit-learn computes it (for tests and checks; scoring uses `_features`)."""
        from scipy.sparse import hstack

        normalised = [normalise(t) for t in texts]
        return hstack([v.transform(normalised) for v in self.vectorizers]).tocsr()

    def score(self, text: str, history: Sequence[str] = ()) -> RiskScores:
        """Scores `text` after `history` (earlier user turns, oldest first)."""
        earlier = list(history)[-CONVERSATION_TURNS:]
        parts, lone = _parts(text)
        sources = [0] * len(parts)
        if earlier:
            parts.append("\n".join([*earlier, text]))
            sources.append(-1)
        probs = self.probabilities(parts)
        level_classes = list(self.heads["level"].classes_)
        p_level = probs["level"]
        p_red = p_level[:, level_classes.index("red")]
        p_risk = p_red + p_level[:, level_classes.index("yellow")]
        # A sentence read without its neighbours has lost their context (「…哈哈她每次都这么说」): it counts only
        # when it is clearly a danger on its own.
        for i, part in enumerate(parts):
            if part in lone:
                p_red[i] = p_red[i] if p_red[i] >= LONE_RED else 0.0
                p_risk[i] = p_risk[i] if p_risk[i] >= LONE_RISK else p_red[i]
        best = int(np.argmax(p_red + 0.5 * p_risk))
        row = {head: p[best] for head, p in probs.items()}
        whole = {head: p[0] for head, p in probs.items()}  # speaker: the message as a whole says it best
        level = self.level_for(float(p_red.max()), float(p_risk.max()))
        category = self._top("category", row, allowed=LEVEL_CATEGORIES[level])
        situation = self._top("situation", row, allowed=frozenset(self.heads["situation"].classes_) - {"none"}
                              if category in ("emergency", "missing") else None)
        speaker = self._top("speaker", whole)
        return RiskScores(
            level=level, p_red=float(p_red.max()), p_risk=float(p_risk.max()), category=category,
            situation=situation, speaker=speaker,
            speaker_confidence=self._confidence("speaker", whole, speaker),
            situation_confidence=self._confidence("situation", row, situation),
            trigger=parts[best], trigger_turn=sources[best],
            probabilities={head: self._rounded(head, row) for head in HEADS},
        )

    def _top(self, head: str, row: dict[str, np.ndarray], allowed: frozenset[str] | None = None) -> str:
        classes = list(self.heads[head].classes_)
        for index in np.argsort(-row[head], kind="stable"):
            if allowed is None or classes[index] in allowed:
                return str(classes[index])
        return "none"

    def _confidence(self, head: str, row: dict[str, np.ndarray], label: str) -> float:
        classes = list(self.heads[head].classes_)
        return float(row[head][classes.index(label)]) if label in classes else 0.0

    def _rounded(self, head: str, row: dict[str, np.ndarray]) -> dict[str, float]:
        classes = self.heads[head].classes_
        return {str(c): round(float(p), 3) for c, p in zip(classes, row[head]) if p >= 0.01}


@lru_cache(maxsize=2)
def load_risk_model(path: Path = ARTIFACT_PATH) -> RiskModel | None:
    """The shipped model, or None (lexicon only) when the artifact is missing or unreadable."""
    import joblib

    if not path.exists():
        log.warning("risk model artifact missing (%s): triage runs on the lexicon alone", path)
        return None
    try:
        return RiskModel(joblib.load(path))
    except Exception as exc:  # a broken artifact must never stop triage: the lexicon still runs
        log.error("risk model artifact unreadable (%s): triage runs on the lexicon alone", exc)
        return None
