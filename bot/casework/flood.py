"""Case floods: more new cases from one client address, or on one channel, than people in crisis could open.

Beyond the limit a message still gets its crisis reply at once (nothing here delays a reply); its case is
not a new entry in the queue but joins one flagged flood case per source, which a supervisor reviews. So a
script posting hundreds of red messages cannot bury a genuine red case under its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.storage.models import Case, utcnow

FLOOD_CATEGORY_REASON = "flood: more new cases from one source than the limit; grouped for a supervisor"


@dataclass(frozen=True)
class FloodLimit:
    """At most `per_origin` new cases per client address and `per_channel` per channel within `window`
    (0 = no limit)."""

    window: dt.timedelta
    per_origin: int
    per_channel: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "FloodLimit":
        return cls(dt.timedelta(minutes=settings.case_flood_window_minutes), settings.case_flood_per_origin,
                   settings.case_flood_per_channel)


def origin_ref(address: str | None) -> str | None:
    """A short pseudonym of a client address (the address itself is personal data and is not stored)."""
    return "ip-" + hashlib.sha256(address.encode()).hexdigest()[:16] if address else None


def flooded(session: Session, channel: str, origin: str | None, limit: FloodLimit) -> bool:
    """True when the channel, or the origin on it, has opened its limit of (non-flood) cases in the window."""
    since = utcnow() - limit.window
    recent = select(func.count(Case.id)).where(Case.channel == channel, Case.created_at >= since,
                                               Case.flood.is_(False))
    if limit.per_channel > 0 and (session.scalar(recent) or 0) >= limit.per_channel:
        return True
    return bool(origin and limit.per_origin > 0 and
                (session.scalar(recent.where(Case.origin == origin)) or 0) >= limit.per_origin)


def open_flood_case(session: Session, channel: str, origin: str | None) -> Case | None:
    """The open flood case this source's excess joins, if there is one."""
    from bot.casework.cases import OPEN_STATUSES

    same_origin = Case.origin == origin if origin else Case.origin.is_(None)
    return session.scalar(select(Case).where(Case.flood.is_(True), Case.channel == channel, same_origin,
                                             Case.status.in_(OPEN_STATUSES)).order_by(Case.id.desc()).limit(1))
