"""The default composer: builds the reply from retrieved material, no model needed.

An outreach article that matches gives its 一句话 and 怎么做, and its 要警惕 when the question asks about
danger signs, a doctor or a specific worry. A policy passage gives the sentences that best
match the question, rewritten plainly, so the concrete facts (numbers, names of services) reach the reader.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from bot.answer.model import Composed, Source
from bot.answer.plain import asks_who, plain_sentence, plain_table_row
from bot.prompts import prompt_text
from bot.retrieval.expand import expand_query
from bot.retrieval.search import Hit, KnowledgeIndex
from bot.retrieval.tokenizer import tokenize, words
from knowledge.outreach import Article
from knowledge.policy_chunker import split_sentences

_QUANTITY_RE = re.compile(r"几|多少|多久|多长|多大|多远|哪年|什么时候|啥时候|哪天|频次|次数")
_NUMBER_RE = re.compile(r"\d|[一二两三四五六七八九十百]+(?:次|天|周|个|名|小时|分钟|岁|月|年|项|场|元|所|人)")
# Questions that ask for a sum of money or a clock time are answered only by material that states one;
# otherwise the honest reply is "not covered" (the documents name an allowance but not its amount).
_ASKS_MONEY_RE = re.compile(r"多少钱|几块钱|多少元|发多少|补多少|给多少|补贴多少|标准是多少|一个月多少")
_HAS_MONEY_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块|万元)|[一二两三四五六七八九十百千万]+(?:元|块钱)")
_ASKS_CLOCK_RE = re.compile(r"几点|什么时候开门|几时开门|上不上班|开不开门|营业时间|办公时间")
_HAS_CLOCK_RE = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*点|上午|下午|工作日")
_TITLE_ONLY_RE = re.compile(r"^[^，。；]{2,16}[，、][^，。；]{2,16}。$")
# Questions about danger signs, when to see a doctor, or a specific worry: the article's 要警惕 answers them.
_ASKS_WARNING_RE = re.compile(
    r"警惕|注意什么|注意啥|危险|要紧|严重|厉害|不对劲|信号|征兆|苗头|症状|什么情况|啥情况|哪些情况|医院|医生|"
    r"就医|急诊|卫生院|会不会|担心|有没有事|有事没|没事吧|出血|流血|加打|还要打"
)
WARNING_BUDGET = 110
# How many of the top hits can carry an answer: a matching article just below two or three policy passages
# (common for follow-ups joined to their question) still answers.
TOP_FOR_ANSWER = 4
# A follow-up (「要不要用酒精擦」 after a fever question) is answered by the article lines that hold its own
# words, when the best of them carries at least this share of the follow-up's weighted words.
FOCUS_MIN_SHARE = 0.5
FOCUS_LINES = 2
POLICY_HITS = 4
BODY_BUDGET = 210
# How much of the question a policy line must match to be added under an article's answer.
EXTRA_LINE_MIN_SCORE = 0.2


@dataclass(frozen=True)
class Candidate:
    text: str
    hit: Hit
    rank: int
    order: int
    score: float


class ExtractiveComposer:
    """Composes from hits; needs the index (for term weights) and the parsed articles."""

    name = "extractive"

    def __init__(self, index: KnowledgeIndex, articles: dict[str, Article], place_names: dict[str, str]) -> None:
        self.index = index
        self.settings = index.settings
        self.articles = articles
        self.place_names = place_names  # policy doc id -> short place name used in replies

    @cached_property
    def _document_frequency(self) -> tuple[Counter[str], int]:
        counts: Counter[str] = Counter()
        for chunk in self.index.chunks:
            counts.update(set(chunk["tokens"]))
        return counts, max(len(self.index.chunks), 1)

    def idf(self, token: str) -> float:
        counts, total = self._document_frequency
        return math.log(1 + total / (1 + counts.get(token, 0)))

    def support(self, question: str, hits: list[Hit]) -> float:
        """Share of the question's weighted words that the best of the top hits contains (0..1)."""
        asked = {t for t in words(expand_query(question)) if len(t) >= 2}
        total = sum(self.idf(t) for t in asked)
        if not asked or not hits or total == 0:
            return 0.0
        best = 0.0
        for hit in hits[:3]:
            chunk_tokens = set(tokenize(f"{hit.metadata.get('short_title', '')}{hit.section}{hit.text}"))
            best = max(best, sum(self.idf(t) for t in asked & chunk_tokens) / total)
        return best

    def confident(self, question: str, hits: list[Hit]) -> bool:
        """Whether the material answers the question well enough to say anything (else: 'not covered')."""
        if not hits:
            return False
        material = "".join(h.text for h in hits[:3])
        if _ASKS_MONEY_RE.search(question) and not _HAS_MONEY_RE.search(material):
            return False
        if _ASKS_CLOCK_RE.search(question) and not _HAS_CLOCK_RE.search(material):
            return False
        support = self.support(question, hits)
        # The best of the top hits: routing may put a policy passage first that is less similar in wording.
        similarities = [h.similarity for h in hits[:TOP_FOR_ANSWER] if h.similarity is not None]
        similarity = max(similarities) if similarities else None
        if similarity is None:  # keyword-only (vector store down): words must carry it alone
            return support >= self.settings.answer_min_support_keyword_only
        if similarity >= self.settings.answer_sure_similarity:
            return True
        return similarity >= self.settings.answer_min_similarity and support >= self.settings.answer_min_support

    def compose(self, question: str, hits: list[Hit], named_docs: set[str] | None = None,
                focus: str | None = None) -> Composed:
        """`focus` is the follow-up itself when `question` joins it to the previous question: an article then
        answers just what the follow-up asks, if some of its lines do."""
        named_docs = named_docs or set()
        if not self.confident(question, hits):
            return Composed(body="", grounded=False)
        top = hits[0]
        articles = [h for h in hits[:TOP_FOR_ANSWER] if h.metadata["kind"] == "outreach" and h.doc_id in self.articles]
        if named_docs:
            # A place named: that place's plain explainer (a place article for its document) answers first.
            article_hit = next((h for h in articles if self._article_place(h) in named_docs), None)
        else:
            # No place named: a local rule is not the asker's rule, so a national article leads and the best
            # local line follows it (「在启东，…」). Without one, the best local material answers, in plain words
            # when a place article explains it (its 一句话 names the place).
            article_hit = next((h for h in articles if not self._article_place(h)), None)
            if article_hit is None:
                local = next((h for h in hits[:TOP_FOR_ANSWER] if h.metadata["kind"] == "policy" or h in articles), None)
                article_hit = local if local is not None and local.metadata["kind"] == "outreach" else None
        if article_hit is not None:
            narrow = self._focused(focus, article_hit) if focus else None
            return narrow or self._from_article(question, article_hit, hits)
        policy = [h for h in hits if h.metadata["kind"] == "policy"][:POLICY_HITS]
        if not policy:
            return self._from_article(question, top, hits)
        return self._from_policy(question, policy)

    def _article_place(self, hit: Hit) -> str:
        """The policy document a place article explains ("" for a national article)."""
        article = self.articles.get(hit.doc_id)
        return article.place if article is not None else ""

    def _article_source(self, article: Article, hit: Hit) -> Source:
        """A place article is cited by the document it explains (「出处：《启东市…方案》」)."""
        title = str(hit.metadata.get("short_title") or article.title) if article.place else article.title
        return Source(article.id, title, hit.section, "outreach", article.place)

    def _from_article(self, question: str, top: Hit, hits: list[Hit]) -> Composed:
        article = self.articles[top.doc_id]
        sources = [self._article_source(article, top)]
        body = article.one_liner
        if _ASKS_WARNING_RE.search(question) and article.warnings:
            body = f"{body}\n{prompt_text('replies/watch_out.txt')}{self._warnings_for(question, article)}"
        # A strongly matching line from another passage (often a local rule: 「在启东，…」) is worth adding under
        # a national article; a place article already holds its document's figures.
        local = [h for h in hits[:4] if h.metadata["kind"] == "policy" or self._article_place(h)]
        extra = None if article.place else self._best_extra_line(question, local)
        if extra:
            body = f"{body}\n{extra[0]}"
            sources.append(extra[1])
        evidence = [article.one_liner, *article.steps, *(h.text for h in hits[:3])]
        return Composed(body=body, steps=tuple(article.steps), sources=tuple(sources), evidence=tuple(evidence))

    def _focused(self, focus: str, top: Hit) -> Composed | None:
        """The article's lines (steps, 要警惕, 说明) that answer the follow-up's own words, or None."""
        article = self.articles[top.doc_id]
        asked = {t for t in words(expand_query(focus)) if len(t) >= 2}
        total = sum(self.idf(t) for t in asked)
        if not asked or total == 0:
            return None
        explained = [line.strip() for line in article.sections.get("说明", "").splitlines() if line.strip()]
        lines = list(dict.fromkeys([*article.steps, *article.warnings, *explained]))
        scored = [(sum(self.idf(t) for t in asked & set(tokenize(line))) / total, i, line) for i, line in enumerate(lines)]
        best = sorted((item for item in scored if item[0] >= FOCUS_MIN_SHARE), key=lambda item: (-item[0], item[1]))
        if not best:
            return None
        kept = sorted(best[:FOCUS_LINES], key=lambda item: item[1])
        body = "".join(line if line.endswith(("。", "！", "？")) else f"{line}。" for _, _, line in kept)
        if article.place:
            body = self._with_place(top, body)
        sources = (self._article_source(article, top),)
        return Composed(body=body, sources=sources, evidence=(*lines, top.text))

    def _warnings_for(self, question: str, article: Article) -> str:
        """The article's 要警惕 lines that match the question best (in the article's order), within budget."""
        query = {t for t in words(expand_query(question)) if len(t) >= 2}
        scored = sorted(article.warnings, key=lambda w: -sum(self.idf(t) for t in query & set(tokenize(w))))
        kept: list[str] = []
        for line in scored:
            if kept and sum(map(len, kept)) + len(line) > WARNING_BUDGET:
                continue
            kept.append(line)
        return "".join(w for w in article.warnings if w in kept)

    def _best_extra_line(self, question: str, other_hits: list[Hit]) -> tuple[str, Source] | None:
        """The local line worth adding under a national article: a matching place article's 一句话 (plain, and it
        names its place) before any sentence of a policy document."""
        if not other_hits:
            return None
        explainers = [h for h in other_hits if self._article_place(h)]
        candidates = self._candidates(question, explainers) if explainers else []
        if candidates and candidates[0].score >= EXTRA_LINE_MIN_SCORE:
            best_hit = candidates[0].hit
            return self._with_place(best_hit, self.articles[best_hit.doc_id].one_liner), self._source(best_hit)
        candidates = self._candidates(question, [h for h in other_hits if h.metadata["kind"] == "policy"])
        if not candidates or candidates[0].score < EXTRA_LINE_MIN_SCORE:
            return None
        best = candidates[0]
        return self._with_place(best.hit, best.text), self._source(best.hit)

    def _from_policy(self, question: str, hits: list[Hit]) -> Composed:
        """The best passage, plainly rewritten (weakest sentences dropped to fit), plus the best line of
        the next passages when there is room: chunks are short, so the passage itself is the answer."""
        candidates = self._candidates(question, hits)
        if not candidates:
            return Composed(body="", grounded=False)
        # Retrieval's first hit leads (it ranks passages better than word overlap does); its sentences
        # are taken best first so a cut drops the weakest.
        lead_rank = min(c.rank for c in candidates)
        lead = [c for c in candidates if c.rank == lead_rank]
        chosen: list[Candidate] = []
        used = 0
        for cand in lead:
            if used + len(cand.text) <= BODY_BUDGET or not chosen:
                chosen.append(cand)
                used += len(cand.text)
        floor = max(lead[0].score, candidates[0].score) * 0.6
        for cand in candidates:
            if cand.rank != lead_rank and cand.score >= floor and used + len(cand.text) <= BODY_BUDGET + 40:
                chosen.append(cand)
                used += len(cand.text)
                break
        chosen.sort(key=lambda c: (c.rank != lead_rank, c.rank, c.order))
        body = self._with_place(chosen[0].hit, "".join(c.text for c in chosen))
        sources = tuple(dict.fromkeys(self._source(c.hit) for c in chosen))
        return Composed(body=body, sources=sources, evidence=tuple(h.text for h in hits))

    def _candidates(self, question: str, hits: list[Hit]) -> list[Candidate]:
        query = {t for t in words(expand_query(question)) if len(t) >= 2}
        total = sum(self.idf(t) for t in query) or 1.0
        wants_number = bool(_QUANTITY_RE.search(question))
        keep_who = asks_who(question)
        out: list[Candidate] = []
        for rank, hit in enumerate(hits):
            is_table = hit.section.startswith("附件")
            pieces = [hit.text] if is_table else split_sentences(hit.text)
            label = hit.section.rsplit(" > ", 1)[-1]
            for order, piece in enumerate(pieces):
                if not is_table and order == 0 and (_TITLE_ONLY_RE.match(piece) or piece.rstrip("。") in label):
                    continue  # an item's slogan title carries no fact
                text = plain_table_row(piece, keep_who) if is_table else plain_sentence(piece, keep_who)
                if len(text) < 6:
                    continue
                overlap = sum(self.idf(t) for t in query & set(tokenize(piece))) / total
                score = overlap / (1 + 0.35 * rank)
                if wants_number and _NUMBER_RE.search(text):
                    score *= 1.3
                if is_table:
                    score *= 0.7  # target figures for officials; the main text says what families get
                out.append(Candidate(text=text, hit=hit, rank=rank, order=order, score=score))
        out.sort(key=lambda c: -c.score)
        # Overlapping chunks repeat a sentence; keep its best-scored copy only.
        seen: set[str] = set()
        unique = []
        for cand in out:
            if cand.text not in seen:
                seen.add(cand.text)
                unique.append(cand)
        return unique

    def _with_place(self, hit: Hit, text: str) -> str:
        """「在启东，…」 for a line of a policy document or place article; national material is left as it is."""
        place = self.place_names.get(hit.doc_id) or self.place_names.get(self._article_place(hit), "")
        return f"在{place}，{text}" if place and not text.startswith(("在", place)) else text

    def _source(self, hit: Hit) -> Source:
        return Source(hit.doc_id, str(hit.metadata.get("short_title") or hit.title), short_section(hit.section),
                      str(hit.metadata["kind"]))


def short_section(section: str) -> str:
    """The part of a section path a reader recognises: 「（四）明眸护眼行动」 rather than the whole path."""
    parts = section.split(" > ")
    if parts[0] == "附件" and len(parts) >= 3:
        return parts[2]
    return parts[1] if len(parts) >= 2 else parts[0]
