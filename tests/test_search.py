"""Hybrid search over the full shipped knowledge base."""

import pytest

from bot.retrieval.expand import correct_sound_alikes, expand_query
from bot.retrieval.tokenizer import tokenize


def test_domain_words_stay_whole() -> None:
    tokens = tokenize("留守儿童的委托照护和窝沟封闭")
    assert {"留守儿童", "委托照护", "窝沟封闭"} <= set(tokens)


def test_expansion_adds_formal_terms_once() -> None:
    assert expand_query("娃想住校，能住校吗") == "娃想住校，能住校吗 寄宿"
    assert expand_query("寄宿生住校") == "寄宿生住校"


def test_hits_carry_metadata(knowledge_index) -> None:
    hits = knowledge_index.search("视力筛查一学期几次", k=5)
    assert len(hits) == 5
    for hit in hits:
        assert hit.doc_id and hit.title and hit.section and hit.text
        assert hit.metadata["kind"] in {"policy", "outreach"}
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_section_path_leads_vision_questions_to_the_eye_care_action(knowledge_index) -> None:
    hits = knowledge_index.search("景德镇农村学校多久给孩子查一次视力", k=5, filters={"kind": "policy"})
    assert any("明眸护眼行动" in h.section for h in hits)


def test_naming_a_place_keeps_other_places_policies_out(knowledge_index) -> None:
    hits = knowledge_index.search("启东对困境儿童有什么保障", k=10)
    policy_docs = {h.doc_id for h in hits if h.metadata["kind"] == "policy"}
    assert policy_docs == {"qidong-left-behind-care-3year"}


@pytest.mark.parametrize("filters", [{"kind": "outreach"}, {"kind": "policy"}, {"topic": "eyes"}])
def test_filters_apply_to_both_rankings(knowledge_index, filters) -> None:
    hits = knowledge_index.search("孩子眼睛近视了怎么办", k=8, filters=filters)
    assert hits
    key, value = next(iter(filters.items()))
    assert all(h.metadata[key] == value for h in hits)


def test_modes_differ_but_all_answer(knowledge_index) -> None:
    for mode in ("dense", "keyword", "hybrid"):
        hits = knowledge_index.search("孩子被同学欺负怎么办", k=3, mode=mode)
        assert hits, mode
        assert (mode == "keyword") == all(h.dense_rank is None for h in hits)


@pytest.mark.parametrize("query", ["", "   \n\t", "😭😭🙏", "？？？"])
def test_empty_queries_give_no_hits(knowledge_index, query: str) -> None:
    assert knowledge_index.search(query) == []


def test_very_long_query_is_cut_not_refused(knowledge_index) -> None:
    assert knowledge_index.search("孩子近视怎么办" * 1500, k=3)


def test_traditional_characters_find_the_same_material(knowledge_index) -> None:
    simplified = [h.chunk_id for h in knowledge_index.search("孩子近视了怎么办", k=3)]
    traditional = [h.chunk_id for h in knowledge_index.search("孩子近視了怎麼辦", k=3)]
    assert simplified == traditional


class _BrokenStore:
    def query(self, *args, **kwargs):
        raise RuntimeError("chroma must not be called")


def test_local_mode_never_calls_chroma(knowledge_index, monkeypatch: pytest.MonkeyPatch) -> None:
    assert knowledge_index.load_vectors()
    hybrid = knowledge_index.search("孩子每天在外面玩多久能护眼", k=3)
    monkeypatch.setattr(knowledge_index, "_store", _BrokenStore())
    local = knowledge_index.search("孩子每天在外面玩多久能护眼", k=3, mode="local")
    assert local and local[0].dense_rank is not None
    assert local[0].chunk_id == hybrid[0].chunk_id


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("hpv一苗要不要钱", "hpv疫苗要不要钱"), ("留手儿童有啥补贴", "留守儿童有啥补贴"), ("儿童主人多久来一趟", "儿童主任多久来一趟")],
)
def test_sound_alike_typos_become_the_domain_word(typed: str, meant: str) -> None:
    assert correct_sound_alikes(typed) == meant


@pytest.mark.parametrize("text", ["净网护苗是什么", "娃近视了咋办", "孙子挑食不吃青菜咋整", "一个孩子一张床"])
def test_real_words_and_other_sounds_are_left_alone(text: str) -> None:
    assert correct_sound_alikes(text) == text


def test_a_mistyped_vaccine_is_not_internet_policing(knowledge_index) -> None:
    hits = knowledge_index.search("曲江hpv一苗 要不要钱", k=3)
    assert "HPV" in hits[0].text and "护苗" not in hits[0].text
