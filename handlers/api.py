"""JSON API: POST /api/chat, the same pipeline every channel uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StringConstraints

from bot.pipeline import Conversation, Inbound

router = APIRouter(prefix="/api", tags=["api"])

UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class ChatRequest(BaseModel):
    user_id: UserId = Field(description="The asker's stable id within this channel.")
    text: str = Field(max_length=10_000, description="What the person typed (long text is cut with a note).")


class SourceOut(BaseModel):
    doc_id: str
    title: str
    section: str


class ChatResponse(BaseModel):
    reply: str
    sources: list[SourceOut]
    level: str = Field(description="green | yellow | red")
    case_id: int | None


class ErrorOut(BaseModel):
    detail: str


def conversation(request: Request) -> Conversation:
    return request.app.state.conversation


@router.post("/chat", response_model=ChatResponse,
             responses={400: {"model": ErrorOut, "description": "The body is not valid JSON."}})
async def chat(body: ChatRequest, convo: Conversation = Depends(conversation)) -> ChatResponse:
    """One message in, one reply out (triage first; red/yellow create or update a case before replying)."""
    outcome = await run_in_threadpool(convo.handle, Inbound(user_id=body.user_id, text=body.text, channel="api"))
    return ChatResponse(reply=outcome.reply_text, sources=[SourceOut(**s) for s in outcome.sources],
                        level=outcome.level, case_id=outcome.case_id)
