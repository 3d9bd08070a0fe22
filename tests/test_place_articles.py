"""Place articles (front matter `place: <policy document id>`) on the shipped knowledge base: a family that names
its place gets that place's plain explainer; one that names another place, or none, is not handed it as theirs."""

from __future__ import annotations

import pytest

from bot.answer.extractive import ExtractiveComposer
from knowledge.loader import load_corpus

QIDONG = "qidong-left-behind-care-3year"


@pytest.fixture(scope="module")
def composer(built_settings, knowledge_index) -> ExtractiveComposer:
    corpus = load_corpus(built_settings.knowledge_dir)
    places = {doc_id: meta.aliases[0] for doc_id, meta in corpus.policies.items() if meta.aliases}
    return ExtractiveComposer(knowledge_index, corpus.articles, places)


def _answer(composer: ExtractiveComposer, question: str):
    index = composer.index
    return composer.compose(question, index.search(question, k=5), index.named_documents(question))


def _place(composer: ExtractiveComposer, doc_id: str) -> str:
    article = composer.articles.get(doc_id)
    return article.place if article is not None else ""


def test_shipped_place_articles_carry_their_documents_region(built_settings) -> None:
    corpus = load_corpus(built_settings.knowledge_dir)
    regions = {meta.doc_id: meta.region for meta in corpus.policies.values()}
    place_chunks = [c for c in corpus.chunks if c.kind == "outreach" and c.extra.get("place")]
    assert {c.extra["place"] for c in place_chunks} == set(regions)  # every document has explainers
    assert all(c.region == regions[c.extra["place"]] for c in place_chunks)


def test_naming_a_place_keeps_other_places_explainers_out(knowledge_index) -> None:
    hits = knowledge_index.search("景德镇这边送教上门的老师一个月来几次", k=40)
    places = {h.extra.get("place") for h in hits if h.extra.get("place")}
    assert places <= {"jingdezhen-rural-child-health"}, places


@pytest.mark.parametrize(
    ("question", "article", "fact"),
    [
        ("启东的儿童主任一个月来几回", "services-qidong-visits", "每月"),
        ("启东送教上门一个月几次", "services-qidong-home-teaching", "2次"),
        ("云溪学校的成长导师是干嘛的", "services-yunxi-mental-care", "成长导师"),
        ("景德镇学校一学期查几次视力", "services-jingdezhen-school-vision", "2次"),
    ],
)
def test_a_named_place_is_answered_by_its_plain_explainer(composer, question: str, article: str, fact: str) -> None:
    composed = _answer(composer, question)
    assert composed.grounded and composed.sources[0].doc_id == article
    assert fact in composed.body and composed.body.startswith(("启东", "云溪", "景德镇"))
    # The reply cites the document the explainer restates, not the article's own title.
    document = next(c["short_title"] for c in composer.index.chunks if c["doc_id"] == article)
    assert composed.sources[0].title == document and "方案" in document


def test_without_a_place_the_national_article_leads_and_a_local_line_names_its_place(composer) -> None:
    composed = _answer(composer, "儿童主任多久来家里一次")
    assert composed.grounded and not _place(composer, composed.sources[0].doc_id)
    for source in composed.sources[1:]:
        place = _place(composer, source.doc_id) or source.doc_id
        name = composer.place_names[place]
        assert f"\n{name}" in composed.body or f"\n在{name}" in composed.body


def test_a_place_article_does_not_answer_someone_from_elsewhere(composer) -> None:
    composed = _answer(composer, "兰溪这边送教上门一个月来几次")
    assert all(_place(composer, s.doc_id) in ("", "lanxi-child-development-14th") for s in composed.sources)
    assert "启东" not in composed.body


def test_an_explainer_of_the_named_place_answers_only_what_it_is_about(composer) -> None:
    # Every 兰溪 explainer shares 「兰溪」 with the question; the one about sexual-abuse cases is not an answer to
    # a question about paying for a stay in hospital.
    composed = _answer(composer, "兰溪这边娃看病住院 医保怎么报 家里困难有没有补助")
    assert composed.grounded and "性侵" not in composed.body
    assert "看病" in composed.body + "".join(composed.steps) or "医疗" in composed.body, composed.body


def test_a_passage_with_the_asked_figure_beats_an_explainer_of_another_rule(composer) -> None:
    composed = _answer(composer, "启东一个村里最少要配几个儿童主任")
    assert composed.grounded and ("一名" in composed.body or "1名" in composed.body), composed.body


def test_an_explainer_adds_its_line_with_the_asked_figure(composer) -> None:
    composed = _answer(composer, "启东那边一年要摸排几次留守娃的情况")
    assert composed.grounded and "2 次" in composed.body, composed.body


def test_a_place_name_inside_another_word_names_no_place(knowledge_index) -> None:
    assert knowledge_index.named_documents("孩子沉迷娱乐平台怎么办") == set()  # 乐平 in 娱乐平台
    assert knowledge_index.named_documents("我们乐平这边送教上门几次") == {"jingdezhen-rural-child-health"}
    assert knowledge_index.named_documents("浮梁县的学校") == {"jingdezhen-rural-child-health"}
    assert knowledge_index.named_documents("景德镇乡下的娃") == {"jingdezhen-rural-child-health"}


def test_a_place_article_ranked_first_adds_its_figure_under_the_national_answer(composer) -> None:
    # No place named: the national article leads, but 启东's explainer ranked above it and holds the 「几次」 asked
    # for; it shares few words with the question, and its line was left out.
    composed = _answer(composer, "孙子残疾出不了门 送叫上门的老师一个月来几次 要不要钞票")  # voice-to-text: 送叫
    assert composed.grounded and not _place(composer, composed.sources[0].doc_id)
    assert "2次" in composed.body.replace(" ", "") and "启东" in composed.body, composed.body
