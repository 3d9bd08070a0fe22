"""「命中测试」: what retrieval returns for a typed question (every passage's vector, keyword and fused scores),
which curated answers come near it, and the reply the bot would give. Nothing is stored as a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.feedback.curated_index import CuratedMatch
from bot.retrieval.expand import expand_query
from bot.safety.guards import without_hyperbole
from bot.safety.lexicon import load_lexicon
from bot.text import clean_for_search, normalize

if TYPE_CHECKING:
    from bot.pipeline import Conversation

PASSAGES = 8
CURATED = 3
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class Passage:
    rank: int
    fused: float
    vector: float | None  # cosine similarity (None: not among the dense candidates)
    vector_rank: int | None
    keyword: float | None  # BM25
    keyword_rank: int | None
    kind: str
    title: str
    section: str
    region: str
    doc_id: str
    text: str


@dataclass(frozen=True)
class Reply:
    text: str
    level: str
    intent: str
    composer: str
    sources: list[dict[str, Any]]


@dataclass(frozen=True)
class HitTest:
    question: str
    searched: str  # the text retrieval read, after typo correction and everyday->formal expansion
    passages: list[Passage]
    curated: list[CuratedMatch]
    reply: Reply
    threshold: float
    dense_available: bool = True
    notes: list[str] = field(default_factory=list)


def hit_test(conversation: Conversation, question: str, k: int = PASSAGES) -> HitTest:
    """Runs retrieval and the bot's reply stages on `question` as a first message (no history), storing nothing."""
    settings = conversation.settings
    text = normalize(question)[:settings.max_input_chars]
    query = without_hyperbole(text, load_lexicon())
    index = conversation.index
    hits = index.search(query, k=k)
    passages = [Passage(rank, hit.score, hit.similarity, None if hit.dense_rank is None else hit.dense_rank + 1,
                        hit.keyword_score, None if hit.keyword_rank is None else hit.keyword_rank + 1,
                        str(hit.metadata.get("kind") or ""), hit.title, hit.section,
                        str(hit.metadata.get("region") or ""), hit.doc_id, hit.text[:EXCERPT_CHARS])
                for rank, hit in enumerate(hits, 1)]
    curated = conversation.curated.matches(query, CURATED)
    outcome = conversation.preview(question)
    reply = Reply(outcome.reply_text, outcome.level, outcome.intent, outcome.composer, outcome.sources)
    return HitTest(question=text, searched=expand_query(clean_for_search(query, settings.max_input_chars)),
                   passages=passages, curated=curated, reply=reply, threshold=settings.curated_min_similarity,
                   dense_available=index.dense_available)
