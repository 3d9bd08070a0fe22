"""WeChat-style web chat: the page at `/` and the visitor's message history.

The page sends messages through POST /api/chat (handlers/api.py) without a user id; the server knows the
visitor by an HttpOnly cookie. It polls GET /api/chat/history for its own replies and for counsellors' replies
written from the console.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from bot.config import Settings
from bot.prompts import prompt_text, prompt_yaml
from bot.transcript import TranscriptEntry, transcript
from handlers.api import ErrorOut, SourceOut
from handlers.visitor import CHANNEL, ensure_visitor, visitor_id

HANDLERS_DIR = Path(__file__).resolve().parent
STATIC_DIR = HANDLERS_DIR / "static"
# The order of the quick-topic buttons; their texts are the 公众号 menu replies (prompts/wechat_menu_replies.yaml).
QUICK_TOPICS = ("营养", "护眼", "看牙", "心理", "安全", "政策", "找人帮忙")
POLL_SECONDS = 4
# A page is strict about where code may come from: everything is served by the app itself.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(tags=["webchat"])
templates = Jinja2Templates(directory=HANDLERS_DIR / "templates")


@lru_cache(maxsize=16)
def _asset_version(name: str) -> str:
    """Changes when the file changes, so a phone never runs a stale script against a new server."""
    return str(int((STATIC_DIR / name).stat().st_mtime))


def _quick_topics(settings: Settings) -> list[dict[str, str]]:
    replies = prompt_yaml("wechat_menu_replies.yaml", settings.prompts_dir)
    topics = []
    for name in QUICK_TOPICS:
        entry = replies.get(name) or {}
        topics.append({"name": name, "reply": str(entry.get("reply", "")).strip(), "ask": str(entry.get("ask", ""))})
    return topics


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def chat_page(request: Request) -> HTMLResponse:
    """The chat page; issues the visitor cookie on the first visit and renews it on every visit."""
    settings: Settings = request.app.state.settings
    response = templates.TemplateResponse(request, "webchat/index.html", {
        "welcome": prompt_text("replies/web_welcome.txt", settings.prompts_dir),
        "topics": _quick_topics(settings),
        "max_chars": settings.max_stored_chars,
        "poll_seconds": POLL_SECONDS,
        "asset": lambda name: f"/static/webchat/{name}?v={_asset_version('webchat/' + name)}",
    }, headers=PAGE_HEADERS)
    ensure_visitor(request, response)
    return response


class HistoryMessage(BaseModel):
    id: int
    author: str = Field(description="visitor | bot | counsellor")
    text: str
    level: str = Field(description="green | yellow | red")
    sources: list[SourceOut]
    client_msg_id: str | None = Field(description="The page's own id for a message it sent.")
    created_at: dt.datetime


class History(BaseModel):
    messages: list[HistoryMessage]


def _history_message(entry: TranscriptEntry, visitor: str) -> HistoryMessage:
    prefix = f"{CHANNEL}:{visitor}:"
    client_id = entry.msg_key[len(prefix):] if entry.msg_key and entry.msg_key.startswith(prefix) else None
    sources = [SourceOut(**source) for source in entry.sources if isinstance(source, dict) and
               {"doc_id", "title", "section"} <= set(source)]
    return HistoryMessage(id=entry.id, author=entry.author, text=entry.text, level=entry.level, sources=sources,
                          client_msg_id=client_id, created_at=entry.created_at)


@router.get("/api/chat/history", response_model=History,
            responses={401: {"model": ErrorOut, "description": "No visitor cookie: open the chat page first."}})
async def chat_history(request: Request,
                       after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                       limit: Annotated[int, Query(ge=1, le=200)] = 100) -> History:
    """The visitor's messages, both directions, oldest first: those after message id `after`, or the latest
    ones when `after` is not given (a page that was just opened or reloaded)."""
    visitor = visitor_id(request)
    if visitor is None:
        raise HTTPException(401, "no visitor cookie: open the chat page first")
    entries = await run_in_threadpool(transcript, request.app.state.settings, CHANNEL, visitor, after, limit)
    return History(messages=[_history_message(entry, visitor) for entry in entries])
