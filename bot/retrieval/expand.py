"""Query expansion: everyday words guardians use -> the formal words the documents use."""

from __future__ import annotations

from functools import lru_cache

import yaml

from knowledge import KNOWLEDGE_DIR


@lru_cache(maxsize=1)
def _variants() -> tuple[tuple[str, str], ...]:
    data = yaml.safe_load((KNOWLEDGE_DIR / "thesaurus.yaml").read_text("utf-8")) or {}
    pairs = [(str(variant), str(formal)) for formal, variants in data.items() for variant in variants or ()]
    # Longest variants first so 「不想读了」 wins over 「读」-sized fragments.
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


def expand_query(text: str) -> str:
    """`text` plus the formal terms for any everyday expressions it contains (each added once)."""
    added: list[str] = []
    for variant, formal in _variants():
        if variant in text and formal not in text and formal not in added:
            added.append(formal)
    return f"{text} {' '.join(added)}" if added else text
