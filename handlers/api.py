"""JSON API: POST /api/chat, the same pipeline every channel uses.

Callers send their own `user_id` (channel "api") and must present TONGBAN_API_KEY as a bearer token (no key
configured = the api channel is off); the web chat page sends no user id and is known by its signed visitor
cookie (channel "web", handlers/visitor.py). Rate limits count per user and per client address.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StringConstraints

from bot.casework.flood import origin_ref
from bot.casework.cases import public_ref_of
from bot.pipeline import Conversation, Inbound
from bot.prompts import prompt_text
from bot.rate_limit import held_back
from handlers.visitor import CHANNEL as WEB_CHANNEL
from handlers.visitor import message_key, visitor_id

router = APIRouter(prefix="/api", tags=["api"])

UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
ClientMsgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class ChatRequest(BaseModel):
    user_id: UserId | None = Field(
        default=None, description="The asker's stable id within this channel; the web chat page omits it.")
    text: str = Field(max_length=10_000, description="What the person typed: triaged whole; stored whole up to "
                      "TONGBAN_MAX_STORED_CHARS (beyond it, the beginning and the end).")
    client_msg_id: ClientMsgId | None = Field(
        default=None, description="The sender's own id for this message: sent again, it is answered only once.")


class SourceOut(BaseModel):
    doc_id: str
    title: str
    section: str


class ChatResponse(BaseModel):
    reply: str
    sources: list[SourceOut]
    level: str = Field(description="green | yellow | red")
    case_id: str | None = Field(description="The case's public reference (random, never the sequential number).")


class ErrorOut(BaseModel):
    detail: str


def conversation(request: Request) -> Conversation:
    return request.app.state.conversation


def _api_caller(request: Request) -> None:
    """Only holders of TONGBAN_API_KEY may speak for a user id of their choosing."""
    key = request.app.state.settings.api_key
    if not key:
        raise HTTPException(403, "the api channel is off (TONGBAN_API_KEY is not set); the web chat needs no user_id")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        raise HTTPException(401, "a user_id needs the API key: Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})


def _inbound(body: ChatRequest, request: Request) -> Inbound:
    if body.user_id is not None:
        _api_caller(request)
        channel, user = "api", body.user_id
        sender = hashlib.sha256(user.encode()).hexdigest()[:32]  # keeps the key within its column
    else:
        visitor = visitor_id(request)
        if visitor is None:
            raise HTTPException(401, "user_id is required (the web chat page is known by its visitor cookie)")
        channel, user, sender = WEB_CHANNEL, visitor, visitor
    key = message_key(channel, sender, body.client_msg_id) if body.client_msg_id else None
    client = request.client.host if request.client else None  # after uvicorn's trusted-proxy handling
    return Inbound(user_id=user, text=body.text, channel=channel, msg_key=key, origin=origin_ref(client))


@router.post("/chat", response_model=ChatResponse,
             responses={400: {"model": ErrorOut, "description": "The body is not valid JSON."},
                        401: {"model": ErrorOut, "description": "No user_id and no web chat visitor cookie, or a "
                                                                "user_id without the API key."},
                        403: {"model": ErrorOut, "description": "A user_id, but the api channel is off."}})
async def chat(body: ChatRequest, request: Request, convo: Conversation = Depends(conversation)) -> ChatResponse:
    """One message in, one reply out (triage first; red/yellow create or update a case before replying).
    A message whose `client_msg_id` was seen before is not handled again: the first reply comes back."""
    inbound = _inbound(body, request)
    settings = request.app.state.settings
    if await run_in_threadpool(held_back, settings, convo, inbound, settings.web_rate_limit_per_minute,
                               settings.web_rate_limit_per_ip_per_minute):
        return ChatResponse(reply=prompt_text("replies/rate_limited.txt"), sources=[], level="green", case_id=None)
    outcome = await run_in_threadpool(convo.handle, inbound)
    case_ref = await run_in_threadpool(public_ref_of, request.app.state.settings, outcome.case_id)
    return ChatResponse(reply=outcome.reply_text, sources=[SourceOut(**s) for s in outcome.sources],
                        level=outcome.level, case_id=case_ref)
