"""Value types shared by the triage layers: levels, categories, signals and the Triage result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["red", "yellow", "green"]

LEVEL_RANK: dict[str, int] = {"none": 0, "green": 0, "yellow": 1, "red": 2}

CATEGORIES: tuple[str, ...] = (
    "suicide",
    "self_harm",
    "abuse",
    "sexual_abuse",
    "bullying",
    "missing",
    "emergency",
    "guardian_crisis",
    "emotional",
    "neglect",
)

# Within one level the first category picks the reply: danger to life that needs 120/110 right now comes
# first (a child who drank pesticide needs the ambulance before the counsellor).
CATEGORY_PRIORITY: tuple[str, ...] = (
    "emergency",
    "missing",
    "suicide",
    "self_harm",
    "sexual_abuse",
    "abuse",
    "guardian_crisis",
    "bullying",
    "neglect",
    "emotional",
)


def max_level(*levels: str) -> Level:
    """The most severe of the given levels ("none" counts as green)."""
    best = max(levels, key=lambda lv: LEVEL_RANK[lv], default="green")
    return "green" if best == "none" else best  # type: ignore[return-value]


@dataclass(frozen=True)
class Signal:
    """One lexicon match in one turn of the conversation."""

    group: str
    category: str
    kind: str
    level: str  # what the signal gives on its own: red, yellow or none
    text: str
    start: int
    end: int
    turn: int = 0  # 0 = the current message, 1 = the turn before it, ...
    settled: bool = False  # past and resolved: counts as yellow and joins no red combination


@dataclass(frozen=True)
class Triage:
    """The risk decision for one message in its conversation."""

    level: Level
    categories: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    situation: str = "none"  # what happened (bot.safety.situation.SITUATIONS) or "none"
    speaker: str = "unknown"  # who is writing (bot.safety.speaker.SPEAKERS)
    # whose life is at risk in a suicide or despair message: writer, adult, child or unknown (bot.safety.subject)
    subject: str = "unknown"
    # an abuse message in which the writer says they hit the child themselves (discipline), not someone else
    writer_hits: bool = False
    explanation: tuple[str, ...] = ()  # plain Chinese for counsellors: the words that triggered, where, how sure
    scores: dict[str, Any] | None = field(default=None, compare=False)  # the risk model's probabilities
    # The level of each category (red or yellow), when triage computed them; empty for a Triage built elsewhere.
    category_levels: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def category(self) -> str:
        """The most severe category, or "none"."""
        return self.categories[0] if self.categories else "none"

    @property
    def red_categories(self) -> tuple[str, ...]:
        """The categories that are red on their own (in `categories` order); without per-category levels, the
        most severe category of a red message."""
        if self.category_levels:
            return tuple(c for c in self.categories if self.category_levels.get(c) == "red")
        return self.categories[:1] if self.level == "red" else ()
