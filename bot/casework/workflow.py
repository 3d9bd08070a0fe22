"""What counsellors may do to a case, and in which state: the explicit state machine and its actions.

open → claimed → in_progress → follow_up → closed, and closed → in_progress (reopen). Every action checks
who may do it, moves the case by the transition table, writes a CaseEvent and an audit entry, all in the
caller's transaction. Templates only show buttons; the rules live here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.casework.cases import apply_region, phone_answered
from bot.console.accounts import at_least
from bot.console.audit import audit
from bot.conversation.contact import PHONE_RE, contact_of, masked
from bot.conversation.modes import leave_human
from bot.conversation.profile import mark_counsellor_fields
from bot.errors import TongbanError
from bot.prompts import prompt_yaml
from bot.storage.models import (Account, Case, CaseEvent, ConversationMode, FollowUp, MandatoryReport, Referral, Team,
                                TeamMember, utcnow)

# action -> {from status: to status}; a status missing from an action's map means "not allowed now".
TRANSITIONS: dict[str, dict[str, str]] = {
    "claim": {"open": "claimed"},
    "assign": {"open": "claimed", "claimed": "claimed", "in_progress": "in_progress", "follow_up": "follow_up"},
    "work": {"claimed": "in_progress", "in_progress": "in_progress", "follow_up": "follow_up"},
    "schedule_follow_up": {"claimed": "follow_up", "in_progress": "follow_up", "follow_up": "follow_up"},
    "close": {"claimed": "closed", "in_progress": "closed", "follow_up": "closed"},
    "reopen": {"closed": "in_progress"},
    "release": {"claimed": "open", "in_progress": "open", "follow_up": "open"},
}
ACTION_NAMES = {"claim": "认领", "assign": "指派", "work": "处理", "schedule_follow_up": "安排回访",
                "close": "结案", "reopen": "重新打开", "release": "放回队伍"}


class WorkflowError(TongbanError):
    """An action that the case's state or the rules do not allow (shown to the counsellor as is)."""


class PermissionDenied(TongbanError):
    """The account may not see or change this case."""


@dataclass
class Actor:
    """The logged-in account doing something, its teams, and where the request came from (for the audit)."""

    account: Account
    teams: set[str] = field(default_factory=set)
    ip: str = ""

    @property
    def is_supervisor(self) -> bool:
        return at_least(self.account, "supervisor")


def labels() -> dict:
    return prompt_yaml("console_labels.yaml")


def next_status(status: str, action: str) -> str:
    """The status after `action`, or WorkflowError saying why not."""
    target = TRANSITIONS[action].get(status)
    if target is None:
        state = labels()["statuses"].get(status, status)
        raise WorkflowError(f"个案现在是「{state}」，不能{ACTION_NAMES[action]} / cannot {action} a case that is {status}")
    return target


def can_view(actor: Actor, case: Case) -> bool:
    """Supervisors see every case; a counsellor sees their own, and unclaimed ones in their teams' queues
    (unclaimed red cases too when on call)."""
    if actor.is_supervisor or case.assigned_to == actor.account.id:
        return True
    if case.assigned_to is not None:
        return False
    return case.team in actor.teams or (actor.account.on_call and case.severity == "red")


def can_work(actor: Actor, case: Case) -> bool:
    return actor.is_supervisor or case.assigned_to == actor.account.id


def require_view(actor: Actor, case: Case | None) -> Case:
    if case is None or not can_view(actor, case):
        raise PermissionDenied("没有权限查看这个个案 / not allowed to see this case")
    return case


def _require_work(actor: Actor, case: Case) -> None:
    require_view(actor, case)
    if not can_work(actor, case):
        raise PermissionDenied("请先认领这个个案 / claim the case first")


def _record(session: Session, case: Case, actor: Actor, kind: str, payload: dict) -> None:
    """The case history entry and the audit entry for one action."""
    session.add(CaseEvent(case_id=case.id, kind=kind, payload={**payload, "by": actor.account.username}))
    audit(session, actor.account, kind, case.id, payload, actor.ip)
    case.updated_at = utcnow()


