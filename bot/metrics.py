"""Prometheus metrics. With several uvicorn workers, `tongban serve` sets PROMETHEUS_MULTIPROC_DIR so that
/metrics adds up every worker's counters (prometheus-client multiprocess mode)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Iterator

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client switches to file-backed values when the variable merely exists; an empty value would put
# its counter_<pid>.db files in the working directory. Only a real folder turns multiprocess mode on.
if not os.environ.get(MULTIPROC_ENV):
    os.environ.pop(MULTIPROC_ENV, None)

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from bot.config import Settings

log = logging.getLogger(__name__)

MESSAGES = Counter("tongban_messages_total", "Inbound messages handled, by channel and triage level.",
                   ["channel", "level"])
DUPLICATES = Counter("tongban_duplicate_messages_total", "Retried messages answered from the first copy.",
                     ["channel"])
CASES_OPENED = Counter("tongban_cases_opened_total", "Cases created, by severity.", ["severity"])
CASES_ESCALATED = Counter("tongban_cases_escalated_total", "Open cases raised to red.")
REPLY_SECONDS = Histogram(
    "tongban_reply_seconds", "Time from message in to reply ready, by channel and level.", ["channel", "level"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.5, 10.0),
)
LLM_FALLBACKS = Counter("tongban_llm_fallbacks_total", "LLM answers replaced by the extractive answer.", ["reason"])
SLA_BREACHES = Counter("tongban_sla_breaches_total", "Cases whose first response passed its SLA.", ["severity"])
SPOOLED = Counter("tongban_spooled_messages_total", "Messages answered while the database was unavailable.",
                  ["channel"])
NOTIFY_FAILURES = Counter("tongban_notify_failures_total", "Notifications given up after all retries.", ["kind"])


class OutboxBacklog(Collector):
    """Queued 客服消息 read from the database at scrape time (so every worker reports the same figure)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from bot.storage.db import session_scope
        from bot.storage.models import WechatOutbox

        gauge = GaugeMetricFamily("tongban_outbox_backlog", "WeChat 客服消息 waiting to be sent.")
        try:
            with session_scope(self.settings) as session:
                queued = session.scalar(
                    select(func.count()).select_from(WechatOutbox).where(WechatOutbox.status == "queued"))
        except Exception:  # a scrape must not fail because the database is down; /readyz reports that
            log.warning("outbox backlog not read: database error")
            return
        gauge.add_metric([], float(queued or 0))
        yield gauge


class SpoolBacklog(Collector):
    """Messages answered while the database was away and not stored yet."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from bot.spool import pending

        gauge = GaugeMetricFamily("tongban_spool_backlog", "Spooled messages waiting for the database.")
        gauge.add_metric([], float(pending(self.settings)))
        yield gauge


def prepare_multiprocess_dir(data_dir: Path) -> None:
    """Called once by `tongban serve` before workers start: an empty folder the workers share."""
    folder = data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)


def render(settings: Settings) -> tuple[bytes, str]:
    """The exposition text for /metrics."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(OutboxBacklog(settings))
    registry.register(SpoolBacklog(settings))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Default(Collector):
    """The process's own metrics (single worker): everything registered in the default registry."""

    def collect(self):  # type: ignore[no-untyped-def]
        return REGISTRY.collect()
