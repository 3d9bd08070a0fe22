"""All SQL models in one place. Schema changes go through Alembic migrations in ./migrations."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# Case references the family sees: no 0/O, 1/I/L, U (read aloud or typed from a phone without mistakes).
PUBLIC_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PUBLIC_REF_LENGTH = 8


def new_public_ref() -> str:
    """A random case reference (30^8 ≈ 6.6e11 values): it says nothing about how many cases there are."""
    return "".join(secrets.choice(PUBLIC_REF_ALPHABET) for _ in range(PUBLIC_REF_LENGTH))


class Base(DeclarativeBase):
    pass


class ChannelUser(Base):
    """A person as a channel knows them (WeChat openid, web-chat visitor id, CLI session)."""

    __tablename__ = "channel_users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_channel_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Message(Base):
    """One inbound or outbound message. `msg_key` is the channel's unique id, used to drop retries."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("channel_users.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    author: Mapped[str | None] = mapped_column(String(16), nullable=True)  # out: "bot" | "counsellor"
    text: Mapped[str] = mapped_column(Text)
    msg_key: Mapped[str | None] = mapped_column(String(160), unique=True, nullable=True)
    level: Mapped[str] = mapped_column(String(8), default="green")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    grounded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sources: Mapped[list | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # Pseudonym of the client address of an inbound web/api message (per-address rate limit; migration 0005).
    origin: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)


