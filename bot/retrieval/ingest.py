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

from bot.config import Settings
from bot.retrieval.embedders import get_embedder
from bot.retrieval.store import VectorStore
from bot.retrieval.tokenizer import tokenize
from knowledge.loader import load_corpus

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


@dataclass
class IngestReport:
    """What one ingest run did."""

    chunks: int = 0
    embedded: int = 0
    removed: int = 0
    unchanged: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    changed_docs: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.chunks} chunks: {self.embedded} embedded, {self.removed} removed, "
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
) -> IngestReport:
    """Brings the index in line with the knowledge folder. `progress(n)` is called per embedded batch."""
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
    batch = 64
    for start in range(0, len(to_add), batch):
        part = to_add[start:start + batch]
        vectors = embedder.embed_passages([c.search_text for c in part])
        store.upsert([c.chunk_id for c in part], vectors, [c.text for c in part], [c.metadata() for c in part])
        if progress:
            progress(len(part))
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


def index_exists(settings: Settings) -> bool:
    return read_manifest(settings) is not None
