"""Passage vectors shipped with the package, so a first start does not embed the bundled corpus again.

Vectors are keyed by the embedder's name and a hash of the exact passage text that is embedded: a chunk whose
text changed misses the cache and is embedded; a cache built by another embedder is never used.
`tongban ingest --write-vector-cache` rewrites the file after the knowledge folder changes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import knowledge

log = logging.getLogger(__name__)
CACHE_DIR = Path(knowledge.__file__).resolve().parent / "vectors"


def passage_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def cache_path(embedder_name: str, folder: Path = CACHE_DIR) -> Path:
    return folder / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', embedder_name)}.npz"


@dataclass
class VectorCache:
    """Known passage vectors of one embedder (empty when none were shipped for it)."""

    rows: dict[str, int] = field(default_factory=dict)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    @classmethod
    def load(cls, embedder_name: str, dim: int, folder: Path = CACHE_DIR) -> VectorCache:
        path = cache_path(embedder_name, folder)
        if not path.exists():
            return cls()
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], np.asarray(data["vectors"], dtype=np.float32)
                name = str(data["embedder"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("shipped passage vectors unreadable (%s); everything is embedded", exc)
            return cls()
        if name != embedder_name or vectors.ndim != 2 or vectors.shape[1] != dim or len(keys) != len(vectors):
            log.warning("shipped passage vectors do not match embedder %s; everything is embedded", embedder_name)
            return cls()
        return cls({str(key): row for row, key in enumerate(keys)}, vectors)

    def get(self, text: str) -> np.ndarray | None:
        row = self.rows.get(passage_key(text))
        return None if row is None else self.vectors[row]

    def __len__(self) -> int:
        return len(self.rows)


def write_cache(embedder_name: str, texts: list[str], vectors: np.ndarray, folder: Path = CACHE_DIR) -> Path:
    """Writes the vectors of `texts` (one row each) as the shipped cache of this embedder."""
    folder.mkdir(parents=True, exist_ok=True)
    keys = [passage_key(t) for t in texts]
    unique = {key: row for row, key in enumerate(keys)}  # identical passages are stored once
    path = cache_path(embedder_name, folder)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, embedder=np.array(embedder_name), keys=np.array(list(unique)),
                        vectors=np.asarray(vectors, dtype=np.float32)[list(unique.values())])
    os.replace(tmp, path)
    return path
