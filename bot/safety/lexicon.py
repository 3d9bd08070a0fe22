"""The curated safety lexicon: load lexicon.yaml, compile it once, and find signals in normalised text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError
from bot.safety.model import Signal

LEXICON_PATH = Path(__file__).with_name("lexicon.yaml")

_MACRO_RE = re.compile(r"<([A-Z_]+)>")
_SENTENCE_END = "。！？!?\n"
_CLAUSE_END = "，。！？；,.!?;\n "  # a space between Chinese words is a pause


@dataclass(frozen=True)
class Group:
    id: str
    category: str
    kind: str
    level: str
    patterns: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    ignores_guards: frozenset[str] = frozenset()  # context guards that must not hide this group


@dataclass(frozen=True)
class Guard:
    id: str
    mode: str  # absolute | context
    scope: str  # span | question | story
    patterns: tuple[re.Pattern[str], ...]
    examples: tuple[str, ...]
    yields_to_report: bool = False
    # A question after a long unpunctuated report covers only itself (bot.safety.guards._region).
    narrows_after_report: bool = False


@dataclass(frozen=True)
class Combo:
    kinds: tuple[str, ...]
    category: str
    level: str
    guard_proof: bool
    reason: str


@dataclass(frozen=True)
class Modifiers:
    past_is_enough: frozenset[str]
    past: re.Pattern[str]
    current: re.Pattern[str]
    resolved: dict[str, re.Pattern[str]]  # per category
    transient: re.Pattern[str]
    persistent: re.Pattern[str]
    transient_kinds: frozenset[str]
    cleared: dict[str, re.Pattern[str]]  # per category: an explicit all-clear ("虚惊一场") drops the signal
    unresolved: re.Pattern[str]  # words that keep a case open even after an all-clear word


@dataclass(frozen=True)
class Attribution:
    kinds: frozenset[str]
    report: re.Pattern[str]
    first_person: re.Pattern[str]
    child_subject: re.Pattern[str]
    third_party: re.Pattern[str]
    third_party_kinds: frozenset[str]
    hypothetical: re.Pattern[str]
    peer: re.Pattern[str]


@dataclass(frozen=True)
class Lexicon:
    groups: tuple[Group, ...]
    guards: tuple[Guard, ...]
    combos: tuple[Combo, ...]
    attribution: Attribution
    modifiers: Modifiers
    story_stop: re.Pattern[str]
    story_goes_on: re.Pattern[str]
    normalise: dict[str, Any]


def _expander(macros: dict[str, str]):
    def expand(pattern: str) -> str:
        for _ in range(5):  # macros may use other macros; a few rounds suffice
            new = _MACRO_RE.sub(lambda m: macros[m.group(1)] if m.group(1) in macros else m.group(0), pattern)
            if new == pattern:
                return new
            pattern = new
        return pattern

    return expand


def _compile(expand, pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(expand(pattern))
    except re.error as exc:
        raise ConfigError(f"lexicon.yaml {where}: bad pattern {pattern!r}: {exc}") from exc


def parse_lexicon(data: dict[str, Any]) -> Lexicon:
    """Build a Lexicon from the parsed YAML mapping."""
    expand = _expander(data.get("macros", {}))

    def patterns(entry: dict[str, Any], where: str) -> tuple[re.Pattern[str], ...]:
        return tuple(_compile(expand, p, where) for p in entry["patterns"])

    groups = tuple(
        Group(
            id=g["id"],
            category=g["category"],
            kind=g["kind"],
            level=str(g.get("level", "none")),
            patterns=patterns(g, g["id"]),
            examples=tuple(g.get("examples", ())),
            ignores_guards=frozenset(g.get("ignores_guards", ())),
        )
        for g in data["groups"]
    )
    guards = tuple(
        Guard(
            id=g["id"],
            mode=g["mode"],
            scope=g.get("scope", "span"),
            patterns=patterns(g, g["id"]),
            examples=tuple(g.get("examples", ())),
            yields_to_report=bool(g.get("yields_to_report", False)),
            narrows_after_report=bool(g.get("narrows_after_report", False)),
        )
        for g in data["guards"]
    )
    combos = tuple(
        Combo(
            kinds=tuple(c["kinds"]),
            category=c["category"],
            level=c["level"],
            guard_proof=bool(c.get("guard_proof", False)),
            reason=c["reason"],
        )
        for c in data["combos"]
    )
    att = data["attribution"]
    attribution = Attribution(
        kinds=frozenset(att["kinds"]),
        report=_compile(expand, att["report"], "attribution.report"),
        first_person=_compile(expand, att["first_person"], "attribution.first_person"),
        child_subject=_compile(expand, att["child_subject"], "attribution.child_subject"),
        third_party=_compile(expand, att["third_party"], "attribution.third_party"),
        third_party_kinds=frozenset(att["third_party_kinds"]),
        hypothetical=_compile(expand, att["hypothetical"], "attribution.hypothetical"),
        peer=_compile(expand, att["peer"], "attribution.peer"),
    )
    mod = data["modifiers"]
    modifiers = Modifiers(
        past_is_enough=frozenset(mod.get("past_is_enough", ())),
        past=_compile(expand, mod["past"], "modifiers.past"),
        current=_compile(expand, mod["current"], "modifiers.current"),
        resolved={c: _compile(expand, p, f"modifiers.resolved.{c}") for c, p in mod["resolved"].items()},
        transient=_compile(expand, mod["transient"], "modifiers.transient"),
        persistent=_compile(expand, mod["persistent"], "modifiers.persistent"),
        transient_kinds=frozenset(mod["transient_kinds"]),
        cleared={c: _compile(expand, p, f"modifiers.cleared.{c}") for c, p in mod.get("cleared", {}).items()},
        unresolved=_compile(expand, mod.get("unresolved", "(?!)"), "modifiers.unresolved"),
    )
    return Lexicon(
        groups=groups,
        guards=guards,
        combos=combos,
        attribution=attribution,
        modifiers=modifiers,
        story_stop=_compile(expand, data["story_stop"], "story_stop"),
        story_goes_on=_compile(expand, data.get("story_goes_on", "(?!)"), "story_goes_on"),
        normalise=data.get("normalise", {}),
    )


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    """The compiled lexicon (read and compiled once per process)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read safety lexicon {path}: {exc}") from exc
    return parse_lexicon(data)


def sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    """Start and end of the sentence around `pos`."""
    return _bounds(text, pos, _SENTENCE_END)


def clause_bounds(text: str, pos: int) -> tuple[int, int]:
    """Start and end of the clause (comma to comma) around `pos`."""
    return _bounds(text, pos, _CLAUSE_END)


def _bounds(text: str, pos: int, stops: str) -> tuple[int, int]:
    start = pos
    while start > 0 and text[start - 1] not in stops:
        start -= 1
    end = pos
    while end < len(text) and text[end] not in stops:
        end += 1
    return start, end


def _last_end(pattern: re.Pattern[str], text: str) -> int:
    return max((m.end() for m in pattern.finditer(text)), default=-1)


def _speaker(text: str, start: int, att: Attribution) -> str:
    """Whose words or mood: "reported" (forwarded or quoted child), "guardian" (first person), "child"
    (third person), "other" (a classmate, a friend, a neighbour) or "unknown" (no subject)."""
    s_start, _ = sentence_bounds(text, start)
    before = text[s_start:start]
    last = {
        "guardian": _last_end(att.first_person, before),
        "child": _last_end(att.child_subject, before),
        "other": _last_end(att.third_party, before),
    }
    who, end = max(last.items(), key=lambda kv: kv[1])
    if who == "other":
        return who
    if att.report.search(before) or att.report.match(text):  # match: a vocative opening the message
        return "reported"
    return who if end >= 0 else "unknown"


def _attributed(sig: Signal, text: str, lex: Lexicon) -> Signal | None:
    """The signal with the category its speaker implies; None when it is someone else's mood."""
    att = lex.attribution
    if sig.kind in att.kinds:
        speaker = _speaker(text, sig.start, att)
        if speaker == "other" and sig.kind in att.third_party_kinds:
            return None
        # First person is read as the guardian here; when the writer is a child (bot.safety.speaker),
        # bot.safety.triage gives the words back to the child (suicide / emotional).
        if speaker == "guardian" and sig.category != "guardian_crisis":
            return replace(sig, category="guardian_crisis")
        # Exhaustion is the guardian's unless someone else is speaking of themselves.
        if speaker in ("reported", "child") and sig.category == "guardian_crisis":
            return replace(sig, category="emotional")
    if sig.category == "abuse":
        c_start, c_end = clause_bounds(text, sig.start)
        if att.peer.search(text[c_start:c_end]):
            level = "yellow" if sig.level == "red" else sig.level
            return replace(sig, category="bullying", kind="bullying", level=level)
    return sig


def match_signals(text: str, lex: Lexicon, groups: Iterable[Group] | None = None) -> list[Signal]:
    """Lexicon signals of `groups` (default all) in `text` (normalised, guards applied), attributed."""
    signals: list[Signal] = []
    for group in lex.groups if groups is None else groups:
        for pattern in group.patterns:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    sig = Signal(group.id, group.category, group.kind, group.level, m.group(0), m.start(), m.end())
                    attributed = _attributed(sig, text, lex)
                    if attributed is not None:
                        signals.append(attributed)
    return signals
