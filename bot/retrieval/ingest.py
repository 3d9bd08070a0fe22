"""Incremental ingestion: only chunks whose content hash changed are embedded again.

The manifest (`<data>/index/manifest.json`) keeps every chunk with its BM25 tokens, so keyword search can
start without Chroma, and a run with no changes embeds nothing.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from bot.config import Settings
from bot.retrieval.embedders import Embedder, get_embedder, passage_embedder
from bot.retrieval.store import VectorStore
from bot.retrieval.tokenizer import tokenize
from bot.retrieval.vector_cache import CACHE_DIR, VectorCache, write_cache
from knowledge.loader import load_corpus

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1
BATCH = 32


@dataclass
class IngestReport:
    """What one ingest run did."""

    chunks: int = 0
    embedded: int = 0  # added to the index (from the shipped vectors or embedded now)
    from_cache: int = 0  # of those, vectors taken from the shipped cache
    removed: int = 0
    unchanged: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    changed_docs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.chunks} chunks: {self.embedded} added ({self.from_cache} from shipped vectors), {self.removed} removed, "
            f"{self.unchanged} unchanged{' (rebuilt)' if self.rebuilt else ''} in {self.seconds:.1f}s"
        )
        if self.errors:
            text += f"; {len(self.errors)} file(s) skipped"
        return text


def manifest_path(settings: Settings) -> Path:
    return settings.index_dir / "manifest.json"


def read_manifest(settings: Settings) -> dict[str, Any] | None:
    path = manifest_path(settings)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        log.warning("index manifest unreadable; it will be rebuilt")
        return None
    return data if data.get("version") == MANIFEST_VERSION else None


def _write_manifest(settings: Settings, data: dict[str, Any]) -> None:
    path = manifest_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    os.replace(tmp, path)  # atomic: a reader never sees half a manifest


def ingest(
    settings: Settings,
    rebuild: bool = False,
    progress: Callable[[int], Any] | None = None,
    planned: Callable[[int], Any] | None = None,
    write_vector_cache: bool = False,
    cache_dir: Path = CACHE_DIR,
) -> IngestReport:
    """Brings the index in line with the knowledge folder. `planned(n)` is told how many passages must be
    embedded (not in the shipped cache), then `progress(n)` is called per embedded batch.
    `write_vector_cache` also rewrites the shipped passage vectors for the whole corpus."""
    started = time.perf_counter()
    report = IngestReport()
    corpus = load_corpus(settings.knowledge_dir)
    report.errors = corpus.errors
    embedder = get_embedder(settings)
    store = VectorStore(settings)
    manifest = None if rebuild else read_manifest(settings)
    if rebuild or store.embedder_name() not in (None, embedder.name) or (
        manifest and manifest.get("embedder") != embedder.name
    ):
        store.reset()
        manifest = None
        report.rebuilt = True
    store.collection(embedder.name)
    existing = store.ids()
    old_tokens = {c["content_hash"]: c["tokens"] for c in (manifest or {}).get("chunks", [])}

    wanted = {c.chunk_id: c for c in corpus.chunks}
    to_add = [c for cid, c in wanted.items() if cid not in existing]
    stale = sorted(existing - wanted.keys())
    cache = VectorCache.load(embedder.name, embedder.dim, cache_dir)
    needed = corpus.chunks if write_vector_cache else to_add
    vectors = _passage_vectors([c.search_text for c in needed], cache, settings, embedder, progress, planned)
    by_id = {c.chunk_id: vectors[i] for i, c in enumerate(needed)}
    for start in range(0, len(to_add), BATCH * 4):
        part = to_add[start:start + BATCH * 4]
        store.upsert([c.chunk_id for c in part], np.stack([by_id[c.chunk_id] for c in part]),
                     [c.text for c in part], [c.metadata() for c in part])
    if write_vector_cache:
        write_cache(embedder.name, [c.search_text for c in corpus.chunks], vectors, cache_dir)
    report.from_cache = sum(1 for c in to_add if cache.get(c.search_text) is not None)
    store.delete(stale)

    records = []
    for chunk in corpus.chunks:
        tokens = old_tokens.get(chunk.content_hash) or tokenize(chunk.search_text)
        records.append({**chunk.to_dict(), "chunk_id": chunk.chunk_id, "content_hash": chunk.content_hash, "tokens": tokens})
    _write_manifest(
        settings,
        {"version": MANIFEST_VERSION, "embedder": embedder.name, "dim": embedder.dim, "chunks": records},
    )
    report.chunks = len(corpus.chunks)
    report.embedded = len(to_add)
    report.removed = len(stale)
    report.unchanged = len(corpus.chunks) - len(to_add)
    report.changed_docs = sorted({c.doc_id for c in to_add})
    report.seconds = time.perf_counter() - started
    return report


def _passage_vectors(texts: list[str], cache: VectorCache, settings: Settings, embedder: Embedder,
                     progress: Callable[[int], Any] | None, planned: Callable[[int], Any] | None) -> np.ndarray:
    """One row per text: from the shipped cache where the exact text is known, else embedded in batches."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    missing = []
    for row, text in enumerate(texts):
        known = cache.get(text)
        if known is None:
            missing.append(row)
        else:
            vectors[row] = known
    if planned:
        planned(len(missing))
    if missing:
        builder = passage_embedder(settings)
        for start in range(0, len(missing), BATCH):
            rows = missing[start:start + BATCH]
            vectors[rows] = builder.embed_passages([texts[r] for r in rows])
            if progress:
                progress(len(rows))
    return vectors


def index_exists(settings: Settings) -> bool:
    return read_manifest(settings) is not None
