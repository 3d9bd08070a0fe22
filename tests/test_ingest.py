"""Incremental ingestion against a real embedded Chroma."""

import time
from pathlib import Path

from bot.config import Settings
from bot.retrieval.ingest import ingest, read_manifest
from bot.retrieval.store import VectorStore


def small_settings(tmp_path: Path, knowledge: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", knowledge_dir=knowledge)


def test_second_run_embeds_nothing_and_is_fast(tmp_path: Path, small_knowledge: Path) -> None:
    settings = small_settings(tmp_path, small_knowledge)
    first = ingest(settings)
    assert first.embedded == first.chunks > 0
    started = time.perf_counter()
    second = ingest(settings)
    assert second.embedded == 0 and second.removed == 0
    assert second.unchanged == first.chunks
    assert time.perf_counter() - started < 3.0
    assert len(VectorStore(settings).ids()) == first.chunks


def test_changing_one_file_reembeds_only_its_chunks(tmp_path: Path, small_knowledge: Path) -> None:
    settings = small_settings(tmp_path, small_knowledge)
    ingest(settings)
    article = sorted((small_knowledge / "outreach").glob("*.md"))[0]
    text = article.read_text("utf-8")
    doc_id = text.split("id:", 1)[1].split("\n", 1)[0].strip()
    article.write_text(text.replace("## 一句话\n", "## 一句话\n先别急。", 1), "utf-8")
    report = ingest(settings)
    assert report.changed_docs == [doc_id]
    assert 0 < report.embedded <= 5 and report.removed == report.embedded
    manifest = read_manifest(settings)
    assert manifest is not None
    assert {c["chunk_id"] for c in manifest["chunks"]} == VectorStore(settings).ids()


def test_deleting_a_file_removes_its_chunks(tmp_path: Path, small_knowledge: Path) -> None:
    settings = small_settings(tmp_path, small_knowledge)
    first = ingest(settings)
    sorted((small_knowledge / "outreach").glob("*.md"))[0].unlink()
    report = ingest(settings)
    assert report.embedded == 0 and report.removed > 0
    assert len(VectorStore(settings).ids()) == first.chunks - report.removed


def test_rebuild_starts_over(tmp_path: Path, small_knowledge: Path) -> None:
    settings = small_settings(tmp_path, small_knowledge)
    first = ingest(settings)
    report = ingest(settings, rebuild=True)
    assert report.rebuilt and report.embedded == first.chunks


def test_bad_file_is_reported_and_the_rest_is_indexed(tmp_path: Path, small_knowledge: Path) -> None:
    (small_knowledge / "outreach" / "bad.md").write_text("---\nid: [\n---\n", "utf-8")
    report = ingest(small_settings(tmp_path, small_knowledge))
    assert report.errors and report.errors[0].startswith("bad.md:")
    assert report.chunks > 0 and report.embedded == report.chunks
