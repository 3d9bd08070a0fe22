"""Plain policy answers: whole words only, well-formed sentences, the clause that holds what was asked."""

from __future__ import annotations

import difflib
import re

import pytest

from bot.answer.asktype import ELIGIBILITY, FREE, FREQUENCY, NUMBER, WHERE, WHO, asked_types, holds
from bot.answer.extractive import ExtractiveComposer, _runs
from bot.answer.plain import (_DEPT_LIST_RE, _ITEM_NUMBER_RE, balanced, clauses, jargon_words, plain_clause, responsible_for, rules,
                              well_formed)
from bot.config import Settings
from bot.retrieval.search import Hit
from bot.retrieval.tokenizer import segment
from knowledge.loader import load_corpus
from knowledge.policy_chunker import split_sentences

_SENTENCE_RE = re.compile(r"[^。！？]+[。！？]")


def _boundaries(text: str) -> set[int]:
    cuts = {0}
    for piece in segment(text):
        cuts.add(max(cuts) + len(piece))
    return cuts


def _whole_word_edits(source: str, plain: str) -> bool:
    """Every change from `source` to `plain` lies within listed words or phrases (prompts/plain_policy.yaml) that
    start and end on jieba's word boundaries of `source` (「有效果」 -> 「果」 fails: 「有/效果」 has no listed word)."""
    cuts = _boundaries(source)
    listed = {*rules().replace, *rules().drop_words}
    covered: set[int] = set()
    for word in listed:
        for match in re.finditer(re.escape(word), source):
            if match.start() in cuts and match.end() in cuts:
                covered.update(range(match.start(), match.end()))
    matcher = difflib.SequenceMatcher(None, source, plain, autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:  # an insertion: next to a listed word
            if not ({i1 - 1, i1} & covered):
                return False
        elif not set(range(i1, i2)) <= covered:
            return False
    return True


def test_a_word_is_never_cut_in_half() -> None:
    # The old filler remover deleted 「有效」 out of 「有效果」 and 「要」 out of 「重要」.
    assert "确保送教有效果" in plain_clause("原则上每月上门不少于2次，确保送教有效果。")
    assert "重要节假日" in plain_clause("要结合重要节假日和寒暑假等时间节点，")
    assert "主要" in plain_clause("主要内容包括视力筛查。")


def test_stock_words_go_and_official_words_become_plain() -> None:
    text = plain_clause("民政部门要进一步加强困境儿童分类精准保障，逐步建立健全心理健康关爱服务体系。")
    assert not jargon_words(text) and "进一步" not in text and "要" not in text
    assert "入户巡访" not in plain_clause("一月1次入户巡访关爱，") and "上门看望" in plain_clause("一月1次入户巡访关爱，")
    # Lists of departments become 「有关部门」 unless the question asks who.
    assert plain_clause("由市民政局、市教体局、市卫生健康委负责组织。") == "由有关部门负责组织。"
    assert "市民政局" in plain_clause("由市民政局、市教体局负责组织。", keep_who=True)
    # The closing 「（…按照职责分工负责）」 note never reaches an answer.
    assert "负责" not in plain_clause("每年开展1次抽查。（市民政局、市水利局按照职责分工负责）")


def test_numbers_and_named_schemes_are_kept() -> None:
    text = plain_clause("建立“一年两排”“一月一访”制度，每年开展2次全面摸底排查、一月1次入户巡访关爱。")
    assert "“一年两排”“一月一访”" in text and "2次" in text and "1次" in text


@pytest.mark.parametrize("sentence", [
    "医疗卫生机构的心理治疗师、精神科医师等对于就诊的农村留守儿童和困境儿童。",  # no verb for its 对于 phrase
    "对“送教上门”的。",
    "加强学校和。",
    "开展（市民政局负责。",
    "，每年一次。",
    "并可责令其接受家庭教育指导。",
    "的。",
])
def test_ill_formed_sentences_are_recognised(sentence: str) -> None:
    assert not well_formed(sentence)


@pytest.mark.parametrize("sentence", [
    "原则上每月上门不少于2次。",
    "对“送教上门”的，原则上每月上门不少于2次。",
    "民政部门对当地农村留守儿童每年开展2次上门摸清情况。",
    "这件事由市民政局负责。",
])
def test_well_formed_sentences_pass(sentence: str) -> None:
    assert well_formed(sentence)


def test_clauses_never_split_brackets_or_quotes() -> None:
    parts = clauses("对“送教上门，定期入户”的，遵循家庭自愿（原则上，每月2次）的原则，确保送教有效果。")
    assert parts == ["对“送教上门，定期入户”的，", "遵循家庭自愿（原则上，每月2次）的原则，", "确保送教有效果。"]
    assert all(balanced(p) for p in parts)


def test_who_is_responsible_is_read_from_the_closing_note() -> None:
    assert responsible_for("每年至少开展1次抽查工作。（市民政局负责）") == "市民政局"
    assert responsible_for("……（市民政局、市卫生健康委按照职责分工负责）") == "市民政局、市卫生健康委"
    assert responsible_for("没有说明。") == ""


@pytest.mark.parametrize("question, kinds", [
    ("儿童主任多久来一趟", {FREQUENCY}),
    ("一个月上门几次", {FREQUENCY}),
    ("孩子几岁可以查", {NUMBER}),
    ("心理有问题找谁", {WHO}),
    ("去哪里打疫苗", {WHERE}),
    ("打这个疫苗要不要钱", {FREE}),
    ("我家孙子够不够条件", {ELIGIBILITY}),
    ("孩子挑食怎么办", set()),
    ("小娃一天要睡好久", {NUMBER}),  # 湘赣/川渝: how long
    ("儿童主任多久来屋里看一趟", {FREQUENCY}),  # the verb between 多久 and 一趟
    ("娃打预防针是不是都要钱", {FREE}),
])
def test_question_kinds(question: str, kinds: set[str]) -> None:
    assert asked_types(question) == kinds


def test_clause_kinds() -> None:
    assert holds(FREQUENCY, "原则上每月上门不少于2次") and not holds(FREQUENCY, "遵循家庭自愿的原则")
    assert holds(FREE, "开展适龄女生HPV疫苗免费接种") and not holds(FREE, "提高接种率")
    assert holds(WHO, "儿童主任要上门走访")


def test_every_unit_is_contiguous_clauses_rewritten_by_whole_words(built_settings: Settings) -> None:
    """Property over every policy chunk: each unit the composer may use is made of clauses found verbatim in
    the chunk (a contiguous run, or the sentence's 「对…的，」 topic clause and one later clause), and its plain
    text differs from them only by whole-word edits."""
    corpus = load_corpus(built_settings.knowledge_dir)
    checked = 0
    for chunk in corpus.chunks:
        if chunk.kind != "policy" or chunk.section.startswith("附件"):
            continue
        for sentence in split_sentences(chunk.text):
            parts = clauses(sentence)
            assert "".join(parts) == sentence.strip() or "".join(parts) == sentence
            for first, last, pieces in _runs(parts):
                assert all(piece in chunk.text for piece in pieces)
                if len(pieces) == 2 and last == first and first > 1:
                    assert pieces[0] == parts[0]  # the topic clause and one later clause
                else:
                    assert "".join(pieces) in chunk.text  # a contiguous run
                text = plain_clause("".join(pieces))
                if not well_formed(text):
                    continue  # the composer never shows it
                checked += 1
                source = re.sub(r"[（(][^（）()]*(?:负责|牵头|配合|参加部门)[^（）()]*[）)]", "", "".join(pieces))
                source = _ITEM_NUMBER_RE.sub("", source.strip())
                if _DEPT_LIST_RE.search(source):
                    continue  # lists of departments are shortened by pattern, not word by word
                assert _whole_word_edits(source.strip().rstrip("，；：。,;: "), text.rstrip("。")), (source, text)
    assert checked > 1000


@pytest.fixture(scope="module")
def composer(built_settings: Settings, knowledge_index) -> ExtractiveComposer:
    corpus = load_corpus(built_settings.knowledge_dir)
    places = {doc_id: meta.aliases[0] for doc_id, meta in corpus.policies.items() if meta.aliases}
    return ExtractiveComposer(knowledge_index, corpus.articles, places)


def _hit(chunk: dict) -> Hit:
    keys = ("doc_id", "kind", "title", "short_title", "region", "topic", "section", "position", "source_file")
    return Hit(chunk_id=chunk["chunk_id"], score=1.0, text=chunk["text"], metadata={k: chunk.get(k) for k in keys},
               similarity=0.95)


@pytest.mark.parametrize("ask", ["多久一次", "找谁", "要不要钱", "能不能申请", "有什么规定"])
def test_every_policy_answer_is_short_well_formed_sentences(composer: ExtractiveComposer, ask: str) -> None:
    """Property over every policy chunk and several kinds of question: the answer is a few well-formed
    sentences, never the passage pasted, never a dangling word or an open bracket."""
    answered = 0
    for chunk in composer.index.chunks:
        if chunk["kind"] != "policy":
            continue
        label = re.sub(r"^[（(]?[一二三四五六七八九十\d]{1,3}[）)．.、]\s*", "", chunk["section"].rsplit(" > ", 1)[-1])
        composed = composer._from_policy(f"{label[:12]}{ask}", [_hit(chunk)])
        if not composed.grounded:
            continue
        answered += 1
        body = re.sub(r"^在[^，]{1,6}，", "", composed.body)
        sentences = _SENTENCE_RE.findall(body)
        assert "".join(sentences) == body, body  # nothing after the last full stop
        assert len(sentences) <= 6 and len(body) <= 200, body
        for sentence in sentences:
            assert well_formed(sentence), (chunk["chunk_id"], sentence)
        assert chunk["text"] not in composed.body or len(chunk["text"]) < 40
    assert answered > 300


def test_targets_read_as_plans(composer: ExtractiveComposer, knowledge_index) -> None:
    hits = [h for h in knowledge_index.search("曲江儿童免疫规划疫苗接种率是多少", k=5) if h.metadata["kind"] == "policy"]
    composed = composer._from_policy("曲江儿童免疫规划疫苗接种率是多少", hits)
    assert rules().target.split("{")[0] in composed.body and "90%" in composed.body.replace(" ", "")


def test_plain_figures_count_official_words_sentence_length_and_long_replies() -> None:
    from bot.answer.commands import PlainFigures

    figures = PlainFigures(limit=20)
    figures.add("每月上门看一次。\n出处：《启东市…方案》健全机制")  # the source line is not the answer
    figures.add("要健全工作机制，统筹推进关爱服务体系建设，确保取得实效。")
    numbers = figures.as_dict()
    assert numbers["official_words_rate"] == 0.5 and numbers["over_length_rate"] == 1.0
    assert figures.sentences[0] == len("每月上门看一次") and len(figures.lines()) == 3
