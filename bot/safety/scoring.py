"""From signals to a level per category: single signals, combinations across the conversation, and the
time modifiers (over and resolved, or a passing mood)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from bot.safety.lexicon import Combo, Lexicon
from bot.safety.model import CATEGORY_PRIORITY, LEVEL_RANK, Signal, max_level


@dataclass
class Decision:
    """Levels per category with the reasons and evidence that produced them."""

    levels: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    combined: set[str] = field(default_factory=set)  # categories a combination of two kinds raised (method+intent)

    def raise_to(self, category: str, level: str, reason: str, evidence: Iterable[str] = ()) -> None:
        if LEVEL_RANK[level] == 0:
            return
        self.levels[category] = max_level(self.levels.get(category, "green"), level)
        if reason not in self.reasons:
            self.reasons.append(reason)
        for text in evidence:
            if text not in self.evidence:
                self.evidence.append(text)

    @property
    def level(self) -> str:
        return max_level(*self.levels.values()) if self.levels else "green"

    def categories(self) -> tuple[str, ...]:
        """Categories at yellow or red, most severe first."""
        ranked = [c for c, lv in self.levels.items() if LEVEL_RANK[lv] > 0]
        return tuple(sorted(ranked, key=lambda c: (-LEVEL_RANK[self.levels[c]], CATEGORY_PRIORITY.index(c))))


# Yellow worries that are over when the message says so (modifiers.resolved): nothing is left for a counsellor
# to do. Signal category or kind -> the resolved pattern that closes it (sadness is `distress` whoever feels it).
RESOLVED_DROPS = {"bullying": "bullying", "emotional": "emotional", "distress": "emotional"}


def cleared_categories(text: str, lex: Lexicon) -> set[str]:
    """Categories an explicit all-clear closes ("原来在邻居家，虚惊一场", "早就没事了"), unless the
    message also says the case is still open ("人还没找到")."""
    mod = lex.modifiers
    if mod.unresolved.search(text):
        return set()
    return {c for c, pattern in mod.cleared.items() if pattern.search(text)}


def settle(signals: Sequence[Signal], text: str, lex: Lexicon) -> list[Signal]:
    """Adjust the signals of one turn for time: an explicit all-clear drops a missing child or an accident
    ("刚才不见了，原来在邻居家"), what is over ("以前…现在好多了") is settled (red counts as yellow), a
    passing mood ("…一会儿就好了") is dropped."""
    mod = lex.modifiers
    cleared = cleared_categories(text, lex)
    signals = [s for s in signals if s.category not in cleared]
    if mod.current.search(text):
        return list(signals)
    past = bool(mod.past.search(text))
    over = {c for c, pattern in mod.resolved.items() if pattern.search(text)}
    over |= {c for c in mod.past_is_enough if past}
    passing = bool(mod.transient.search(text)) and not mod.persistent.search(text)
    out = []
    for s in signals:
        if passing and s.kind in mod.transient_kinds:
            continue
        if s.level == "yellow" and RESOLVED_DROPS.get(s.kind if s.kind == "distress" else s.category) in over:
            continue
        out.append(replace(s, settled=True) if s.category in over else s)
    return out


def _where(sig: Signal) -> str:
    return "" if sig.turn == 0 else f" (earlier turn -{sig.turn})"


def _combo_category(combo: Combo, parts: Sequence[Signal]) -> str:
    # The guardian's own intent plus a means is the guardian's crisis, not the child's.
    return "guardian_crisis" if any(p.category == "guardian_crisis" for p in parts) else combo.category


def _overlap(a: Signal, b: Signal) -> bool:
    return a.turn == b.turn and a.start < b.end and b.start < a.end


def _assign(kinds: Sequence[str], pool: dict[str, list[Signal]], chosen: list[Signal]) -> list[Signal] | None:
    """One signal per kind, no two of them the same words (one phrase is not two signals)."""
    if not kinds:
        return chosen
    for sig in pool.get(kinds[0], ()):
        if not any(_overlap(sig, c) for c in chosen):
            found = _assign(kinds[1:], pool, [*chosen, sig])
            if found:
                return found
    return None


def combo_hits(signals: Sequence[Signal], combos: Sequence[Combo]) -> list[tuple[Combo, list[Signal]]]:
    """Combinations whose kinds are all present among the (unsettled) signals."""
    pool: dict[str, list[Signal]] = {}
    for s in sorted(signals, key=lambda s: s.turn):  # prefer evidence from the current message
        if not s.settled:
            pool.setdefault(s.kind, []).append(s)
    hits = []
    for combo in combos:
        parts = _assign(combo.kinds, pool, [])
        if parts:
            hits.append((combo, parts))
    return hits


def score(signals: Sequence[Signal], lex: Lexicon) -> Decision:
    """Levels per category for the signals of a whole conversation."""
    decision = Decision()
    for s in sorted(signals, key=lambda s: (s.turn, -LEVEL_RANK[s.level])):
        level = "yellow" if s.settled and s.level == "red" else s.level
        note = " (past, resolved)" if s.settled else ""
        decision.raise_to(s.category, level, f"{s.kind}: {s.text}{note}{_where(s)}", [s.text])
    for combo, parts in combo_hits(signals, lex.combos):
        reason = f"{combo.reason}: " + " + ".join(p.text for p in parts)
        category = _combo_category(combo, parts)
        decision.raise_to(category, combo.level, reason, [p.text for p in parts])
        decision.combined.add(category)
    return decision
