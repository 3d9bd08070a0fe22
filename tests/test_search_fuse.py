"""How dense and keyword rankings are fused: the place bonuses and the penalty for another place's rules."""

from __future__ import annotations

from bot.config import Settings
from bot.retrieval.places import Home
from bot.retrieval.search import KnowledgeIndex


def _index(chunks: list[dict]) -> KnowledgeIndex:
    index = KnowledgeIndex.__new__(KnowledgeIndex)  # _fuse reads only these: no manifest, embedder or Chroma
    index.settings = Settings()
    index.chunks = chunks
    index._aliases = {"qidong": ("启东",), "lanxi": ("兰溪",)}
    return index


def _chunk(n: int, kind: str = "outreach", doc_id: str = "national") -> dict:
    return {"chunk_id": f"c{n}", "kind": kind, "doc_id": doc_id, "text": str(n), "extra": {}}


def test_another_places_rule_that_barely_matched_is_still_penalised() -> None:
    # Positions 0-11 are national articles; 12 is a national article found by dense search only (rank 2);
    # 13 is 兰溪's rule ranked 11th by both searches. The asker lives in 启东.
    chunks = [_chunk(n) for n in range(13)] + [_chunk(13, "policy", "lanxi")]
    dense = [(n, 0.9) for n in (0, 1, 12, *range(2, 10))] + [(10, 0.1), (13, 0.1)]
    keyword = [(n, 9.0) for n in range(11)] + [(13, 1.0)]
    index = _index(chunks)
    away = {h.chunk_id: h.score for h in index._fuse(dense, keyword, 14, set(), home=Home("启东", "qidong"))}
    anywhere = {h.chunk_id: h.score for h in index._fuse(dense, keyword, 14, set())}
    assert away["c13"] < anywhere["c13"]  # the penalty applies although no bonus could (rank 11 in both)
    assert away["c12"] == anywhere["c12"]  # a national article is not touched
