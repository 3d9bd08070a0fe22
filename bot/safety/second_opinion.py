"""Optional LLM second opinion on risk: runs after the reply, in the background, and can only raise a level.

It never decides a reply and never lowers the deterministic triage; a higher level from the model opens or
escalates the case so a counsellor looks at it.
"""

from __future__ import annotations

import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor

from bot.config import Settings
from bot.prompts import prompt_text
from bot.safety.model import CATEGORIES, Triage

log = logging.getLogger(__name__)
_JSON_RE = re.compile(r"\{[^{}]*\}")
LEVELS = ("red", "yellow", "green")


def parse_opinion(raw: str) -> Triage | None:
    """The model's verdict, or None when it said nothing usable."""
    match = _JSON_RE.search(raw or "")
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    level = str(data.get("level", "")).lower()
    category = str(data.get("category", "none")).lower()
    if level not in LEVELS:
        return None
    categories = (category,) if category in CATEGORIES else ()
    return Triage(level=level, categories=categories, reasons=("llm second opinion",))  # type: ignore[arg-type]


class SecondOpinion:
    """Asks the configured model; `review` runs on its own thread pool with the LLM deadline."""

    def __init__(self, chat_model, deadline_seconds: float) -> None:  # type: ignore[no-untyped-def]
        self._model = chat_model
        self.deadline = deadline_seconds
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="second-opinion")

    @classmethod
    def from_settings(cls, settings: Settings) -> "SecondOpinion":
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key or "not-needed",
                           model=settings.llm_model or "default", timeout=settings.llm_timeout_seconds,
                           max_retries=0, temperature=0)
        return cls(model, settings.llm_timeout_seconds)

    def ask(self, text: str, history: list[str]) -> Triage | None:
        from langchain_core.messages import HumanMessage, SystemMessage

        context = "\n".join(f"之前：{turn}" for turn in history[-3:])
        try:
            result = self._model.invoke([
                SystemMessage(content=prompt_text("llm/triage_system.txt")),
                HumanMessage(content=f"{context}\n现在：{text}".strip()),
            ])
        except Exception as exc:  # the second opinion is optional; its failure changes nothing
            log.warning("LLM second opinion failed: %s", type(exc).__name__)
            return None
        return parse_opinion(str(getattr(result, "content", "")))
