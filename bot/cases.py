"""Escalation cases: one open case per user conversation, raised to red by a later red message.

A case is written in the same transaction as the message that caused it, and that transaction commits
before any reply is built (persist before you reply).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import ConfigError
from bot.safety import Triage
from bot.storage.models import Case, CaseEvent, ChannelUser, Message, utcnow

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


def team_for(categories: list[str] | tuple[str, ...], path: Path, region: str | None = None) -> str:
    """The team whose queue gets a case: the first category with a team (region map first), else the default."""
    routing = _routing(path)
    maps = [((routing.get("regions") or {}).get(region) or {}) if region else {}, routing["categories"]]
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


def _concerned(case: Case, teams_file: Path | None) -> tuple[str, ...]:
    if not teams_file:
        return (case.team,) if case.team else ()
    others = [team for team in teams_for(case.categories or [], teams_file) if team != case.team]
    return tuple([case.team, *others] if case.team else others)


def open_case_for(session: Session, user_id: int) -> Case | None:
    return session.scalar(
        select(Case).where(Case.user_id == user_id, Case.status.in_(OPEN_STATUSES)).order_by(Case.id.desc()).limit(1)
    )


def record_case(session: Session, user: ChannelUser, message: Message, triage: Triage,
                teams_file: Path | None = None) -> CaseChange:
    """Creates or updates the user's open case for a red or yellow message (caller commits).
    A new case goes to the queue of the team its categories route to (`teams_file`)."""
    case = open_case_for(session, user.id)
    evidence = list(triage.evidence)
    if case is None:
        case = Case(
            user_id=user.id,
            channel=user.channel,
            severity=triage.level,
            categories=list(triage.categories),
            evidence=evidence,
            reasons=list(triage.reasons),
            status="open",
            mandatory_report=bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories)),
            team=team_for(triage.categories, teams_file) if teams_file else None,
        )
        session.add(case)
        session.flush()
        session.add(CaseEvent(case_id=case.id, kind="created", payload={
            "severity": triage.level, "categories": list(triage.categories),
            "situation": triage.situation, "speaker": triage.speaker,
            "transcript": _transcript(session, user.id),
        }))
        message.case_id = case.id
        return CaseChange(case.id, created=True, escalated=False, severity=case.severity, team=case.team, raised=True,
                          teams=_concerned(case, teams_file))
    escalated = triage.level == "red" and case.severity != "red"
    new_category = bool(set(triage.categories) - set(case.categories or []))
    new_situation = triage.situation not in ("", "none") and triage.situation not in _seen_situations(session, case.id)
    case.severity = "red" if escalated else case.severity
    if escalated:  # a red case needs a response within the red window from now, whatever was said before
        case.sla_from, case.first_response_at, case.sla_breach_notified = utcnow(), None, False
    case.categories = list(dict.fromkeys([*case.categories, *triage.categories]))
    case.evidence = list(dict.fromkeys([*case.evidence, *evidence]))
    case.reasons = list(dict.fromkeys([*case.reasons, *triage.reasons]))
    case.mandatory_report = case.mandatory_report or bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories))
    if case.team is None and teams_file:
        case.team = team_for(case.categories, teams_file)
    case.updated_at = utcnow()
    session.add(CaseEvent(case_id=case.id, kind="escalated" if escalated else "message", payload={
        "message_id": message.id, "level": triage.level, "categories": list(triage.categories),
        "situation": triage.situation, "speaker": triage.speaker,
    }))
    message.case_id = case.id
    return CaseChange(case.id, created=False, escalated=escalated, severity=case.severity, team=case.team,
                      raised=escalated or new_category or new_situation, teams=_concerned(case, teams_file))


def attach_to_open_case(session: Session, user: ChannelUser, message: Message) -> int | None:
    """A green message in a conversation with an open case (「开玩笑的」) is added for a human to judge."""
    case = open_case_for(session, user.id)
    if case is None:
        return None
    session.add(CaseEvent(case_id=case.id, kind="message", payload={"message_id": message.id, "level": "green"}))
    case.updated_at = utcnow()
    message.case_id = case.id
    return case.id
