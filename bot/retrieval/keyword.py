"""BM25 keyword index over chunk search texts (bm25s), built once per process from stored tokens."""

from __future__ import annotations

import numpy as np
import bm25s


class KeywordIndex:
    """Ranks chunk positions for a tokenised query."""

    def __init__(self, corpus_tokens: list[list[str]]) -> None:
        self._size = len(corpus_tokens)
        self._bm25 = bm25s.BM25()
        if self._size:
            self._bm25.index([toks or [""] for toks in corpus_tokens], show_progress=False)
        self._vocab = set(self._bm25.vocab_dict) if self._size else set()

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        """Top-k (position, score) pairs with a positive score."""
        tokens = [t for t in query_tokens if t in self._vocab]
        if not tokens or not self._size:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens))
        k = min(k, self._size)
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = sorted(((int(i), float(scores[i])) for i in top if scores[i] > 0), key=lambda p: -p[1])
        return ranked
