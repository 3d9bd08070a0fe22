"""SLA breaches: a case nobody responded to in time is alerted once (the flag is claimed in the database,
so several workers never alert twice)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import select, update

from bot.config import Settings
from bot.console.views import sla_deadline
from bot.conversation.timers import check_conversations
from bot.metrics import SLA_BREACHES
from bot.casework.notify import RETRY_DELAYS
from bot.casework.notify_channels import alert_case
from bot.storage.db import session_scope
from bot.storage.models import Case, CaseEvent, utcnow

log = logging.getLogger(__name__)


def check_sla(settings: Settings, now: dt.datetime | None = None,
              delays: tuple[float, ...] = RETRY_DELAYS) -> list[int]:
    """Alerts every newly breached case (no first response past its deadline); returns their ids."""
    now = now or utcnow()
    with session_scope(settings) as session:
        waiting = list(session.scalars(select(Case).where(Case.status != "closed", Case.first_response_at.is_(None),
                                                          Case.sla_breach_notified.is_(False))))
        due = [case for case in waiting if sla_deadline(case, settings) < now]
        session.expunge_all()
    alerted = []
    for case in due:
        with session_scope(settings) as session:
            won = session.execute(update(Case).where(Case.id == case.id, Case.sla_breach_notified.is_(False))
                                  .values(sla_breach_notified=True)).rowcount == 1
            if won:
                waited = int((now - sla_deadline(case, settings)).total_seconds() // 60)
                session.add(CaseEvent(case_id=case.id, kind="sla_breach", payload={"minutes_late": waited}))
        if won:
            SLA_BREACHES.labels(case.severity).inc()
            alert_case(settings, {"kind": "sla_breach", "case_id": case.id, "severity": case.severity,
                                  "categories": list(case.categories or []), "channel": case.channel,
                                  "team": case.team, "escalated": False}, delays)
            alerted.append(case.id)
    return alerted


class SlaChecker(threading.Thread):
    """Runs check_sla and the human-mode timers every `sla_check_seconds` until stop() (started with the
    console)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="sla-checker", daemon=True)
        self.settings = settings
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.settings.sla_check_seconds):
            try:
                check_sla(self.settings)
                check_conversations(self.settings)
            except Exception:  # a database hiccup must not end the checker; the next pass retries
                log.exception("SLA check failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        self.join(timeout)
