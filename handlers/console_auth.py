"""Console sign-in: login/logout, the session cookie, CSRF checks, and the `current` dependency.

Cookie: HttpOnly, SameSite=Strict, Secure over HTTPS (X-Forwarded-Proto only from TONGBAN_TRUSTED_PROXIES),
server-side session with an idle timeout (polling is not activity) and an absolute lifetime; a new session id at every login (no fixation).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bot.casework.workflow import Actor, labels
from bot.config import Settings
from bot.console.accounts import (LoginRefused, authenticate, aware, end_session, load_session, start_session, teams_of,
                                  throttled)
from bot.console.login_guard import ip_wait
from bot.console.audit import audit
from bot.storage.db import session_scope
from handlers.console_guard import COOKIE, ConsoleRoute, audit_refusal, client_ip, session_limits, settings_of

LOGIN_CSRF_COOKIE = "tongban_login_csrf"
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
templates.env.globals["labels"] = labels
BEIJING = dt.timezone(dt.timedelta(hours=8))


def _beijing(moment: dt.datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """Times are stored in UTC and shown in Beijing time."""
    return aware(moment).astimezone(BEIJING).strftime(fmt) if moment else ""


templates.env.filters["bj"] = _beijing

router = APIRouter(route_class=ConsoleRoute)


@dataclass
class Ctx:
    """The signed-in request: who (as a workflow Actor), their CSRF token, and the settings."""

    actor: Actor
    csrf: str
    settings: Settings


def is_https(request: Request) -> bool:
    """The scheme the browser used (X-Forwarded-Proto counts only from a trusted proxy: handlers.forwarded)."""
    return request.url.scheme == "https"


def _load(settings: Settings, token: str, ip: str, touch: bool) -> Ctx | None:
    with session_scope(settings) as session:
        found = load_session(session, token, *session_limits(settings), touch=touch)
        if found is None:
            return None
        row, account = found
        return Ctx(Actor(account, teams_of(session, account.id), ip), row.csrf_token, settings)


async def _signed_in(request: Request, touch: bool) -> Ctx:
    ctx = await run_in_threadpool(_load, settings_of(request), request.cookies.get(COOKIE, ""), client_ip(request),
                                  touch)
    if ctx is None:  # the 303 sends browsers to the login page; polling scripts see it and reload
        raise HTTPException(status_code=303, detail="login required", headers={"Location": "/console/login"})
    return ctx


async def current(request: Request) -> Ctx:
    """FastAPI dependency: the signed-in context (the request counts as activity), or a redirect to login."""
    return await _signed_in(request, touch=True)


async def current_polling(request: Request) -> Ctx:
    """`current` for a page's periodic refresh: checks the session without counting as activity, so a queue
    left open on a shared computer still signs out after the idle timeout."""
    return await _signed_in(request, touch=False)


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison that also copes with non-ASCII input (compare_digest on str would raise)."""
    return bool(given and expected) and secrets.compare_digest(given.encode(), expected.encode())


async def check_csrf(request: Request, ctx: Ctx, token: str) -> None:
    """403 (audited) unless the form carries the session's CSRF token."""
    if not same_token(token, ctx.csrf):
        await audit_refusal(request, "csrf_refused")
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong; reload the page")


def render(request: Request, name: str, ctx: Ctx | None, status_code: int = 200, **values: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"ctx": ctx, **values}, status_code=status_code)


def _login_page(request: Request, error: str = "", status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "console/login.html", None, status_code, error=error, csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request),
                        path="/console")
    return response


@router.get("/console/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return _login_page(request)


def _login(settings: Settings, username: str, password: str, ip: str, old_token: str) -> str:
    """The new session's cookie token; LoginRefused otherwise (both audited). A session the browser already
    had is ended: every login gets a fresh id."""
    with session_scope(settings) as session:
        if (wait := ip_wait(session, settings, ip)) > dt.timedelta(0):  # refused unchecked: no guess is tried
            audit(session, None, "login_throttled", detail={"username": username[:64]}, ip=ip)
            session.commit()
            raise throttled(wait)
        try:
            account = authenticate(session, username, password)
        except LoginRefused as exc:
            detail = {"username": username[:64], "reason": exc.reason}
            audit(session, None, "login_failed", detail=detail, ip=ip)
            if exc.reason == "locked_now":
                audit(session, None, "account_locked", detail=detail, ip=ip)
            session.commit()  # keep the failure count and the audit entries
            raise
        if old_token:
            end_session(session, old_token)
        token, _ = start_session(session, account, ip)
        audit(session, account, "login", ip=ip)
        return token


@router.post("/console/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                csrf: str = Form("")) -> Response:
    if not same_token(csrf, request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        await audit_refusal(request, "csrf_refused", {"username": username[:64]})
        return _login_page(request, "页面已过期，请重新登录", 403)
    try:
        token = await run_in_threadpool(_login, settings_of(request), username.strip(), password, client_ip(request),
                                        request.cookies.get(COOKIE, ""))
    except LoginRefused as exc:
        return _login_page(request, str(exc), 401)
    response = RedirectResponse("/console", status_code=303)
    # A browser-session cookie: the server ends the session after console_idle_minutes of silence.
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/console")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


def _logout(settings: Settings, token: str, ctx: Ctx) -> None:
    with session_scope(settings) as session:
        end_session(session, token)
        audit(session, ctx.actor.account, "logout", ip=ctx.actor.ip)


@router.post("/console/logout")
async def logout(request: Request, csrf: str = Form("")) -> Response:
    ctx = await current(request)
    await check_csrf(request, ctx, csrf)
    await run_in_threadpool(_logout, ctx.settings, request.cookies.get(COOKIE, ""), ctx)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response
