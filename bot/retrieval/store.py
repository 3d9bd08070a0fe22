"""The Chroma collection: embedded on disk by default, a `chroma run` server when TONGBAN_CHROMA_URL is set."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

import numpy as np

from bot.config import Settings
from bot.errors import RetrievalError

log = logging.getLogger(__name__)


def _client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class VectorStore:
    """Thin wrapper over one Chroma collection whose metadata names the embedder that built it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._name = settings.chroma_collection
        try:
            self._client = _client(settings)
        except Exception as exc:  # chromadb raises several kinds for an unreachable server
            raise RetrievalError(f"Chroma is not reachable ({settings.chroma_url or settings.chroma_path}): {exc}") from exc
        self._collection: Any = None

    def collection(self, embedder_name: str | None = None) -> Any:
        """The collection; with `embedder_name`, create it if missing and stamp the embedder on it."""
        if self._collection is None:
            if embedder_name is None:
                self._collection = self._client.get_collection(self._name, embedding_function=None)
            else:
                self._collection = self._client.get_or_create_collection(
                    self._name,
                    embedding_function=None,
                    metadata={"embedder": embedder_name},
                    configuration={"hnsw": {"space": "cosine"}},
                )
        return self._collection

    def embedder_name(self) -> str | None:
        try:
            return (self.collection().metadata or {}).get("embedder")
        except Exception:  # missing collection
            return None

    def reset(self) -> None:
        try:
            self._client.delete_collection(self._name)
        except Exception:  # nothing to delete
            pass
        self._collection = None

    def ids(self) -> set[str]:
        return set(self.collection().get(include=[])["ids"])

    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict]) -> None:
        batch = 256
        for start in range(0, len(ids), batch):
            self.collection().upsert(
                ids=ids[start:start + batch],
                embeddings=vectors[start:start + batch],
                documents=documents[start:start + batch],
                metadatas=metadatas[start:start + batch],
            )

    def delete(self, ids: list[str]) -> None:
        if ids:
            self.collection().delete(ids=ids)

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) pairs, best first."""
        result = self.collection().query(
            query_embeddings=[vector], n_results=k, where=where or None, include=["distances"]
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result.get("distances") else [0.0] * len(ids)
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances)]

    def heartbeat(self) -> bool:
        try:
            self._client.heartbeat()
            return True
        except Exception:
            return False
