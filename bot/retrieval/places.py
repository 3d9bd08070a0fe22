"""Places: which policy document covers a place people name, and where the asker lives (their `Home`).

The five policy documents are local rules (one county's or city's plan). Their `aliases` in
knowledge/policy/documents.yaml are the place names people use for each document's area. Any other county or
city (X县 / X市 / X区) is a place we have no document for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from knowledge.loader import load_policy_meta

# The suffix of a county / city / district name (「安化县」「长沙市」「开福区」), not when it starts another word
# (市场, 县里, 市民 …).
_SUFFIX_RE = re.compile(r"(?:自治县|县|市|区)(?![场民长委里面内外属级区城])")
MAX_STEM = 4
# Characters of a name we do not know that make it no name (「每个县」「我们区」), and suffixed words that are
# not places.
_NOT_IN_NAME = set("我你他她们这那哪本全每各个两几些里的是在到去从回住搬村学校边省了跟就也都")
_NOT_PLACES = {
    "市区", "城区", "郊区", "山区", "社区", "小区", "地区", "景区", "校区", "片区", "辖区", "学区", "园区", "牧区",
    "灾区", "老区", "街区", "矿区", "城市", "都市", "开发区", "新区", "超市", "菜市", "夜市", "集市", "早市", "股市",
    "门市", "黑市", "大城市", "小城市", "大都市", "自治区", "保护区", "风景区", "示范区", "试验区", "服务区", "工业区",
    "商业区", "生活区", "居住区", "功能区", "行政区", "高新区", "贫困县", "农业县",
}


@lru_cache(maxsize=1)
def _gazetteer() -> frozenset[str]:
    """County and city names jieba's dictionary knows (tagged ns: 安化县, 浏阳市, 沛县 …), read once."""
    import jieba

    names = set()
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as dictionary:
        for line in dictionary:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "ns" and _SUFFIX_RE.search(parts[0][-3:]):
                names.add(parts[0])
    return frozenset(names)


def places_named(text: str, known_only: bool = False) -> list[str]:
    """Every county or city name in `text` (「安化县」): the longest name before a suffix that the dictionary
    knows, else (unless `known_only`) a two-character stem (most county names), or one character before 县
    (沛县)."""
    found: list[str] = []
    last_end = 0
    for match in _SUFFIX_RE.finditer(text):
        start = match.start()
        while start > last_end and match.start() - start < MAX_STEM and "\u4e00" <= text[start - 1] <= "\u9fff":
            start -= 1
        stems = [text[i:match.start()] for i in range(start, match.start())]  # longest first
        known = [stem for stem in stems if stem + match[0] in _gazetteer()]
        unknown = [s for s in stems if len(s) == 2 or (len(s) == 1 and match[0] == "县")]
        stem = known[0] if known else "" if known_only else next((s for s in unknown if not set(s) & _NOT_IN_NAME), "")
        if stem and stem + match[0] not in _NOT_PLACES:
            found.append(stem + match[0])
        last_end = match.end()
    return found


@dataclass(frozen=True)
class Home:
    """Where the asker lives for this answer: the place as said (「启东」「安化县」) and its policy document
    (None: no document of ours covers it)."""

    place: str
    doc_id: str | None


class Places:
    """The place names of the policy documents (from documents.yaml), loaded once."""

    def __init__(self, aliases: dict[str, tuple[str, ...]]) -> None:
        self.aliases = {doc_id: names for doc_id, names in aliases.items() if names}
        # Longest first: 「昌江区」 before a shorter name it contains.
        self._names = sorted(((name, doc_id) for doc_id, names in self.aliases.items() for name in names),
                             key=lambda pair: -len(pair[0]))
        self.alias_pattern = "|".join(re.escape(name) for name, _ in self._names) or "(?!)"

    @classmethod
    def from_dir(cls, policy_dir: Path) -> Places:
        return cls({meta.doc_id: meta.aliases for meta in load_policy_meta(policy_dir)})

    def name_of(self, doc_id: str) -> str:
        """The short place name replies use for a document (its first alias)."""
        names = self.aliases.get(doc_id)
        return names[0] if names else ""

    def doc_for(self, place: str) -> str | None:
        """The policy document covering `place` (a stored region such as 「启东市」「韶关市曲江区」), or None."""
        for name, doc_id in self._names:
            if name in place:
                return doc_id
        return None

    def named(self, text: str) -> set[str]:
        """Policy documents whose place `text` names."""
        return {doc_id for name, doc_id in self._names if name in text}

    def other_place_in(self, text: str) -> str | None:
        """A county or city `text` names that no document of ours covers (「安化县的营养餐…」), or None."""
        if self.named(text):
            return None
        named = places_named(text, known_only=True)
        return named[0] if named else None

    def home(self, region: str) -> Home | None:
        return Home(region, self.doc_for(region)) if region else None


@lru_cache(maxsize=4)
def places_in(policy_dir: Path) -> Places:
    return Places.from_dir(policy_dir)
