"""Writing, editing and retiring curated answers. Every change is validated here and audited in the same
transaction (bot.console.audit); the caller then refreshes its CuratedIndex so the change answers at once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.audit import audit
from bot.errors import TongbanError
from bot.feedback.gaps import resolve
from bot.feedback.words import mask_numbers
from bot.prompts import prompt_yaml
from bot.storage.models import Account, CuratedAnswer, utcnow

QUESTION_CHARS = 200
MAX_VARIANTS = 20
EARLIEST_YEAR = 1949


class CuratedError(TongbanError):
    """A curated answer that cannot be saved as given; the message is for the supervisor."""


@dataclass(frozen=True)
class CuratedForm:
    """What the supervisor typed."""

    question: str
    answer: str
    variants: str = ""  # one per line
    source_title: str = ""
    source_year: str = ""


@dataclass(frozen=True)
class _Clean:
    question: str
    answer: str
    variants: list[str]
    source_title: str
    source_year: int | None


def _error(name: str, **values: object) -> CuratedError:
    return CuratedError(str(prompt_yaml("console_feedback.yaml")["errors"][name]).format(**values))


@lru_cache(maxsize=1)
def _source_words() -> tuple[str, ...]:
    data = yaml.safe_load((Path(__file__).with_name("source_words.yaml")).read_text("utf-8"))
    return tuple(str(word).lower() for words in data.values() for word in words)


def needs_source(text: str) -> bool:
    """The text states a medical, first-aid, legal or money fact (source_words.yaml): it needs a source."""
    lowered = text.lower()
    return any(word in lowered for word in _source_words())


def _clean(form: CuratedForm, max_answer_chars: int) -> _Clean:
    question = " ".join(form.question.split())
    answer = form.answer.strip().replace("\r\n", "\n")
    if not question or len(question) > QUESTION_CHARS:
        raise _error("question", limit=QUESTION_CHARS)
    if not answer or len(answer) > max_answer_chars:
        raise _error("answer", limit=max_answer_chars)
    variants = list(dict.fromkeys(" ".join(line.split()) for line in form.variants.splitlines() if line.strip()))
    variants = [mask_numbers(v) for v in variants if v != question]
    if len(variants) > MAX_VARIANTS or any(len(v) > QUESTION_CHARS for v in variants):
        raise _error("variants", count=MAX_VARIANTS, limit=QUESTION_CHARS)
    title, year_text = " ".join(form.source_title.split())[:200], form.source_year.strip()
    year = None
    if year_text:
        if not (year_text.isascii() and year_text.isdigit() and EARLIEST_YEAR <= int(year_text) <= dt.date.today().year + 1):
            raise _error("year")
        year = int(year_text)
    if title and year is None:
        raise _error("source_year_needed")
    if not (title and year) and needs_source(answer):
        raise _error("source_needed")
    return _Clean(mask_numbers(question), answer, variants, title, year)


def create_curated(session: Session, actor: Account, form: CuratedForm, record_ids: list[int], max_answer_chars: int,
                   ip: str = "") -> CuratedAnswer:
    """A new active curated answer; the open questions `record_ids` are marked answered by it."""
    clean = _clean(form, max_answer_chars)
    row = CuratedAnswer(question=clean.question, variants=clean.variants, answer=clean.answer,
                        source_title=clean.source_title, source_year=clean.source_year, status="active",
                        created_by=actor.id, updated_by=actor.id, hits=0)
    session.add(row)
    session.flush()
    resolved = resolve(session, record_ids, "answered", row.id)
    audit(session, actor, "curated_create", detail={"curated_id": row.id, "questions": resolved}, ip=ip)
    return row


def get_curated(session: Session, curated_id: int) -> CuratedAnswer:
    row = session.get(CuratedAnswer, curated_id)
    if row is None:
        raise CuratedError(str(prompt_yaml("console_feedback.yaml")["curated"]["not_found"]))
    return row


def update_curated(session: Session, actor: Account, curated_id: int, form: CuratedForm, max_answer_chars: int,
                   ip: str = "") -> CuratedAnswer:
    row = get_curated(session, curated_id)
    clean = _clean(form, max_answer_chars)
    changed = [name for name in ("question", "variants", "answer", "source_title", "source_year")
               if getattr(row, name) != getattr(clean, name)]
    row.question, row.variants, row.answer = clean.question, clean.variants, clean.answer
    row.source_title, row.source_year = clean.source_title, clean.source_year
    row.updated_by, row.updated_at = actor.id, utcnow()
    audit(session, actor, "curated_edit", detail={"curated_id": row.id, "changed": changed}, ip=ip)
    return row


def set_status(session: Session, actor: Account, curated_id: int, status: str, ip: str = "") -> CuratedAnswer:
    """Retires ("retired") or restores ("active") a curated answer."""
    row = get_curated(session, curated_id)
    row.status, row.updated_by, row.updated_at = status, actor.id, utcnow()
    audit(session, actor, "curated_retire" if status == "retired" else "curated_restore",
          detail={"curated_id": row.id}, ip=ip)
    return row


def dismiss_questions(session: Session, actor: Account, record_ids: list[int], ip: str = "") -> int:
    """Open questions a supervisor decided need no answer (e.g. not about children)."""
    count = resolve(session, record_ids, "dismissed")
    audit(session, actor, "gaps_dismiss", detail={"questions": count}, ip=ip)
    return count


def all_curated(session: Session) -> list[CuratedAnswer]:
    """Active answers first (most hits first), then retired ones."""
    rows = session.scalars(select(CuratedAnswer)).all()
    return sorted(rows, key=lambda row: (row.status != "active", -row.hits, -row.id))