def _move(case: Case, action: str) -> dict:
    before, case.status = case.status, next_status(case.status, action)
    return {"from": before, "to": case.status}


def _responded(case: Case) -> None:
    if case.first_response_at is None:
        case.first_response_at = utcnow()


def _claimed_by(session: Session, account_id: int | None) -> WorkflowError:
    holder = session.get(Account, account_id) if account_id else None
    name = (holder.display_name or holder.username) if holder else "?"
    return WorkflowError(f"这个个案已由「{name}」认领，请联系 TA / already claimed by {holder.username if holder else '?'}")


def require_not_taken(session: Session, case: Case | None, actor: Actor) -> None:
    """PermissionDenied naming the holder when another counsellor took a case this actor could see while it was
    unclaimed (a reply typed meanwhile); others learn nothing about the case."""
    if case is None or case.assigned_to in (None, actor.account.id) or actor.is_supervisor:
        return
    if case.team in actor.teams or (actor.account.on_call and case.severity == "red"):
        raise PermissionDenied(str(_claimed_by(session, case.assigned_to)))


def claim(session: Session, case: Case, actor: Actor) -> None:
    """Takes an unclaimed case. Two counsellors claiming at once: one conditional UPDATE wins, the other is
    told who holds the case."""
    require_view(actor, case)
    if case.assigned_to not in (None, actor.account.id):
        raise _claimed_by(session, case.assigned_to)
    moved = _move(case, "claim")
    won = session.execute(update(Case).where(Case.id == case.id, Case.assigned_to.is_(None))
                          .values(assigned_to=actor.account.id, status=case.status)
                          .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        raise _claimed_by(session, session.scalar(select(Case.assigned_to).where(Case.id == case.id)))
    case.assigned_to = actor.account.id
    _record(session, case, actor, "claim", moved)  # a claim is not a response: the family has heard nothing


def assign(session: Session, case: Case, actor: Actor, account_id: int | None, team: str | None = None) -> None:
    """Supervisors give the case to a counsellor and/or move it to another team's queue."""
    if not actor.is_supervisor:
        raise PermissionDenied("只有督导可以指派或转队 / only supervisors assign or move cases")
    if team and team != case.team:
        if session.get(Team, team) is None:
            raise WorkflowError(f"没有这个队伍 / no team {team!r}")
        _record(session, case, actor, "reassign_team", {"from_team": case.team, "to_team": team})
        case.team = team
    if account_id and account_id != case.assigned_to:
        target = session.get(Account, account_id)
        if target is None or not target.active:
            raise WorkflowError("没有这个咨询员 / no such active account")
        moved = _move(case, "assign")
        _record(session, case, actor, "assign", {**moved, "to_account": target.username,
                                                 "from_account_id": case.assigned_to})
        case.assigned_to = target.id


def add_note(session: Session, case: Case, actor: Actor, text: str) -> None:
    require_view(actor, case)
    if not text.strip():
        raise WorkflowError("备注不能为空 / the note is empty")
    session.add(CaseEvent(case_id=case.id, kind="note", payload={"text": text.strip(), "by": actor.account.username}))
    audit(session, actor.account, "note", case.id, {}, actor.ip)  # the note text stays in the case, not the log


def mark_reply(session: Session, case: Case, actor: Actor, message_id: int, delivery: str) -> None:
    """Called by bot.console.replies after storing the outbound message. Writing is not yet a response: the
    message counts when it reaches the family (bot.casework.cases.response_delivered, called by the channel)."""
    _require_work(actor, case)
    moved = _move(case, "work")
    _record(session, case, actor, "reply", {**moved, "message_id": message_id, "delivery": delivery})


def record_phone_call(session: Session, case: Case, actor: Actor, note: str) -> None:
    """「已电话联系」: a call to the family counts as the response, as a delivered message does."""
    _require_work(actor, case)
    moved = _move(case, "work")
    _responded(case)
    phone_answered(session, case)
    _record(session, case, actor, "phoned", {**moved, "note": note.strip()})


def add_referral(session: Session, case: Case, actor: Actor, destination: str, outcome: str) -> Referral:
    _require_work(actor, case)
    if destination not in labels()["referral_destinations"]:
        raise WorkflowError(f"未知转介去向 / unknown referral destination {destination!r}")
    moved = _move(case, "work")
    referral = Referral(case_id=case.id, destination=destination, outcome=outcome.strip(), account_id=actor.account.id)
    session.add(referral)
    _record(session, case, actor, "referral", {**moved, "destination": destination, "outcome": outcome.strip()})
    return referral


def record_mandatory_report(session: Session, case: Case, actor: Actor, reported_to: str,
                            reported_at: dt.datetime | None, reference: str) -> None:
    _require_work(actor, case)
    if not reported_to.strip():
        raise WorkflowError("请写明报告给了谁（如派出所） / say whom it was reported to")
    _move(case, "work")
    # Stored in UTC: SQLite keeps a datetime's wall time and drops its zone (a Beijing 10:30 read back as UTC
    # showed as 18:30).
    at = reported_at.astimezone(dt.timezone.utc) if reported_at and reported_at.tzinfo else reported_at
    session.add(MandatoryReport(case_id=case.id, status="reported", reported_to=reported_to.strip(),
                                reported_at=at or utcnow(), reference=reference.strip(),
                                account_id=actor.account.id))
    _record(session, case, actor, "mandatory_report",
            {"status": "reported", "reported_to": reported_to.strip(), "reference": reference.strip()})


def defer_mandatory_report(session: Session, case: Case, actor: Actor, reason: str) -> None:
    _require_work(actor, case)
    if not reason.strip():
        raise WorkflowError("暂缓报告必须写明原因 / a deferral needs a reason")
    _move(case, "work")
    session.add(MandatoryReport(case_id=case.id, status="deferred", deferral_reason=reason.strip(),
                                account_id=actor.account.id))
    _record(session, case, actor, "mandatory_report", {"status": "deferred", "reason": reason.strip()})


def schedule_follow_up(session: Session, case: Case, actor: Actor, due_on: dt.date, note: str) -> FollowUp:
    _require_work(actor, case)
    moved = _move(case, "schedule_follow_up")
    follow_up = FollowUp(case_id=case.id, due_on=due_on, note=note.strip(), account_id=actor.account.id)
    session.add(follow_up)
    _record(session, case, actor, "follow_up", {**moved, "due_on": due_on.isoformat(), "note": note.strip()})
    return follow_up


def complete_follow_up(session: Session, case: Case, actor: Actor, follow_up_id: int) -> None:
    _require_work(actor, case)
    follow_up = session.get(FollowUp, follow_up_id)
    if follow_up is None or follow_up.case_id != case.id:
        raise WorkflowError("没有这个回访 / no such follow-up on this case")
    follow_up.done_at = utcnow()
    _record(session, case, actor, "follow_up_done", {"follow_up_id": follow_up_id})


def _report_settled(session: Session, case: Case) -> bool:
    return session.scalar(select(MandatoryReport.id).where(MandatoryReport.case_id == case.id).limit(1)) is not None


def close(session: Session, case: Case, actor: Actor, outcome: str, note: str = "") -> bool:
    """Closes the case; True when this also handed the conversation back to the bot."""
    _require_work(actor, case)
    if outcome not in labels()["outcomes"]:
        raise WorkflowError(f"请选择结案结果 / choose an outcome (not {outcome!r})")
    if case.mandatory_report and not _report_settled(session, case):
        raise WorkflowError("虐待/性侵个案：结案前必须填写强制报告记录，或写明暂缓原因 / "
                            "record the mandatory report (or a deferral with a reason) before closing")
    moved = _move(case, "close")
    case.outcome, case.closed_at = outcome, utcnow()
    left = leave_human(session, case.user_id)
    _record(session, case, actor, "close", {**moved, "outcome": outcome, "note": note.strip(), "to_bot": left})
    return left


def hand_back(session: Session, case: Case, actor: Actor) -> bool:
    """「交还给机器人」: the bot answers the family again (the caller tells them in one line)."""
    _require_work(actor, case)
    if not leave_human(session, case.user_id):
        raise WorkflowError("现在是机器人在回复，不用交还 / the bot is already answering this family")
    _record(session, case, actor, "handback", {})
    return True


def reopen(session: Session, case: Case, actor: Actor, reason: str) -> None:
    _require_work(actor, case)
    moved = _move(case, "reopen")
    case.closed_at, case.outcome = None, None
    _record(session, case, actor, "reopen", {**moved, "reason": reason.strip()})


CONTACT_FIELDS = {"relationship": 32, "child_age": 16, "region": 64, "phone": 32}


def update_contact(session: Session, case: Case, actor: Actor, fields: dict[str, str],
                   teams_file: Path | None = None) -> None:
    """The contact panel: who writes (奶奶/妈妈/孩子本人), the child's age, region and call-back phone, stored
    on the person; the audit entry names the phone masked. A new region goes to the person's open cases, which
    move to the region's local team by the routing file (bot.casework.cases.apply_region)."""
    _require_work(actor, case)
    phone = fields.get("phone", "").strip().replace(" ", "")
    if phone and not PHONE_RE.fullmatch(phone):
        raise WorkflowError("电话号码格式不对（手机 11 位，或区号-座机） / not a phone number")
    contact = contact_of(session, case.user_id)
    changed: dict[str, str] = {}
    for name, limit in CONTACT_FIELDS.items():
        value = phone if name == "phone" else fields.get(name, "").strip()[:limit]
        if value != getattr(contact, name):
            setattr(contact, name, value)
            changed[name] = masked(value) if name == "phone" else value
    if changed:
        contact.updated_at = utcnow()
        mark_counsellor_fields(contact, list(changed))  # the bot keeps these unless the person corrects them
        _record(session, case, actor, "contact", changed)
    if "region" in changed:
        apply_region(session, case.user_id, contact.region, teams_file)


def release(session: Session, case: Case, actor: Actor, note: str) -> bool:
    """Puts the case back in its team's queue for whoever is free (with a note for them). The family's
    conversation goes back to the bot until someone writes (True: the caller tells the family)."""
    _require_work(actor, case)
    moved = _move(case, "release")
    case.assigned_to = None
    left = leave_human(session, case.user_id)
    _record(session, case, actor, "release", {**moved, "note": note.strip(), "to_bot": left})
    return left


def hand_to(session: Session, case: Case, actor: Actor, account_id: int | None, note: str) -> None:
    """Hands the case to a named colleague of the case's team, with a note; the conversation stays theirs."""
    _require_work(actor, case)
    target = session.get(Account, account_id) if account_id else None
    member = target is not None and session.scalar(select(TeamMember.account_id).where(
        TeamMember.account_id == target.id, TeamMember.team_key == (case.team or "")))
    if target is None or not target.active or not (member or at_least(target, "supervisor")):
        raise WorkflowError("请选择本队伍的一位同事 / choose an active colleague of the case's team")
    if not note.strip():
        raise WorkflowError("转交时请写一句交代 / a hand-over needs a note")
    _move(case, "assign")
    _record(session, case, actor, "handover", {"to_account": target.username, "note": note.strip(),
                                               "from_account_id": case.assigned_to})
    case.assigned_to = target.id
    mode = session.get(ConversationMode, case.user_id)
    if mode is not None and mode.mode == "human":
        mode.account_id = target.id
