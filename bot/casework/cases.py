"""Escalation cases: one open case per user conversation, raised to red by a later red message.

A case is written in the same transaction as the message that caused it, and that transaction commits
before any reply is built (persist before you reply).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.casework.flood import FLOOD_CATEGORY_REASON, FloodLimit, flooded, open_flood_case
from bot.errors import ConfigError, StorageError
from bot.safety import Triage
from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import (Account, Case, CaseEvent, ChannelUser, Contact, Message, PUBLIC_REF_ALPHABET, Team,
                                TeamMember, new_public_ref, utcnow)

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
    new_categories: tuple[str, ...] = ()  # categories of this message the case did not have yet
    new_situation: bool = False  # an emergency situation (fall, poisoning …) the case had not seen yet


def _seen_situations(session: Session, case_id: int) -> set[str]:
    kinds = ("created", "escalated", "message")
    payloads = session.scalars(select(CaseEvent.payload).where(CaseEvent.case_id == case_id,
                                                                CaseEvent.kind.in_(kinds)))
    return {str(p.get("situation")) for p in payloads if isinstance(p, dict) and p.get("situation")}


REGION_KEYS = frozenset({"team", "name", "aliases", "categories"})


@lru_cache(maxsize=4)
def _routing(path: Path) -> dict:
    """The routing file (read once per process: record_case is on the crisis path), checked."""
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"team routing file unreadable: {path}: {exc}") from exc
    if not isinstance(data.get("categories"), dict) or not data.get("default_team"):
        raise ConfigError(f"team routing file {path} needs `default_team` and a `categories` map")
    for name, entry in (data.get("regions") or {}).items():
        if not isinstance(entry, dict) or not entry:
            raise ConfigError(f"team routing file {path}: region {name!r} needs `team` and/or `categories`")
        if REGION_KEYS & set(entry) and not (entry.get("team") or isinstance(entry.get("categories"), dict)):
            raise ConfigError(f"team routing file {path}: region {name!r} needs `team` and/or `categories`")
    return data


def _region_entry(routing: dict, region: str | None) -> dict:
    """The `regions:` entry for a case's region text ("江苏省启东市汇龙镇"): the entry whose name or one of
    its aliases the text contains, the longest such name winning ("启东市汇龙镇" before "启东"); {} for none.
    An entry without team/name/aliases/categories keys is a plain category map (the file's first format)."""
    best: dict = {}
    longest = 0
    for name, entry in ((routing.get("regions") or {}).items() if region else ()):
        entry = entry if REGION_KEYS & set(entry) else {"categories": entry}
        for alias in (str(name), *(str(a) for a in entry.get("aliases") or ())):
            if alias and alias in region and len(alias) > longest:  # type: ignore[operator]
                best, longest = entry, len(alias)
    return best


def team_for(categories: list[str] | tuple[str, ...], path: Path, region: str | None = None) -> str:
    """The team whose queue gets a case: the first category with a team, else the default team. When the case's
    region matches a `regions:` entry, that entry's own category map comes first, and its `team` (the local
    team, e.g. 启东市未成年人保护工作站) takes what would go to the default (local) team."""
    routing = _routing(path)
    entry = _region_entry(routing, region)
    default = str(routing["default_team"])
    local = str(entry.get("team") or default)
    overrides = entry.get("categories") or {}
    for category in categories:
        if category in overrides:
            return str(overrides[category])
        if category in routing["categories"]:
            team = str(routing["categories"][category])
            return local if team == default else team
    return local


def teams_for(categories: list[str] | tuple[str, ...], path: Path, region: str | None = None) -> list[str]:
    """Every team concerned by the categories, the owning team (most severe category's) first: a self-cutting
    child who also wants to die concerns 12356 as well as the team of the other category."""
    teams = [team_for([category], path, region) for category in categories] or [team_for([], path, region)]
    return list(dict.fromkeys(teams))


def region_teams(path: Path) -> dict[str, str]:
    """The local teams the routing file's `regions:` block names: team key -> name (the key when unnamed)."""
    routing = _routing(path)
    teams: dict[str, str] = {}
    for region, entry in (routing.get("regions") or {}).items():
        if REGION_KEYS & set(entry) and entry.get("team"):
            teams.setdefault(str(entry["team"]), str(entry.get("name") or entry["team"]))
    return teams


def ensure_region_teams(session: Session, path: Path) -> list[str]:
    """Adds the routing file's local teams that the `teams` table does not have yet (their queues, members and
    the console's team lists need the row); returns the keys added."""
    known = set(session.scalars(select(Team.key)))
    named = region_teams(path)
    added = [key for key in named if key not in known]
    session.add_all(Team(key=key, name=named[key][:64]) for key in added)
    return added


def _staffed(session: Session, team: str) -> bool:
    return session.scalar(select(TeamMember.account_id).join(Account, Account.id == TeamMember.account_id)
                          .where(TeamMember.team_key == team, Account.active.is_(True)).limit(1)) is not None


def route(session: Session, categories: list[str] | tuple[str, ...], teams_file: Path, region: str | None) -> str:
    """The owning team with the region's local team (team_for), unless the region gives a team nobody active
    belongs to yet: then the team the categories alone give (a case never waits in a queue nobody reads)."""
    team = team_for(categories, teams_file, region)
    plain = team_for(categories, teams_file)
    return team if team == plain or _staffed(session, team) else plain


def contact_region(session: Session, user_id: int) -> str:
    """The person's region as the contact panel has it ("" when unknown)."""
    return session.scalar(select(Contact.region).where(Contact.user_id == user_id)) or ""


def apply_region(session: Session, user_id: int, region: str, teams_file: Path | None) -> list[tuple[int, str]]:
    """The person's region became known (or changed): their open cases take it. A case still in the team its
    routing gave (nobody moved it by hand) moves to the team routing gives with the region, e.g. from the
    generic local team to the region's own; returns the (case id, new team) of cases that moved."""
    moved: list[tuple[int, str]] = []
    for case in session.scalars(select(Case).where(Case.user_id == user_id, Case.status.in_(OPEN_STATUSES),
                                                   Case.flood.is_(False))):
        before, case.region = case.region, region
        if not teams_file or case.team is None:
            continue
        routed = route(session, case.categories or [], teams_file, before)
        team = route(session, case.categories or [], teams_file, region)
        if case.team == routed and team != case.team:
            session.add(CaseEvent(case_id=case.id, kind="rerouted", payload={
                "from_team": case.team, "to_team": team, "region": region}))
            case.team, case.updated_at = team, utcnow()
            moved.append((case.id, team))
    return moved


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
    others = [team for team in teams_for(case.categories or [], teams_file, case.region or region)
              if team != case.team]
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
    Past `flood_limit` for the channel or the client `origin` (bot.casework.flood), the message joins that source's
    flood case instead."""
    case = open_case_for(session, user.id)
    evidence = list(triage.evidence)
    if case is None and flood_limit is not None and flooded(session, user.channel, origin, flood_limit):
        return _join_flood(session, user, message, triage, teams_file, origin)
    if case is None:
        region = contact_region(session, user.id) or region or ""
        case = Case(
            public_ref=unused_public_ref(session),
            region=region,
            user_id=user.id,
            channel=user.channel,
            severity=triage.level,
            categories=list(triage.categories),
            evidence=evidence,
            reasons=list(triage.explanation or triage.reasons),
            status="open",
            mandatory_report=bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories)),
            team=route(session, triage.categories, teams_file, region) if teams_file else None,
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
    new_categories = tuple(c for c in triage.categories if c not in (case.categories or []))
    new_situation = triage.situation not in ("", "none") and triage.situation not in _seen_situations(session, case.id)
    case.severity = "red" if escalated else case.severity
    if escalated:  # a red case needs a response within the red window from now, whatever was said before
        case.sla_from, case.first_response_at, case.sla_breach_notified = utcnow(), None, False
    case.categories = list(dict.fromkeys([*case.categories, *triage.categories]))
    case.evidence = list(dict.fromkeys([*case.evidence, *evidence]))
    case.reasons = list(dict.fromkeys([*case.reasons, *(triage.explanation or triage.reasons)]))
    case.mandatory_report = case.mandatory_report or bool(MANDATORY_REPORT_CATEGORIES & set(triage.categories))
    if case.team is None and teams_file:
        case.team = route(session, case.categories, teams_file, case.region or region)
    case.updated_at = utcnow()
    session.add(CaseEvent(case_id=case.id, kind="escalated" if escalated else "message", payload={
        "message_id": message.id, "level": triage.level, "categories": list(triage.categories),
        "situation": triage.situation, "speaker": triage.speaker,
        "rules": list(triage.reasons), "model": triage.scores,
    }))
    message.case_id = case.id
    return CaseChange(case.id, created=False, escalated=escalated, severity=case.severity, team=case.team,
                      raised=escalated or bool(new_categories) or new_situation,
                      teams=_concerned(case, teams_file, region), new_categories=new_categories,
                      new_situation=new_situation)


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


def response_delivered(session: Session, message_id: int, at: dt.datetime | None = None) -> bool:
    """A counsellor's message reached the family (web chat: stored where their page shows it; 客服消息: the API
    accepted it; 订阅号: it went out as the passive reply). It stops the clocks: the first response when none
    was delivered yet (True), and the next-response clock for the family's messages before it. Lines the
    service sends (holding line, hand-back) are no response."""
    message = session.get(Message, message_id)
    if message is None or message.author != "counsellor" or message.case_id is None:
        return False
    case = session.get(Case, message.case_id)
    if case is None:
        return False
    case.answered_upto = max(case.answered_upto or 0, message.id)
    if case.first_response_at is not None:
        return False
    case.first_response_at = at or utcnow()
    session.add(CaseEvent(case_id=case.id, kind="first_response", payload={"message_id": message.id}))
    return True


def phone_answered(session: Session, case: Case) -> None:
    """「已电话联系」: a call answers everything the family wrote before it (the next-response clock stops)."""
    newest = session.scalar(select(func.max(Message.id)).where(Message.user_id == case.user_id))
    case.answered_upto = max(case.answered_upto or 0, newest or 0)
