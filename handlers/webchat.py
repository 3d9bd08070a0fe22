"""WeChat-style web chat: the page at `/` and the visitor's message history.

The page sends messages through POST /api/chat (handlers/api.py) without a user id; the server knows the
visitor by an HttpOnly cookie. It polls GET /api/chat/history for its own replies and for counsellors' replies
written from the console. Knowledge answers and not-covered replies can be rated 👍/👎 through
POST /api/chat/feedback (bot/feedback/).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from bot.config import Settings
from bot.feedback.records import cast_vote, votes_for
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
        "feedback": prompt_yaml("feedback.yaml", settings.prompts_dir)["web"],
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
    rateable: bool = Field(default=False, description="A knowledge answer or not-covered reply: 👍/👎 can be given.")
    vote: Literal["up", "down"] | None = Field(default=None, description="The visitor's vote on it, if any.")


class History(BaseModel):
    messages: list[HistoryMessage]


def _history_message(entry: TranscriptEntry, visitor: str, votes: dict[int, str | None]) -> HistoryMessage:
    prefix = f"{CHANNEL}:{visitor}:"
    client_id = entry.msg_key[len(prefix):] if entry.msg_key and entry.msg_key.startswith(prefix) else None
    sources = [SourceOut(**source) for source in entry.sources if isinstance(source, dict) and
               {"doc_id", "title", "section"} <= set(source) and source["title"]]
    return HistoryMessage(id=entry.id, author=entry.author, text=entry.text, level=entry.level, sources=sources,
                          client_msg_id=client_id, created_at=entry.created_at, rateable=entry.id in votes,
                          vote=votes.get(entry.id))  # type: ignore[arg-type]


def _history(settings: Settings, visitor: str, after: int | None, limit: int) -> History:
    entries = transcript(settings, CHANNEL, visitor, after, limit)
    votes = votes_for(settings, CHANNEL, visitor, [entry.id for entry in entries if entry.author == "bot"])
    return History(messages=[_history_message(entry, visitor, votes) for entry in entries])


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
    return await run_in_threadpool(_history, request.app.state.settings, visitor, after, limit)


class FeedbackIn(BaseModel):
    message_id: int = Field(ge=1, le=2**31 - 1, description="The id of the bot's reply, from the history.")
    vote: Literal["up", "down"] | None = Field(description="up = 👍, down = 👎, null takes the vote back.")


@router.post("/api/chat/feedback", response_model=FeedbackIn,
             responses={400: {"model": ErrorOut, "description": "The body is not valid JSON."},
                        401: {"model": ErrorOut, "description": "No visitor cookie: open the chat page first."},
                        404: {"model": ErrorOut, "description": "Not one of this visitor's rateable replies."}})
async def chat_feedback(body: FeedbackIn, request: Request) -> FeedbackIn:
    """👍/👎 on one of the visitor's knowledge answers or not-covered replies: one vote per reply, changed by
    sending another. A 👎 puts the question on the console's 「待补充的问题」."""
    visitor = visitor_id(request)
    if visitor is None:
        raise HTTPException(401, "no visitor cookie: open the chat page first")
    if not await run_in_threadpool(cast_vote, request.app.state.settings, CHANNEL, visitor, body.message_id,
                                   body.vote):
        raise HTTPException(404, "not a rateable reply of this visitor")
    return body
