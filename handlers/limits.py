"""App-level request checks: a cap on every request body, and 422 answers that never echo the input.

The body cap is a pure ASGI middleware, so it holds for every route before any of them reads the body; routes
may have stricter caps of their own (/wechat: 64 KB). The console is left to its own 64 KB cap
(handlers/console_guard.py), which also writes each refusal to the audit log.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOC_PART_MAX_CHARS = 64


class BodyTooLarge(HTTPException):
    """Raised while reading a body past the cap (an HTTPException, so FastAPI answers it as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class BodyLimit:
    """Refuses bodies over `max_bytes` with 413: by Content-Length at once, else while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int, own_caps: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.own_caps = own_caps  # path prefixes whose routes enforce a lower cap (and audit refusals) themselves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0 or str(scope.get("path", "")).startswith(self.own_caps):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except BodyTooLarge:
            if not started:
                await _too_large(send, self.max_bytes)


async def _too_large(send: Send, limit: int) -> None:
    response = JSONResponse({"detail": f"request body over {limit} bytes"}, status_code=413)
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _safe(part: Any) -> str | int:
    """A location part as it may be shown: numbers as they are, names cut short and always encodable."""
    if isinstance(part, int):
        return part
    return str(part)[:LOC_PART_MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, but with field paths and messages only: never the input (a 5 MB body would come back
    whole, and a lone surrogate in it made the answer itself fail with a 500)."""
    detail = [{"loc": [_safe(p) for p in error.get("loc", ())], "msg": str(error.get("msg", "")),
               "type": str(error.get("type", ""))} for error in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": detail})
