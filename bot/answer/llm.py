"""Optional LLM composer (langchain-openai, any OpenAI-compatible URL), bounded by a deadline.

Every failure mode falls back to the extractive answer it is given: timeout, HTTP error, empty or garbled
output, or an answer with numbers that the sources do not contain (a simple grounding check).
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from bot.answer.format import strip_markdown
from bot.answer.model import Composed
from bot.config import Settings
from bot.metrics import LLM_FALLBACKS
from bot.prompts import prompt_text
from bot.retrieval.search import Hit

log = logging.getLogger(__name__)
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_STEP_NUMBER_RE = re.compile(r"^\s*\d{1,2}\s*[.、．)）]\s*", re.M)
MAX_ANSWER_CHARS = 400


def numbers_grounded(answer: str, sources: list[str]) -> bool:
    """True when every number in the answer also appears in the source texts."""
    material = " ".join(sources)
    found = set(_NUMBER_RE.findall(material))
    claims = _STEP_NUMBER_RE.sub("", answer)  # "1. …" numbers a step; it claims nothing
    return all(number in found for number in _NUMBER_RE.findall(claims))


class LLMComposer:
    """Asks the configured model to rewrite the retrieved material; never slower than the deadline."""

    name = "llm"

    def __init__(self, chat_model, deadline_seconds: float) -> None:  # type: ignore[no-untyped-def]
        self._model = chat_model
        self.deadline = deadline_seconds
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="llm")
        self._lock = threading.Lock()
        self.fallbacks = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> "LLMComposer":
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",
            model=settings.llm_model or "default",
            timeout=settings.llm_timeout_seconds,
            max_retries=0,
            temperature=0.2,
        )
        return cls(model, settings.llm_timeout_seconds)

    def _ask(self, question: str, material: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        messages = [
            SystemMessage(content=prompt_text("llm/system.txt")),
            HumanMessage(content=prompt_text("llm/user.txt").format(material=material, question=question)),
        ]
        result = self._model.invoke(messages)
        return str(getattr(result, "content", "") or "")

    def _fallback(self, fallback: Composed, why: str, reason: str) -> Composed:
        with self._lock:
            self.fallbacks += 1
        LLM_FALLBACKS.labels(reason).inc()
        log.warning("LLM answer not used (%s); extractive answer sent", why)
        return fallback

    def compose(self, question: str, hits: list[Hit], fallback: Composed) -> Composed:
        material = "\n".join(f"[{i + 1}] {h.metadata.get('short_title', '')} {h.section}：{h.text}" for i, h in enumerate(hits))
        future = self._pool.submit(self._ask, question, material)
        try:
            raw = future.result(timeout=self.deadline)
        except FutureTimeout:
            return self._fallback(fallback, "deadline passed", "timeout")
        except Exception as exc:  # any client or server error
            # The client's own timeout equals the deadline and may fire first: it is still a timeout.
            reason = "timeout" if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__ else "error"
            return self._fallback(fallback, type(exc).__name__, reason)
        answer = strip_markdown(raw).strip()
        if not answer or len(answer) > MAX_ANSWER_CHARS or not re.search(r"[\u4e00-\u9fff]", answer):
            return self._fallback(fallback, "empty or unusable output", "unusable")
        if not numbers_grounded(answer, [h.text for h in hits] + list(fallback.evidence)):
            return self._fallback(fallback, "numbers not in the sources", "ungrounded")
        return Composed(body=answer, sources=fallback.sources, grounded=True, composer="llm",
                        evidence=fallback.evidence)
