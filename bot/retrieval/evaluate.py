"""hit@1, hit@5 and MRR on a QA file whose facts each list acceptable spellings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from bot.retrieval.search import Hit, KnowledgeIndex


def _norm(text: str) -> str:
    return "".join(text.split())


def _spellings(fact: str | list[str]) -> list[str]:
    # A bare string is one spelling; iterating it would accept any single character.
    return [fact] if isinstance(fact, str) else list(fact)


def covers(texts: Iterable[str], facts: list[list[str]] | list[str]) -> bool:
    """True when the texts together contain one spelling of every fact (a fact is a spelling or a list of them)."""
    joined = _norm("".join(texts))
    return all(any(_norm(spelling) in joined for spelling in _spellings(fact)) for fact in facts)


def first_covering_rank(hits: list[Hit], facts: list[list[str]] | list[str]) -> int | None:
    """1-based rank k at which the top-k hits first cover all facts."""
    for k in range(1, len(hits) + 1):
        if covers((h.text for h in hits[:k]), facts):
            return k
    return None


@dataclass
class RetrievalScores:
    questions: int
    hit1: float
    hit5: float
    mrr: float

    def line(self, label: str) -> str:
        return f"{label:<8} n={self.questions}  hit@1={self.hit1:.3f}  hit@5={self.hit5:.3f}  MRR={self.mrr:.3f}"


def evaluate_retrieval(index: KnowledgeIndex, items: list[dict[str, Any]], mode: str = "hybrid", k: int = 10) -> RetrievalScores:
    grounded = [item for item in items if item.get("kind", "grounded") == "grounded" and item.get("facts")]
    hit1 = hit5 = 0
    reciprocal = 0.0
    for item in grounded:
        rank = first_covering_rank(index.search(item["question"], k=k, mode=mode), item["facts"])
        if rank is not None:
            hit1 += rank == 1
            hit5 += rank <= 5
            reciprocal += 1.0 / rank
    n = max(len(grounded), 1)
    return RetrievalScores(len(grounded), hit1 / n, hit5 / n, reciprocal / n)
