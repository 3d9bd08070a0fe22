"""What every console route gets before and after its handler (the routers use `ConsoleRoute`):

- a request body of at most MAX_BODY_BYTES and MAX_FORM_FIELDS form fields, else 413 (no handler runs);
- malformed parameters (e.g. `/console/cases/1 OR 1=1`) answered 422 without echoing them;
- security headers: a CSP without inline script, no framing, no referrer, and no caching anywhere (shared
  computers in township offices must not keep children's data);
- an audit entry for each of these refusals, so probing shows up in the log supervisors read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # fastapi's is a subclass; Starlette's form parser raises this one

from bot.config import Settings
from bot.console.accounts import load_session
from bot.console.audit import audit
from bot.storage.db import session_scope

COOKIE = "tongban_console"
MAX_BODY_BYTES = 64 * 1024  # the longest console text (a note) is a few thousand characters
MAX_FORM_FIELDS = 100
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
MAX_ID = 2**31 - 1  # PostgreSQL INTEGER: a larger id would make the query itself fail
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def parse_id(value: str) -> int | None:
    """A database id from a form or query string: ASCII digits within INTEGER range, else None."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or not 0 < int(value) <= MAX_ID:
        return None
    return int(value)


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def session_limits(settings: Settings) -> tuple[dt.timedelta, dt.timedelta]:
    """(idle timeout, absolute lifetime) of a console session."""
    return dt.timedelta(minutes=settings.console_idle_minutes), dt.timedelta(hours=settings.console_session_hours)


def client_ip(request: Request) -> str:
    """The client's address (handlers.forwarded has already believed a trusted proxy, and no one else)."""
    return request.client.host if request.client else ""


def _audit_refusal(settings: Settings, token: str, ip: str, action: str, detail: dict) -> None:
    with session_scope(settings) as session:
        found = load_session(session, token, *session_limits(settings), touch=False) if token else None
        audit(session, found[1] if found else None, action, detail=detail, ip=ip)


async def audit_refusal(request: Request, action: str, detail: dict | None = None) -> None:
    """An audit entry for a refused request, under the signed-in account if the cookie names a live session."""
    await run_in_threadpool(_audit_refusal, settings_of(request), request.cookies.get(COOKIE, ""),
                            client_ip(request), action, {"path": request.url.path[:200], **(detail or {})})


async def _oversized(request: Request) -> str:
    """Why the body is refused ("" if it is acceptable). Reads it (capped) so the handler reuses it."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return "body_too_large"
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return "body_too_large"
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's own cache: request.form() and body() read it from here
    try:  # parsed once here with tight limits; Starlette caches the form for the handler
        await request.form(max_fields=MAX_FORM_FIELDS, max_files=0, max_part_size=MAX_BODY_BYTES)
    except HTTPException:
        return "too_many_fields"
    return ""


async def _guarded(request: Request, handler: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
    if request.method in _BODY_METHODS and (reason := await _oversized(request)):
        await audit_refusal(request, "request_refused", {"reason": reason})
        return PlainTextResponse("提交的内容太多 / request too large", status_code=413)
    try:
        return await handler(request)
    except RequestValidationError as exc:
        fields = [".".join(str(part) for part in error.get("loc", ())) for error in exc.errors()][:10]
        await audit_refusal(request, "request_refused", {"reason": "malformed", "fields": fields})
        return PlainTextResponse("请求格式不对 / malformed request", status_code=422)
    except HTTPException as exc:  # rendered here so it gets the headers too
        return await http_exception_handler(request, exc)


class ConsoleRoute(APIRoute):
    """An APIRoute whose handler runs behind the console guards above."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            response = await _guarded(request, handler)
            response.headers.update(SECURITY_HEADERS)
            return response

        return guarded
