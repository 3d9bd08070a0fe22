"""FastAPI application factory: mounts the channel routers and the health endpoints."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.config import Settings, get_settings
from bot.errors import TongbanError
from bot.logsafe import install_access_log_filter
from bot.pipeline import Conversation
from bot.storage.db import get_engine
from bot.storage.migrate import upgrade

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_access_log_filter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upgrade(settings)
        try:
            await run_in_threadpool(app.state.conversation.warm_up)
        except TongbanError as exc:  # e.g. no index yet: /readyz says so; triage still works
            log.warning("could not warm up the answer pipeline: %s", exc)
        yield

    app = FastAPI(title="童伴 Tongban", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.conversation = Conversation(settings)

    from handlers.api import router as api_router
    from handlers.wechat import router as wechat_router

    app.include_router(api_router)
    app.include_router(wechat_router)

    @app.exception_handler(TongbanError)
    async def tongban_error(_: Request, exc: TongbanError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"error": str(exc)})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Database reachable and knowledge index present; 503 otherwise."""
        checks: dict[str, str] = {}
        try:
            with get_engine(settings).connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # any driver error means not ready
            checks["database"] = f"error: {type(exc).__name__}"
        from bot.retrieval.ingest import index_exists

        checks["index"] = "ok" if index_exists(settings) else "missing"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(status_code=200 if ready else 503, content={"ready": ready, **checks})

    return app
