"""Database-backed outbox for 客服消息 (async delivery): enqueue, claim with a lease, deliver, record.

A row moves queued -> sent | undeliverable | stopped | failed | cancelled. A worker claims rows by setting
`claimed_until`; if it dies, the lease runs out and another worker retries the row. The API result and
the `sent` status are written in one transaction, so a delivered row is never claimed again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence

import requests
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from wechatpy.exceptions import WeChatClientException

from bot.casework.cases import response_delivered
from bot.config import Settings
from bot.storage.db import get_engine, session_scope
from bot.storage.models import CaseEvent, ChannelUser, WechatOutbox, utcnow
from bot.wechat.client import TongbanWeChatClient
from bot.wechat.replies import MAX_PARTS

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(hours=48)  # 客服消息 only within 48 h of the user's last message
LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
UNREACHABLE = frozenset({45015, 43004})  # window passed / user unsubscribed
QUOTA_USED = 45047  # the 5-message quota for this user message is used up


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def outbox_key(case_id: int | None, message_id: int) -> str:
    """The outbox key of a stored outbound message sent outside a reply (a counsellor's words, a service line)."""
    return f"console:{case_id}:{message_id}" if case_id else f"service:{message_id}"


_STORED_KEY = re.compile(r"^(?:console:\d+|service):(\d+)$")


def stored_message_id(msg_key: str) -> int | None:
    """The stored outbound message an outbox key delivers (outbox_key), or None for a reply to an inbound key."""
    found = _STORED_KEY.match(msg_key)
    return int(found[1]) if found else None


def _delivered(session: Session, row: WechatOutbox) -> None:
    """A counsellor's message went out: the case's response clocks stop (bot.casework.cases.response_delivered)."""
    message_id = stored_message_id(row.msg_key)
    if message_id is not None:
        response_delivered(session, message_id, row.sent_at)


def enqueue(settings: Settings, openid: str, msg_key: str, parts: Sequence[str], case_id: int | None = None,
            status: str = "queued") -> int:
    """Queues up to 5 parts answering inbound `msg_key`; a repeated enqueue of the same key adds nothing.
    status "held": not pushed; it waits for the follower's next message (订阅号, see take_held)."""
    rows = [WechatOutbox(openid=openid, msg_key=msg_key, part=i, text=text, case_id=case_id, status=status,
                         attempts=0, next_attempt_at=utcnow())
            for i, text in enumerate(parts[:MAX_PARTS])]
    try:
        with session_scope(settings) as session:
            if session.scalar(select(func.count(WechatOutbox.id)).where(WechatOutbox.msg_key == msg_key)):
                return 0
            session.add_all(rows)
    except IntegrityError:  # a concurrent retry queued the same answer first
        return 0
    return len(rows)


def take_held(settings: Settings, openid: str) -> list[str]:
    """The held messages for a follower, oldest first, marked sent (a 订阅号 gives them back as the passive
    reply to the follower's message). Each row is taken by one request only."""
    taken: list[str] = []
    with session_scope(settings) as session:
        rows = session.execute(select(WechatOutbox.id, WechatOutbox.text).where(
            WechatOutbox.openid == openid, WechatOutbox.status == "held").order_by(WechatOutbox.id)).all()
        for row_id, text in rows:
            won = session.execute(update(WechatOutbox).where(WechatOutbox.id == row_id, WechatOutbox.status == "held")
                                  .values(status="sent", sent_at=utcnow(), attempts=1)).rowcount == 1
            if won:
                taken.append(text)
                _delivered(session, session.get(WechatOutbox, row_id))
    return taken


def _due(now: dt.datetime):  # type: ignore[no-untyped-def]
    earlier = aliased(WechatOutbox)
    return and_(
        WechatOutbox.status == "queued",
        WechatOutbox.next_attempt_at <= now,
        or_(WechatOutbox.claimed_until.is_(None), WechatOutbox.claimed_until < now),
        # parts go out in order: part 1 waits while part 0 is still queued
        ~exists().where(earlier.msg_key == WechatOutbox.msg_key, earlier.part < WechatOutbox.part,
                        earlier.status.in_(("queued", "sending"))),
    )


def claim(settings: Settings, limit: int, lease: dt.timedelta | None = None) -> list[int]:
    """Claims up to `limit` due rows for this worker until now + `lease`; returns their ids."""
    now = utcnow()
    until = now + (lease or LEASE)
    due = select(WechatOutbox.id).where(_due(now)).order_by(WechatOutbox.id).limit(limit)
    if get_engine(settings).dialect.name == "postgresql":
        with session_scope(settings) as session:
            ids = list(session.scalars(due.with_for_update(skip_locked=True, of=WechatOutbox)))
            if ids:
                session.execute(update(WechatOutbox).where(WechatOutbox.id.in_(ids)).values(claimed_until=until))
            return ids
    with session_scope(settings) as session:
        candidates = list(session.scalars(due))
    claimed = []
    for row_id in candidates:
        # SQLite: the conditional UPDATE is the claim and rowcount says who won; one short write transaction
        # each, because upgrading a WAL read transaction to a write fails when another worker wrote meanwhile.
        with session_scope(settings) as session:
            result = session.execute(
                update(WechatOutbox).where(
                    WechatOutbox.id == row_id, WechatOutbox.status == "queued",
                    or_(WechatOutbox.claimed_until.is_(None), WechatOutbox.claimed_until < now),
                ).values(claimed_until=until)
            )
            if result.rowcount == 1:
                claimed.append(row_id)
    return claimed


def _flag_case(session: Session, row: WechatOutbox, reason: str) -> None:
    if row.case_id is not None:
        session.add(CaseEvent(case_id=row.case_id, kind="delivery_failed",
                              payload={"outbox_id": row.id, "msg_key": row.msg_key, "reason": reason}))


def _finish(settings: Settings, row_id: int, status: str, error: str | None = None, flag: bool = False) -> None:
    with session_scope(settings) as session:
        row = session.get(WechatOutbox, row_id)
        row.status, row.last_error, row.claimed_until = status, error, None
        row.attempts += 1
        if status == "sent":
            row.sent_at = utcnow()
            _delivered(session, row)
        if status == "stopped":  # nothing more may go out for this user message
            session.execute(update(WechatOutbox).where(WechatOutbox.msg_key == row.msg_key,
                                                       WechatOutbox.status == "queued")
                            .values(status="stopped", last_error=error))
        if flag:
            _flag_case(session, row, error or status)


def _mark_sending(settings: Settings, row_id: int) -> None:
    """Committed before the API call: a worker that dies during the call leaves the row "sending", and it is
    then never sent again (WeChat may already have delivered it) - see `settle_interrupted`."""
    with session_scope(settings) as session:
        session.execute(update(WechatOutbox).where(WechatOutbox.id == row_id).values(status="sending"))


def settle_interrupted(settings: Settings) -> int:
    """Rows whose worker died during the API call (lease over, still "sending"): marked "uncertain" and, when
    they answer a case, flagged for a counsellor; never sent twice."""
    now = utcnow()
    with session_scope(settings) as session:
        rows = list(session.scalars(select(WechatOutbox).where(
            WechatOutbox.status == "sending", WechatOutbox.claimed_until < now)))
        for row in rows:
            row.status, row.claimed_until = "uncertain", None
            row.last_error = "worker stopped during the API call; not sent again (it may have arrived)"
            _flag_case(session, row, row.last_error)
    if rows:
        log.warning("%d outbox row(s) interrupted during sending; not resent", len(rows))
    return len(rows)


def _retry_later(settings: Settings, row_id: int, error: str) -> str:
    with session_scope(settings) as session:
        row = session.get(WechatOutbox, row_id)
        row.status = "queued"
        row.attempts += 1
        row.last_error, row.claimed_until = error, None
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            _flag_case(session, row, error)
            return "failed"
        delay = min(BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_MAX_SECONDS)
        row.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
        return "retry"


def _blocked(settings: Settings, row: WechatOutbox) -> str | None:
    """Why WeChat would refuse this row before we even try, or None."""
    with session_scope(settings) as session:
        last_seen = _aware(session.scalar(select(ChannelUser.last_seen_at).where(
            ChannelUser.channel == "wechat", ChannelUser.external_id == row.openid)))
        sent = session.scalar(select(func.count(WechatOutbox.id)).where(
            WechatOutbox.msg_key == row.msg_key, WechatOutbox.status == "sent"))
    if last_seen is None or utcnow() - last_seen > WINDOW:
        return "outside the 48-hour window"
    if sent >= MAX_PARTS:
        return "5 messages already sent for this user message"
    return None


def _describe(exc: Exception) -> str:
    """What went wrong, without the request URL a requests exception carries (it may hold the AppSecret)."""
    if isinstance(exc, WeChatClientException):
        return f"{exc.errcode}: {exc.errmsg}"
    return type(exc).__name__


def deliver_one(settings: Settings, client: TongbanWeChatClient, row_id: int) -> str:
    """Delivers one claimed row; returns the outcome (sent, retry, undeliverable, stopped, failed)."""
    with session_scope(settings) as session:
        row = session.get(WechatOutbox, row_id)
        if row is None or row.status != "queued":
            return "skipped"
        session.expunge(row)
    blocked = _blocked(settings, row)
    if blocked:
        _finish(settings, row_id, "undeliverable", blocked, flag=True)
        return "undeliverable"
    if row.part == 0:
        try:
            client.send_typing(row.openid)
        except (WeChatClientException, requests.RequestException) as exc:  # typing is a courtesy only
            # The exception's text holds the request URL (with `secret=` on a token fetch): never log it whole.
            log.info("typing indicator not sent to outbox row %s: %s", row_id, _describe(exc))
    _mark_sending(settings, row_id)
    try:
        client.send_text(row.openid, row.text)
    except WeChatClientException as exc:
        error = _describe(exc)
        if exc.errcode in UNREACHABLE:
            _finish(settings, row_id, "undeliverable", error, flag=True)
            return "undeliverable"
        if exc.errcode == QUOTA_USED:
            _finish(settings, row_id, "stopped", error)
            return "stopped"
        log.warning("outbox row %s not delivered (%s); will retry", row_id, error)
        return _retry_later(settings, row_id, error)
    except requests.RequestException as exc:
        log.warning("outbox row %s: WeChat API unreachable (%s); will retry", row_id, _describe(exc))
        return _retry_later(settings, row_id, _describe(exc))
    _finish(settings, row_id, "sent")
    return "sent"


def deliver_due(settings: Settings, client: TongbanWeChatClient, limit: int = 20) -> Counter[str]:
    """Claims and delivers up to `limit` due rows; returns a count per outcome."""
    outcomes: Counter[str] = Counter()
    settle_interrupted(settings)
    while (done := sum(outcomes.values())) < limit:
        # claim again after each batch: a later part becomes due only once the earlier one has gone out
        ids = claim(settings, limit - done)
        if not ids:
            break
        for row_id in ids:
            outcomes[deliver_one(settings, client, row_id)] += 1
    return outcomes


class OutboxWorker(threading.Thread):
    """Background loop that drains the outbox until `stop()` (started by the app when delivery=async)."""

    def __init__(self, settings: Settings, client: TongbanWeChatClient) -> None:
        super().__init__(name="wechat-outbox", daemon=True)
        self.settings, self.client = settings, client
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                busy = sum(deliver_due(self.settings, self.client).values())
            except Exception:  # keep draining after a database hiccup; the rows stay queued
                log.exception("outbox pass failed")
                busy = 0
            if not busy:
                self._stop_event.wait(self.settings.wechat_outbox_poll_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.join(timeout)
