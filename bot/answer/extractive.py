"""The default composer: builds the reply from retrieved material, no model needed.

An outreach article that matches gives its 一句话 and 怎么做, and its 要警惕 when the question asks about
danger signs, a doctor or a specific worry. A policy passage gives the sentences that best
match the question, rewritten plainly, so the concrete facts (numbers, names of services) reach the reader.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from bot.answer.confidence import features as confidence_features
from bot.answer.confidence import load as load_calibration
from bot.answer.model import Composed, Source
from bot.answer.asktype import WHO, asked_types, holds, is_cue
from bot.answer.plain import (asks_who, clauses, is_framing, jargon_words, plain_clause, plain_table_row,
                              responsible_for, well_formed)
from bot.answer.plain import rules as plain_rules
from bot.prompts import prompt_text
from bot.retrieval.expand import expand_query
from bot.retrieval.routing import asks_national
from bot.retrieval.search import Hit, KnowledgeIndex
from bot.retrieval.tokenizer import tokenize, words
from bot.text import small_number
from knowledge.outreach import Article
from knowledge.policy_chunker import split_sentences

# Questions that ask for a sum of money or a clock time are answered only by material that states one;
# otherwise the honest reply is "not covered" (the documents name an allowance but not its amount).
_ASKS_MONEY_RE = re.compile(r"多少钱|几块钱|多少元|发多少|补多少|给多少|补贴多少|标准是多少|一个月多少")
# 「补多少」 in a question about a nutrient asks for a dose (「维生素D 补多少」), not for money.
_NUTRIENT_RE = re.compile(r"维生素|鱼肝油|钙|铁剂|补铁|锌|DHA|营养素", re.IGNORECASE)
_ASKS_MONEY_ONLY_RE = re.compile(r"多少钱|几块钱|多少元|补贴多少|标准是多少")
_HAS_MONEY_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块|万元)|[一二两三四五六七八九十百千万]+(?:元|块钱)")
_ASKS_CLOCK_RE = re.compile(r"几点|什么时候开门|几时开门|上不上班|开不开门|营业时间|办公时间")
_HAS_CLOCK_RE = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*点|上午|下午|工作日")
# A phone or service number (12356, 0798-8661120): three digits or more, not a year or an amount.
_SERVICE_NUMBER_RE = re.compile(r"(?<![\d.])(?:\d{3,4}-)?\d{3,8}(?![\d.]|\s*(?:年|元|块|岁|次|个|人|天|斤|克|毫))")


# Words of a question that point or fill (那些, 总共, 有没有): rare in the documents, so heavily weighted, but they
# say nothing about what was asked.
_FILLER_WORD_RE = re.compile(r"[这那哪][些个种样]|总共|一共|一下|有点|有个|是不是|有没有|有冇|现在|平时|啥子|么子")
_AGE_RE = re.compile(r"(\d{1,2}|[一二两三四五六七八九十]{1,3})\s*(岁|个月)")
_AGE_RANGE_RE = re.compile(r"(\d+)\s*(?:到|至|-|～|~|—)\s*(\d+)\s*(岁|个月)")


def age_fits(question: str, line: str) -> bool:
    """The question names an age (「3岁」, 「八个月」) that falls inside an age range the line states (「3到4岁」).
    Months stay months here (bot.conversation.profile.age_ranges reads them all as 0 years)."""
    ages = [(small_number(m.group(1)), m.group(2)) for m in _AGE_RE.finditer(question)]
    ranges = [(int(m.group(1)), int(m.group(2)), m.group(3)) for m in _AGE_RANGE_RE.finditer(line)]
    return any(low <= age <= high and unit == range_unit for age, unit in ages for low, high, range_unit in ranges)


def _names_a_number_in(question: str, text: str) -> bool:
    """The question asks about a phone or service number that this passage holds word for word."""
    flat = "".join(text.split())
    return any(len(m.group(0).replace("-", "")) >= 3 and not re.fullmatch(r"(?:19|20)\d\d", m.group(0))
               and m.group(0) in flat for m in _SERVICE_NUMBER_RE.finditer(question))


_TITLE_ONLY_RE = re.compile(r"^[^，。；]{2,16}[，、][^，。；]{2,16}。$")
# Questions about danger signs, when to see a doctor, or a specific worry: the article's 要警惕 answers them.
_ASKS_WARNING_RE = re.compile(
    r"警惕|注意什么|注意啥|危险|要紧|严重|厉害|不对劲|信号|征兆|苗头|症状|什么情况|啥情况|哪些情况|医院|医生|"
    r"就医|急诊|卫生院|会不会|担心|有没有事|有事没|没事吧|出血|流血|加打|还要打|怕|吓人|吓死|"
    # It happened before and may again (「去年抽过一回，今天又烧」): what to watch for is the answer.
    r"(?:以前|之前|上次|上回|去年|前年|小时候).{0,10}过|又(?:烧|发|抽|吐|咳|拉|流|出|肿|疼|痛)"
)
# Another article among the hits holds the plan for a specific worry the question names and the answering
# article does not cover (「去年抽过筋，今天又发烧」: the fever article answers, the fit article has the plan).
WORRY_MIN_SHARE = 0.2
# A place article answers a question that names its place only when it holds at least this share of the
# question's weighted words: every 兰溪 explainer matches 「兰溪」, not every one is about what was asked.
PLACE_ARTICLE_MIN_ABOUT = 0.4
# A 说明 line that holds the figure asked for is added under the 一句话 when it shares at least this much of
# the question's weighted words (a figure about something else is not the answer).
FIGURE_MIN_SHARE = 0.2
# A 说明 line whose age range holds the age the question names (「3岁娃…睡多久」: 「3到4岁，一天10到13小时」) counts
# as sharing this much more of the question: the age is what picks the right line of a table.
AGE_SHARE = 0.25
# A 要警惕 or 说明 line follows the gist when it holds at least this weighted share of the question's words that
# the gist and steps do not (「仰着头对不对」: 「仰头止不住血」; 「要不要控水」: the line that says not to).
DETAIL_MIN_GAIN = 0.15
FIGURE_MARGIN = 0.15
WARNING_BUDGET = 110
# How many of the top hits can carry an answer: a matching article just below two or three policy passages
# (common for follow-ups joined to their question) still answers.
TOP_FOR_ANSWER = 4
# A follow-up (「要不要用酒精擦」 after a fever question) is answered by the article lines that hold its own
# words, when the best of them carries at least this share of the follow-up's weighted words.
FOCUS_MIN_SHARE = 0.5
FOCUS_LINES = 2
POLICY_HITS = 4
# A policy answer: at most this many units (runs of up to UNIT_CLAUSES clauses) within POLICY_BUDGET characters;
# a unit longer than UNIT_GOOD_CHARS scores lower, and a run of clauses never grows past UNIT_MAX_CHARS.
POLICY_UNITS = 3
POLICY_BUDGET = 150
UNIT_CLAUSES = 3
UNIT_GOOD_CHARS = 30
UNIT_MAX_CHARS = 48
# A unit's score grows by this share for each kind of answer asked for (a number, who, how often …) that it
# holds, and shrinks to TYPE_MISSING when it holds none of them.
TYPE_BONUS = 0.5
TYPE_MISSING = 0.4
SECOND_UNIT_SHARE = 0.5
GENERAL_UNITS = 6
GENERAL_BUDGET = 190
# Chunks whose units are kept prepared (every policy chunk of the shipped knowledge fits, twice over).
UNIT_CACHE_CHUNKS = 4000
# A plan's target (「到2025年…达到90%」) is framed as a plan, not an entitlement.
_TARGET_RE = re.compile(r"到20\d\d年|\d+(?:\.\d+)?\s*[%％]|率(?:达到|达|保持|稳定|不低于|提高)|力争")
_TARGET_SECTIONS = ("主要目标", "工作目标", "总体目标", "发展目标", "目标任务")
# Passages lower in the ranking give their clauses a little less weight (the clause that answers matters more).
RANK_DISCOUNT = 0.15
# How much of the question a policy line must match to be added under an article's answer.
EXTRA_LINE_MIN_SCORE = 0.2
# ...for a place article ranked above the national one whose line holds the kind of answer asked.
EXTRA_LINE_MIN_SCORE_RANKED_ABOVE = 0.12


@dataclass(frozen=True)
class _Prepared:
    """A unit of a chunk before it is scored against a question."""

    text: str
    pieces: tuple[str, ...]
    order: int
    sentence: int
    first: int
    last: int
    tokens: frozenset[str]
    context: frozenset[str]
    jargon: int
    table: bool
    target: bool


@dataclass(frozen=True)
class Unit:
    """Clauses of one sentence of a hit and their plain `text`: a contiguous run, or a topic clause
    (「对“送教上门”的，」) with the clause that answers (「原则上每月上门不少于2次」)."""

    text: str
    pieces: tuple[str, ...]  # the clauses it was made from, each exactly as in the passage
    hit: Hit
    rank: int
    order: int
    sentence: int
    first: int
    last: int
    score: float
    overlap: float
    target: bool = False

    def overlaps(self, other: "Unit") -> bool:
        return (self.hit.chunk_id == other.hit.chunk_id and self.sentence == other.sentence
                and (self.first <= other.last and other.first <= self.last or bool(set(self.pieces) & set(other.pieces)))
                ) or _alike(self.text, other.text)


class ExtractiveComposer:
    """Composes from hits; needs the index (for term weights) and the parsed articles."""

    name = "extractive"

    def __init__(self, index: KnowledgeIndex, articles: dict[str, Article], place_names: dict[str, str]) -> None:
        self.index = index
        self.settings = index.settings
        self.articles = articles
        self.place_names = place_names  # policy doc id -> short place name used in replies
        self._unit_cache: dict[tuple[str, bool], tuple[_Prepared, ...]] = {}

    def warm_up(self) -> threading.Thread:
        """Term weights now; every policy chunk's units in a background thread (a first policy question, maybe
        inside a crisis reply's one-second wait, then finds them ready)."""
        _ = self._document_frequency

        def prepare() -> None:
            for chunk in self.index.chunks:
                if chunk["kind"] == "policy":
                    self._prepared(_chunk_hit(chunk), False)

        thread = threading.Thread(target=prepare, name="policy-units", daemon=True)
        thread.start()
        return thread

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
        asks_money = _ASKS_MONEY_ONLY_RE if _NUTRIENT_RE.search(question) else _ASKS_MONEY_RE
        if asks_money.search(question) and not _HAS_MONEY_RE.search(material):
            return False
        if _ASKS_CLOCK_RE.search(question) and not _HAS_CLOCK_RE.search(material):
            return False
        if _names_a_number_in(question, hits[0].text):
            return True  # 「12356是什么电话」: the line that holds the very number asked about is the answer
        support = self.support(question, hits)
        values = confidence_features(hits, support, self.settings.rrf_k)
        if values is None:  # keyword-only (vector store down): words must carry it alone
            return support >= self.settings.answer_min_support_keyword_only
        return load_calibration().confident(values)

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
            # A place named: that place's plain explainer (a place article for its document) answers first,
            # unless a passage ranked above it holds the figure asked for and the explainer does not.
            article_hit = next((h for h in articles if self._article_place(h) in named_docs
                                and self.about(question, self.articles[h.doc_id]) >= PLACE_ARTICLE_MIN_ABOUT), None)
            if article_hit is not None and self._passage_above_answers(question, article_hit, hits):
                article_hit = None
            elif article_hit is None:  # no explainer of that place is about this: a national article that is
                article_hit = next((h for h in articles if not self._article_place(h)
                                    and self.about(question, self.articles[h.doc_id]) >= PLACE_ARTICLE_MIN_ABOUT),
                                   None)
        else:
            # No place named: a local rule is not the asker's rule, so a national article leads and the best
            # local line follows it (「在启东，…」). Without one, the best local material answers, in plain words
            # when a place article explains it (its 一句话 names the place).
            article_hit = next((h for h in articles if not self._article_place(h)), None)
            if article_hit is None:
                local = next((h for h in hits[:TOP_FOR_ANSWER] if h.metadata["kind"] == "policy" or h in articles), None)
                article_hit = local if local is not None and local.metadata["kind"] == "outreach" else None
        if article_hit is not None:
            narrow = self._focused(focus, article_hit, question) if focus else None
            return narrow or self._from_article(question, article_hit, hits)
        policy = [h for h in hits if h.metadata["kind"] == "policy"][:POLICY_HITS]
        if not policy:
            return self._from_article(question, top, hits)
        return self._from_policy(question, policy)

    def _passage_above_answers(self, question: str, article_hit: Hit, hits: list[Hit]) -> bool:
        """A policy passage ranked above the place article states the kind of answer asked for (a number, how
        often, who, where …) and the article's own words (一句话, 说明) do not: 「启东每个村至少几个儿童主任」
        is answered by the passage that says 「至少一名」, not by an explainer of another of 启东's rules."""
        kinds = asked_types(question)
        if not kinds:
            return False
        article = self.articles[article_hit.doc_id]
        own = " ".join([article.one_liner, article.sections.get("说明", "")])
        if any(holds(kind, own) for kind in kinds):
            return False
        above = hits[:hits.index(article_hit)]
        query, total = self._question_words(question)
        # The kind patterns are broad (any digit is a number): the passage must also be about the question.
        return any(h.metadata["kind"] == "policy" and any(holds(kind, h.text) for kind in kinds)
                   and self._share(query, set(tokenize(h.text)), total) >= FIGURE_MIN_SHARE for h in above)

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
        figure = self._explained_figure(question, article)
        if figure:  # 「一年来排查几趟」: the 说明 line that says 「每年…摸排 2 次」 follows the gist
            body = f"{body}\n{figure}"
        asks_warning = _ASKS_WARNING_RE.search(question) and article.warnings
        detail = "" if figure or asks_warning else self._detail_line(question, article)
        if detail:
            body = f"{body}\n{detail}"
        worry = self._worry_plan(question, article, hits)
        if asks_warning:
            # With a plan for the worry to follow, only the signs that match the question best.
            budget = WARNING_BUDGET // 2 if worry is not None else WARNING_BUDGET
            body = f"{body}\n{prompt_text('replies/watch_out.txt')}{self._warnings_for(question, article, budget)}"
        if worry is not None:
            body = f"{body}\n{prompt_text('replies/worry_plan.txt').format(title=worry.title, plan=worry.one_liner)}"
            sources.append(Source(worry.id, worry.title, "一句话", "outreach"))
        # A strongly matching line from another passage (often a local rule: 「在启东，…」) is worth adding under
        # a national article; a place article already holds its document's figures.
        local = [h for h in hits[:4] if h.metadata["kind"] == "policy" or self._article_place(h)]
        above = {h.chunk_id for h in hits[:hits.index(top)]} if top in hits else set()
        extra = None if article.place or asks_national(question) else self._best_extra_line(question, local, above)
        if extra:
            body = f"{body}\n{extra[0]}"
            sources.append(extra[1])
        evidence = [article.one_liner, *article.steps, *(h.text for h in hits[:3])]
        return Composed(body=body, steps=tuple(article.steps), sources=tuple(sources), evidence=tuple(evidence))

    def _question_words(self, question: str) -> tuple[set[str], float]:
        """What the question is about (without answer-kind cues and place names) and the words' total weight."""
        asked = {t for t in words(expand_query(question)) if len(t) >= 2}
        query = {t for t in asked if not is_cue(t) and not _FILLER_WORD_RE.fullmatch(t)
                 and not self.index.named_documents(t)} or asked
        return query, sum(self.idf(t) for t in query) or 1.0

    def about(self, question: str, article: Article) -> float:
        """Weighted share of the question's words that the article's title, 一句话, 说明 and questions hold."""
        query, total = self._question_words(question)
        text = " ".join([article.title, article.one_liner, article.sections.get("说明", ""), *article.questions])
        return self._share(query, set(tokenize(text)), total)

    def _explained_figure(self, question: str, article: Article) -> str:
        """The 说明 line that holds the kind of answer asked for (how often, how many, who, where, free …) and
        shares the most of the question's words, when the 一句话 does not hold it; "" otherwise."""
        kinds = asked_types(question)
        if not kinds:
            return ""
        query, total = self._question_words(question)
        best, best_share = "", FIGURE_MIN_SHARE
        if any(holds(kind, article.one_liner) for kind in kinds):
            # The gist holds a figure of that kind: another line only if it is clearly more about the question
            # (「一年排查几趟」: 「每年摸排 2 次」, not the gist's 「每月上门看一次」).
            best_share = max(best_share, self._share(query, set(tokenize(article.one_liner)), total) + FIGURE_MARGIN)
        for line in _explained_lines(article):
            if line.endswith(("：", ":")) or not any(holds(kind, line) for kind in kinds):
                continue
            share = self._share(query, set(tokenize(line)), total) + AGE_SHARE * age_fits(question, line)
            if share > best_share:
                best, best_share = line, share
        return best

    def _detail_line(self, question: str, article: Article) -> str:
        """The 要警惕 or 说明 line that says what the question asks beyond the gist and the steps, or ""."""
        query, total = self._question_words(question)
        shown = set(tokenize(" ".join([article.title, article.one_liner, *article.steps])))
        missing = query - shown
        if not missing:
            return ""
        best, best_gain = "", DETAIL_MIN_GAIN
        for line in [*article.warnings, *_explained_lines(article)]:
            if not line or line.endswith(("：", ":")):
                continue
            gain = self._share(missing, set(tokenize(line)), total) + AGE_SHARE * age_fits(question, line)
            if gain > best_gain:
                best, best_gain = line, gain
        return best

    def _worry_plan(self, question: str, article: Article, hits: list[Hit]) -> Article | None:
        """The article with the plan for a worry the question names (bot/answer/worries.yaml), or among the hits
        the one that covers what the question worries about and `article` does not."""
        if not _ASKS_WARNING_RE.search(question):
            return None
        for pattern, plan in _worries():
            if plan != article.id and plan in self.articles and pattern.search(question):
                return self.articles[plan]
        asked = {t for t in words(expand_query(question)) if len(t) >= 2}
        total = sum(self.idf(t) for t in asked)
        if not asked or total == 0:
            return None
        covered = set(tokenize(" ".join([article.title, *article.sections.values(), *article.questions])))
        missing = asked - covered
        for hit in hits[:TOP_FOR_ANSWER]:
            other = self.articles.get(hit.doc_id)
            if hit.metadata["kind"] != "outreach" or other is None or other.id == article.id:
                continue
            holds = set(tokenize(" ".join([other.title, other.one_liner, *other.questions, *other.warnings])))
            if sum(self.idf(t) for t in missing & holds) / total >= WORRY_MIN_SHARE:
                return other
        return None

    def _focused(self, focus: str, top: Hit, question: str = "") -> Composed | None:
        """The article's lines (steps, 要警惕, 说明) that answer the follow-up's own words, or None. A follow-up
        that only asks for a kind of answer (「多久查一次」, 「找哪个」) gets the line that states one."""
        article = self.articles[top.doc_id]
        asked = {t for t in words(expand_query(focus)) if len(t) >= 2}
        total = sum(self.idf(t) for t in asked)
        lines = list(dict.fromkeys([*article.steps, *article.warnings, *_explained_lines(article)]))
        best: list[tuple[float, int, str]] = []
        if asked and total:
            scored = [(sum(self.idf(t) for t in asked & set(tokenize(line))) / total, i, line)
                      for i, line in enumerate(lines)]
            best = sorted((item for item in scored if item[0] >= FOCUS_MIN_SHARE), key=lambda item: (-item[0], item[1]))
        if not best:
            typed = self._typed_line(focus, question, [article.one_liner, *lines])
            if typed is None:
                return None
            best = [(1.0, 0, typed)]
        kept = sorted(best[:FOCUS_LINES], key=lambda item: item[1])
        body = "".join(line if line.endswith(("。", "！", "？")) else f"{line}。" for _, _, line in kept)
        if article.place:
            body = self._with_place(top, body)
        sources = (self._article_source(article, top),)
        return Composed(body=body, sources=sources, evidence=(*lines, top.text))

    def _typed_line(self, focus: str, question: str, lines: list[str]) -> str | None:
        """The line that states the kind of answer the follow-up asks for (how often, who, where, free, when; a
        number only for a number question), best about the joined question; None when the follow-up asks for no
        kind, or no line states it."""
        kinds = asked_types(focus)
        if not kinds:
            return None
        # The follow-up's own topic words (「复查」 in 「要多久复查一次」) must be in the line; with none
        # (「多久查一次」), the line must be about the joined question.
        own, own_total = self._question_words(focus)
        own = {t for t in own if not is_cue(t)}
        query, total = (own, sum(self.idf(t) for t in own)) if own else self._question_words(question or focus)
        floor = FOCUS_MIN_SHARE if own else FIGURE_MIN_SHARE
        stating = [(self._share(query, set(tokenize(line)), total or 1.0), -i, line)
                   for i, line in enumerate(lines) if line and any(holds(kind, line) for kind in kinds)]
        stating = [item for item in stating if item[0] >= floor]
        return max(stating)[2] if stating else None

    def _warnings_for(self, question: str, article: Article, budget: int = WARNING_BUDGET) -> str:
        """The article's 要警惕 lines that match the question best (in the article's order), within budget."""
        query = {t for t in words(expand_query(question)) if len(t) >= 2}
        scored = sorted(article.warnings, key=lambda w: -sum(self.idf(t) for t in query & set(tokenize(w))))
        kept: list[str] = []
        for line in scored:
            if kept and sum(map(len, kept)) + len(line) > budget:
                continue
            kept.append(line)
        return "".join(w for w in article.warnings if w in kept)

    def _best_extra_line(self, question: str, other_hits: list[Hit],
                         above: frozenset[str] | set[str] = frozenset()) -> tuple[str, Source] | None:
        """The local line worth adding under a national article: a matching place article's 一句话 (plain, and it
        names its place) before any sentence of a policy document. `above`: chunks retrieval ranked above the
        national article; a place article among them needs less word overlap when its line holds the kind of
        answer asked (「送教上门一个月来几次」: 启东's 「每月不少于2次」 ranked first but shares few words)."""
        if not other_hits:
            return None
        explainers = [h for h in other_hits if self._article_place(h)]
        units = self._units(question, explainers) if explainers else []
        kinds = asked_types(question)
        if units and (units[0].overlap >= EXTRA_LINE_MIN_SCORE or (
                units[0].hit.chunk_id in above and units[0].overlap >= EXTRA_LINE_MIN_SCORE_RANKED_ABOVE
                and any(holds(kind, units[0].text) for kind in kinds))):
            best_hit = units[0].hit
            article = self.articles[best_hit.doc_id]
            # Cited as the place's rule (its `place`), so that it is framed as local for someone from elsewhere.
            return self._with_place(best_hit, article.one_liner), self._article_source(article, best_hit)
        units = self._units(question, [h for h in other_hits if h.metadata["kind"] == "policy"])
        if not units or units[0].overlap < EXTRA_LINE_MIN_SCORE:
            return None
        best = units[0]
        text = plain_rules().target.format(text=best.text) if best.target else best.text
        return self._with_place(best.hit, text), self._source(best.hit)

    def _from_policy(self, question: str, hits: list[Hit]) -> Composed:
        """The clauses that hold what was asked, stated plainly: a passage is never pasted whole. The best unit
        leads; units of the next passages follow when they score nearly as well and there is room."""
        units = self._units(question, hits)
        if not units:
            return Composed(body="", grounded=False)
        # A question that asks for one thing (how often, who …) gets the unit that holds it and little more; a
        # general one (「…有什么规定」) gets the units of the first passage that together say what it says
        # (retrieval ranks passages better than word overlap ranks clauses).
        general = not asked_types(question)
        lead = units[0] if not general else min(units, key=lambda u: (u.rank, -u.score))
        if general:
            first = [u for u in units if u.hit.chunk_id == lead.hit.chunk_id]
            pool = first + [u for u in units if u.hit.chunk_id != lead.hit.chunk_id]
            most, budget, share = GENERAL_UNITS, GENERAL_BUDGET, 0.0
        else:
            pool = units
            most, budget, share = POLICY_UNITS, POLICY_BUDGET, SECOND_UNIT_SHARE
        lead = pool[0]
        chosen = [lead]
        used = len(lead.text)
        for unit in pool[1:]:
            if len(chosen) >= most or unit.score < lead.score * share:
                break
            if unit.overlap < lead.overlap * share:
                continue  # it scores by the kind of answer it holds, not by what the question is about
            if used + len(unit.text) > budget or any(unit.overlaps(c) for c in chosen):
                continue
            chosen.append(unit)
            used += len(unit.text)
        # The best unit leads; the others follow in the passages' order.
        chosen = [chosen[0], *sorted(chosen[1:], key=lambda u: (u.rank, u.sentence, u.first))]
        lines = [u.text for u in chosen]
        # A plan's target is framed once, where the first one starts; plain rules are not framed.
        framed = next((n for n, u in enumerate(chosen) if u.target), None)
        if framed is not None:
            lines[framed] = plain_rules().target.format(text=lines[framed])
        lead = chosen[0]
        if WHO in asked_types(question) and not any(holds(WHO, line) for line in lines):
            who = responsible_for(lead.hit.text)
            if who:
                lines.append(plain_rules().responsible.format(who=who))
        body = self._with_place(lead.hit, "".join(lines))
        sources = tuple(dict.fromkeys(self._source(u.hit) for u in chosen))
        return Composed(body=body, sources=sources, evidence=tuple(h.text for h in hits))

    def _share(self, query: set[str], tokens: set[str], total: float) -> float:
        """Weighted share of the query's words in `tokens`; a long word missing whole counts by its character
        pairs (「送教上门」 is half there in 「每月上门」)."""
        found = 0.0
        for word in query:
            if word in tokens:
                found += self.idf(word)
            elif len(word) >= 3:
                pairs = [word[i:i + 2] for i in range(len(word) - 1)]
                found += self.idf(word) * sum(p in tokens for p in pairs) / len(pairs)
        return found / total

    def _prepared(self, hit: Hit, keep_who: bool) -> tuple[_Prepared, ...]:
        """The well-formed units of one chunk, with their words: the same for every question (cached)."""
        key = (hit.chunk_id, keep_who)
        cached = self._unit_cache.get(key)
        if cached is not None:
            return cached
        is_table = hit.section.startswith("附件")
        label = hit.section.rsplit(" > ", 1)[-1]
        target_section = any(part.startswith(_TARGET_SECTIONS) for part in hit.section.split(" > "))
        # A table row loses its column names first; then it is cut like any text.
        sentences = split_sentences(plain_table_row(hit.text, keep_who, rewrite=False) if is_table else hit.text)
        out: list[_Prepared] = []
        order = 0
        for number, sentence in enumerate(sentences):
            if not is_table and number == 0 and (_TITLE_ONLY_RE.match(sentence) or sentence.rstrip("。") in label):
                continue  # an item's slogan title carries no fact
            context = frozenset(tokenize(sentence))
            for i, j, pieces in _runs(clauses(sentence)):
                order += 1
                if any(is_framing(p) for p in pieces):
                    continue
                span = "".join(pieces)
                text = plain_clause(span, keep_who)
                if not well_formed(text) or (len(pieces) > 1 and len(text) > UNIT_MAX_CHARS):
                    continue
                target = target_section or bool(_TARGET_RE.search(text)) or (is_table and "目标）" in hit.text)
                out.append(_Prepared(
                    text=text, pieces=tuple(pieces), order=order, sentence=number, first=i, last=j,
                    tokens=frozenset(tokenize(span)) | frozenset(tokenize(text)),  # 入户巡访 is also 上门看望
                    context=context, jargon=len(jargon_words(text)), table=is_table, target=target))
        prepared = tuple(out)
        if len(self._unit_cache) < UNIT_CACHE_CHUNKS:
            self._unit_cache[key] = prepared
        return prepared

    def _units(self, question: str, hits: list[Hit]) -> list[Unit]:
        """Every well-formed unit of the hits' sentences, best first (one copy of each)."""
        # What the question is about: without the words that only ask for a kind of answer (多久, 一次, 找谁) —
        # the kind is scored on its own — and without the place, which chose the document already.
        query, total = self._question_words(question)
        kinds = asked_types(question)
        keep_who = asks_who(question) or WHO in kinds
        out: list[Unit] = []
        for rank, hit in enumerate(hits):
            for piece in self._prepared(hit, keep_who):
                overlap = self._share(query, piece.tokens, total)
                around = self._share(query, piece.context, total)
                score = overlap + 0.25 * around
                matched = [k for k in kinds if holds(k, piece.text)]
                if kinds:
                    score *= 1 + TYPE_BONUS * len(matched) if matched else TYPE_MISSING
                if len(piece.text) > UNIT_GOOD_CHARS:
                    score *= (UNIT_GOOD_CHARS / len(piece.text)) ** 0.5
                score *= 0.8 ** piece.jargon
                if piece.table:
                    score *= 0.7  # target figures for officials; the main text says what families get
                score /= 1 + RANK_DISCOUNT * rank
                out.append(Unit(text=piece.text, pieces=piece.pieces, hit=hit, rank=rank, order=piece.order,
                                sentence=piece.sentence, first=piece.first, last=piece.last, score=score,
                                overlap=overlap, target=piece.target))
        out.sort(key=lambda u: (-u.score, u.rank, u.order))
        seen: set[str] = set()
        unique = []
        for unit in out:  # overlapping chunks repeat a sentence; keep its best-scored copy only
            if unit.text not in seen:
                seen.add(unit.text)
                unique.append(unit)
        return unique

    def _with_place(self, hit: Hit, text: str) -> str:
        """「在启东，…」 for a line of a policy document or place article; national material is left as it is."""
        place = self.place_names.get(hit.doc_id) or self.place_names.get(self._article_place(hit), "")
        return f"在{place}，{text}" if place and not text.startswith(("在", place)) else text

    def _source(self, hit: Hit) -> Source:
        return Source(hit.doc_id, str(hit.metadata.get("short_title") or hit.title), short_section(hit.section),
                      str(hit.metadata["kind"]))


