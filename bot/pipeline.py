"""Conversation.handle(Inbound) -> Outcome: the only entry point channels call.

Stages: normalise -> triage -> (persist message and case, commit) -> intents -> retrieve -> compose -> format.
Red and yellow replies are fixed texts: they never wait on retrieval, an LLM or the network.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import cached_property
from threading import Lock
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.answer.ages import prefer_age
from bot.answer.extractive import ExtractiveComposer
from bot.answer.format import format_reply
from bot.answer.llm import LLMComposer
from bot.answer.local import frame_local, one_place
from bot.answer.model import Composed
from bot.casework.flood import FloodLimit
from bot.casework.cases import CaseChange, attach_to_open_case, record_case
from bot.config import Settings, get_settings
from bot.conversation.contact import ask_for_callback, capture_phone, only_a_number
from bot.conversation.human import reply_in_human_mode
from bot.conversation.modes import EXPIRED, HUMAN, current_mode
from bot.conversation.profile import (Profile, Remembered, Said, age_hint, child_age, claim_region_question, profile_of,
                                      read_profile, remember)
from bot.feedback.curated_index import CuratedIndex
from bot.feedback.records import record_reply, take_text_vote
from bot.feedback.words import feedback_hint, thanks_line, vote_in_text
from bot.conversation.intents import detect_intent
from bot.conversation.memory import contextual_query, recent_turns, user_history
from bot import spool
from bot.metrics import CASES_ESCALATED, CASES_OPENED, DUPLICATES, MESSAGES, REPLY_SECONDS, SPOOLED
from bot.casework.notify import notify_red_case
from bot.casework.notify_channels import alert_case
from bot.prompts import prompt_text, prompt_yaml
from bot.referrals import not_covered_reply
from bot.retrieval.places import Home, Places, places_in, places_named
from bot.retrieval.search import KnowledgeIndex
from bot.safety import Triage, crisis_reply, triage
from bot.safety.guards import without_hyperbole
from bot.safety.lexicon import load_lexicon
from bot.safety.model import LEVEL_RANK
from bot.safety.second_opinion import SecondOpinion
from bot.spool import SpooledMessage
from bot.storage.db import session_scope
from bot.storage.models import Case, ChannelUser, Message, utcnow
from bot.text import normalize
from knowledge.loader import load_corpus

log = logging.getLogger(__name__)
# A red or yellow message gets the grounded answer that retrieval found (「…有没有药可以抹」, 「…法院管不管」)
# after the support text, whatever words it asks with, but only if it is ready by then: the crisis reply never
# waits longer than this for it.
CRISIS_ANSWER_DEADLINE = 1.0
# The answer after a support text keeps at least its one-line gist (and its source), even when the support text
# leaves less room than that in the reply's length budget.
SUPPORT_MIN_ANSWER = 30
# A retried message with no stored reply this long after it arrived, and not being worked on in this process,
# was orphaned by a crash or by another worker that died (WeChat retries after 5 s).
ORPHAN_AFTER = dt.timedelta(seconds=3)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)  # SQLite drops the zone


def _asks_for_person(text: str) -> bool:
    intent = detect_intent(text)
    return intent is not None and intent.name == "human"


def _count_case(change: CaseChange | None) -> None:
    if change is not None and change.created:
        CASES_OPENED.labels(change.severity).inc()
    elif change is not None and change.escalated:
        CASES_ESCALATED.inc()


@dataclass(frozen=True)
class Inbound:
    """One message from a channel. `recognition` is WeChat's voice-to-text for voice messages."""

    user_id: str
    text: str
    channel: str = "cli"
    kind: str = "text"
    msg_key: str | None = None
    recognition: str | None = None
    origin: str | None = None  # pseudonym of the client address (bot.casework.flood.origin_ref); None for WeChat


@dataclass(frozen=True)
class Outcome:
    """What the pipeline decided for one message. `case_id` is the console's sequential case number: channels
    never show it to a family (handlers.api answers with the case's public reference, bot.casework.cases.public_ref_of)."""

    reply_text: str
    level: str = "green"
    case_id: int | None = None
    sources: list[dict[str, str]] = field(default_factory=list)
    grounded: bool = False
    intent: str = "answer"
    categories: list[str] = field(default_factory=list)
    duplicate: bool = False
    composer: str = ""
    seconds: float = 0.0
    spooled: bool = False  # the database was unavailable: the message waits in the local spool


