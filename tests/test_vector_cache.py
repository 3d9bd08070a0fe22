"""Shipped passage vectors: a first start takes the bundled corpus's vectors from the package."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.config import Settings
from bot.retrieval.embedders import get_embedder
from bot.retrieval.ingest import ingest
from bot.retrieval.store import VectorStore
from bot.retrieval.vector_cache import VectorCache, write_cache
from knowledge.loader import load_corpus


def test_round_trip_and_mismatches(tmp_path: Path) -> None:
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_cache("fake:model", ["甲", "乙", "甲"], vectors, tmp_path)
    cache = VectorCache.load("fake:model", 4, tmp_path)
    assert len(cache) == 2
    assert np.array_equal(cache.get("乙"), vectors[1])
    assert cache.get("丙") is None
    assert len(VectorCache.load("other:model", 4, tmp_path)) == 0  # another embedder's file is never used
    assert len(VectorCache.load("fake:model", 8, tmp_path)) == 0  # wrong dimension
    (tmp_path / "fake-model.npz").write_bytes(b"not a zip")
    assert len(VectorCache.load("fake:model", 4, tmp_path)) == 0  # unreadable: everything is embedded


def test_shipped_vectors_cover_the_bundled_corpus() -> None:
    """Fails after the knowledge folder changes until `tongban ingest --write-vector-cache` is run."""
    embedder = get_embedder(Settings())
    cache = VectorCache.load(embedder.name, embedder.dim)
    missing = [c.chunk_id for c in load_corpus(Settings().knowledge_dir).chunks if cache.get(c.search_text) is None]
    assert not missing, f"{len(missing)} chunks lack shipped vectors: run `tongban ingest --write-vector-cache`"


def test_cached_vectors_are_used_and_only_changed_chunks_embedded(tmp_path: Path, small_knowledge: Path) -> None:
    cache_dir = tmp_path / "vectors"
    first = ingest(Settings(data_dir=tmp_path / "a", knowledge_dir=small_knowledge), write_vector_cache=True,
                   cache_dir=cache_dir)
    article = sorted((small_knowledge / "outreach").glob("*.md"))[0]
    article.write_text(article.read_text("utf-8").replace("## 一句话\n", "## 一句话\n先别急。", 1), "utf-8")
    planned: list[int] = []
    settings = Settings(data_dir=tmp_path / "b", knowledge_dir=small_knowledge)
    second = ingest(settings, planned=planned.append, cache_dir=cache_dir)
    assert 0 < planned[0] <= 5  # only the changed article's chunks are embedded
    assert second.from_cache == second.chunks - planned[0] == first.chunks - planned[0]
    assert len(VectorStore(settings).ids()) == second.chunks
