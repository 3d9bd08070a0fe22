"""Local rules, framed for the person asking.

The policy documents are one county's or city's rules. When an answer quotes one (「在景德镇，每学期2次…」) to
someone who did not name that place:
- we do not know where they live: 「各地规定不一样，比如景德镇：…」, and the pipeline asks 「您是哪个县市的？」
  once per person (bot.conversation.profile.claim_region_question);
- they live elsewhere (their profile, or a place the question names that no document covers):
  「这是景德镇的规定，安化县不一定一样：…」 and a line pointing to the local 儿童主任 or 村委会.
A rule of their own place (or of a place the question names) keeps the composer's 「在启东，…」.

Works on any composer's answer after composing (bot.pipeline), so the composers stay unaware of the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.answer.model import Composed
from bot.prompts import prompt_yaml
from bot.retrieval.places import Home, Places
from bot.retrieval.search import Hit


@dataclass(frozen=True)
class Framed:
    composed: Composed
    ask_region: bool = False  # a local rule went to someone whose place we do not know
    note: str = ""  # a line for the end of the reply (「安化县的具体做法，可以问问村里的儿童主任或村委会。」)


def one_place(hits: list[Hit], places: Places, home: Home | None, named: set[str]) -> list[Hit]:
    """The hits an answer is composed from when the question names no place: local rules of one place only
    (the asker's own when one of its passages was found, else the best-ranked place's), so one answer never
    runs two places' rules together under one place's name. Articles are kept."""
    local = [h for h in hits if h.metadata.get("kind") == "policy" and h.doc_id in places.aliases]
    if named or not local:
        return hits
    own = home.doc_id if home is not None and any(h.doc_id == home.doc_id for h in local) else local[0].doc_id
    return [h for h in hits if h not in local or h.doc_id == own]


def foreign_rules(composed: Composed, places: Places, home: Home | None) -> list[str]:
    """The policy documents the answer quotes that are not the asker's own place's, in source order."""
    own = home.doc_id if home else None
    docs = [s.doc_id for s in composed.sources if s.kind == "policy" and s.doc_id in places.aliases and s.doc_id != own]
    return list(dict.fromkeys(docs))


def frame_local(composed: Composed, places: Places, home: Home | None, named: set[str]) -> Framed:
    """`composed` with each other place's rule framed as local; `named`: documents whose place the question
    names (their rules are what was asked for)."""
    if not composed.grounded or named:
        return Framed(composed)
    foreign = foreign_rules(composed, places, home)
    if not foreign:
        return Framed(composed)
    texts = prompt_yaml("profile.yaml")
    lines = composed.body.split("\n")
    for doc_id in foreign:
        place = places.name_of(doc_id)
        frame = (texts["local_unknown"].format(place=place) if home is None
                 else texts["local_elsewhere"].format(place=place, home=home.place))
        marker = f"在{place}，"
        at = next((i for i, line in enumerate(lines) if marker in line), None)
        if at is not None:
            lines[at] = lines[at].replace(marker, frame, 1)
            continue
        # No 「在…，」 to replace (the sentence began with 在 or the place): the rule's line gets the frame. A
        # policy-led answer starts with it; an article-led one adds the rule on its last line.
        at = 0 if composed.sources and composed.sources[0].doc_id == doc_id else len(lines) - 1
        lines[at] = frame + lines[at]
    framed = replace(composed, body="\n".join(lines))
    if home is None:
        return Framed(framed, ask_region=True)
    return Framed(framed, note=texts["ask_local"].format(home=home.place))
