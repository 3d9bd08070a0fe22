"""「待补充的问题」: questions the bot said it could not answer, and answers a family voted 👎, that no supervisor
has dealt with yet, grouped: first by the same words (bot.feedback.words.question_key), then the groups whose
questions mean the same (query embeddings at least `feedback_group_similarity` alike) are joined."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.retrieval.embedders import Embedder, get_embedder
from bot.storage.db import session_scope
from bot.storage.models import AnswerRecord, Message
from bot.text import clean_for_search

log = logging.getLogger(__name__)
GAP_RECORDS = 1000  # the newest open questions the page reads
MAX_PHRASINGS = 20  # per group on the page and in the curated-answer form
MAX_ANSWERS = 3  # distinct replies shown per group
MAX_BY_MEANING = 300  # wordings grouped by meaning (the most asked); the rest by their words only
_CACHE_SIZE = 4096


@dataclass
class Phrasing:
    """One wording of a question, how often it came, and its records."""

    text: str
    count: int
    record_ids: list[int]


@dataclass
class GivenAnswer:
    outcome: str  # answer | curated | not_covered
    text: str
    voted_down: bool


@dataclass
class Gap:
    """A group of open questions that mean the same."""

    phrasings: list[Phrasing]
    count: int
    last_asked: dt.datetime
    channels: dict[str, int]
    answers: list[GivenAnswer] = field(default_factory=list)
    not_covered: int = 0
    voted_down: int = 0

    @property
    def question(self) -> str:
        return self.phrasings[0].text

    @property
    def record_ids(self) -> list[int]:
        return [rid for phrasing in self.phrasings for rid in phrasing.record_ids]


def _is_gap() -> ColumnElement[bool]:
    return (AnswerRecord.gap_status == "open") & or_(AnswerRecord.outcome == "not_covered", AnswerRecord.vote == "down")


class _VectorCache:
    """Query vectors of question texts, so the page does not embed the same questions on every visit."""

    def __init__(self) -> None:
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (embedder.name, t) not in self._vectors]
        fresh = embedder.embed_queries(missing) if missing else np.zeros((0, embedder.dim), dtype=np.float32)
        with self._lock:
            for text, vector in zip(missing, fresh):
                self._vectors[(embedder.name, text)] = vector
            rows = []
            for text in texts:
                self._vectors.move_to_end((embedder.name, text))
                rows.append(self._vectors[(embedder.name, text)])
            while len(self._vectors) > _CACHE_SIZE:
                self._vectors.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, embedder.dim), dtype=np.float32)


_CACHE = _VectorCache()


def _clusters(texts: list[str], embedder: Embedder | None, threshold: float, max_chars: int) -> list[list[int]]:
    """Greedy grouping of `texts` (most asked first): each of the first MAX_BY_MEANING joins the first group
    whose first text is at least `threshold` similar, else starts one (so the page never embeds more than that
    many new questions). Without an embedder every text is its own group."""
    if embedder is None or len(texts) < 2:
        return [[i] for i in range(len(texts))]
    rest = [[i] for i in range(MAX_BY_MEANING, len(texts))]
    texts = texts[:MAX_BY_MEANING]
    try:
        matrix = _CACHE.vectors(embedder, [clean_for_search(t, max_chars) or t for t in texts])
    except Exception:  # the page still lists the questions, grouped by their words only
        log.exception("question grouping by meaning failed")
        return [[i] for i in range(len(texts))] + rest
    groups: list[list[int]] = []
    for i in range(len(texts)):
        for group in groups:
            if float(matrix[group[0]] @ matrix[i]) >= threshold:
                group.append(i)
                break
        else:
            groups.append([i])
    return groups + rest


@dataclass
class _Key:
    """The records of one question key."""

    records: list[tuple[AnswerRecord, str]] = field(default_factory=list)  # (record, the reply text)


def _load(session: Session, record_ids: Sequence[int] | None = None) -> dict[str, _Key]:
    query = (select(AnswerRecord, Message.text).join(Message, Message.id == AnswerRecord.message_id)
             .where(_is_gap()).order_by(AnswerRecord.created_at.desc(), AnswerRecord.id.desc()).limit(GAP_RECORDS))
    if record_ids is not None:
        query = query.where(AnswerRecord.id.in_(list(record_ids)))
    keys: dict[str, _Key] = {}
    for record, reply in session.execute(query):
        keys.setdefault(record.question_key, _Key()).records.append((record, reply))
    return keys


def _phrasing(key: _Key) -> Phrasing:
    texts = Counter(record.question for record, _ in reversed(key.records))  # a tie goes to the first asked
    return Phrasing(texts.most_common(1)[0][0], len(key.records), [record.id for record, _ in key.records])


def _gap(keys: list[_Key]) -> Gap:
    records = [pair for key in keys for pair in key.records]
    records.sort(key=lambda pair: pair[0].created_at, reverse=True)
    phrasings = sorted((_phrasing(key) for key in keys), key=lambda p: -p.count)
    answers: list[GivenAnswer] = []
    for record, reply in records:
        if len(answers) < MAX_ANSWERS and all(reply != given.text for given in answers):
            answers.append(GivenAnswer(record.outcome, reply, record.vote == "down"))
    return Gap(phrasings=phrasings, count=len(records), last_asked=records[0][0].created_at,
               channels=dict(Counter(record.channel for record, _ in records)), answers=answers,
               not_covered=sum(1 for record, _ in records if record.outcome == "not_covered"),
               voted_down=sum(1 for record, _ in records if record.vote == "down"))


def open_gaps(settings: Settings, embedder: Embedder | None = None, record_ids: Sequence[int] | None = None) -> list[Gap]:
    """The open questions as groups, the most asked first (then the most recent). `record_ids` limits them to
    those records (the curated-answer form). `embedder` None: grouped by words only."""
    with session_scope(settings) as session:
        keys = list(_load(session, record_ids).values())
    keys.sort(key=lambda key: (-len(key.records), -key.records[0][0].created_at.timestamp()))
    texts = [_phrasing(key).text for key in keys]
    groups = _clusters(texts, embedder, settings.feedback_group_similarity, settings.max_input_chars)
    gaps = [_gap([keys[i] for i in group]) for group in groups]
    for gap in gaps:
        gap.phrasings = gap.phrasings[:MAX_PHRASINGS]
    return sorted(gaps, key=lambda gap: (-gap.count, -gap.last_asked.timestamp()))


def serving_embedder(settings: Settings) -> Embedder | None:
    try:
        return get_embedder(settings)
    except Exception:
        log.exception("embedder unavailable: questions grouped by their words only")
        return None


def resolve(session: Session, record_ids: Sequence[int], status: str, curated_id: int | None = None) -> int:
    """Marks open questions "answered" (by curated answer `curated_id`) or "dismissed"; returns how many."""
    if not record_ids:
        return 0
    return session.execute(update(AnswerRecord).where(AnswerRecord.id.in_(list(record_ids)), _is_gap())
                           .values(gap_status=status, resolved_by=curated_id)).rowcount
