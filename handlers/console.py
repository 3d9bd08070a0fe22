"""Counsellor console under /console: the queue (refreshing itself), the case page, and the routers for
sign-in (console_auth), case actions (console_actions), supervisor pages (console_admin) and the learning
loop's pages (console_feedback)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.casework.workflow import PermissionDenied, require_view
from bot.casework.cases import ensure_region_teams
from bot.config import Settings
from bot.console.audit import audit
from bot.console.reports import beijing_today
from bot.console.sla import SlaChecker
from bot.console.views import QueueFilters, case_detail, due_follow_ups, live_messages, queue_rows
from bot.errors import StorageError
from bot.prompts import prompt_yaml
from bot.storage.db import session_scope
from bot.storage.models import Case, utcnow
from handlers import console_actions, console_admin, console_auth, console_feedback
from handlers.console_auth import Ctx, current, current_polling, render
from handlers.console_guard import CaseId, ConsoleRoute, parse_id


log = logging.getLogger(__name__)
LIVE_POLL_MS = 2000  # the case page asks for new messages this often (new family messages within 3 s)


def _add_region_teams(settings: Settings) -> None:
    """The local teams of the routing file's `regions:` block get their row (queues, members, team lists)."""
    try:
        with session_scope(settings) as session:
            added = ensure_region_teams(session, settings.teams_file)
    except (SQLAlchemyError, StorageError):  # the database is down at start: the next start adds them
        log.warning("region teams of the routing file not added: database unavailable")
        return
    if added:
        log.info("teams added from the routing file: %s", ", ".join(added))


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    await run_in_threadpool(_add_region_teams, app.state.settings)
    checker = SlaChecker(app.state.settings)
    checker.start()
    yield
    checker.stop()


# HTML pages and form posts, not a JSON API: left out of the OpenAPI schema (and so out of /docs).
router = APIRouter(tags=["console"], lifespan=_lifespan, route_class=ConsoleRoute, include_in_schema=False)
router.include_router(console_auth.router)
router.include_router(console_actions.router)
router.include_router(console_admin.router)
router.include_router(console_feedback.router)


def _filters(request: Request) -> QueueFilters:
    q = request.query_params
    return QueueFilters(status=q.get("status", ""), severity=q.get("severity", ""), category=q.get("category", ""),
                        mine=q.get("mine") == "1", overdue=q.get("overdue") == "1", page=parse_id(q.get("page", "")) or 1,
                        search=(q.get("q") or q.get("ref", ""))[:40])  # `ref`: links of the old reference box


def _without_page(request: Request) -> str:
    """The queue's query string without `page`, for the page links."""
    return urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "page"])


def _queue(ctx: Ctx, filters: QueueFilters) -> dict:
    with session_scope(ctx.settings) as session:
        now = utcnow()
        return {"queue": queue_rows(session, ctx.actor, ctx.settings, filters, now),
                "due": due_follow_ups(session, ctx.actor, beijing_today())}


@router.get("/console", response_class=HTMLResponse)
async def queue_page(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    filters = _filters(request)
    data = await run_in_threadpool(_queue, ctx, filters)
    return render(request, "console/queue.html", ctx, filters=filters, query=request.url.query,
                  page_query=_without_page(request),
                  poll_ms=int(ctx.settings.console_poll_seconds * 1000), **data)


@router.get("/console/queue/rows", response_class=HTMLResponse)
async def queue_rows_fragment(request: Request, ctx: Ctx = Depends(current_polling)) -> HTMLResponse:
    """The queue body alone, fetched by the page every few seconds (not counted as activity)."""
    data = await run_in_threadpool(_queue, ctx, _filters(request))
    return render(request, "console/_queue_rows.html", ctx, page_query=_without_page(request), **data)


def _case_page(ctx: Ctx, case_id: int) -> dict:
    """The case, audited as a view (the page shows phone and ID numbers in full)."""
    with session_scope(ctx.settings) as session:
        case = require_view(ctx.actor, session.get(Case, case_id))
        audit(session, ctx.actor.account, "view_case", case.id, ip=ctx.actor.ip)
        return case_detail(session, case, ctx.actor, ctx.settings)


def _audit_denied(request: Request, ctx: Ctx, case_id: int, reason: str) -> None:
    with session_scope(ctx.settings) as session:
        audit(session, ctx.actor.account, "denied", case_id, {"path": request.url.path, "reason": reason},
              ctx.actor.ip)


def show_case(request: Request, ctx: Ctx, case_id: int, error: str = "", status_code: int = 200,
              draft: str = "") -> HTMLResponse:
    """The case page; with status 403 `error` is a refused action, audited here (as is a refused view)."""
    try:
        detail = _case_page(ctx, case_id)
    except PermissionDenied as exc:
        _audit_denied(request, ctx, case_id, error or str(exc))
        return render(request, "console/denied.html", ctx, 403, message=error or str(exc))
    if status_code == 403:
        _audit_denied(request, ctx, case_id, error)
    return render(request, "console/case.html", ctx, status_code, error=error, done=request.query_params.get("done", ""),
                  canned=prompt_yaml("console_replies.yaml"), today=beijing_today(), draft=draft,
                  poll_ms=LIVE_POLL_MS, **detail)


@router.get("/console/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: CaseId, ctx: Ctx = Depends(current)) -> HTMLResponse:
    return await run_in_threadpool(show_case, request, ctx, case_id)


def _live(ctx: Ctx, case_id: int, after: int) -> list[dict]:
    with session_scope(ctx.settings) as session:
        case = require_view(ctx.actor, session.get(Case, case_id))
        return live_messages(session, case, ctx.actor, after)


@router.get("/console/cases/{case_id}/messages")
async def case_messages(request: Request, case_id: CaseId, ctx: Ctx = Depends(current_polling)) -> JSONResponse:
    """New transcript lines after message id `after`, as JSON: polled every 2 s by the case page (not counted
    as activity; the page view itself was audited). Same permission as the page."""
    after = parse_id(request.query_params.get("after", "")) or 0
    try:
        rows = await run_in_threadpool(_live, ctx, case_id, after)
    except PermissionDenied as exc:
        await run_in_threadpool(_audit_denied, request, ctx, case_id, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=403)
    return JSONResponse(rows)


@router.get("/console/", include_in_schema=False)
async def console_slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)
