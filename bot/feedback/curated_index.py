"""The curated answers, searchable. Matching runs in memory (query-to-question vectors and a BM25 index), so
it costs no Chroma call even on the crisis path; the vectors also live in their own Chroma collection
(metadata kind "curated"), so restarts and other workers reuse them instead of embedding again.

The database is the home of curated answers: this index is rebuilt from it at start-up, after
`tongban ingest`, at once after a console change in this worker, and within `curated_refresh_seconds` in
other workers. A failure here never costs a family its reply: the bot then answers from the knowledge base.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pathlib import Path

import numpy as np
from sqlalchemy import func, inspect, make_url, select

from bot.answer.model import Composed, Source
from bot.config import Settings
from bot.feedback.records import CURATED_PREFIX
from bot.retrieval.embedders import Embedder, get_embedder
from bot.retrieval.expand import expand_query
from bot.retrieval.keyword import KeywordIndex
from bot.retrieval.store import VectorStore
from bot.retrieval.tokenizer import tokenize
from bot.storage.db import get_engine, session_scope
from bot.storage.models import CuratedAnswer
from bot.text import clean_for_search

log = logging.getLogger(__name__)
KIND = "curated"


@dataclass(frozen=True)
class CuratedEntry:
    """An active curated answer as the index holds it."""

    id: int
    question: str
    variants: tuple[str, ...]
    answer: str
    source_title: str = ""
    source_year: int | None = None

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.variants)

    @property
    def search_text(self) -> str:
        return "\n".join((*self.phrasings, self.answer))

    def composed(self) -> Composed:
        """The answer as a composer's result; its source names it (doc_id "curated:<id>") and its 出处."""
        year = f"{self.source_year}年" if self.source_year else ""
        source = Source(doc_id=f"{CURATED_PREFIX}{self.id}", title=self.source_title, section=year, kind=KIND)
        return Composed(body=self.answer, sources=(source,), grounded=True, composer=KIND, evidence=(self.answer,))


@dataclass(frozen=True)
class CuratedMatch:
    entry: CuratedEntry
    similarity: float  # best cosine between the question and one of the entry's phrasings
    phrasing: str  # that phrasing
    keyword_score: float | None
    preferred: bool  # similarity reaches curated_min_similarity: the bot gives this answer


@dataclass
class _Snapshot:
    entries: list[CuratedEntry] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))
    owners: list[int] = field(default_factory=list)  # entry position of each matrix row
    keyword: KeywordIndex = field(default_factory=lambda: KeywordIndex([]))
    revision: tuple = ()


def _row_id(entry_id: int, text: str) -> str:
    """Chroma id of one phrasing: an edited phrasing gets a new id (the old one is deleted as stale)."""
    return f"curated-{entry_id}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