class Case(Base):
    """An escalation: one per user conversation while open; a later red message raises its severity."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("channel_users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))  # "red" | "yellow"
    categories: Mapped[list] = mapped_column(JSON, default=list)
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    mandatory_report: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Console workflow (migration 0003_console)
    team: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    assigned_to: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # accounts.id (never deleted)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sla_breach_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Flood control (migration 0005_channel_security, bot/casework/flood.py): a pseudonym of the client address
    # that opened the case, and whether the case groups the excess of a flood for a supervisor.
    origin: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    flood: Mapped[bool] = mapped_column(Boolean, default=False)
    # The only case number families see (migration 0006_case_public_ref); `id` stays inside the console.
    public_ref: Mapped[str] = mapped_column(String(16), unique=True, default=new_public_ref)
    # The last family message a counsellor has seen on the case page (migration 0007_handoff_modes)
    read_upto: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The response clock: from creation, restarted when the case escalates to red (None = created_at)
    sla_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Where the family is: the person's contact region when known (migration 0008_case_region; bot.casework.cases)
    region: Mapped[str] = mapped_column(String(64), default="")
    # The newest message id answered by a delivered counsellor message or a phone call: family messages after it
    # wait for the next response (migration 0008_case_region; bot.casework.cases.response_delivered)
    answered_upto: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ConversationMode(Base):
    """Who answers a person now: the bot, or (human mode) the counsellor who wrote to them on `case_id`.
    `holding_sent`: the one holding line since the counsellor's last message went out."""

    __tablename__ = "conversation_modes"

    user_id: Mapped[int] = mapped_column(ForeignKey("channel_users.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), default="bot", index=True)  # "bot" | "human"
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_counsellor_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    holding_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Contact(Base):
    """Who the person is and how to call them back: filled by the counsellor on the case page, the phone also
    when the person answers the bot's one call-back question; relationship, the children's ages and region also
    learned from what the person says (bot.conversation.profile). Shown whole only on the (audited) case page."""

    __tablename__ = "contacts"

    user_id: Mapped[int] = mapped_column(ForeignKey("channel_users.id", ondelete="CASCADE"), primary_key=True)
    relationship: Mapped[str] = mapped_column(String(32), default="")  # 奶奶 / 妈妈 / 孩子本人 …
    child_age: Mapped[str] = mapped_column(String(16), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    phone_asked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Who set relationship / child_age / region: {"region": "family" | "counsellor", ...} (bot.conversation.profile)
    set_by: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    region_asked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CaseEvent(Base):
    """Everything that happens to a case, in order: created, escalated, message added, notified …"""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WechatToken(Base):
    """Shared key/value cache for WeChat access tokens, so every worker uses the same token."""

    __tablename__ = "wechat_tokens"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WechatNonce(Base):
    """A nonce of a signed WeChat request, refused with another request within the replay window (bot/wechat/nonces.py)."""

    __tablename__ = "wechat_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))  # the request it came with (bot.wechat.nonces.request_digest)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class WechatFollower(Base):
    """A follower of the 公众号: subscribed or not, and whether they asked for a person."""

    __tablename__ = "wechat_followers"

    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    wants_person_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WechatOutbox(Base):
    """One 客服消息 to deliver. `msg_key` is the inbound message it answers; (msg_key, part) is unique so a
    retried enqueue never doubles a message. `claimed_until` is the lease of the worker sending it."""

    __tablename__ = "wechat_outbox"
    __table_args__ = (UniqueConstraint("msg_key", "part", name="uq_wechat_outbox_part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), index=True)
    msg_key: Mapped[str] = mapped_column(String(160))
    part: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# --- counsellor console (migration 0003_console) ----------------------------------------------------------

class Account(Base):
    """A console user: counsellor, supervisor or admin. `password_hash` is argon2; no default password exists."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # counsellor | supervisor | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_call: Mapped[bool] = mapped_column(Boolean, default=False)
    wechat_openid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Team(Base):
    """A hotline team whose queue receives cases of its categories (bot/casework/routing_teams.yaml)."""

    __tablename__ = "teams"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))


class TeamMember(Base):
    __tablename__ = "team_members"

    team_key: Mapped[str] = mapped_column(ForeignKey("teams.key", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)


class ConsoleSession(Base):
    """A logged-in browser. `id` is the SHA-256 of the cookie value, so a database leak gives no sessions."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Referral(Base):
    """The family was told to call a hotline, or the case was handed to police, hospital, school …"""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    destination: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FollowUp(Base):
    """A planned 回访: due on a date, done when a counsellor marks it."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MandatoryReport(Base):
    """强制报告 for abuse cases: reported (to whom, when, reference) or deferred with a reason."""

    __tablename__ = "mandatory_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # reported | deferred
    reported_to: Mapped[str] = mapped_column(String(128), default="")
    reported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reference: Mapped[str] = mapped_column(String(128), default="")
    deferral_reason: Mapped[str] = mapped_column(Text, default="")
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Who did what to which case, when and from where. Written for every case view and console action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


# --- the learning loop (migration 0010_feedback, bot/feedback/) --------------------------------------------

class CuratedAnswer(Base):
    """A plain answer a supervisor wrote for questions the knowledge base did not answer well. Preferred over
    retrieval for a question whose similarity to `question` or one of `variants` reaches
    `curated_min_similarity`; indexed from here (the database is its home) at start-up and after an ingest."""

    __tablename__ = "curated_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    variants: Mapped[list] = mapped_column(JSON, default=list)  # other ways families ask it
    answer: Mapped[str] = mapped_column(Text)
    source_title: Mapped[str] = mapped_column(String(200), default="")  # 出处
    source_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="active", index=True)  # active | retired
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AnswerRecord(Base):
    """One knowledge answer or "not covered" reply the bot sent (`message_id`, the outbound message), with the
    question it answered and the family's vote on it (one per message, changeable). Not-covered and 👎
    questions still `gap_status` "open" make the console's 「待补充的问题」. Deleted with its message."""

    __tablename__ = "answer_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("channel_users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(Text)  # the family's words, long digit runs masked
    question_key: Mapped[str] = mapped_column(String(200), index=True)  # normalised, for grouping
    outcome: Mapped[str] = mapped_column(String(16))  # answer | curated | not_covered
    curated_id: Mapped[int | None] = mapped_column(ForeignKey("curated_answers.id", ondelete="SET NULL"),
                                                   nullable=True)  # the curated answer that was given
    vote: Mapped[str | None] = mapped_column(String(8), nullable=True)  # up | down
    voted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    gap_status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open | answered | dismissed
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("curated_answers.id", ondelete="SET NULL"),
                                                    nullable=True)  # the curated answer written for it
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
