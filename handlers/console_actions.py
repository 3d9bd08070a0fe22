"""POST actions on a case. Each checks the CSRF token, runs one bot.casework.workflow action (which enforces the
state machine and permissions and writes the audit entry) and redirects back to the case page."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from bot.casework import workflow as workflow
from bot.console.replies import send_reply
from bot.conversation.family import tell_family
from bot.prompts import prompt_text
from bot.errors import TongbanError
from bot.storage.db import session_scope
from bot.storage.models import Case
from handlers.console_auth import Ctx, check_csrf, current
from handlers.console_guard import CaseId, ConsoleRoute, parse_id

router = APIRouter(route_class=ConsoleRoute)


# Dates outside these years are typing mistakes (and year 1 or 9999 breaks time-zone arithmetic).
YEARS = range(2000, 2100)


def _date(value: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or day.year not in YEARS:
        raise workflow.WorkflowError("日期格式不对 / give a date as YYYY-MM-DD")
    return day


def _datetime(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.year not in YEARS:
        raise workflow.WorkflowError("时间格式不对 / give a time as YYYY-MM-DDTHH:MM")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))  # Beijing time


# action name -> what it does with (session, case, actor, form)
ACTIONS = {
    "claim": lambda s, c, a, f: workflow.claim(s, c, a),
    "assign": lambda s, c, a, f: workflow.assign(s, c, a, parse_id(f.get("account_id", "")), f.get("team") or None),
    "note": lambda s, c, a, f: workflow.add_note(s, c, a, f.get("text", "")),
    "referral": lambda s, c, a, f: workflow.add_referral(s, c, a, f.get("destination", ""), f.get("outcome", "")),
    "report": lambda s, c, a, f: workflow.record_mandatory_report(
        s, c, a, f.get("reported_to", ""), _datetime(f.get("reported_at", "")), f.get("reference", "")),
    "defer_report": lambda s, c, a, f: workflow.defer_mandatory_report(s, c, a, f.get("reason", "")),
    "follow_up": lambda s, c, a, f: workflow.schedule_follow_up(s, c, a, _date(f.get("due_on", "")), f.get("note", "")),
    "follow_up_done": lambda s, c, a, f: workflow.complete_follow_up(s, c, a, parse_id(f.get("follow_up_id", "")) or 0),
    "close": lambda s, c, a, f: workflow.close(s, c, a, f.get("outcome", ""), f.get("note", "")),
    "reopen": lambda s, c, a, f: workflow.reopen(s, c, a, f.get("reason", "")),
    "handback": lambda s, c, a, f: workflow.hand_back(s, c, a),
    "phoned": lambda s, c, a, f: workflow.record_phone_call(s, c, a, f.get("note", "")),
    "release": lambda s, c, a, f: workflow.release(s, c, a, f.get("note", "")),
    "hand_to": lambda s, c, a, f: workflow.hand_to(s, c, a, parse_id(f.get("account_id", "")), f.get("note", "")),
}
# Actions that also need the settings: a new region may move the case to its local team (the routing file).
WITH_SETTINGS = {
    "contact": lambda s, c, a, f, settings: workflow.update_contact(s, c, a, f, settings.teams_file),
}
# Actions that may hand the conversation back to the bot (they return True when they did): the family is told.
TO_BOT = ("handback", "close", "release")


def _run(ctx: Ctx, case_id: int, action: str, form: dict[str, str]) -> None:
    if action == "reply":
        with session_scope(ctx.settings) as session:
            case = session.get(Case, case_id)
            workflow.require_not_taken(session, case, ctx.actor)
            workflow.require_view(ctx.actor, case)
        send_reply(ctx.settings, case_id, ctx.actor, form.get("text", ""))
        return
    with session_scope(ctx.settings) as session:
        case = workflow.require_view(ctx.actor, session.get(Case, case_id))
        if action in WITH_SETTINGS:
            WITH_SETTINGS[action](session, case, ctx.actor, form, ctx.settings)
        to_bot = action in ACTIONS and ACTIONS[action](session, case, ctx.actor, form) is True and action in TO_BOT
        user_id = case.user_id
    if to_bot:
        tell_family(ctx.settings, user_id, case_id, prompt_text("replies/handback.txt"))


def _fields(form: FormData) -> dict[str, str]:
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.post("/console/cases/{case_id}/{action}")
async def case_action(request: Request, case_id: CaseId, action: str, ctx: Ctx = Depends(current)) -> Response:
    from handlers.console import show_case

    form = _fields(await request.form())
    await check_csrf(request, ctx, form.get("csrf", ""))
    if action != "reply" and action not in ACTIONS and action not in WITH_SETTINGS:
        return Response("unknown action", status_code=404)
    try:
        await run_in_threadpool(_run, ctx, case_id, action, form)
    except workflow.PermissionDenied as exc:  # the page never echoes the text; console.js shows the unsent reply
        return await run_in_threadpool(show_case, request, ctx, case_id, str(exc), 403)
    except TongbanError as exc:  # a reply that could not go out stays in the box (e.g. lost a claim race)
        draft = form.get("text", "") if action == "reply" else ""
        return await run_in_threadpool(show_case, request, ctx, case_id, str(exc), 409, draft)
    return RedirectResponse(f"/console/cases/{case_id}?done={action}", status_code=303)
