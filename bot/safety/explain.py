"""Evidence for counsellors in plain Chinese: the person's own words that triggered, in which message, and
the risk model's confidence. Never internal codes (those stay in the case event for developers)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.prompts import prompt_yaml
from bot.safety.normalise import normalise
from bot.safety.risk_model import RiskScores

QUOTE_CHARS = 40
_CLAUSE = re.compile(r"[^，。！？；,.!?;\n]+[，。！？；,.!?;]?")


@lru_cache(maxsize=1)
def _phrases() -> dict:
    return prompt_yaml("triage_explain.yaml")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


def raw_quote(raw: str, matched: str) -> str | None:
    """The clause of the raw message whose normalised form holds `matched` (a normalised lexicon match), so
    the counsellor reads what the person wrote, not our normalised spelling."""
    clauses = [c.group(0) for c in _CLAUSE.finditer(raw)] or [raw]
    for size in (1, 2, 3):  # a match can straddle a comma the normaliser removed
        for start in range(len(clauses)):
            piece = "".join(clauses[start:start + size])
            if matched in normalise(piece):
                return _short(piece)
    return None


def _where(turn: int, quote: str) -> str:
    phrases = _phrases()
    if turn == 0:
        return phrases["words_now"].format(quote=quote)
    if turn == 1:
        return phrases["words_before_1"].format(quote=quote)
    return phrases["words_before_n"].format(quote=quote, n=turn)


def explain(text: str, history: Sequence[str], matches: Sequence[str], scores: RiskScores | None,
            guarded: bool, raised_by_model: bool, lowered_by_model: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(plain explanation lines, raw quotes for highlighting). `matches` are normalised lexicon evidence
    texts; `history` is oldest first."""
    phrases = _phrases()
    lines: list[str] = []
    quotes: list[str] = []
    turns = [text, *reversed(list(history))]
    for matched in matches:
        for turn, raw in enumerate(turns):
            quote = raw_quote(raw, matched)
            if quote:
                line = _where(turn, quote)
                if line not in lines:
                    lines.append(line)
                    quotes.append(quote.rstrip("…"))
                break
    if scores is not None and raised_by_model:
        level = phrases["levels"][scores.level]
        percent = round(100 * (scores.p_red if scores.level == "red" else scores.p_risk))
        if scores.trigger_turn == -1:
            lines.append(phrases["model_conversation"].format(level=level, percent=percent))
        else:
            lines.append(phrases["model_sentence"].format(quote=_short(scores.trigger), level=level, percent=percent))
            quotes.append(_short(scores.trigger).rstrip("…"))
    if scores is not None and lowered_by_model:
        lines.append(phrases["model_lowered"].format(percent=round(100 * scores.p_risk)))
    if guarded:
        lines.append(phrases["guarded"])
    return tuple(lines), tuple(dict.fromkeys(q for q in quotes if q))


def subject_line(subject: str, speaker: str) -> tuple[str, ...]:
    """A line for counsellors when the one at risk is another adult, or an adult writer who is not known as
    the carer in crisis (a carer's own crisis already reads as such)."""
    if subject == "adult":
        return (_phrases()["subject_adult"],)
    if subject == "writer" and speaker in ("parent", "bystander", "guardian_about_child"):
        return (_phrases()["subject_writer"],)
    return ()
