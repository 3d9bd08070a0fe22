"""FastAPI application factory: mounts the channel routers and the health endpoints."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from bot.config import Settings, get_settings
from bot.errors import StorageError, TongbanError
from bot.logsafe import install_access_log_filter
from bot.pipeline import Conversation
from bot.privacy import PurgeJob
from bot import spool
from bot.spool import SpooledMessage, SpoolReplayer
from bot.storage.db import get_engine
from bot.storage.migrate import upgrade

log = logging.getLogger(__name__)


def readiness(conversation: Conversation, settings: Settings) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with get_engine(settings).connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    from bot.retrieval.ingest import index_exists

    checks["index"] = "ok" if index_exists(settings) else "missing"
    loaded = "index" in conversation.__dict__  # built by warm_up at start-up
    index = conversation.index if loaded else None
    checks["embedder"] = "ok" if index is not None and index.embedder_loaded else "loading"
    checks["chroma"] = "ok" if index is not None and index.vector_store_ok() else "unreachable"
    waiting = spool.pending(settings)
    checks["spool"] = "empty" if not waiting else f"{waiting} waiting"
    return checks


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_access_log_filter()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrated = threading.Event()
        try:
            upgrade(settings)
            migrated.set()
        except StorageError:  # database down at start: serve anyway (crisis replies, spool); /readyz says 503
            log.error("database unreachable at start-up: migrations not checked; messages will be spooled")

        def store_spooled(entry: SpooledMessage) -> None:
            if not migrated.is_set():  # the database came back after a start without it
                upgrade(settings)
                migrated.set()
            app.state.conversation.store_spooled(entry)

        try:
            await run_in_threadpool(app.state.conversation.warm_up)
        except TongbanError as exc:  # e.g. no index yet: /readyz says so; triage still works
            log.warning("could not warm up the answer pipeline: %s", exc)
        purge_job = PurgeJob(settings) if settings.purge_interval_hours > 0 else None
        replayer = SpoolReplayer(settings, store_spooled)
        for job in (purge_job, replayer):
            if job is not None:
                job.start()
        yield
        for job in (purge_job, replayer):
            if job is not None:
                job.stop()

    app = FastAPI(title="童伴 Tongban", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.conversation = Conversation(settings)

    from handlers.api import router as api_router
    from handlers.console import router as console_router
    from handlers.forwarded import TrustedProxyMiddleware
    from handlers.observability import RequestContext
    from handlers.observability import router as operations_router
    from handlers.webchat import STATIC_DIR
    from handlers.webchat import router as webchat_router
    from handlers.wechat import router as wechat_router

    app.include_router(api_router)
    app.include_router(wechat_router)
    app.include_router(operations_router)
    app.include_router(webchat_router)
    app.include_router(console_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(RequestContext)
    app.add_middleware(TrustedProxyMiddleware, trusted_proxies=settings.trusted_proxies)  # outermost: runs first

    @app.exception_handler(TongbanError)
    async def tongban_error(_: Request, exc: TongbanError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"error": str(exc)})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """503 when the database is unreachable, the index is missing or the embedder is not loaded yet;
        200 "degraded" when only Chroma is down (answers then come from keyword search)."""
        checks = readiness(app.state.conversation, settings)
        failed = any(checks[key] not in ("ok",) for key in ("database", "index", "embedder"))
        status = "unready" if failed else ("degraded" if checks["chroma"] != "ok" else "ok")
        return JSONResponse(status_code=503 if failed else 200, content={"ready": not failed, "status": status, **checks})

    return app
