"""Supervisor and admin pages: audit log, reports with charts, 台账 CSV export, accounts."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from bot.console.accounts import (AccountError, at_least, create_account, find_account, generate_password,
                                  set_password, teams_of, unlock)
from bot.console.login_guard import unlock_ip, waiting_ips
from bot.console.audit import audit, audit_entries
from bot.console.reports import beijing_today, cases_csv, report
from bot.storage.db import session_scope
from bot.storage.models import Account, Team
from handlers.console_auth import Ctx, check_csrf, current, render
from handlers.console_guard import ConsoleRoute, audit_refusal, parse_id

router = APIRouter(route_class=ConsoleRoute)
DEFAULT_REPORT_DAYS = 56
MAX_REPORT_DAYS = 3 * 366  # a longer range only costs time (one chart bar per week)
EARLIEST = dt.date(2020, 1, 1)


async def _allowed(request: Request, ctx: Ctx, role: str) -> HTMLResponse | None:
    """None if the account has the role; else the (audited) refusal page."""
    if at_least(ctx.actor.account, role):
        return None
    await audit_refusal(request, "denied", {"needs": role})
    return render(request, "console/denied.html", ctx, 403, message="这个页面只有督导或管理员可以看")


def _range(request: Request) -> tuple[dt.date, dt.date]:
    today = beijing_today()
    try:
        end = dt.date.fromisoformat(request.query_params.get("to", "")) if request.query_params.get("to") else today
        start = (dt.date.fromisoformat(request.query_params["from"]) if request.query_params.get("from")
                 else end - dt.timedelta(days=DEFAULT_REPORT_DAYS - 1))
    except (ValueError, OverflowError):
        start, end = today - dt.timedelta(days=DEFAULT_REPORT_DAYS - 1), today
    # Clamped: no case predates the service or follows today, and 0001-01-01 or 9999-12-31 would overflow.
    start, end = (min(max(day, EARLIEST), today) for day in sorted((start, end)))
    return max(start, end - dt.timedelta(days=MAX_REPORT_DAYS - 1)), end


@router.get("/console/audit", response_class=HTMLResponse)
async def audit_page(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _allowed(request, ctx, "supervisor"):
        return denied
    q = request.query_params
    case_id = parse_id(q.get("case", ""))

    def load() -> list:
        with session_scope(ctx.settings) as session:
            audit(session, ctx.actor.account, "view_audit", case_id, ip=ctx.actor.ip)
            return audit_entries(session, case_id, q.get("user", ""), q.get("action", ""))

    entries = await run_in_threadpool(load)
    return render(request, "console/audit.html", ctx, entries=entries, case_filter=case_id or "",
                  user_filter=q.get("user", ""), action_filter=q.get("action", ""))


@router.get("/console/reports", response_class=HTMLResponse)
async def reports_page(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _allowed(request, ctx, "supervisor"):
        return denied
    start, end = _range(request)

    def load() -> dict:
        with session_scope(ctx.settings) as session:
            return report(session, ctx.settings, start, end)

    return render(request, "console/reports.html", ctx, r=await run_in_threadpool(load))


@router.get("/console/export.csv")
async def export_csv(request: Request, ctx: Ctx = Depends(current)) -> Response:
    if denied := await _allowed(request, ctx, "supervisor"):
        return denied
    start, end = _range(request)

    def load() -> str:
        with session_scope(ctx.settings) as session:
            audit(session, ctx.actor.account, "export", detail={"from": start.isoformat(), "to": end.isoformat()},
                  ip=ctx.actor.ip)
            return cases_csv(session, ctx.settings, start, end)

    body = "\ufeff" + await run_in_threadpool(load)  # BOM: Excel opens UTF-8 Chinese correctly
    name = f"tongban-cases-{start}-{end}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _accounts(ctx: Ctx) -> dict:
    with session_scope(ctx.settings) as session:
        accounts = list(session.scalars(select(Account).order_by(Account.username)))
        return {"accounts": accounts, "teams": list(session.scalars(select(Team).order_by(Team.key))),
                "waiting_ips": waiting_ips(session, ctx.settings),
                "memberships": {a.id: sorted(teams_of(session, a.id)) for a in accounts}}


@router.get("/console/users", response_class=HTMLResponse)
async def users_page(request: Request, ctx: Ctx = Depends(current)) -> HTMLResponse:
    if denied := await _allowed(request, ctx, "admin"):
        return denied
    return render(request, "console/users.html", ctx, **await run_in_threadpool(_accounts, ctx))


def _change_account(ctx: Ctx, form: dict[str, str], teams: list[str]) -> str:
    """Creates an account or changes one; returns a newly generated password to show once (or "")."""
    with session_scope(ctx.settings) as session:
        action, password = form.get("action", ""), ""
        if action == "unlock_ip":
            if not form.get("ip", "").strip():
                raise AccountError("请填写 IP 地址 / give the address")
            unlock_ip(session, form["ip"].strip(), ctx.actor.account, ctx.actor.ip)
            return ""
        if action == "create":
            password = generate_password()
            account = create_account(session, form.get("username", "").strip(), password,
                                     form.get("role", "counsellor"), tuple(teams), form.get("display_name", ""),
                                     on_call=form.get("on_call") == "1")
        else:
            account = find_account(session, form.get("username", ""))
            if action == "reset_password":
                password = generate_password()
                set_password(session, account, password)
            elif action == "toggle_on_call":
                account.on_call = not account.on_call
            elif action == "toggle_active":
                account.active = not account.active
            elif action == "unlock":
                unlock(account)
            else:
                raise AccountError(f"unknown action {action!r}")
        audit(session, ctx.actor.account, f"user_{action}", detail={"username": account.username}, ip=ctx.actor.ip)
        return password


@router.post("/console/users", response_class=HTMLResponse)
async def users_change(request: Request, ctx: Ctx = Depends(current), csrf: str = Form("")) -> HTMLResponse:
    await check_csrf(request, ctx, csrf)
    if denied := await _allowed(request, ctx, "admin"):
        return denied
    raw = await request.form()
    form = {key: value for key, value in raw.items() if isinstance(value, str)}
    error, password = "", ""
    try:
        password = await run_in_threadpool(_change_account, ctx, form, [str(t) for t in raw.getlist("teams")])
    except AccountError as exc:
        error = str(exc)
    return render(request, "console/users.html", ctx, 409 if error else 200, error=error, new_password=password,
                  new_password_for=form.get("username", ""), **await run_in_threadpool(_accounts, ctx))