class CuratedIndex:
    """Loaded once per process (Conversation.curated); `best` is safe to call from several threads."""

    def __init__(self, settings: Settings, embedder: Callable[[], Embedder] | None = None) -> None:
        self.settings = settings
        self._embedder = embedder or (lambda: get_embedder(settings))
        self._chroma = settings.model_copy(update={"chroma_collection": f"{settings.chroma_collection}_{KIND}"})
        self._snapshot = _Snapshot()
        self._lock = threading.Lock()
        self._checked = 0.0  # monotonic time of the last revision check
        self.chroma_ok = True

    # --- loading ---------------------------------------------------------------------------------------------

    def _revision(self) -> tuple:
        with session_scope(self.settings) as session:
            active = session.scalar(select(func.count(CuratedAnswer.id)).where(CuratedAnswer.status == "active"))
            changed = session.scalar(select(func.max(CuratedAnswer.updated_at)))
        return (active, str(changed))

    def _load_entries(self) -> list[CuratedEntry]:
        with session_scope(self.settings) as session:
            rows = session.scalars(select(CuratedAnswer).where(CuratedAnswer.status == "active")
                                   .order_by(CuratedAnswer.id)).all()
            return [CuratedEntry(row.id, row.question, tuple(str(v) for v in row.variants or ()), row.answer,
                                 row.source_title, row.source_year) for row in rows]

    def refresh(self, force: bool = False, wait: bool = True) -> int:
        """Reloads from the database when it changed (always with `force`); returns the active entries.
        A database or Chroma failure keeps what was loaded and is logged. With `wait=False` a reload that
        another thread is already doing is not waited for."""
        if not self._lock.acquire(blocking=wait):
            return len(self._snapshot.entries)
        try:
            self._checked = time.monotonic()
            revision = self._revision()
            if force or revision != self._snapshot.revision:
                self._snapshot = self._build(self._load_entries(), revision)
        except Exception:  # database down or not migrated: answers come from the knowledge base meanwhile
            log.warning("curated answers not reloaded", exc_info=True)
        finally:
            self._lock.release()
        return len(self._snapshot.entries)

    def _build(self, entries: list[CuratedEntry], revision: tuple) -> _Snapshot:
        texts, owners, ids = [], [], []
        for position, entry in enumerate(entries):
            for phrasing in entry.phrasings:
                texts.append(clean_for_search(phrasing, self.settings.max_input_chars))
                owners.append(position)
                ids.append(_row_id(entry.id, phrasing))
        matrix = self._vectors(ids, texts, owners, entries)
        keyword = KeywordIndex([tokenize(entry.search_text) for entry in entries])
        return _Snapshot(entries, matrix, owners, keyword, revision)

    def _vectors(self, ids: list[str], texts: list[str], owners: list[int], entries: list[CuratedEntry]) -> np.ndarray:
        """Query vectors of the phrasings: from Chroma where stored, else embedded now and stored there."""
        embedder = self._embedder()
        matrix = np.zeros((len(ids), embedder.dim), dtype=np.float32)
        missing = list(range(len(ids)))
        store: VectorStore | None = None
        try:
            store = VectorStore(self._chroma)
            if store.embedder_name() not in (None, embedder.name):
                store.reset()
            collection = store.collection(embedder.name)
            if ids:
                got = collection.get(ids=ids, include=["embeddings"])
                known = {cid: vector for cid, vector in zip(got["ids"], got["embeddings"])}
                for row, cid in enumerate(ids):
                    if cid in known:
                        matrix[row] = known[cid]
                missing = [row for row, cid in enumerate(ids) if cid not in known]
            self.chroma_ok = True
        except Exception as exc:  # Chroma down: embed here; stored next time
            log.warning("curated answers: Chroma unavailable, embedding locally: %s", exc)
            store, self.chroma_ok = None, False
        if missing:
            matrix[missing] = embedder.embed_queries([texts[row] for row in missing])
        if store is not None:
            try:
                if missing:
                    store.upsert([ids[row] for row in missing], matrix[missing], [texts[row] for row in missing],
                                 [{"kind": KIND, "curated_id": entries[owners[row]].id} for row in missing])
                store.delete(sorted(store.ids() - set(ids)))
            except Exception as exc:
                log.warning("curated answers not stored in Chroma: %s", exc)
                self.chroma_ok = False
        return matrix

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._checked >= self.settings.curated_refresh_seconds:
            self.refresh(wait=False)

    # --- matching ----------------------------------------------------------------------------------------------

    def matches(self, query: str, k: int = 3, refresh: bool = True) -> list[CuratedMatch]:
        """The `k` curated answers most similar to `query`, best first (raises on embedder failure)."""
        if refresh:
            self._maybe_refresh()
        snap = self._snapshot
        text = clean_for_search(query or "", self.settings.max_input_chars)
        if not snap.entries or not text:
            return []
        scores = snap.matrix @ self._embedder().embed_queries([text])[0]
        best: dict[int, tuple[float, int]] = {}
        for row, score in enumerate(scores):
            owner = snap.owners[row]
            if owner not in best or score > best[owner][0]:
                best[owner] = (float(score), row)
        keyword = dict(snap.keyword.search(tokenize(expand_query(text)), len(snap.entries)))
        threshold = self.settings.curated_min_similarity
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:k]
        return [CuratedMatch(snap.entries[owner], similarity, snap.entries[owner].phrasings[
                    row - snap.owners.index(owner)], keyword.get(owner), similarity >= threshold)
                for owner, (similarity, row) in ranked]

    def best(self, query: str, refresh: bool = True) -> CuratedMatch | None:
        """The curated answer to give for `query`, if one is similar enough; never raises. `refresh=False`
        (the crisis path) uses what is loaded without asking the database."""
        try:
            found = self.matches(query, 1, refresh)
        except Exception:
            log.exception("curated answer lookup failed; answering from the knowledge base")
            return None
        return found[0] if found and found[0].preferred else None

    @property
    def size(self) -> int:
        return len(self._snapshot.entries)


def sync_curated(settings: Settings) -> int | None:
    """Re-indexes the curated answers from the database into Chroma (`tongban ingest` runs it); returns how many
    are active, or None when there is no database with curated answers yet (nothing is created)."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return None
    try:
        if not inspect(get_engine(settings)).has_table(CuratedAnswer.__tablename__):
            return None
    except Exception as exc:  # unreachable: the service re-indexes them at start-up
        log.warning("curated answers not re-indexed: database unavailable (%s)", type(exc).__name__)
        return None
    return CuratedIndex(settings).refresh(force=True)
