"""Articles written for one age (「1到2岁的娃一天吃些啥」) step back when the child is another age."""

from __future__ import annotations

from bot.conversation.profile import age_ranges
from bot.retrieval.search import Hit


def for_another_age(hit: Hit, age: int) -> bool:
    """The hit is an article whose title names an age range that leaves `age` (years) out."""
    if hit.metadata.get("kind") != "outreach":
        return False
    # Ranges only (「1到2岁」, 「0到6岁」): a title naming single ages (「12岁骑单车，16岁骑电动车」) is for everyone.
    ranges = [(low, high) for low, high in age_ranges(str(hit.metadata.get("title") or "")) if low < high]
    return bool(ranges) and not any(low <= age <= high for low, high in ranges)


def prefer_age(hits: list[Hit], age: int | None) -> list[Hit]:
    """The hits with articles for another age moved after the rest (order otherwise kept); unchanged without
    an age. The age the family gave decides between two articles that answer the same words."""
    if age is None:
        return hits
    return [h for h in hits if not for_another_age(h, age)] + [h for h in hits if for_another_age(h, age)]
