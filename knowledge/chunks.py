"""The Chunk record shared by the policy chunker, the outreach loader and the index."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Chunk:
    """A short passage with everything needed to cite it.

    `text` is what a reply may quote; `search_text` adds the title and section path (and, for outreach
    articles, the ways people ask the question) so that keyword and vector search find it.
    """

    doc_id: str
    kind: str  # "policy" | "outreach"
    title: str
    short_title: str
    region: str
    topic: str
    section: str
    position: int
    text: str
    search_text: str
    source_file: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        payload = "\x1f".join([self.doc_id, self.title, self.section, self.search_text, self.text])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.position}-{self.content_hash[:12]}"

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for Chroma (scalars only)."""
        return {
            "doc_id": self.doc_id,
            "kind": self.kind,
            "title": self.title,
            "short_title": self.short_title,
            "region": self.region,
            "topic": self.topic,
            "section": self.section,
            "position": self.position,
            "source_file": self.source_file,
            "content_hash": self.content_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
