"""Notifications for new or escalated red cases: a webhook receiving JSON, retried in the background.

Delivery never blocks the reply: it runs on a daemon thread with bounded retries and backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from bot.metrics import NOTIFY_FAILURES

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.5, 2.0, 5.0, 15.0)


def _accepted(response: httpx.Response) -> bool:
    return response.status_code < 300


def _deliver(url: str, payload: dict[str, Any], delays: tuple[float, ...],
             accepted: Callable[[httpx.Response], bool] = _accepted) -> bool:
    for attempt, delay in enumerate((0.0, *delays)):
        if delay:
            time.sleep(delay)
        try:
            response = httpx.post(url, json=payload, timeout=5.0)
            if accepted(response):
                return True
            log.warning("case webhook answered %s (attempt %d)", response.status_code, attempt + 1)
        except httpx.HTTPError as exc:
            log.warning("case webhook failed (attempt %d): %s", attempt + 1, type(exc).__name__)
    NOTIFY_FAILURES.labels("webhook").inc()
    log.error("case webhook gave up after %d attempts for case %s", len(delays) + 1, payload.get("case_id"))
    return False


def notify_red_case(url: str, payload: dict[str, Any], delays: tuple[float, ...] = RETRY_DELAYS,
                    accepted: Callable[[httpx.Response], bool] = _accepted) -> threading.Thread | None:
    """Starts delivery on a background thread and returns it (tests may join it)."""
    if not url:
        return None
    thread = threading.Thread(target=_deliver, args=(url, payload, delays, accepted), daemon=True,
                              name="case-webhook")
    thread.start()
    return thread