_TOPIC_RE = re.compile(r"^(?:对于?|针对|凡)[^，；。]{1,24}的[，,]$")


def _explained_lines(article: Article) -> list[str]:
    """The non-empty lines of an article's 说明, without list markers."""
    lines = (raw.strip().lstrip("-•· ").strip() for raw in article.sections.get("说明", "").splitlines())
    return [line for line in lines if line]


def _runs(parts: list[str]) -> list[tuple[int, int, list[str]]]:
    """(first, last, clauses) of every run of up to UNIT_CLAUSES contiguous clauses, and of a sentence's topic
    clause (「对…的，」) joined to each later clause."""
    runs = [(i, j, parts[i:j + 1]) for i in range(len(parts)) for j in range(i, min(i + UNIT_CLAUSES, len(parts)))]
    if len(parts) > 2 and _TOPIC_RE.match(parts[0]):
        runs += [(k, k, [parts[0], parts[k]]) for k in range(2, len(parts))]
    return runs


def _alike(a: str, b: str) -> bool:
    """Two statements that say nearly the same (most character pairs of the shorter are in the longer)."""
    short, long = sorted((a, b), key=len)
    pairs = {short[i:i + 2] for i in range(len(short) - 1)}
    return bool(pairs) and len(pairs & {long[i:i + 2] for i in range(len(long) - 1)}) >= 0.75 * len(pairs)


def _chunk_hit(chunk: dict) -> Hit:
    keys = ("doc_id", "kind", "title", "short_title", "region", "topic", "section", "position", "source_file")
    return Hit(chunk_id=chunk["chunk_id"], score=0.0, text=chunk["text"], metadata={k: chunk.get(k) for k in keys})


@lru_cache(maxsize=1)
def _worries() -> tuple[tuple[re.Pattern[str], str], ...]:
    rows = yaml.safe_load((Path(__file__).resolve().parent / "worries.yaml").read_text("utf-8")) or []
    return tuple((re.compile(str(row["pattern"])), str(row["article"])) for row in rows)


def short_section(section: str) -> str:
    """The part of a section path a reader recognises: 「（四）明眸护眼行动」 rather than the whole path."""
    parts = section.split(" > ")
    if parts[0] == "附件" and len(parts) >= 3:
        return parts[2]
    return parts[1] if len(parts) >= 2 else parts[0]