@dataclass
class _Stored:
    user: ChannelUser | None
    message_id: int
    history: list[str]
    triage: Triage
    case_id: int | None
    change: CaseChange | None
    profile: Profile = field(default_factory=Profile)  # the person's profile (after this message, once learned)
    said: Said = field(default_factory=Said)  # what this message says about the person
    remembered: Remembered | None = None
    awaiting_region: bool = False  # the bot asked 「您是哪个县市的？」 and had no answer before this message


class Answered(NamedTuple):
    composed: Composed
    composer: str
    ask_region: bool = False  # a local rule went to someone whose place we do not know
    note: str = ""  # a line about the local rule for the end of the reply (bot.answer.local)


class Conversation:
    """Holds the loaded index and composers; `handle` is safe to call from several threads."""

    def __init__(self, settings: Settings | None = None, index: KnowledgeIndex | None = None) -> None:
        self.settings = settings or get_settings()
        self._index = index
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crisis-answer")
        # How many attempts at each msg_key are running here: a retry while another attempt still runs waits for
        # it instead of taking it for an orphan, however slow the machine is.
        self._in_flight: Counter[str] = Counter()
        self._in_flight_lock = Lock()

    @cached_property
    def index(self) -> KnowledgeIndex:
        return self._index or KnowledgeIndex(self.settings)

    @cached_property
    def extractive(self) -> ExtractiveComposer:
        corpus = load_corpus(self.settings.knowledge_dir)
        places = {doc_id: meta.aliases[0] for doc_id, meta in corpus.policies.items() if meta.aliases}
        return ExtractiveComposer(self.index, corpus.articles, places)

    @cached_property
    def places(self) -> Places:
        return places_in(self.settings.knowledge_dir / "policy")

    @cached_property
    def curated(self) -> CuratedIndex:
        return CuratedIndex(self.settings)

    @cached_property
    def llm(self) -> LLMComposer | None:
        return LLMComposer.from_settings(self.settings) if self.settings.llm_base_url else None

    @cached_property
    def second_opinion(self) -> SecondOpinion | None:
        enabled = self.settings.llm_base_url and self.settings.llm_second_opinion
        return SecondOpinion.from_settings(self.settings) if enabled else None

    def warm_up(self) -> None:
        """Loads the index, articles, embedder and tokenizer now, so the first message (which may be a
        crisis with a question) is not the one that pays for loading them."""
        from bot.retrieval.expand import expand_query
        from bot.retrieval.tokenizer import warm_up as warm_tokenizer
        from bot.safety.risk_model import load_risk_model

        warm_tokenizer()
        load_risk_model()  # triage reads every message first, a crisis among them: not the one to load it
        expand_query("预热")  # the sound-alike table (pinyin of the domain words)
        places_named("预热县")  # the county names of jieba's dictionary (bot.retrieval.places)
        self.index.embedder.embed_queries(["预热"])
        self.index.load_vectors()
        self.extractive.warm_up()
        self.curated.refresh(force=True)

    # --- stages -------------------------------------------------------------------------------------------

    def normalise(self, inbound: Inbound) -> tuple[str, bool]:
        """The whole normalised text (nothing is cut: triage reads all of it), and whether it is longer than
        retrieval reads (the reply then says it answers the beginning)."""
        raw = inbound.recognition if inbound.kind == "voice" and inbound.recognition else inbound.text
        text = normalize(raw or "")
        return text, len(text) > self.settings.max_input_chars

    def stored_text(self, text: str) -> str:
        """`text` as stored: whole up to `max_stored_chars`, else its beginning and end around a note saying how
        much was left out (the end of a long message is often where the crisis is)."""
        cap = self.settings.max_stored_chars
        if len(text) <= cap:
            return text
        head = cap * 2 // 3
        tail = cap - head
        note = prompt_text("stored_cut_note.txt").strip().format(omitted=len(text) - head - tail)
        return f"{text[:head]}\n{note}\n{text[-tail:]}"

    def _store_inbound(self, session: Session, inbound: Inbound, text: str, floor: Triage | None = None,
                       received: dt.datetime | None = None) -> _Stored:
        user = session.scalar(
            select(ChannelUser).where(ChannelUser.channel == inbound.channel, ChannelUser.external_id == inbound.user_id)
        )
        if user is None:
            user = ChannelUser(channel=inbound.channel, external_id=inbound.user_id)
            session.add(user)
            session.flush()
        user.last_seen_at = utcnow()
        turns = recent_turns(session, user.id, self.settings.memory_turns, self.settings.memory_ttl_minutes)
        history = user_history(turns)
        profile = profile_of(session, user.id)
        awaiting = profile.region_asked and not profile.region
        said = read_profile(text, self.places, awaiting)
        result = triage(text, history)
        if result.level != "green" and (_asks_for_person(text) or said.statement_only):
            # 「找个真人说说话」 is answered by a person (a help_request case), and a message that only says who
            # the person is (「我们启东这边」「我家孙女今年1岁」) is greeted: the model alone does not turn either
            # into a crisis script; risk the rules see still counts.
            rules = triage(text, history, learned=False)
            result = rules if rules.level == "green" else result
        if floor is not None and LEVEL_RANK[floor.level] > LEVEL_RANK[result.level]:
            result = floor  # a spooled message keeps at least the level its reply was given
        message = Message(user_id=user.id, direction="in", text=self.stored_text(text), msg_key=inbound.msg_key,
                          level=result.level, origin=inbound.origin,
                          created_at=received or utcnow())
        session.add(message)
        session.flush()
        change = (record_case(session, user, message, result, self.settings.teams_file, inbound.origin,
                              FloodLimit.from_settings(self.settings), said.region or profile.region or None)
                  if result.level in ("red", "yellow") else None)
        case_id = change.case_id if change else attach_to_open_case(session, user, message)
        return _Stored(user, message.id, history, result, case_id, change, profile, said, awaiting_region=awaiting)

    def _store(self, inbound: Inbound, text: str) -> _Stored:
        """Commits the message and any case (before any reply is built). A new user's first messages can
        arrive together and both insert the user; the loser's IntegrityError is not a retry of its message, so
        it stores once more and finds the winner's user. IntegrityError here means: the message key is stored."""
        try:
            with session_scope(self.settings) as session:
                return self._store_inbound(session, inbound, text)
        except IntegrityError:
            if inbound.msg_key and self._is_stored(inbound.msg_key):
                raise
        with session_scope(self.settings) as session:
            return self._store_inbound(session, inbound, text)

    def _is_stored(self, msg_key: str) -> bool:
        with session_scope(self.settings) as session:
            return session.scalar(select(Message.id).where(Message.msg_key == msg_key)) is not None

    def _duplicate(self, msg_key: str) -> Outcome:
        """A retry: the stored reply again; or, when the first attempt died before storing one (a crash after
        the case commit), a reply built now, so a person in crisis is never left with nothing."""
        with session_scope(self.settings) as session:
            original = session.scalar(select(Message).where(Message.msg_key == msg_key))
            reply = session.scalar(
                select(Message).where(Message.user_id == original.user_id, Message.direction == "out",
                                      Message.id > original.id).order_by(Message.id).limit(1)
            ) if original else None
            case = session.get(Case, original.case_id) if original and original.case_id else None
            outcome = Outcome(
                reply_text=reply.text if reply else "", level=original.level if original else "green",
                case_id=original.case_id if original else None, duplicate=True, intent="duplicate",
                grounded=bool(reply and reply.grounded), sources=list(reply.sources or []) if reply else [],
            )
            another_attempt_runs = self._in_flight[msg_key] > 1  # this retry is one of those counted
            if (reply is not None or original is None or another_attempt_runs
                    or utcnow() - _aware(original.created_at) < ORPHAN_AFTER):
                return outcome  # answered, or the first attempt is still working on it
            user = session.get(ChannelUser, original.user_id)
            session.expunge(user)
            text, level, categories = original.text, original.level, tuple(case.categories if case else ())
        log.warning("retry of a message that was never answered: replying now")
        result = triage(text)
        if LEVEL_RANK[result.level] < LEVEL_RANK[level]:  # the conversation had raised it: keep its level
            result = Triage(level, categories or ("emotional",), (), ("kept from the stored message",))  # type: ignore[arg-type]
        rebuilt = self._reply(text, _Stored(user, 0, [], result, outcome.case_id, None), False)
        return Outcome(**{**rebuilt.__dict__, "duplicate": True})

    def handle(self, inbound: Inbound) -> Outcome:
        key = inbound.msg_key
        if not key:
            return self._handle(inbound)
        with self._in_flight_lock:
            self._in_flight[key] += 1
        try:
            return self._handle(inbound)
        finally:
            with self._in_flight_lock:
                self._in_flight[key] -= 1
                if not self._in_flight[key]:
                    del self._in_flight[key]

    def _handle(self, inbound: Inbound) -> Outcome:
        started = time.perf_counter()
        text, truncated = self.normalise(inbound)
        if inbound.kind == "voice" and not text:
            return Outcome(reply_text=prompt_text("replies/voice_unrecognised.txt"), intent="voice_unrecognised")
        try:
            stored = self._store(inbound, text)
        except IntegrityError:
            if inbound.msg_key:
                DUPLICATES.labels(inbound.channel).inc()
                return self._duplicate(inbound.msg_key)
            raise
        except SQLAlchemyError:  # down or locked: reply anyway, store later (a crisis reply never waits)
            log.error("database unavailable; message answered and spooled", exc_info=True)
            return self._handle_offline(inbound, text, truncated, started)
        self._learn(stored)
        mode = current_mode(self.settings, stored.user.id)
        if mode != HUMAN and stored.triage.level == "green" and _asks_for_person(text):
            self._request_person(stored, inbound.origin)
        _count_case(stored.change)
        self._notify(stored.change, stored.triage, inbound.channel)
        outcome = self._respond(text, stored, truncated, mode, inbound.channel)
        try:
            if outcome.reply_text:  # in human mode the bot is usually silent
                self._store_outbound(stored, outcome)
        except SQLAlchemyError:  # the inbound message and any case are stored; only our copy of the reply is lost
            log.error("reply not stored: database unavailable", exc_info=True)
        if self.second_opinion is not None and stored.triage.level != "red":
            self.second_opinion.pool.submit(self._review, text, stored, inbound.channel)
        seconds = time.perf_counter() - started
        MESSAGES.labels(inbound.channel, outcome.level).inc()
        REPLY_SECONDS.labels(inbound.channel, outcome.level).observe(seconds)
        return Outcome(**{**outcome.__dict__, "seconds": seconds})

    def _respond(self, text: str, stored: _Stored, truncated: bool, mode: str, channel: str) -> Outcome:
        """The reply by mode (bot.conversation): a call-back number answering our question is stored first;
        in human mode the counsellor answers; in bot mode the usual reply, and the call-back question once after
        the first red or yellow reply."""
        phone = self._bookkeeping(capture_phone, stored.user.id, stored.case_id, text)
        if mode == HUMAN:
            return self._human_reply(stored, channel)
        if (thanks := self._feedback(text, stored)) is not None:
            outcome = thanks
        elif phone and only_a_number(text):
            outcome = Outcome(reply_text=prompt_text("replies/callback_saved.txt").format(phone=phone),
                              intent="callback", level=stored.triage.level, case_id=stored.case_id)
        else:
            outcome = self._reply(text, stored, truncated)
        if outcome.intent in ("crisis", "support") and self._bookkeeping(ask_for_callback, stored.user.id):
            outcome = Outcome(**{**outcome.__dict__, "reply_text":
                                 f"{outcome.reply_text}\n{prompt_text('replies/ask_callback.txt')}"})
        if channel == "wechat" and outcome.intent == "answer" and outcome.grounded:  # the web has 👍/👎 buttons
            outcome = Outcome(**{**outcome.__dict__, "reply_text": f"{outcome.reply_text}\n{feedback_hint()}"})
        if mode == EXPIRED:  # the counsellor went quiet: the family hears that the bot answers again
            outcome = Outcome(**{**outcome.__dict__,
                                 "reply_text": f"{prompt_text('replies/human_idle.txt')}\n\n{outcome.reply_text}"})
        return outcome

    def _feedback(self, text: str, stored: _Stored) -> Outcome | None:
        """「有用」/「没用」 right after a knowledge answer rates it (bot.feedback) and is thanked in one line.
        Triage has already run: a message it did not find green is never taken as a vote."""
        vote = vote_in_text(text) if stored.triage.level == "green" else None
        if vote is None or not self._bookkeeping(take_text_vote, stored.user.id, stored.message_id, vote):
            return None
        return Outcome(reply_text=thanks_line(vote), intent="feedback", case_id=stored.case_id)

    def _bookkeeping(self, step: Any, *args: Any) -> Any:
        """Call-back number and profile bookkeeping: a database error there must never cost a person the reply."""
        try:
            return step(self.settings, *args)
        except SQLAlchemyError:
            log.error("%s failed; the reply goes out without it", getattr(step, "__name__", "bookkeeping"),
                      exc_info=True)
            return None

    def _learn(self, stored: _Stored) -> None:
        """What the message says about the person (region, relationship, the children's ages; read while it was
        stored) goes on their profile (bot.conversation.profile); the database is written only when it tells
        something."""
        if stored.said.anything and stored.user is not None:
            remembered = self._bookkeeping(remember, stored.user.id, stored.said)
            if remembered is not None:
                stored.profile, stored.remembered = remembered.profile, remembered

    def _human_reply(self, stored: _Stored, channel: str) -> Outcome:
        """Human mode: the counsellor answers; the bot speaks only when the risk rises (bot.conversation.human)."""
        result = stored.triage
        said = reply_in_human_mode(self.settings, result, stored.change, stored.message_id, channel)
        return Outcome(reply_text=said.text, level=result.level, case_id=stored.case_id, intent=said.intent,
                       categories=list(result.categories))

    def _request_person(self, stored: _Stored, origin: str | None) -> None:
        """「找人帮忙」: the reply promises that someone will get in touch, so a (yellow) case puts the request in
        a team's queue, or joins the open case."""
        request = Triage("yellow", ("help_request",), (), ("asked for a person",))
        with session_scope(self.settings) as session:
            user = session.get(ChannelUser, stored.user.id)
            message = session.get(Message, stored.message_id)
            change = record_case(session, user, message, request, self.settings.teams_file, origin,
                                 FloodLimit.from_settings(self.settings), stored.profile.region or None)
        stored.case_id, stored.change = change.case_id, change

    def _handle_offline(self, inbound: Inbound, text: str, truncated: bool, started: float) -> Outcome:
        result = triage(text)
        outcome = self._reply(text, _Stored(None, 0, [], result, None, None), truncated)
        entry = SpooledMessage(
            user_id=inbound.user_id, channel=inbound.channel, kind=inbound.kind, text=text,
            msg_key=inbound.msg_key or f"spool:{uuid.uuid4().hex}", reply_text=outcome.reply_text,
            level=result.level, categories=list(result.categories), evidence=list(result.evidence),
            reasons=list(result.reasons), received_at=utcnow().isoformat(),
            situation=result.situation, speaker=result.speaker,
        )
        try:
            spool.write(self.settings, entry)
            SPOOLED.labels(inbound.channel).inc()
        except OSError:  # the reply still goes out; the message is lost only if the disk fails as well
            log.critical("message could not be spooled", exc_info=True)
        if result.level == "red":  # counsellors hear of it now; the case id follows when it is stored
            notify_red_case(self.settings.notify_webhook_url, {
                "case_id": None, "severity": "red", "spooled": True, "categories": list(result.categories),
                "channel": inbound.channel,
            })
        return Outcome(**{**outcome.__dict__, "spooled": True, "seconds": time.perf_counter() - started})

    def store_spooled(self, entry: SpooledMessage) -> None:
        """Stores a message answered while the database was away, with its case (raises if still away)."""
        inbound = Inbound(entry.user_id, entry.text, entry.channel, entry.kind, entry.msg_key)
        at_receipt = Triage(entry.level, tuple(entry.categories), tuple(entry.evidence), tuple(entry.reasons),  # type: ignore[arg-type]
                            situation=entry.situation, speaker=entry.speaker)
        try:
            with session_scope(self.settings) as session:
                stored = self._store_inbound(session, inbound, entry.text, at_receipt, entry.received)
                session.add(Message(user_id=stored.user.id, direction="out", author="bot", text=entry.reply_text,
                                    level=stored.triage.level, case_id=stored.case_id, created_at=entry.received))
        except IntegrityError:
            if self._is_stored(entry.msg_key):  # stored before (a replay interrupted after its commit)
                return
            raise  # the user was created by a live message at that moment: the replayer tries again later
        _count_case(stored.change)
        self._notify(stored.change, stored.triage, entry.channel)
        self._learn(stored)

    def _notify(self, change: CaseChange | None, result: Triage, channel: str) -> None:
        if change and change.severity == "red" and (change.created or change.escalated):
            alert_case(self.settings, {
                "kind": "red_case", "case_id": change.case_id, "severity": "red", "escalated": change.escalated,
                "categories": list(result.categories), "channel": channel, "team": change.team,
                "teams": list(change.teams),
            })

    def _review(self, text: str, stored: _Stored, channel: str) -> None:
        """Background: a higher level from the LLM opens or escalates the case; a lower one is ignored."""
        assert self.second_opinion is not None
        opinion = self.second_opinion.ask(text, stored.history)
        if opinion is None or LEVEL_RANK[opinion.level] <= LEVEL_RANK[stored.triage.level]:
            return
        with session_scope(self.settings) as session:
            user = session.get(ChannelUser, stored.user.id)
            message = session.get(Message, stored.message_id)
            change = record_case(session, user, message, opinion, self.settings.teams_file)
        _count_case(change)
        log.warning("LLM second opinion raised a message to %s (case %s)", opinion.level, change.case_id)
        self._notify(change, opinion, channel)

    def _reply(self, text: str, stored: _Stored, truncated: bool) -> Outcome:
        result = stored.triage
        # Retrieval read only the beginning of a long message: an answer says so (the crisis reply does not need to).
        note = prompt_text("replies/truncated_note.txt") + "\n" if truncated else ""
        common = {"level": result.level, "case_id": stored.case_id, "categories": list(result.categories)}
        if result.level in ("red", "yellow"):
            support = crisis_reply(result, self.settings.local_hotlines)
            intent = "crisis" if result.level == "red" else "support"
            answer = self._answer_in_time(text, stored.history, stored.profile)
            if answer and answer[0].grounded:
                # The safety text is whole; the answer gets what is left of the length budget, the call-back
                # question (asked once, after this) included.
                callback = len(prompt_text("replies/ask_callback.txt")) + 1
                room = self.settings.reply_max_chars - len(note + support) - 2 - callback  # "\n\n" before the answer
                reply = format_reply(answer[0], room, min_body=SUPPORT_MIN_ANSWER)
                return Outcome(reply_text=f"{note}{support}\n\n{reply}", intent=intent,
                               sources=[s.as_dict() for s in answer[0].sources], grounded=True,
                               composer=answer[1], **common)
            return Outcome(reply_text=support, intent=intent, **common)
        intent = detect_intent(text, stored.said, stored.remembered)
        if intent is not None:
            if intent.name == "introduction" and stored.awaiting_region and stored.said.region:
                answered = self._answer_for_new_region(stored)
                if answered is not None:  # 「启东」 answering 「您是哪个县市的？」: the earlier question, for 启东
                    return Outcome(**{**answered.__dict__, **common, "intent": "introduction"})
            return Outcome(reply_text=intent.reply, intent=intent.name, **common)
        answered = self._answer(text, stored.history, profile=stored.profile)
        composed, composer = answered.composed, answered.composer
        if not composed.grounded:
            return Outcome(reply_text=not_covered_reply(text), intent="not_covered", **common)
        # A question about preventing harm (「怎么预防孩子自杀」) is green, and still gets the numbers to call.
        asks_prevention = any(reason.startswith("guard prevention") for reason in result.reasons)
        hint = prompt_text("replies/prevention_hotlines.txt" if asks_prevention else "replies/followup_hint.txt")
        local = answered.note or (self._region_question(stored) if answered.ask_region else "")
        if local:  # it invites a reply as the follow-up hint does; the prevention numbers stay
            hint = f"{local}\n{hint}" if asks_prevention else local
        reply = format_reply(composed, self.settings.reply_max_chars, hint)
        return Outcome(reply_text=note + reply, sources=[s.as_dict() for s in composed.sources], grounded=True,
                       composer=composer, **common)

    def _region_question(self, stored: _Stored) -> str:
        """「您是哪个县市的？」 the first time a local rule goes to this person without a known place, else ""."""
        if stored.user is None or stored.profile.region_asked:
            return ""
        if not self._bookkeeping(claim_region_question, stored.user.id):
            return ""
        return str(prompt_yaml("profile.yaml")["ask_region"])

    def _answer_for_new_region(self, stored: _Stored) -> Outcome | None:
        """The person named their place in answer to 「您是哪个县市的？」: their previous question answered again
        for that place, after a line saying it was noted (None when nothing grounded answers it)."""
        if not stored.history:
            return None
        answered = self._answer(stored.history[-1], stored.history[:-1], profile=stored.profile)
        if not answered.composed.grounded:
            return None
        noted = str(prompt_yaml("profile.yaml")["region_noted"]).format(place=stored.profile.region)
        hint = answered.note or prompt_text("replies/followup_hint.txt")
        reply = format_reply(answered.composed, self.settings.reply_max_chars - len(noted), hint)
        return Outcome(reply_text=f"{noted}\n{reply}", sources=[s.as_dict() for s in answered.composed.sources],
                       grounded=True, composer=answered.composer)

    def _answer_in_time(self, text: str, history: list[str], profile: Profile | None = None) -> Answered | None:
        """The extractive answer if it is ready within the crisis deadline; never raises."""
        # In-process search only (vector copy + BM25): a crisis reply never waits on Chroma, an LLM or the network.
        future = self._side.submit(self._answer, text, history, False, "local", profile)
        try:
            return future.result(timeout=CRISIS_ANSWER_DEADLINE)
        except FutureTimeout:
            log.warning("answer to a crisis message not ready in time; crisis reply sent alone")
        except Exception:  # the crisis reply must go out whatever retrieval does
            log.exception("answer to a crisis message failed; crisis reply sent alone")
        return None

    def _answer(self, text: str, history: list[str], use_llm: bool = True, mode: str = "hybrid",
                profile: Profile | None = None) -> Answered:
        limit = self.settings.max_input_chars  # retrieval reads a bounded query (triage has read everything)
        # Hyperbole (「作业多得要死」) is searched as the question it is, not as talk of death.
        query = contextual_query(without_hyperbole(text[:limit], load_lexicon()), [turn[:limit] for turn in history])
        # A supervisor's curated answer to a question like this one comes first (bot/feedback/).
        if (curated := self.curated.best(query, refresh=mode != "local")) is not None:
            return Answered(curated.entry.composed(), "curated")
        named = self.index.named_documents(query)
        home = self._home(query, named, profile)
        # The children's ages (profile) steer age-dependent questions to the articles for that age.
        hint = age_hint(profile.ages, query) if profile is not None else ""
        hits = self.index.search(f"{query} {hint}" if hint else query, k=self.settings.search_k, mode=mode, home=home)
        hits = one_place(hits, self.places, home, named)
        if profile is not None:
            hits = prefer_age(hits, child_age(profile.ages, query))
        # A follow-up joined to the question before it is answered narrowly, by what it asks itself.
        focus = text[:limit] if query != text[:limit] else None
        # Where the asker lives counts as a named place for choosing what answers: their own county's explainer
        # leads when it is about the question (framing below still treats only the question's own places as asked).
        own = named | {home.doc_id} if home is not None and home.doc_id else named
        composed = self.extractive.compose(query, hits, own, focus)
        if composed.grounded and use_llm and self.llm is not None:
            composed = self.llm.compose(query, hits, fallback=composed)
        framed = frame_local(composed, self.places, home, named)
        return Answered(framed.composed, composed.composer, framed.ask_region, framed.note)

    def _home(self, query: str, named: set[str], profile: Profile | None) -> Home | None:
        """Where the asker lives for this answer: none when the question names a document's place (that place
        answers); a county the question names that no document covers (「安化县的…」); else their profile."""
        if named:
            return None
        elsewhere = self.places.other_place_in(query)
        if elsewhere:
            return Home(elsewhere, None)
        return self.places.home(profile.region) if profile is not None else None

    def _store_outbound(self, stored: _Stored, outcome: Outcome) -> None:
        with session_scope(self.settings) as session:
            reply = Message(user_id=stored.user.id, direction="out", author="bot", text=outcome.reply_text,
                            level=outcome.level, case_id=outcome.case_id, grounded=outcome.grounded,
                            sources=outcome.sources)
            session.add(reply)
            session.flush()
            # A knowledge answer or not-covered reply gets its record for votes and 「待补充的问题」.
            record_reply(session, reply, stored.message_id, stored.user.channel, outcome.intent, outcome.grounded,
                         outcome.composer, outcome.sources, self.settings.max_input_chars)

    def preview(self, text: str) -> Outcome:
        """The reply `text` would get as a person's first message, storing nothing (console 「命中测试」)."""
        text, truncated = self.normalise(Inbound("preview", text))
        return self._reply(text, _Stored(None, 0, [], triage(text), None, None), truncated)
