"""Semantic layer: cosine similarity of a message to curated exemplars (exemplars.yaml).

Catches paraphrases the lexicon cannot list ("不想醒过来了", "活着是给大家添麻烦"). It runs only when the
lexicon found nothing and no guard fired; it mostly raises green to yellow, and to red only on high
similarity to a red exemplar. Exemplar
vectors are computed once per process and persisted under the data dir, keyed by a hash of the exemplar
file and the embedder name. If the embedder cannot load, triage goes on with the lexicon alone.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from bot.config import get_settings
from bot.retrieval.embedders import Embedder, get_embedder

if TYPE_CHECKING:
    from bot.safety.scoring import Decision

log = logging.getLogger(__name__)

EXEMPLARS_PATH = Path(__file__).with_name("exemplars.yaml")
_CLAUSES = re.compile(r"[^，。！？；,.!?;\n ]+")


@dataclass(frozen=True)
class Exemplar:
    category: str  # a risk category, or "green" for a hard negative
    level: str
    text: str


@dataclass(frozen=True)
class Nearest:
    """The best risk exemplar for a text and how far it leads the best green one."""

    exemplar: Exemplar
    similarity: float
    green_similarity: float


@dataclass(frozen=True)
class SemanticConfig:
    yellow: float
    margin: float
    red: float
    red_margin: float
    focus_chars: int
    cues: re.Pattern[str]


def load_exemplars(path: Path = EXEMPLARS_PATH) -> tuple[SemanticConfig, tuple[Exemplar, ...], bytes]:
    """Config, exemplars and the file's bytes (for the cache key)."""
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    t = data["thresholds"]
    config = SemanticConfig(
        yellow=float(t["yellow"]),
        margin=float(t["margin"]),
        red=float(t["red"]),
        red_margin=float(t["red_margin"]),
        focus_chars=int(data["focus_chars"]),
        cues=re.compile(data["cues"]),
    )
    exemplars = [
        Exemplar(category, level, text)
        for category, by_level in data["categories"].items()
        for level, texts in by_level.items()
        for text in texts
    ]
    exemplars += [Exemplar("green", "green", text) for text in data["green"]]
    return config, tuple(exemplars), raw


def focus_text(text: str, cues: re.Pattern[str], max_chars: int) -> str:
    """The clauses that carry a cue, best first, cut to `max_chars` (embedding cost grows with length)."""
    clauses = [c for c in _CLAUSES.findall(text) if cues.search(c)]
    if not clauses:
        return ""
    ranked = sorted(clauses, key=lambda c: -len(cues.findall(c)))
    picked: list[str] = []
    used = 0
    for clause in ranked:
        if used and used + len(clause) > max_chars:
            continue
        picked.append(clause)
        used += len(clause)
    focus = "，".join(sorted(picked, key=clauses.index))
    if len(focus) <= max_chars:
        return focus
    first_cue = cues.search(focus)
    start = max(0, min(first_cue.start() - 4 if first_cue else 0, len(focus) - max_chars))
    return focus[start : start + max_chars]


class ExemplarIndex:
    """Exemplar vectors for one embedder, with a nearest-exemplar query."""

    def __init__(self, embedder: Embedder, config: SemanticConfig, exemplars: Sequence[Exemplar],
                 vectors: np.ndarray) -> None:
        self.embedder = embedder
        self.config = config
        self.exemplars = tuple(exemplars)
        self._vectors = vectors
        self._green = np.array([e.category == "green" for e in self.exemplars])

    @classmethod
    def build(cls, embedder: Embedder, path: Path = EXEMPLARS_PATH, cache_dir: Path | None = None) -> ExemplarIndex:
        config, exemplars, raw = load_exemplars(path)
        key = hashlib.sha256(raw + embedder.name.encode()).hexdigest()[:16]
        cache = cache_dir / f"safety-exemplars-{key}.npy" if cache_dir else None
        vectors = _load_vectors(cache, len(exemplars))
        if vectors is None:
            vectors = embedder.embed_queries([e.text for e in exemplars])
            _save_vectors(cache, vectors)
        return cls(embedder, config, exemplars, vectors)

    def nearest(self, text: str) -> Nearest:
        sims = self._vectors @ self.embedder.embed_queries([text])[0]
        risk = np.where(self._green, -1.0, sims)
        best = int(np.argmax(risk))
        green = float(np.max(np.where(self._green, sims, -1.0)))
        return Nearest(self.exemplars[best], float(sims[best]), green)


def _load_vectors(path: Path | None, rows: int) -> np.ndarray | None:
    if path is None or not path.exists():
        return None
    try:
        vectors = np.load(path)
    except (OSError, ValueError):
        return None
    return vectors if vectors.shape[0] == rows else None


def _save_vectors(path: Path | None, vectors: np.ndarray) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
    except OSError as exc:  # a read-only data dir only costs the recomputation next time
        log.info("cannot cache exemplar vectors at %s: %s", path, exc)


_lock = threading.Lock()
_index: ExemplarIndex | None = None
_failed = False


def get_index() -> ExemplarIndex | None:
    """The process-wide exemplar index, or None when the embedder cannot be loaded."""
    global _index, _failed
    if _index is not None or _failed:
        return _index
    with _lock:
        if _index is None and not _failed:
            settings = get_settings()
            try:
                _index = ExemplarIndex.build(get_embedder(settings), cache_dir=settings.resolved_data_dir / "cache")
            except Exception as exc:  # any loader failure: fall back to the lexicon, loudly
                log.warning("safety semantic layer disabled, embedder unavailable: %s", exc)
                _failed = True
    return _index


def _strength(hit: Nearest, config: SemanticConfig) -> str:
    lead = hit.similarity - hit.green_similarity
    if hit.exemplar.level == "red" and hit.similarity >= config.red and lead >= config.red_margin:
        return "red"
    return "yellow" if hit.similarity >= config.yellow and lead >= config.margin else "green"


def semantic_raise(decision: Decision, text: str, history: Sequence[str], *, guarded: bool) -> None:
    """Raise `decision` when the message (or, if it is weak alone, the last turns joined) reads like an
    exemplar. Texts are normalised; a message where a guard fired is left alone."""
    if guarded:
        return
    index = get_index()
    if index is None:
        return
    config = index.config
    candidates = [focus_text(text, config.cues, config.focus_chars)]
    if history:
        candidates.append(focus_text("，".join([*history[-2:], text]), config.cues, config.focus_chars))
    tried: set[str] = set()
    for focus in candidates:
        if not focus or focus in tried:
            continue
        tried.add(focus)
        hit = index.nearest(focus)
        level = _strength(hit, config)
        if level != "green":
            reason = f"semantic: {hit.exemplar.category} {hit.similarity:.3f} ~ {hit.exemplar.text}"
            decision.raise_to(hit.exemplar.category, level, reason, [focus])
            return
