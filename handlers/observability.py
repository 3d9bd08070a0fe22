"""Request ids, one access-log line per request (path only: query strings can carry openids), /metrics."""

from __future__ import annotations

import logging
import re
import secrets
import time

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import metrics
from bot.logs import request_id

log = logging.getLogger("tongban.access")
_CLEAN_ID = re.compile(r"[^A-Za-z0-9._-]")

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics_endpoint(request: Request) -> Response:
    body, content_type = await run_in_threadpool(metrics.render, request.app.state.settings)
    return Response(body, media_type=content_type)


class RequestContext:
    """Gives every request an id (the caller's X-Request-ID if sane, else a new one), returns it in the
    response header, and logs method, path, status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = _CLEAN_ID.sub("", given)[:64] or secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info("%s %s %d", scope["method"], scope["path"], status, extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            })
            request_id.reset(token)
