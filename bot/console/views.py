"""What the console shows: the queue (visible cases, SLA state, masked previews), due follow-ups, and one
case with its transcript, evidence, history and records."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, and_, case as when, cast, false, func, or_, select, true
from sqlalchemy.orm import Session

from bot.casework.workflow import Actor, can_view
from bot.casework.cases import normalise_ref
from bot.config import Settings
from bot.console.accounts import aware
from bot.console.replies import delivery_states, outbox_key, reply_window
from bot.conversation.contact import masked
from bot.storage.models import (Account, Case, CaseEvent, ChannelUser, Contact, ConversationMode, FollowUp,
                                MandatoryReport, Message, Referral, Team, utcnow)

OPEN = ("open", "claimed", "in_progress", "follow_up")
PREVIEW_CHARS = 24
_ID_RE = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE_RE = re.compile(r"(?<!\d)(0\d{2,3}-?)\d{3,4}(\d{4})(?!\d)")


def mask(text: str) -> str:
    """Phone and ID-card numbers shortened to their ends (lists only; the audited case page shows them)."""
    text = _ID_RE.sub(lambda m: f"{m[1]}********{m[2]}", text)
    text = _PHONE_RE.sub(lambda m: f"{m[1]}****{m[2]}", text)
    return _LANDLINE_RE.sub(lambda m: f"{m[1]}****{m[2]}", text)


def sla_deadline(case: Case, settings: Settings) -> dt.datetime:
    window = (dt.timedelta(minutes=settings.sla_red_minutes) if case.severity == "red"
              else dt.timedelta(hours=settings.sla_yellow_hours))
    return aware(case.sla_from or case.created_at) + window


def sla_remaining_minutes(case: Case, settings: Settings, now: dt.datetime) -> int | None:
    """Whole minutes left before the response deadline (negative: that late); None once someone responded."""
    if case.first_response_at is not None:
        return None
    return int((sla_deadline(case, settings) - now).total_seconds() // 60)


def sla_state(case: Case, settings: Settings, now: dt.datetime) -> str:
    """ok | soon (last quarter of the window) | breached (no response yet, past due) | met | late."""
    deadline = sla_deadline(case, settings)
    responded = aware(case.first_response_at)
    if responded is not None:
        return "met" if responded <= deadline else "late"
    if now > deadline:
        return "breached"
    window = deadline - aware(case.sla_from or case.created_at)
    return "soon" if deadline - now < window / 4 else "ok"


def visible_filter(actor: Actor):  # type: ignore[no-untyped-def]
    """SQL form of case_workflow.can_view, for lists."""
    if actor.is_supervisor:
        return true()
    unclaimed = [Case.team.in_(actor.teams) if actor.teams else false()]
    if actor.account.on_call:
        unclaimed.append(Case.severity == "red")
    return or_(Case.assigned_to == actor.account.id, and_(Case.assigned_to.is_(None), or_(*unclaimed)))


@dataclass
class QueueFilters:
    status: str = ""  # "" = every open status
    severity: str = ""
    category: str = ""
    mine: bool = False
    overdue: bool = False
    page: int = 1
    search: str = ""  # the one search box: a case number (#12), a public reference or a phone (or its last 4+ digits)


@dataclass
class QueuePage:
    """One page of the queue, and how many matching cases are on other pages (never silently dropped)."""

    rows: list[dict]
    page: int
    pages: int
    total: int
    not_shown: int
    red_not_shown: int


def _first_inbound(session: Session, case_ids: list[int]) -> dict[int, str]:
    if not case_ids:
        return {}
    firsts = (select(func.min(Message.id)).where(Message.case_id.in_(case_ids), Message.direction == "in")
              .group_by(Message.case_id))
    return dict(session.execute(select(Message.case_id, Message.text).where(Message.id.in_(firsts))).all())


def _phone_digits(text: str) -> str:
    """The digits of a phone number as typed ('139 1234 5678', '+86 139…', '0513-8312 3456'), or "" when the
    text is not only a phone number."""
    if not text or re.search(r"[^\d\s+\-()（）]", text):
        return ""
    digits = re.sub(r"\D", "", text)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def search_matches(text: str):  # type: ignore[no-untyped-def]
    """The cases the search box finds: by case number (#12 or 12), public reference (any case, typed with or
    without # and -) or the family's call-back phone, whole or its last digits (at least 4)."""
    text = text.strip()
    wanted = [Case.public_ref == ref] if (ref := normalise_ref(text)) else []
    if (number := text.lstrip("#").strip()).isascii() and number.isdigit() and len(number) <= 9:
        wanted.append(Case.id == int(number))
    if len(digits := _phone_digits(text)) >= 4:
        stored = func.replace(func.replace(Contact.phone, "-", ""), " ", "")
        wanted.append(Case.user_id.in_(select(Contact.user_id).where(stored.endswith(digits, autoescape=True))))
    return or_(*wanted) if wanted else false()


def _queue_query(actor: Actor, filters: QueueFilters, today: dt.date):  # type: ignore[no-untyped-def]
    """The WHERE clause of the queue: every filter in SQL, so paging and counts see the same cases. A search
    looks at closed cases too (a family calling back about an old case), unless a status is chosen."""
    query = select(Case).where(visible_filter(actor))
    if filters.search:
        query = query.where(search_matches(filters.search))
    if filters.status:
        query = query.where(Case.status == filters.status)
    elif not filters.search:
        query = query.where(Case.status.in_(OPEN))
    if filters.severity:
        query = query.where(Case.severity == filters.severity)
    if filters.mine:
        query = query.where(Case.assigned_to == actor.account.id)
    if filters.category:  # categories is a JSON list of keys: match the quoted key in its text form
        query = query.where(cast(Case.categories, String).contains(f'"{filters.category}"', autoescape=True))
    if filters.overdue:
        query = query.where(Case.id.in_(select(FollowUp.case_id).where(FollowUp.done_at.is_(None),
                                                                          FollowUp.due_on < today)))
    return query


def _unread():  # type: ignore[no-untyped-def]
    """A family message on the case that no counsellor has seen on the case page yet."""
    return (select(Message.id).where(Message.case_id == Case.id, Message.direction == "in",
                                     Message.id > func.coalesce(Case.read_upto, 0)).exists())


def _reply_waiting_since():  # type: ignore[no-untyped-def]
    """When the family began waiting for the counsellor's next response on the case (NULL: not waiting): the
    oldest family message since the conversation went to human mode on this case that no delivered counsellor
    message or phone call has answered (cases.answered_upto), once the first response reached the family
    (before that the first-response clock runs)."""
    return (select(func.min(Message.created_at))
            .join(ConversationMode, ConversationMode.user_id == Message.user_id)
            .where(Message.case_id == Case.id, Message.direction == "in", Case.first_response_at.is_not(None),
                   ConversationMode.mode == "human", ConversationMode.case_id == Case.id,
                   Message.created_at >= ConversationMode.since,
                   Message.id > func.coalesce(Case.answered_upto, 0))
            .correlate(Case).scalar_subquery())


def next_response_cutoff(settings: Settings, now: dt.datetime) -> dt.datetime:
    """A family waiting since before this has waited past the next-response target."""
    return now - dt.timedelta(minutes=settings.sla_next_response_minutes)


def queue_order(cutoff: dt.datetime | None = None):  # type: ignore[no-untyped-def]
    """Unclaimed red cases newest first (a flood of old ones cannot hide a new one), then cases whose family has
    waited past the next-response target in human mode (`cutoff`, red first, longest waiting first), then red
    cases with a family message nobody has read, then the other red cases, then other cases with unread
    messages, then the rest; each of those longest waiting first."""
    unclaimed_red = and_(Case.severity == "red", Case.assigned_to.is_(None))
    unread = _unread()
    waiting = _reply_waiting_since()
    overdue = waiting <= cutoff if cutoff is not None else false()
    rank = when((unclaimed_red, 0), (overdue, 1), (and_(Case.severity == "red", unread), 2),
                (Case.severity == "red", 3), (unread, 4), else_=5)
    newest_first = when((unclaimed_red, Case.created_at), else_=None)
    red_first = when((Case.severity == "red", 0), else_=1)
    longest_waiting = when((overdue, waiting), else_=None)
    return rank, newest_first.desc(), red_first, longest_waiting, Case.created_at, Case.id


def reply_waits(session: Session, cases: list[Case]) -> dict[int, dt.datetime]:
    """Since when each of these cases' family has waited for the next response (cases not waiting left out)."""
    ids = [case.id for case in cases if case.first_response_at is not None]
    if not ids:
        return {}
    since = _reply_waiting_since()
    rows = session.execute(select(Case.id, since).where(Case.id.in_(ids))).all()
    return {case_id: aware(at) for case_id, at in rows if at is not None}


def unread_counts(session: Session, cases: list[Case]) -> dict[int, int]:
    """Family messages per case after the last one a counsellor saw on the case page."""
    counts: dict[int, int] = {}
    for case in cases:
        counts[case.id] = int(session.scalar(select(func.count()).select_from(Message).where(
            Message.case_id == case.id, Message.direction == "in", Message.id > (case.read_upto or 0))) or 0)
    return counts


def mark_read(case: Case, actor: Actor, messages: list[Message]) -> None:
    """The case's holder (or anyone, while nobody holds it) has now seen these messages; a supervisor looking
    in does not clear the holder's unread count."""
    if case.assigned_to not in (None, actor.account.id):
        return
    newest = max((m.id for m in messages if m.case_id == case.id and m.direction == "in"), default=0)
    if newest > (case.read_upto or 0):
        case.read_upto = newest


def queue_rows(session: Session, actor: Actor, settings: Settings, filters: QueueFilters,
               now: dt.datetime | None = None) -> QueuePage:
    """One page of the visible cases in queue order; each row ready for the template."""
    now = now or utcnow()
    size = max(1, settings.console_queue_page_size)
    query = _queue_query(actor, filters, (now + dt.timedelta(hours=8)).date())  # overdue by the Beijing date
    counted = query.with_only_columns(Case.severity, func.count()).group_by(Case.severity)
    counts = {severity: int(n) for severity, n in session.execute(counted).all()}
    total = sum(counts.values())
    pages = max(1, -(-total // size))
    page = min(max(1, filters.page), pages)
    order = queue_order(next_response_cutoff(settings, now))
    cases = list(session.scalars(query.order_by(*order).offset((page - 1) * size).limit(size)))
    previews = _first_inbound(session, [case.id for case in cases])
    names = dict(session.execute(select(Account.id, Account.display_name)).all())
    team_names = dict(session.execute(select(Team.key, Team.name)).all())
    unread = unread_counts(session, cases)
    waits = reply_waits(session, cases)
    target = settings.sla_next_response_minutes
    phones = dict(session.execute(select(Contact.user_id, Contact.phone).where(
        Contact.user_id.in_([case.user_id for case in cases]), Contact.phone != "")).all())
    human = set(session.scalars(select(ConversationMode.case_id).where(
        ConversationMode.mode == "human", ConversationMode.case_id.in_([case.id for case in cases]))))
    rows = [{
        "id": case.id, "ref": case.public_ref, "severity": case.severity, "categories": list(case.categories or []),
        "preview": mask(previews.get(case.id, ""))[:PREVIEW_CHARS], "channel": case.channel, "status": case.status,
        "team": case.team, "team_name": team_names.get(case.team, case.team or ""), "region": case.region or "",
        "assigned": names.get(case.assigned_to, ""), "sla": sla_state(case, settings, now),
        "waiting_minutes": int((now - aware(case.created_at)).total_seconds() // 60),
        "unread": unread.get(case.id, 0), "human": case.id in human,
        "phone": masked(phones.get(case.user_id, "")), "remaining": sla_remaining_minutes(case, settings, now),
        **_reply_clock(waits.get(case.id), target, now),
    } for case in cases]
    red_shown = sum(row["severity"] == "red" for row in rows)
    return QueuePage(rows, page, pages, total, total - len(rows), counts.get("red", 0) - red_shown)


def _reply_clock(since: dt.datetime | None, target: float, now: dt.datetime) -> dict:
    """The next-response clock of a row: whole minutes the family has waited and minutes left to the target
    (negative: that late), or Nones when nobody waits."""
    if since is None:
        return {"reply_wait": None, "reply_left": None, "reply_overdue": False}
    waited = (now - since).total_seconds() / 60
    left = target - waited
    return {"reply_wait": int(waited), "reply_left": math.ceil(left) if left > 0 else -max(1, math.floor(-left)),
            "reply_overdue": left <= 0}


def due_follow_ups(session: Session, actor: Actor, today: dt.date) -> list[dict]:
    """Follow-ups not done and due today or earlier, on cases the actor can see."""
    rows = session.execute(select(FollowUp, Case).join(Case, Case.id == FollowUp.case_id)
                           .where(FollowUp.done_at.is_(None), FollowUp.due_on <= today, visible_filter(actor))
                           .order_by(FollowUp.due_on)).all()
    return [{"case_id": case.id, "due_on": follow_up.due_on, "note": mask(follow_up.note), "severity": case.severity,
             "overdue": follow_up.due_on < today} for follow_up, case in rows]


def highlight(text: str, evidence: list[str]) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_evidence) so the template can <mark> evidence without raw HTML."""
    spans = sorted({(m.start(), m.end()) for word in evidence if word for m in re.finditer(re.escape(word), text)})
    pieces, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        pieces += [(text[at:start], False), (text[start:end], True)]
        at = end
    pieces.append((text[at:], False))
    return [(piece, marked) for piece, marked in pieces if piece]


def viewable_messages(session: Session, case: Case, actor: Actor) -> tuple[list[Message], list[Case], int]:
    """The user's messages the actor may read: those of cases they may open, and those in no case (the
    conversation around them); plus the user's other cases they may open, and how many messages are hidden
    (replies, phone numbers and the family's words in cases of someone else's stay in those cases)."""
    others = list(session.scalars(select(Case).where(Case.user_id == case.user_id, Case.id != case.id)
                                  .order_by(Case.id.desc())))
    earlier = [other for other in others if can_view(actor, other)]
    allowed = [case.id, *(other.id for other in earlier)]
    mine = or_(Message.case_id.is_(None), Message.case_id.in_(allowed))
    messages = list(session.scalars(select(Message).where(Message.user_id == case.user_id, mine).order_by(Message.id)))
    hidden = session.scalar(select(func.count()).select_from(Message)
                            .where(Message.user_id == case.user_id, ~mine)) or 0
    return messages, earlier, int(hidden)


def case_detail(session: Session, case: Case, actor: Actor, settings: Settings) -> dict:
    """Everything the case page shows (numbers unmasked: the caller audits the view)."""
    user = session.get(ChannelUser, case.user_id)
    messages, earlier, hidden = viewable_messages(session, case, actor)
    mark_read(case, actor, messages)
    mode = session.get(ConversationMode, case.user_id)
    contact = session.get(Contact, case.user_id)
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    replies = session.scalars(select(CaseEvent).where(CaseEvent.kind == "reply", CaseEvent.case_id.in_(
        [case.id, *(other.id for other in earlier)])))
    authors = {e.payload.get("message_id"): e.payload.get("by") for e in replies}
    states = delivery_states(session, case.id)
    transcript = [{
        "id": m.id, "direction": m.direction, "at": aware(m.created_at), "level": m.level,
        "in_case": m.case_id == case.id, "pieces": highlight(m.text, list(case.evidence or []) if m.direction == "in" else []),
        "by": authors.get(m.id), "delivery": states.get(outbox_key(case.id, m.id)),
    } for m in messages]
    accounts = list(session.scalars(select(Account).where(Account.active.is_(True)).order_by(Account.username)))
    return {
        "case": case, "user": user, "transcript": transcript,
        "human_mode": bool(mode and mode.mode == "human" and mode.case_id == case.id),
        "contact": contact, "phone_digits": re.sub(r"\D", "", contact.phone) if contact else "",
        "last_message_id": max((m.id for m in messages), default=0), "hidden_messages": hidden, "events": events,
        "earlier": earlier,
        "window": reply_window(session, user), "sla": sla_state(case, settings, utcnow()),
        "reply_clock": _reply_clock(reply_waits(session, [case]).get(case.id), settings.sla_next_response_minutes,
                                    utcnow()),
        "deadline": sla_deadline(case, settings),
        "referrals": list(session.scalars(select(Referral).where(Referral.case_id == case.id).order_by(Referral.id))),
        "follow_ups": list(session.scalars(select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.due_on))),
        "reports": list(session.scalars(select(MandatoryReport).where(MandatoryReport.case_id == case.id))),
        "accounts": accounts, "names": {a.id: a.display_name for a in accounts},
        "teams": list(session.scalars(select(Team).order_by(Team.key))),
        "triage": _latest_triage(events),
    }


def _latest_triage(events: list[CaseEvent]) -> dict:
    """Who is writing and what happened, as triage last saw it (speaker, situation, the model's confidence)."""
    for event in reversed(events):
        payload = event.payload or {}
        if payload.get("speaker"):
            model = payload.get("model") or {}
            return {"speaker": payload["speaker"], "situation": payload.get("situation") or "none",
                    "p_red": model.get("p_red"), "p_risk": model.get("p_risk")}
    return {}


LIVE_LIMIT = 200  # messages per poll of the live case page (the page asks again from the last one it got)


def message_json(message: Message, authors: dict, raised: dict | None = None) -> dict:
    """One transcript line for the live case page. `raised`: "reply" when the message raised the risk and the
    bot sent a safety reply, "alert" when it raised the risk and only the counsellors were alerted."""
    author = "family" if message.direction == "in" else (message.author or "bot")
    return {"id": message.id, "direction": message.direction, "author": author, "by": authors.get(message.id),
            "text": message.text, "level": message.level, "created_at": aware(message.created_at).isoformat(),
            "raised": (raised or {}).get(message.id)}


def _events_about(session: Session, kind: str, case_ids: Any, message_ids: list[int]) -> list[dict]:
    """Payloads of the `kind` events of these cases (ids or a subquery) that name one of these messages, found in
    SQL."""
    if not message_ids:
        return []
    return list(session.scalars(select(CaseEvent.payload).where(
        CaseEvent.case_id.in_(case_ids), CaseEvent.kind == kind,
        CaseEvent.payload["message_id"].as_integer().in_(message_ids))))


def live_messages(session: Session, case: Case, actor: Actor, after: int, limit: int = LIVE_LIMIT) -> list[dict]:
    """The messages after id `after` that the case page may show (the same rule as the page: the person's
    messages in no case or in a case the actor may open), oldest first, at most `limit`; marked read. The id,
    the permission and the limit are all in the SQL: a long conversation is never loaded to send two lines."""
    allowed = select(Case.id).where(Case.user_id == case.user_id, or_(Case.id == case.id, visible_filter(actor)))
    new = list(session.scalars(select(Message).where(
        Message.user_id == case.user_id, Message.id > after,
        or_(Message.case_id.is_(None), Message.case_id.in_(allowed))).order_by(Message.id).limit(limit)))
    replies = _events_about(session, "reply", allowed, [m.id for m in new if m.direction == "out"])
    authors = {p.get("message_id"): p.get("by") for p in replies}
    risen = _events_about(session, "risk_raised", [case.id], [m.id for m in new if m.direction == "in"])
    raised = {p.get("message_id"): "reply" if p.get("crisis_reply") else "alert" for p in risen}
    mark_read(case, actor, new)
    return [message_json(m, authors, raised) for m in new]
