"""Triage evaluation against a labelled JSONL file: confusion matrix and recall / false-alarm figures."""

from __future__ import annotations

import re

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.safety.model import Triage
from bot.safety.triage import triage

LEVELS = ("red", "yellow", "green")


def with_history(rows: Iterable[dict]) -> Iterator[tuple[dict, list[str]]]:
    """Each row with the earlier texts of its conversation: its own "history" list, or the consecutive rows
    sharing a "session"."""
    session, turns = None, []
    for row in rows:
        if row.get("session") is None or row.get("session") != session:
            turns = []
        session = row.get("session")
        yield row, list(row.get("history") or turns)
        turns.append(row["text"])


@dataclass
class Rates:
    red_total: int = 0
    red_hit: int = 0
    risk_total: int = 0
    risk_hit: int = 0
    green_total: int = 0
    green_alarm: int = 0

    def add(self, gold: str, predicted: str) -> None:
        if gold == "red":
            self.red_total += 1
            self.red_hit += predicted == "red"
        if gold in ("red", "yellow"):
            self.risk_total += 1
            self.risk_hit += predicted in ("red", "yellow")
        else:
            self.green_total += 1
            self.green_alarm += predicted != "green"

    def as_dict(self) -> dict[str, float | int | None]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "red_recall": ratio(self.red_hit, self.red_total),
            "red_yellow_recall": ratio(self.risk_hit, self.risk_total),
            "green_false_alarm": ratio(self.green_alarm, self.green_total),
            "n_red": self.red_total,
            "n_risk": self.risk_total,
            "n_green": self.green_total,
        }


# Replies tell these apart; the corpus labels them as the wider situation (a chemical in the eye is a burn).
CORPUS_SITUATION = {"snakebite": "bite", "eye_chemical": "burn", "stroke": "other", "allergy": "other", "heat": "other"}
# An insect sting is a bite in the corpus's list of situations; a food or drug allergy is "other".
_STING = re.compile(r"蜂|蜇|蛰|螫")


def corpus_situation(situation: str, text: str) -> str:
    """The corpus label that a situation of the replies falls under, for scoring."""
    if situation == "allergy" and _STING.search(text):
        return "bite"
    return CORPUS_SITUATION.get(situation, situation)


@dataclass
class Accuracy:
    """Who is writing (all rows that name a speaker) and what happened (emergencies and missing children)."""

    speaker_total: int = 0
    speaker_hit: int = 0
    risk_speaker_total: int = 0  # red and yellow rows: where the speaker chooses the reply
    risk_speaker_hit: int = 0
    situation_total: int = 0
    situation_hit: int = 0

    def add(self, row: dict, result: Triage) -> None:
        if row.get("speaker"):
            self.speaker_total += 1
            self.speaker_hit += result.speaker == row["speaker"]
            if row.get("level") in ("red", "yellow"):
                self.risk_speaker_total += 1
                self.risk_speaker_hit += result.speaker == row["speaker"]
        if row.get("category") in ("emergency", "missing") and row.get("situation") and result.level == "red":
            self.situation_total += 1
            # Situations only the rules name are scored as the corpus label they fall under.
            self.situation_hit += corpus_situation(result.situation, str(row.get("text", ""))) == row["situation"]

    def as_dict(self) -> dict[str, float | None]:
        return {"speaker_accuracy": round(self.speaker_hit / self.speaker_total, 4) if self.speaker_total else None,
                "speaker_accuracy_risk": round(self.risk_speaker_hit / self.risk_speaker_total, 4)
                if self.risk_speaker_total else None,
                "situation_accuracy": round(self.situation_hit / self.situation_total, 4)
                if self.situation_total else None}


@dataclass
class Report:
    by: str = "category"
    confusion: dict[str, dict[str, int]] = field(default_factory=lambda: {g: dict.fromkeys(LEVELS, 0) for g in LEVELS})
    overall: Rates = field(default_factory=Rates)
    accuracy: Accuracy = field(default_factory=Accuracy)
    per_category: dict[str, Rates] = field(default_factory=lambda: defaultdict(Rates))
    misses: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "confusion": self.confusion,
            "overall": {**self.overall.as_dict(), **self.accuracy.as_dict()},
            "by": self.by,
            "per_category": {c: r.as_dict() for c, r in sorted(self.per_category.items())},
            "misses": self.misses,
        }


def evaluate(rows: Iterable[dict], semantic: bool = True, learned: bool = True, by: str = "category") -> Report:
    """Run triage over labelled rows (with their conversation history) and collect the figures, broken
    down by `by` (category, style, speaker or situation)."""
    report = Report(by=by)
    for row, history in with_history(rows):
        result: Triage = triage(row["text"], history, semantic=semantic, learned=learned)
        gold, predicted = row["level"], result.level
        report.confusion[gold][predicted] += 1
        report.overall.add(gold, predicted)
        report.accuracy.add(row, result)
        report.per_category[str(row.get(by) or "none")].add(gold, predicted)
        if gold != predicted:
            report.misses.append(
                {"id": row.get("id"), "gold": gold, "predicted": predicted, "categories": list(result.categories),
                 "text": row["text"]}
            )
    return report
