"""False-alarm guards: mask the words that hyperbole, negation, stories, prevention questions, farming
and minor injuries use, so the lexicon does not read them as danger.

Masking keeps every other character at its place, so spans found in masked text still point into the
normalised message. Whether a masked danger comes back (a method+intent combination is never hidden) is
decided in bot.safety.triage, which matches the lexicon on both the absolute-masked and the fully masked text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.safety.lexicon import Guard, Lexicon, clause_bounds, sentence_bounds

MASK = "\uff3f"  # ＿ : matches no lexicon word, keeps offsets
# Characters of unpunctuated text before a question cue that make it a report followed by a question.
QUESTION_AFTER_REPORT = 16
_PAUSE_RE = re.compile(r"[，,、；;：:\s\uff3f]")  # a pause, or words another guard masked


@dataclass(frozen=True)
class GuardHit:
    guard: str
    mode: str
    text: str
    start: int
    end: int


def _region(text: str, m: re.Match[str], guard: Guard, lex: Lexicon) -> tuple[int, int]:
    """The characters a guard match covers, by the guard's scope."""
    if guard.scope == "span":
        return m.start(), m.end()
    start, end = clause_bounds(text, m.start())
    s_start, s_end = sentence_bounds(text, m.start())
    if guard.scope == "question":
        # A question that opens its sentence ("怎么教孩子…，不让别人碰…") covers the sentence; after a
        # statement it covers only its own clause. Voice-to-text has no punctuation: a question that comes after a
        # long unpunctuated report (「…把孩子用铁链子锁在猪圈旁边我路过看到…要报警吗」) covers only itself.
        before = text[s_start:m.start()]
        if guard.narrows_after_report and start == s_start and len(before) >= QUESTION_AFTER_REPORT \
                and not _PAUSE_RE.search(before):
            return m.start(), max(s_end, m.end())
        return (s_start, max(s_end, m.end())) if start == s_start else (start, max(end, m.end()))
    # story: when the family is already in the cue's clause ("孙子在游戏里…") only that clause, unless the
    # next clause tells the story on ("…，说…"); else on to the end of the sentence. Either way it stops where a real person speaks or comes back in.
    limit = end if lex.story_stop.search(text, start, m.start()) else s_end
    if limit == end and lex.story_goes_on.match(text, start):  # "孙女讲了个鬼故事，说…": still the story
        limit = s_end
    stop = lex.story_stop.search(text, m.end(), limit)
    return start, max(stop.start() if stop else limit, m.end())


def _reported_before(text: str, start: int, cue_start: int, lex: Lexicon) -> bool:
    """A report ("孙子说…") before a prevention cue, and no "如果": the report is a real event."""
    before = text[start:cue_start]
    att = lex.attribution
    return bool(att.report.search(before)) and not att.hypothetical.search(before)


def apply_guards(
    text: str, lex: Lexicon, mode: str, skip: frozenset[str] = frozenset()
) -> tuple[str, list[GuardHit]]:
    """Mask what the guards of `mode` ("absolute" or "context"), less those in `skip`, cover."""
    chars = list(text)
    hits: list[GuardHit] = []
    for guard in lex.guards:
        if guard.mode != mode or guard.id in skip:
            continue
        for pattern in guard.patterns:
            for m in pattern.finditer(text):
                if m.end() == m.start():
                    continue
                start, end = _region(text, m, guard, lex)
                if guard.yields_to_report and _reported_before(text, start, m.start(), lex):
                    start = m.start()  # the report before the question stays readable
                chars[start:end] = MASK * (end - start)
                hits.append(GuardHit(guard.id, mode, m.group(0), start, end))
    return "".join(chars), hits


# The dying part of a hyperbole match ("烦死了", "多得要死", "累得要命"), when it ends the match.
_DYING_TAIL = re.compile(r"(?:得|的)?(?:我|人)?(?:都)?(?:要|快|快要|半|差点|简直要)?死(?:了|我了|人了|啦|啊|掉)?$|(?:得|的)?要命$")


def without_hyperbole(text: str, lex: Lexicon) -> str:
    """`text` with the dying words of hyperbole blanked, for retrieval: 「作业多得要死 烦死了」 asks about
    homework and a bad mood, not about death. Idioms (死记硬背) and real events (淹死过) are left as they are."""
    chars = list(text)
    for guard in lex.guards:
        if guard.id != "hyperbole":
            continue
        for pattern in guard.patterns:
            for m in pattern.finditer(text):
                tail = _DYING_TAIL.search(m.group(0))
                if tail and tail.end() > tail.start():
                    start = m.start() + tail.start()
                    chars[start:m.end()] = " " * (m.end() - start)
    return "".join(chars)
