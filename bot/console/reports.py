"""Figures for /console/reports and the 台账 CSV: cases per week, response times, SLA, referrals, follow-ups."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.console.accounts import aware
from bot.console.views import sla_state
from bot.storage.models import Account, Case, FollowUp, MandatoryReport, Referral, utcnow

BEIJING = dt.timezone(dt.timedelta(hours=8))


def beijing_today() -> dt.date:
    return utcnow().astimezone(BEIJING).date()


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in Beijing time, as UTC-aware datetimes."""
    return (dt.datetime.combine(start, dt.time(), BEIJING),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), BEIJING))


def cases_between(session: Session, start: dt.date, end: dt.date) -> list[Case]:
    low, high = _bounds(start, end)
    return list(session.scalars(select(Case).where(Case.created_at >= low, Case.created_at < high).order_by(Case.id)))


def _minutes(case: Case) -> float | None:
    if case.first_response_at is None:
        return None
    return (aware(case.first_response_at) - aware(case.created_at)).total_seconds() / 60


def report(session: Session, settings: Settings, start: dt.date, end: dt.date) -> dict:
    cases = cases_between(session, start, end)
    ids = [case.id for case in cases]
    weeks: dict[dt.date, Counter[str]] = {}
    monday = start - dt.timedelta(days=start.weekday())
    while monday <= end:
        weeks[monday] = Counter()
        monday += dt.timedelta(days=7)
    for case in cases:
        day = aware(case.created_at).astimezone(BEIJING).date()
        weeks.setdefault(day - dt.timedelta(days=day.weekday()), Counter())[case.severity] += 1
    categories = Counter(category for case in cases for category in (case.categories or []))
    minutes = {severity: [m for case in cases if case.severity == severity and (m := _minutes(case)) is not None]
               for severity in ("red", "yellow")}
    now = utcnow()
    breaches = sum(1 for case in cases if sla_state(case, settings, now) in ("breached", "late"))
    referrals = Counter(session.scalars(select(Referral.destination).where(Referral.case_id.in_(ids))))
    follow_ups = list(session.scalars(select(FollowUp).where(FollowUp.due_on >= start, FollowUp.due_on <= end)))
    return {
        "start": start, "end": end, "total": len(cases),
        "weeks": [(week, counts["red"], counts["yellow"]) for week, counts in sorted(weeks.items())],
        "categories": categories.most_common(),
        "median_minutes": {s: round(statistics.median(v), 1) if v else None for s, v in minutes.items()},
        "sla_breaches": breaches, "referrals": referrals.most_common(),
        "follow_ups_due": len(follow_ups), "follow_ups_done": sum(1 for f in follow_ups if f.done_at is not None),
    }


CSV_COLUMNS = ("case_id", "created_at", "severity", "categories", "channel", "team", "region", "status",
               "assigned_to", "first_response_at", "first_response_minutes", "sla", "referrals", "mandatory_report",
               "follow_ups_due", "follow_ups_done", "closed_at", "outcome")


def _stamp(value: dt.datetime | None) -> str:
    return aware(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula (e.g. an account named "=HYPERLINK(...)") gets a leading
    apostrophe, so Excel/WPS show it as text."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def cases_csv(session: Session, settings: Settings, start: dt.date, end: dt.date) -> str:
    """台账: one row per case created in the range (Beijing dates); no message text, no contact details (the
    region is the case's, e.g. 启东市汇龙镇: where help is needed, not how to reach the person)."""
    cases = cases_between(session, start, end)
    ids = [case.id for case in cases]
    names = dict(session.execute(select(Account.id, Account.username)).all())
    referrals: dict[int, list[str]] = {}
    for case_id, destination in session.execute(select(Referral.case_id, Referral.destination)
                                                .where(Referral.case_id.in_(ids)).order_by(Referral.id)):
        referrals.setdefault(case_id, []).append(destination)
    reports = dict(session.execute(select(MandatoryReport.case_id, MandatoryReport.status)
                                   .where(MandatoryReport.case_id.in_(ids)).order_by(MandatoryReport.id)).all())
    follow_ups: dict[int, list[FollowUp]] = {}
    for follow_up in session.scalars(select(FollowUp).where(FollowUp.case_id.in_(ids))):
        follow_ups.setdefault(follow_up.case_id, []).append(follow_up)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    now = utcnow()
    for case in cases:
        minutes = _minutes(case)
        planned = follow_ups.get(case.id, [])
        writer.writerow([_cell(value) for value in (
            case.id, _stamp(case.created_at), case.severity, ";".join(case.categories or []), case.channel,
            case.team or "", case.region or "", case.status, names.get(case.assigned_to, ""),
            _stamp(case.first_response_at),
            "" if minutes is None else round(minutes, 1), sla_state(case, settings, now),
            ";".join(referrals.get(case.id, [])),
            reports.get(case.id, "required" if case.mandatory_report else ""),
            len(planned), sum(1 for f in planned if f.done_at), _stamp(case.closed_at), case.outcome or "",
        )])
    return out.getvalue()
