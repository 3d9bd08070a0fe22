"""Articles written for one age (「1到2岁的娃一天吃些啥」) step back when the child is another age."""

from __future__ import annotations

import re

from bot.retrieval.search import Hit

# An age range in an article's title, in years: 「1到2岁」, 「2到5岁」, 「0到6岁」.
_TITLE_YEARS_RE = re.compile(r"(\d+)\s*(?:到|至|-|～|~|—)\s*(\d+)\s*岁")


def for_another_age(hit: Hit, age: int) -> bool:
    """The hit is an article whose title names an age range that leaves `age` (years) out."""
    if hit.metadata.get("kind") != "outreach":
        return False
    ranges = [(int(m.group(1)), int(m.group(2))) for m in _TITLE_YEARS_RE.finditer(str(hit.metadata.get("title") or ""))]
    return bool(ranges) and not any(low <= age <= high for low, high in ranges)


def prefer_age(hits: list[Hit], age: int | None) -> list[Hit]:
    """The hits with articles for another age moved after the rest (order otherwise kept); unchanged without
    an age. The age the family gave decides between two articles that answer the same words."""
    if age is None:
        return hits
    return [h for h in hits if not for_another_age(h, age)] + [h for h in hits if for_another_age(h, age)]
