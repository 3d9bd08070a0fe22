"""Semantic layer: exemplar similarity, its caching, and triage without it."""

import logging
from pathlib import Path

import numpy as np
import pytest

from bot.safety import semantic
from bot.safety.scoring import Decision
from bot.safety.semantic import ExemplarIndex, focus_text, load_exemplars
from functools import partial

from bot.safety.triage import triage as _triage

# These tests pin the rules layer (lexicon, guards, situation, speaker, semantic fallback); the learned model
# on top is tested in test_risk_model.py and measured on the held-out set (benchmarks/data).
triage = partial(_triage, learned=False)


class FakeEmbedder:
    """Deterministic bag-of-characters vectors: enough to test the plumbing without a model."""

    name = "fake:chars"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                out[i, ord(ch) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-6)


def test_exemplar_file_is_well_formed() -> None:
    config, exemplars, _ = load_exemplars()
    by_category: dict[str, int] = {}
    for e in exemplars:
        by_category[e.category] = by_category.get(e.category, 0) + 1
    assert by_category["green"] >= 40
    assert all(n >= 15 for c, n in by_category.items() if c != "green")
    assert 0.8 < config.yellow < config.red < 1.0


def test_focus_keeps_cue_clauses_within_budget() -> None:
    config, _, _ = load_exemplars()
    text = "我跟你说个事，孙子今年读三年级，最近晚上老是偷偷哭，问他也不说"
    focus = focus_text(text, config.cues, config.focus_chars)
    assert "哭" in focus and len(focus) <= config.focus_chars
    assert focus_text("低保怎么申请", config.cues, config.focus_chars) == ""


def test_exemplar_vectors_are_cached_on_disk(tmp_path: Path) -> None:
    first = FakeEmbedder()
    ExemplarIndex.build(first, cache_dir=tmp_path)
    assert first.calls == 1 and list(tmp_path.glob("safety-exemplars-*.npy"))
    second = FakeEmbedder()
    index = ExemplarIndex.build(second, cache_dir=tmp_path)
    assert second.calls == 0  # loaded, not recomputed
    hit = index.nearest("孩子晚上抱着妈妈的照片睡觉")
    assert hit.exemplar.category == "emotional" and hit.similarity > 0.99
    assert second.calls == 1


def test_semantic_raise_respects_guards_and_margin() -> None:
    index = ExemplarIndex.build(FakeEmbedder())
    decision = Decision()
    semantic._index, saved = index, semantic._index
    try:
        semantic.semantic_raise(decision, "孩子晚上抱着妈妈的照片睡觉", [], guarded=True)
        assert decision.levels == {}
        semantic.semantic_raise(decision, "孩子晚上抱着妈妈的照片睡觉", [], guarded=False)
        assert decision.levels.get("emotional") == "yellow"
    finally:
        semantic._index = saved


def test_real_embedder_raises_a_paraphrase() -> None:
    index = semantic.get_index()
    if index is None:
        pytest.skip("embedder unavailable")
    text = "孩子天天晚上抱着他妈妈的照片才睡得着"
    assert triage(text, semantic=False).level == "green"
    assert triage(text).level == "yellow"


def test_triage_works_when_the_embedder_fails(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    def broken(_settings):
        raise RuntimeError("model file missing")

    monkeypatch.setattr(semantic, "_index", None)
    monkeypatch.setattr(semantic, "_failed", False)
    monkeypatch.setattr(semantic, "get_embedder", broken)
    with caplog.at_level(logging.WARNING, logger="bot.safety.semantic"):
        result = triage("孙子说他不想活了，今晚就去河边")
        green = triage("孩子不爱写作业")
    assert result.level == "red" and green.level == "green"
    assert "semantic layer disabled" in caplog.text
