"""The `tongban` command line, through Click's runner."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Settings, get_settings


@pytest.fixture
def use_settings(monkeypatch: pytest.MonkeyPatch):
    def apply(settings: Settings) -> None:
        monkeypatch.setenv("TONGBAN_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("TONGBAN_KNOWLEDGE_DIR", str(settings.knowledge_dir))
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


def test_search_prints_ranked_hits_with_sections(built_settings: Settings, use_settings) -> None:
    use_settings(built_settings)
    result = CliRunner().invoke(main, ["search", "孤独症免费筛查", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1. [")
    assert " > " in result.output


def test_search_json(built_settings: Settings, use_settings) -> None:
    use_settings(built_settings)
    result = CliRunner().invoke(main, ["search", "防溺水", "--json", "-k", "2"])
    hits = json.loads(result.output)
    assert len(hits) == 2 and {"text", "doc_id", "title", "section", "score"} <= hits[0].keys()


def test_search_jsonl_writes_one_line_per_input(built_settings: Settings, use_settings, tmp_path: Path) -> None:
    use_settings(built_settings)
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "儿童主任是谁"}\n\n{"id": "b", "question": ""}\n', "utf-8")
    result = CliRunner().invoke(main, ["search", "--jsonl", str(questions), "-k", "2"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert len(rows[0]["hits"]) == 2 and rows[1]["hits"] == []
    assert set(rows[0]["hits"][0]) == {"text", "doc_id", "title", "section", "score"}


def test_search_without_index_is_one_clear_line(tmp_path: Path, use_settings) -> None:
    use_settings(Settings(data_dir=tmp_path / "empty"))
    result = CliRunner().invoke(main, ["search", "视力"])
    assert result.exit_code == 2
    assert "tongban ingest" in result.output and "Traceback" not in result.output


def test_bad_jsonl_line_names_the_line(built_settings: Settings, use_settings, tmp_path: Path) -> None:
    use_settings(built_settings)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "x"}\n{not json\n', "utf-8")
    result = CliRunner().invoke(main, ["search", "--jsonl", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output


def test_ingest_exit_status_reports_bad_files(tmp_path: Path, small_knowledge: Path, use_settings) -> None:
    (small_knowledge / "outreach" / "broken.md").write_bytes(b"\x00\x00")
    use_settings(Settings(data_dir=tmp_path / "var", knowledge_dir=small_knowledge))
    result = CliRunner().invoke(main, ["ingest"])
    assert result.exit_code == 1
    assert "skipped: broken.md: binary file" in result.output
    assert "added" in result.output


def test_eval_retrieval_prints_three_modes(built_settings: Settings, use_settings, tmp_path: Path) -> None:
    use_settings(built_settings)
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"id": "x", "question": "景德镇童心驿站每周开几天", "facts": [["5天", "五天"]], "kind": "grounded"},
                   ensure_ascii=False) + "\n", "utf-8")
    result = CliRunner().invoke(main, ["eval", "retrieval", "--file", str(qa), "--json"])
    scores = json.loads(result.output)
    assert set(scores) == {"dense", "keyword", "hybrid", "mean_chunk_chars"}
    assert scores["hybrid"]["questions"] == 1 and scores["hybrid"]["hit5"] == 1.0
