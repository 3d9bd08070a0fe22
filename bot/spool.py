"""A durable local spool for messages that arrive while the database is unavailable or locked.

The reply (a crisis reply included) goes out at once; the message, its reply and the moment it arrived are
written to one JSON file each (write, fsync, rename), and a background thread stores them - opening the case
a red message needs - as soon as the database answers again. Workers claim a file by renaming it, so each
is replayed once; the message key (a unique column) makes a replay after a crash idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.config import Settings

log = logging.getLogger(__name__)
CLAIM_STALE_SECONDS = 120.0  # a claim older than this belonged to a worker that died mid-replay


@dataclass(frozen=True)
class SpooledMessage:
    user_id: str
    channel: str
    kind: str
    text: str
    msg_key: str
    reply_text: str
    level: str
    categories: list[str]
    evidence: list[str]
    reasons: list[str]
    received_at: str
    situation: str = "none"  # triage details kept with the case (older spool files have none)
    speaker: str = "unknown"

    @property
    def received(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.received_at)


def spool_dir(settings: Settings) -> Path:
    return settings.resolved_data_dir / "spool"


def write(settings: Settings, entry: SpooledMessage) -> Path:
    """Durably stores one message (survives a crash right after this returns)."""
    folder = spool_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.json"
    temp = final.with_suffix(".tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(asdict(entry), handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, final)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return final


def pending(settings: Settings) -> int:
    folder = spool_dir(settings)
    return len(list(folder.glob("*.json"))) + len(list(folder.glob("*.claimed"))) if folder.exists() else 0


def _claim(path: Path) -> Path | None:
    claimed = path.with_name(f"{path.stem}.{os.getpid()}.claimed")
    try:
        os.replace(path, claimed)  # atomic: exactly one worker wins
    except FileNotFoundError:
        return None
    return claimed


def _release_stale(folder: Path) -> None:
    for path in folder.glob("*.claimed"):
        try:
            if time.time() - path.stat().st_mtime > CLAIM_STALE_SECONDS:
                os.replace(path, folder / f"{path.name.split('.')[0]}.json")
        except FileNotFoundError:
            continue


def replay(settings: Settings, store: Callable[[SpooledMessage], None]) -> int:
    """Stores every spooled message with `store`; stops at the first failure (the database is still down).
    Returns how many were stored."""
    folder = spool_dir(settings)
    if not folder.exists():
        return 0
    _release_stale(folder)
    done = 0
    for path in sorted(folder.glob("*.json")):
        claimed = _claim(path)
        if claimed is None:
            continue
        try:
            entry = SpooledMessage(**json.loads(claimed.read_text("utf-8")))
        except (ValueError, TypeError):
            log.error("unreadable spool file kept aside: %s", claimed.name)
            os.replace(claimed, claimed.with_suffix(".bad"))
            continue
        try:
            store(entry)
        except Exception:  # still unavailable: put it back and try again later
            os.replace(claimed, path)
            log.warning("spool replay paused: the database is still unavailable")
            break
        claimed.unlink()
        done += 1
    if done:
        log.warning("stored %d message(s) from the spool", done)
    return done


class SpoolReplayer(threading.Thread):
    """Replays the spool every `interval` seconds (cheap when it is empty)."""

    def __init__(self, settings: Settings, store: Callable[[SpooledMessage], None], interval: float = 2.0) -> None:
        super().__init__(daemon=True, name="spool-replay")
        self.settings = settings
        self.store = store
        self.interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                replay(self.settings, self.store)
            except Exception:
                log.exception("spool replay failed")

    def stop(self) -> None:
        self._stop_event.set()
