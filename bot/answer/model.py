"""What a composer returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    doc_id: str
    title: str
    section: str
    kind: str
    place: str = ""  # for a place article: the policy document whose local rules it explains

    def as_dict(self) -> dict[str, str]:
        return {"doc_id": self.doc_id, "title": self.title, "section": self.section}


@dataclass(frozen=True)
class Composed:
    """An answer before formatting: a short body, optional numbered steps, and where it came from."""

    body: str
    steps: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    grounded: bool = True
    composer: str = "extractive"
    evidence: tuple[str, ...] = field(default=(), repr=False)  # source texts, for grounding checks
