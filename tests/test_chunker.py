"""Structure-aware chunking of the shipped policy documents."""

import statistics

import pytest

from bot.config import PROJECT_ROOT
from knowledge.loader import load_corpus, load_policy_meta
from knowledge.policy_chunker import PolicyMeta, chunk_policy, pack_sentences, split_sentences

META = PolicyMeta(doc_id="d", title="测试方案", short_title="测试", region="某地", source_file="policy/d.txt")


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(PROJECT_ROOT / "knowledge")


def test_every_shipped_document_loads_without_errors(corpus) -> None:
    assert corpus.errors == []
    assert len(corpus.policies) == 5
    assert len(corpus.articles) >= 70


def test_policy_metadata_is_complete() -> None:
    for meta in load_policy_meta(PROJECT_ROOT / "knowledge" / "policy"):
        assert meta.title and meta.issuer and meta.region and meta.date and meta.aliases


def test_chunks_are_short_enough_to_quote(corpus) -> None:
    policy = [len(c.text) for c in corpus.chunks if c.kind == "policy"]
    assert statistics.mean(policy) <= 300
    assert max(policy) <= 400


def test_section_path_follows_numbering() -> None:
    raw = "二、重点任务\n（四）明眸护眼行动——全链条落实近视防控\n坚持预防为主。\n2.全覆盖视力筛查与动态跟踪干预。每学期开展2次全覆盖视力筛查。"
    chunks = chunk_policy(raw, META)
    assert chunks[-1].section == "二、重点任务 > （四）明眸护眼行动 > 2.全覆盖视力筛查与动态跟踪干预"
    assert chunks[-1].search_text.startswith("测试｜二、重点任务 > （四）明眸护眼行动")
    assert "每学期开展2次" in chunks[-1].text


def test_no_chunk_spans_two_top_level_sections() -> None:
    raw = "一、总体要求\n第一部分的内容。\n二、重点任务\n第二部分的内容。"
    chunks = chunk_policy(raw, META)
    assert [c.section for c in chunks] == ["一、总体要求", "二、重点任务"]
    assert all("第一部分" not in c.text or "第二部分" not in c.text for c in chunks)


def test_long_items_split_on_sentence_ends_with_overlap() -> None:
    sentences = [f"第{i}句讲一件具体的事情，要求做到位并且按时完成。" for i in range(30)]
    pieces = pack_sentences(sentences)
    assert len(pieces) > 2
    assert all(len(p) <= 380 for p in pieces)
    for first, second in zip(pieces, pieces[1:]):
        assert split_sentences(first)[-1] == split_sentences(second)[0]


def test_outreach_article_chunks_carry_questions(corpus) -> None:
    article = next(iter(corpus.articles.values()))
    chunks = [c for c in corpus.chunks if c.doc_id == article.id]
    assert {c.section for c in chunks} >= {"一句话", "怎么做", "要警惕"}
    assert all(q in chunks[0].search_text for q in article.questions)
    assert all(c.section != "出处" for c in chunks)


def test_chunk_ids_are_stable_and_unique(corpus) -> None:
    ids = [c.chunk_id for c in corpus.chunks]
    assert len(ids) == len(set(ids))
    again = load_corpus(PROJECT_ROOT / "knowledge")
    assert [c.chunk_id for c in again.chunks] == ids


def test_enumerated_parts_start_their_own_chunks() -> None:
    raw = "二、重点任务\n3.深入推进促进行动。一是健康体重管理。推广母乳喂养。二是口腔健康。开展涂氟。三是视力保护。每学期筛查2次。"
    texts = [c.text for c in chunk_policy(raw, META)]
    assert any(t.startswith("二是口腔健康") for t in texts)
    assert any(t.startswith("三是视力保护") for t in texts)
    assert not any("一是" in t and "二是" in t for t in texts)
