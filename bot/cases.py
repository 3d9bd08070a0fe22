"""Escalation cases: one open case per user conversation, raised to red by a later red message.

A case is written in the same transaction as the message that caused it, and that transaction commits
before any reply is built (persist before you reply).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.case_flood import FLOOD_CATEGORY_REASON, FloodLimit, flooded, open_flood_case
from bot.errors import ConfigError, StorageError
from bot.safety import Triage
from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import Case, CaseEvent, ChannelUser, Message, PUBLIC_REF_ALPHABET, new_public_ref, utcnow

log = logging.getLogger(__name__)
OPEN_STATUSES = ("open", "claimed", "in_progress", "follow_up")
MANDATORY_REPORT_CATEGORIES = frozenset({"abuse", "sexual_abuse"})


@dataclass(frozen=True)
class CaseChange:
    """What happened to a case for one message: created, escalated, or a message added."""

    case_id: int
    created: bool
    escalated: bool
    severity: str
    team: str | None = None
    raised: bool = False  # created, escalated, a new category or a new emergency situation
    teams: tuple[str, ...] = ()  # every team concerned (alerts), the owning team first


def _seen_situations(session: Session, case_id: int) -> set[str]:
    kinds = ("created", "escalated", "message")
    payloads = session.scalars(select(CaseEvent.payload).where(CaseEvent.case_id == case_id,
                                                                CaseEvent.kind.in_(kinds)))
    return {str(p.get("situation")) for p in payloads if isinstance(p, dict) and p.get("situation")}


@lru_cache(maxsize=4)
def _routing(path: Path) -> dict:
    """The category -> team map (read once per process: record_case is on the crisis path)."""
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"team routing file unreadable: {path}: {exc}") from exc
    if not isinstance(data.get("categories"), dict) or not data.get("default_team"):
        raise ConfigError(f"team routing file {path} needs `default_team` and a `categories` map")
    return data


def _region_map(routing: dict, region: str | None) -> dict:
    """The `regions` entry for a person's region: its exact name, else a configured name it contains (the
    profile says 「启东市」 or 「江苏启东」, the file says 启东)."""
    regions = routing.get("regions") or {}
    if not region:
        return {}
    if region in regions:
        return regions[region] or {}
    return next((mapping or {} for name, mapping in regions.items() if name and str(name) in region), {})


def team_for(categories: list[str] | tuple[str, ...], path: Path, region: str | None = None) -> str:
    """The team whose queue gets a case: the first category with a team (region map first), else the default.
    `region`: where the person lives (their profile, bot.conversation.profile)."""
    routing = _routing(path)
    maps = [_region_map(routing, region), routing["categories"]]
    for category in categories:
        for mapping in maps:
            if category in mapping:
                return str(mapping[category])
    return str(routing["default_team"])


def teams_for(categories: list[str] | tuple[str, ...], path: Path, region: str | None = None) -> list[str]:
    """Every team concerned by the categories, the owning team (most severe category's) first: a self-cutting
    child who also wants to die concerns 12356 as well as the team of the other category."""
    teams = [team_for([category], path, region) for category in categories] or [team_for([], path, region)]
    return list(dict.fromkeys(teams))


def _transcript(session: Session, user_id: int, limit: int = 20) -> list[dict]:
    """The conversation leading to a new case; messages of the user's earlier cases stay in those cases (whoever
    may open this one may not be allowed to open them)."""
    rows = session.execute(
        select(Message.direction, Message.text, Message.created_at)
        .where(Message.user_id == user_id, Message.case_id.is_(None))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    ).all()
    return [{"direction": d, "text": t, "at": c.isoformat()} for d, t, c in reversed(rows)]


def unused_public_ref(session: Session) -> str:
    """A random reference no case has yet (the unique constraint is the last word in a race)."""
    while session.scalar(select(Case.id).where(Case.public_ref == (ref := new_public_ref()))) is not None:
        pass
    return ref


def normalise_ref(text: str) -> str:
    """What a person types for a reference ('#k7m3-qx9p ') in the stored form, or "" if it cannot be one."""
    ref = "".join(ch for ch in text.upper() if ch not in " #-")
    return ref if ref and len(ref) <= 16 and all(ch in PUBLIC_REF_ALPHABET for ch in ref) else ""


def public_ref_of(settings: Settings, case_id: int | None) -> str | None:
    """The reference a family may see for a case (None without a case): never the sequential id."""
    if case_id is None:
        return None
    try:
        with session_scope(settings) as session:
            return session.scalar(select(Case.public_ref).where(Case.id == case_id))
    except (SQLAlchemyError, StorageError) as exc:  # the reply (already built) must still go out
        log.warning("case reference not read (%s): the reply goes without it", type(exc).__name__)
        return None


def _concerned(case: Case, teams_file: Path | None, region: str | None = None) -> tuple[str, ...]:
    if not teams_file:
        return (case.team,) if case.team else ()
    others = [team for team in teams_for(case.categories or [], teams_file, region) if team != case.team]
    return tuple([case.team, *others] if case.team else others)


def open_case_for(session: Session, user_id: int) -> Case | None:
    return session.scalar(
        select(Case).where(Case.user_id == user_id, Case.status.in_(OPEN_STATUSES)).order_by(Case.id.desc()).limit(1)
    )


def record_case(session: Session, user: ChannelUser, message: Message, triage: Triage,
                teams_file: Path | None = None, origin: str | None = None,
                flood_limit: FloodLimit | None = None, region: str | None = None) -> CaseChange:
    """Creates or updates the user's open case for a red or yellow message (caller commits).
    A new case goes to the queue of the team its categories (and the person's `region`) route to (`teams_file`).
    Past `flood_limit` for the channel or the client `origin` (bot.case_flood), the message joins that source's
    flood case instead."""
    case = open_case_for(session, user.id)
    evidence = list(triage.evidence)
    if case is None and flood_limit is not None and flooded(session, user.channel, origin, flood_limit):
        return _join_flood(session, user, message, triage, teams_file, origin)
    if case is None:
        case = Case(
            public_ref=unused_public_ref(session),
            user_id=user.id,
            channel=user.channel,
            severity=triage.level,
            categories=list(triage.categories),
            evidence=evidence,
            reasons=list(triage.explanation or triage.reasons),
            status="open",
            mandatory_report=bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories)),
            team=team_for(triage.categories, teams_file, region) if teams_file else None,
            origin=origin,
        )
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, kind="created", payload={
            "severity": triage.level, "categories": list(triage.categories),
            "situation": triage.situation, "speaker": triage.speaker,
            "rules": list(triage.reasons), "model": triage.scores,
            "transcript": _transcript(session, user.id),
        }))
        message.case_id = case.id
        return CaseChange(case.id, created=True, escalated=False, severity=case.severity, team=case.team, raised=True,
                          teams=_concerned(case, teams_file, region))
    escalated = triage.level == "red" and case.severity != "red"
    new_category = bool(set(triage.categories) - set(case.categories or []))
    new_situation = triage.situation not in ("", "none") and triage.situation not in _seen_situations(session, case.id)
    case.severity = "red" if escalated else case.severity
    if escalated:  # a red case needs a response within the red window from now, whatever was said before
        case.sla_from, case.first_response_at, case.sla_breach_notified = utcnow(), None, False
    case.categories = list(dict.fromkeys([*case.categories, *triage.categories]))
    case.evidence = list(dict.fromkeys([*case.evidence, *evidence]))
    case.reasons = list(dict.fromkeys([*case.reasons, *(triage.explanation or triage.reasons)]))
    case.mandatory_report = case.mandatory_report or bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories))
    if case.team is None and teams_file:
        case.team = team_for(case.categories, teams_file, region)
    case.updated_at = utcnow()
    session.add(CaseEvent(case_id=case.id, kind="escalated" if escalated else "message", payload={
        "message_id": message.id, "level": triage.level, "categories": list(triage.categories),
        "situation": triage.situation, "speaker": triage.speaker,
        "rules": list(triage.reasons), "model": triage.scores,
    }))
    message.case_id = case.id
    return CaseChange(case.id, created=False, escalated=escalated, severity=case.severity, team=case.team,
                      raised=escalated or new_category or new_situation, teams=_concerned(case, teams_file, region))


def _join_flood(session: Session, user: ChannelUser, message: Message, triage: Triage, teams_file: Path | None,
                origin: str | None) -> CaseChange:
    """Adds a message past the flood limit to its source's flagged flood case (opened by the first one)."""
    case = open_flood_case(session, user.channel, origin)
    if case is None:
        case = Case(user_id=user.id, channel=user.channel, severity=triage.level, categories=list(triage.categories),
                    evidence=list(triage.evidence), reasons=[FLOOD_CATEGORY_REASON, *triage.reasons], status="open",
                    mandatory_report=bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories)),
                    team=team_for(triage.categories, teams_file) if teams_file else None, origin=origin, flood=True)
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, kind="created", payload={
            "severity": triage.level, "categories": list(triage.categories), "flood": True,
            "transcript": _transcript(session, user.id),
        }))
        message.case_id = case.id
        return CaseChange(case.id, created=True, escalated=False, severity=case.severity, team=case.team)
    escalated = triage.level == "red" and case.severity != "red"
    case.severity = "red" if escalated else case.severity
    case.categories = list(dict.fromkeys([*case.categories, *triage.categories]))
    case.updated_at = utcnow()
    session.add(CaseEvent(case_id=case.id, kind="flood_message", payload={
        "message_id": message.id, "user_id": user.id, "level": triage.level, "categories": list(triage.categories),
    }))
    message.case_id = case.id
    return CaseChange(case.id, created=False, escalated=escalated, severity=case.severity, team=case.team)


def attach_to_open_case(session: Session, user: ChannelUser, message: Message) -> int | None:
    """A green message in a conversation with an open case (「开玩笑的」) is added for a human to judge."""
    case = open_case_for(session, user.id)
    if case is None:
        return None
    session.add(CaseEvent(case_id=case.id, kind="message", payload={"message_id": message.id, "level": "green"}))
    case.updated_at = utcnow()
    message.case_id = case.id
    return case.id
