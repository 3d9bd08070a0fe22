"""Hybrid search: dense (Chroma) and BM25 (jieba) rankings fused by reciprocal rank."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.config import Settings
from bot.errors import RetrievalError
from bot.retrieval.embedders import Embedder, get_embedder
from bot.retrieval.expand import expand_query
from bot.retrieval.ingest import read_manifest
from bot.retrieval.keyword import KeywordIndex
from bot.retrieval.places import Home
from bot.retrieval.routing import prefers_policy
from bot.retrieval.store import VectorStore
from bot.retrieval.tokenizer import segment_with, tokenize
from bot.text import clean_for_search
from knowledge.loader import load_policy_meta
from knowledge.outreach import NATIONAL  # the region of national articles

log = logging.getLogger(__name__)
FILTER_KEYS = ("kind", "region", "topic", "doc_id")
CANDIDATES = 40
_WORD_RE = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
# The bundled embedder is small: on its own it puts the covering passage first about half as often as BM25 does,
# and at equal weight it pulled the fusion down. At 0.7 the development QA sets (v1-v3) gained 1-2.5 points of fact
# recall with the same out-of-scope refusals (0.5 gained more hit@1 but let two hard out-of-scope questions of
# tests/data/scope_calibration.jsonl through). Chosen in the seventh session on development sets only.
DENSE_WEIGHT = 0.7
KEYWORD_WEIGHT = 1.0
# Added to chunks of the policy document whose place the question names, and to the place articles that explain
# it: enough to put that place's rules ahead of national articles when both match. (Boosting articles that
# merely mention the place hurt; 2.0 let a place passage that barely matched outrank the article that did.)
REGION_BONUS = 1.0
# How common a place name counts as when the question is split into words: as common as a county's name
# (jieba's own count for 景德镇 is about this), so 「我们乐平这边」 keeps it whole and 「娱乐平台」 does not.
PLACE_NAME_COUNT = 2000
_PLACE_SUFFIX_RE = re.compile(r"(?<=..)(?:市|县|区|镇|乡)$")
# The bonuses below go only to chunks ranked within this many places by dense or keyword search.
BONUS_RANK = 10
# Added to policy chunks and place articles when the question asks about services or rules
# (bot/retrieval/routing.py).
POLICY_ROUTE_BONUS = 1.0
# Where the asker lives (their profile, bot.conversation.profile) when the question names no place: that place's
# document is preferred and other places' local rules are demoted; a boost, not a filter, so a rule from
# elsewhere can still answer (framed as such by bot.answer.local). Place articles count as their document's rules;
# national articles are unaffected.
# A practical question (「孩子近视了怎么办」) gets the smaller bonus: the article answers it, the home rule may follow.
HOME_BONUS = 1.0
HOME_BONUS_PRACTICAL = 0.5
AWAY_PENALTY = 0.5


@dataclass(frozen=True)
class Hit:
    """One ranked chunk."""

    chunk_id: str
    score: float
    text: str
    metadata: dict[str, Any]
    dense_rank: int | None = None
    keyword_rank: int | None = None
    similarity: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    keyword_score: float | None = None  # BM25

    @property
    def doc_id(self) -> str:
        return str(self.metadata["doc_id"])

    @property
    def title(self) -> str:
        return str(self.metadata["title"])

    @property
    def section(self) -> str:
        return str(self.metadata["section"])

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "kind": self.metadata.get("kind"),
            "score": round(self.score, 6),
        }


def _where(filters: dict[str, str], regions: frozenset[str] = frozenset()) -> dict | None:
    clauses: list[dict] = [{key: value} for key, value in filters.items()]
    if regions:
        clauses.append({"region": {"$in": sorted(regions)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class KnowledgeIndex:
    """Loaded once per process: the chunk manifest, the BM25 index, the embedder and the Chroma collection."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        manifest = read_manifest(settings)
        if manifest is None:
            raise RetrievalError("the knowledge index is missing: run `tongban ingest` first")
        self.settings = settings
        self.chunks: list[dict[str, Any]] = manifest["chunks"]
        self.embedder_name: str = manifest["embedder"]
        self._by_id = {c["chunk_id"]: i for i, c in enumerate(self.chunks)}
        self._keyword = KeywordIndex([c["tokens"] for c in self.chunks])
        self._aliases = {
            meta.doc_id: meta.aliases for meta in load_policy_meta(settings.knowledge_dir / "policy") if meta.aliases
        }
        self._doc_region = {c["doc_id"]: str(c.get("region")) for c in self.chunks if c["kind"] == "policy"}
        self._embedder = embedder
        self._store: VectorStore | None = None
        self._lock = threading.Lock()
        self.dense_available = True
        self._matrix: np.ndarray | None = None  # in-process copy of the vectors, for the crisis path

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
        return self._embedder

    @property
    def embedder_loaded(self) -> bool:
        return self._embedder is not None

    def vector_store_ok(self) -> bool:
        """Chroma answers (a heartbeat); False when the server is down or the store cannot open."""
        try:
            return self._vector_store().heartbeat()
        except Exception:
            with self._lock:
                self._store = None
            return False

    def _vector_store(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                self._store = VectorStore(self.settings)
            return self._store

    def _matches(self, chunk: dict[str, Any], filters: dict[str, str], regions: frozenset[str] = frozenset()) -> bool:
        return all(str(chunk.get(key)) == value for key, value in filters.items()) and (
            not regions or chunk.get("region") in regions)

    def dense(self, query: str, k: int, filters: dict[str, str],
              regions: frozenset[str] = frozenset()) -> list[tuple[int, float]]:
        """(position, similarity) from Chroma; empty (and `dense_available` False) if Chroma fails. `regions`:
        only chunks of these regions (a named place and the national articles)."""
        vector = self.embedder.embed_queries([query])[0]
        try:
            pairs = self._vector_store().query(vector, k, _where(filters, regions))
        except Exception as exc:  # server down, collection gone: fall back to keywords
            if self.dense_available:
                log.warning("dense search unavailable, using keyword search only: %s", exc)
            self.dense_available = False
            with self._lock:
                self._store = None
            return []
        self.dense_available = True
        return [(self._by_id[cid], sim) for cid, sim in pairs if cid in self._by_id]

    def load_vectors(self) -> bool:
        """Copies the chunk vectors out of Chroma into memory (once), so `mode="local"` never calls Chroma."""
        if self._matrix is not None:
            return True
        try:
            got = self._vector_store().collection().get(include=["embeddings"])
        except Exception as exc:  # Chroma unreachable: local mode falls back to keywords only
            log.warning("could not load vectors for local search: %s", exc)
            return False
        matrix = np.zeros((len(self.chunks), len(got["embeddings"][0]) if len(got["ids"]) else 1), dtype=np.float32)
        for chunk_id, vector in zip(got["ids"], got["embeddings"]):
            if chunk_id in self._by_id:
                matrix[self._by_id[chunk_id]] = vector
        self._matrix = matrix
        return True

    def dense_local(self, query: str, k: int, filters: dict[str, str],
                    regions: frozenset[str] = frozenset()) -> list[tuple[int, float]]:
        """Dense ranking from the in-process copy (no Chroma call); [] when it was never loaded."""
        if self._matrix is None:
            return []
        scores = self._matrix @ self.embedder.embed_queries([query])[0]
        order = np.argsort(-scores)
        ranked = [(int(i), float(scores[i])) for i in order
                  if not (filters or regions) or self._matches(self.chunks[i], filters, regions)]
        return ranked[:k]

    def keyword(self, query: str, k: int, filters: dict[str, str],
                regions: frozenset[str] = frozenset()) -> list[tuple[int, float]]:
        narrowed = bool(filters or regions)
        ranked = self._keyword.search(tokenize(query), len(self.chunks) if narrowed else k)
        if narrowed:
            ranked = [(pos, s) for pos, s in ranked if self._matches(self.chunks[pos], filters, regions)]
        return ranked[:k]

    def search(
        self,
        query: str,
        k: int = 5,
        filters: dict[str, str] | None = None,
        mode: str = "hybrid",
        home: Home | None = None,
    ) -> list[Hit]:
        """Ranked chunks for `query`. `mode` is hybrid, dense, keyword, or local (hybrid from the in-process
        vector copy: no Chroma call, for replies that must not wait on it). `home`: where the asker lives, used
        when the query names no place. Bad queries give []."""
        filters = {key: str(v) for key, v in (filters or {}).items() if key in FILTER_KEYS and v}
        text = clean_for_search(query or "", self.settings.max_input_chars)
        if not _WORD_RE.search(text) or k <= 0:
            # Punctuation or emoji alone asks nothing; a vector search would still "match" something.
            return []
        said = self._place_words(text)
        named = self._documents_of(said)
        # The place is handled by the filter and bonus below; left in the query, 「兰溪」 would match every 兰溪
        # chunk whatever it is about and outweigh the topic that was asked.
        topic = self._without(text, said) if said else text
        expanded = expand_query(topic)
        # A named place: candidates come from its own chunks and the national articles only, so its rules are
        # ranked by what they say rather than crowded out by other places' passages.
        regions = frozenset({self._doc_region[d] for d in named if d in self._doc_region} | {NATIONAL}) if named \
            else frozenset()
        if mode == "local":
            dense = self.dense_local(expanded, CANDIDATES, filters, regions)
        else:
            dense = self.dense(expanded, CANDIDATES, filters, regions) if mode in ("hybrid", "dense") else []
        keyword = self.keyword(expanded, CANDIDATES, filters, regions) if mode in ("hybrid", "keyword", "local") else []
        if named:
            dense, keyword = self._within(dense, named), self._within(keyword, named)
        return self._fuse(dense, keyword, k, named, prefers_policy(text), None if named else home)

    def named_documents(self, text: str) -> set[str]:
        """Policy documents whose place the question names (「我们景德镇这边」) as a word of its own: 乐平 in
        「娱乐平台」 names no place."""
        return self._documents_of(self._place_words(text))

    def _place_words(self, text: str) -> set[str]:
        """The place names (aliases) that are words of `text`, as written (「浮梁县」 counts for 浮梁)."""
        names = {name for aliases in self._aliases.values() for name in aliases if name in text}
        if not names:
            return names
        pieces = segment_with(text, dict.fromkeys(names, PLACE_NAME_COUNT))
        return names & (set(pieces) | {_PLACE_SUFFIX_RE.sub("", w) for w in pieces})

    def _documents_of(self, names: set[str]) -> set[str]:
        return {doc_id for doc_id, aliases in self._aliases.items() if names & set(aliases)}

    @staticmethod
    def _without(text: str, names: set[str]) -> str:
        """`text` without these place names (longest first), unless nothing else is left."""
        rest = text
        for name in sorted(names, key=len, reverse=True):
            rest = rest.replace(name, " ")
        return rest if _WORD_RE.search(rest) else text

    def _place(self, pos: int) -> str:
        """The policy document a chunk states the rules of: its own id for a policy chunk, the `place` of a place
        article, "" for a national article."""
        chunk = self.chunks[pos]
        if chunk["kind"] == "policy":
            return str(chunk["doc_id"])
        return str((chunk.get("extra") or {}).get("place") or "")

    def _within(self, ranked: list[tuple[int, float]], named: set[str]) -> list[tuple[int, float]]:
        """Drops other places' policy chunks and place articles: a family in one county is not served by
        another's rules."""
        return [(pos, s) for pos, s in ranked if not self._place(pos) or self._place(pos) in named]

    def _fuse(
        self, dense: list[tuple[int, float]], keyword: list[tuple[int, float]], k: int, named: set[str],
        policy_first: bool = False, home: Home | None = None,
    ) -> list[Hit]:
        rrf = self.settings.rrf_k
        scores: dict[int, float] = {}
        dense_rank = {pos: rank for rank, (pos, _) in enumerate(dense)}
        keyword_rank = {pos: rank for rank, (pos, _) in enumerate(keyword)}
        similarity, bm25 = dict(dense), dict(keyword)
        for weight, ranks in ((DENSE_WEIGHT, dense_rank), (KEYWORD_WEIGHT, keyword_rank)):
            for pos, rank in ranks.items():
                scores[pos] = scores.get(pos, 0.0) + weight / (rrf + rank + 1)
        for pos in scores:
            place = self._place(pos)  # a policy chunk's document, or the one a place article explains
            if home is not None and place in self._aliases and place != home.doc_id:
                scores[pos] -= AWAY_PENALTY / (rrf + 1)  # another place's rule, however well or badly it matched
            if min(dense_rank.get(pos, BONUS_RANK), keyword_rank.get(pos, BONUS_RANK)) >= BONUS_RANK:
                continue  # a passage that barely matched is not lifted by the place or the route
            if place in named:
                scores[pos] += REGION_BONUS / (rrf + 1)
            # A local rule: as the document says it, or in plain words when the question names its place (a place
            # article must not push a national article aside for someone from elsewhere).
            local = self.chunks[pos]["kind"] == "policy" or place in named
            if policy_first and local:
                scores[pos] += POLICY_ROUTE_BONUS / (rrf + 1)
            if home is not None and place == home.doc_id:
                scores[pos] += (HOME_BONUS if policy_first else HOME_BONUS_PRACTICAL) / (rrf + 1)
        ordered = sorted(scores, key=lambda p: -scores[p])[:k]
        hits = []
        for pos in ordered:
            chunk = self.chunks[pos]
            hits.append(
                Hit(
                    chunk_id=chunk["chunk_id"],
                    score=scores[pos],
                    text=chunk["text"],
                    metadata={key: chunk.get(key) for key in (
                        "doc_id", "kind", "title", "short_title", "region", "topic", "section", "position", "source_file"
                    )},
                    dense_rank=dense_rank.get(pos),
                    keyword_rank=keyword_rank.get(pos),
                    similarity=similarity.get(pos),
                    extra=chunk.get("extra") or {},
                    keyword_score=bm25.get(pos),
                )
            )
        return hits
