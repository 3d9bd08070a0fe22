"""`triage(text, history)`: the risk level of a message in its conversation.

Layers: normalise -> absolute guards (hyperbole, negation) -> lexicon signals -> context guards (stories,
prevention questions, farming, medicine, minor injuries; never hiding a guard-proof combination) ->
combinations over the conversation -> semantic similarity to curated exemplars for paraphrases.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.safety.affection import is_affection
from bot.safety.combine import FRAMING_GUARDS, choose_situation, choose_speaker, combine, long_enough
from bot.safety.explain import explain, subject_line
from bot.safety.guards import GuardHit, apply_guards
from bot.safety.lexicon import Lexicon, load_lexicon, match_signals
from bot.safety.model import Signal, Triage
from bot.safety.normalise import normalise, squeeze
from bot.safety.risk_model import RiskModel, RiskScores, load_risk_model
from bot.safety.scoring import Decision, cleared_categories, combo_hits, score, settle
from bot.safety.semantic import semantic_raise
from bot.safety.situation import conversation_situation
from bot.safety.subject import AT_RISK_OWN_LIFE, risk_subject, writer_hits
from bot.safety.speaker import conversation_speaker, introduced_as

log = logging.getLogger(__name__)

HISTORY_TURNS = 5  # earlier user messages that still count for the conversation's risk
# An all-clear in the newest message closes these for the whole conversation: 「娃儿找回来了，在他姑姑家」 after
# 「村里有个娃儿不见了」. Not suicide or abuse: a denial after a disclosure keeps the case.
CLEARED_OVER_TURNS = frozenset({"missing"})
# Guards that only tell another sense of a word (打针, 手机掉水里): they say nothing about whether anything
# happened, so they do not make the model need more certainty (「伤口好深一直在渗血…不肯带去打针」 was green).
WORD_SENSE_GUARDS = frozenset({"objects"})
# Matching time grows faster than the length of one long unpunctuated text, so a long message is read in
# overlapping windows (a phrase or short sentence that straddles one boundary lies whole in the next window):
# time then grows linearly with the length, and the whole message is always read.
WINDOW_CHARS = 400
WINDOW_STEP = 300


@dataclass(frozen=True)
class TurnAnalysis:
    text: str  # normalised
    signals: tuple[Signal, ...]
    guards: tuple[GuardHit, ...]
    passing: bool  # "…一会儿就好了", "虚惊一场": nothing for the semantic layer to raise
    windows: tuple[str, ...] = ()  # the normalised windows of a long message, for the semantic layer


def _key(s: Signal) -> tuple[str, int, int]:
    return (s.group, s.start, s.end)


def windows(text: str) -> list[tuple[int, str]]:
    """(offset, part) windows of WINDOW_CHARS overlapping by WINDOW_CHARS - WINDOW_STEP, covering all of `text`."""
    if len(text) <= WINDOW_CHARS:
        return [(0, text)]
    starts = list(range(0, len(text) - WINDOW_CHARS, WINDOW_STEP)) + [len(text) - WINDOW_CHARS]
    return [(start, text[start:start + WINDOW_CHARS]) for start in starts]


@lru_cache(maxsize=2048)
def analyse_turn(raw: str) -> TurnAnalysis:
    """Signals of one message on its own (cached: history turns come back with every new message)."""
    text = normalise(raw)
    parts = windows(text)
    if len(parts) == 1:
        return _analyse(text)
    signals: list[Signal] = []
    guards: list[GuardHit] = []
    analysed = []
    recent: list[list[Signal]] = []  # signals of the last two windows: only they can overlap the next one
    for offset, part in parts:
        one = _analyse(part)
        analysed.append(one)
        guards.extend(g for g in one.guards if g not in guards)
        added: list[Signal] = []
        for sig in one.signals:
            moved = replace(sig, start=sig.start + offset, end=sig.end + offset)
            # A phrase in the overlap of two windows counts once. Comparing with every earlier signal made a long
            # message full of signals quadratic (16 000 characters: 4 s on a slow machine).
            if not any(s.group == moved.group and s.start < moved.end and moved.start < s.end
                       for window in (*recent, added) for s in window):
                added.append(moved)
        signals.extend(added)
        recent = [*recent[-1:], added]
    return TurnAnalysis(text, tuple(signals), tuple(guards), all(a.passing for a in analysed),
                        tuple(a.text for a in analysed if not a.passing and not a.guards))


def _analyse(text: str) -> TurnAnalysis:
    """Signals of one normalised text of at most a window's length, including words broken by punctuation
    (read again without the separators between characters; only hits that span a removed separator count)."""
    plain = _analyse_plain(text)
    squeezed, joins = squeeze(text)
    if not joins:
        return plain
    bridged = tuple(s for s in _analyse_plain(squeezed).signals if any(s.start < j < s.end for j in joins))
    return replace(plain, signals=plain.signals + bridged) if bridged else plain


def _analyse_plain(text: str) -> TurnAnalysis:
    """Signals of one normalised text as it is written."""
    lex = load_lexicon()
    absolute_text, absolute_hits = apply_guards(text, lex, "absolute")
    context_text, context_hits = apply_guards(absolute_text, lex, "context")
    unguarded = match_signals(absolute_text, lex)
    guarded = match_signals(context_text, lex, [g for g in lex.groups if not g.ignores_guards])
    for skip in {g.ignores_guards for g in lex.groups if g.ignores_guards}:
        partly_guarded, _ = apply_guards(absolute_text, lex, "context", skip)
        guarded += match_signals(partly_guarded, lex, [g for g in lex.groups if g.ignores_guards == skip])
    signals = guarded + _guard_proof(unguarded, guarded, lex)
    # A passing mood or an all-clear: nothing for the semantic layer to raise either.
    passing = bool(lex.modifiers.transient.search(text) or cleared_categories(text, lex))
    return TurnAnalysis(text, tuple(settle(signals, text, lex)), tuple(absolute_hits + context_hits), passing)


def _guard_proof(unguarded: list[Signal], guarded: list[Signal], lex: Lexicon) -> list[Signal]:
    """Signals a context guard masked but that form a guard-proof combination (method+intent)."""
    kept = {_key(s) for s in guarded}
    proof = [c for c in lex.combos if c.guard_proof]
    back: list[Signal] = []
    for _, parts in combo_hits(unguarded, proof):
        back.extend(p for p in parts if _key(p) not in kept and p not in back)
    return back


def triage(text: str, history: Sequence[str] = (), *, semantic: bool = True, learned: bool = True) -> Triage:
    """Risk level, categories, situation, speaker and evidence for `text` after `history` (earlier user turns,
    oldest first). `learned=False` runs the rules alone; `semantic=False` also skips the embedding layer, which
    stands in for the learned model only when its artifact is missing."""
    lex = load_lexicon()
    earlier = list(history)[-HISTORY_TURNS:]
    current = analyse_turn(text)
    signals = list(current.signals)
    past = [replace(s, turn=turn) for turn, past_text in enumerate(reversed(earlier), start=1)
            for s in analyse_turn(past_text).signals]
    # Only a case the conversation opened: 「…天黑才回来」 alone closes nothing.
    closed = cleared_categories(current.text, lex) & CLEARED_OVER_TURNS & {s.category for s in past}
    signals.extend(s for s in past if s.category not in closed)
    decision = score(signals, lex)
    for hit in current.guards:
        decision.reasons.append(f"guard {hit.guard}: {hit.text}")
    matches = list(decision.evidence)
    earlier_texts = [analyse_turn(t).text for t in earlier]
    model = load_risk_model() if learned else None
    scores = _model_scores(model, text, earlier) if model is not None else None
    raised = lowered = False
    if scores is not None:
        guarded = any(g.guard not in WORD_SENSE_GUARDS for g in current.guards)
        raised, lowered = combine(decision, scores, guarded=guarded,
                                  # the conversation's words still read as a missing child once it is found
                                  can_raise=(long_enough(current.text) or scores.trigger_turn == -1) and not closed,
                                  framed=any(g.guard in FRAMING_GUARDS for g in current.guards))
    elif semantic and decision.level == "green":
        # Without the model, the embedding is for what the lexicon missed entirely.
        if not current.windows:
            semantic_raise(decision, current.text, earlier_texts, guarded=bool(current.guards) or current.passing)
        for part in current.windows:  # a long message: each window without a guard or an all-clear
            if decision.level == "green":
                semantic_raise(decision, part, earlier_texts, guarded=False)
    if raised and set(decision.categories()) == {"sexual_abuse"} and is_affection(current.text):
        decision.reasons.append("affection: a family touch of the head, face or hand, nothing that marks abuse")
        decision.levels.clear()
        raised = False
    speaker = choose_speaker(conversation_speaker(current.text, earlier_texts), scores,
                             introduced_as(current.text, earlier_texts))
    if speaker == "child":
        _child_owns_the_words(decision)
    situation = "none"
    if decision.level != "green":
        rules = conversation_situation([current.text, *reversed(earlier_texts)], decision.categories())
        situation = choose_situation(rules, scores, current.text)
    subject = "unknown"
    if decision.level != "green" and set(decision.categories()) & AT_RISK_OWN_LIFE:
        subject = next((found for found in (risk_subject(t, speaker) for t in [current.text, *reversed(earlier_texts)])
                        if found != "unknown"), "unknown")
    explanation, quotes = explain(text, earlier, matches, scores, bool(current.guards), raised, lowered)
    explanation += subject_line(subject, speaker)
    return Triage(
        level=decision.level,  # type: ignore[arg-type]
        categories=decision.categories(),
        evidence=quotes if decision.level != "green" else (),
        reasons=tuple(decision.reasons),
        situation=situation,
        speaker=speaker,
        subject=subject,
        writer_hits=decision.level != "green" and "abuse" in decision.categories() and writer_hits(current.text),
        explanation=explanation if decision.level != "green" else (),
        scores=scores.as_dict() if scores is not None else None,
        category_levels={c: decision.levels[c] for c in decision.categories()},
    )


def _model_scores(model: RiskModel, text: str, earlier: list[str]) -> RiskScores | None:
    """The model's scores, or None (the rules decide alone) when scoring fails: its word features read
    knowledge/userdict.txt through the retrieval tokenizer, and a crisis reply must not depend on that."""
    try:
        return model.score(text, earlier)
    except Exception:
        log.exception("risk model failed on a message: triage runs on the rules alone")
        return None


def _child_owns_the_words(decision: Decision) -> None:
    """A child writing: first-person words the lexicon reads as the guardian's own crisis ("我想死", "我撑
    不下去了") are the child's. Red is the child's suicide risk, yellow the child's low mood."""
    level = decision.levels.pop("guardian_crisis", None)
    if level is None:
        return
    category = "suicide" if level == "red" else "emotional"
    decision.raise_to(category, level, f"speaker child: {category}, not guardian_crisis")
