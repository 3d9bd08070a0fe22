"""`tongban triage` and `tongban eval triage` through Click's CliRunner."""

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

LABELLED = Path(__file__).with_name("labelled.jsonl")


def test_triage_text() -> None:
    result = CliRunner().invoke(main, ["triage", "--no-semantic", "孙子说他不想活了"])
    assert result.exit_code == 0, result.output
    assert "level: red" in result.output
    assert "categories: suicide" in result.output
    assert "不想活" in result.output


def test_triage_needs_text_or_file() -> None:
    result = CliRunner().invoke(main, ["triage"])
    assert result.exit_code != 0


def test_triage_jsonl_uses_sessions_as_history(tmp_path: Path) -> None:
    lines = [
        {"id": "a1", "session": "s1", "text": "孙子最近总是说没意思"},
        {"id": "a2", "session": "s1", "text": "今天他把自己的东西都送给同学了"},
        {"id": "b1", "session": "s2", "text": "今天他去同学家写作业了"},
        {"id": "c1", "text": "低保怎么申请"},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    result = CliRunner().invoke(main, ["triage", "--no-semantic", "--jsonl", str(path)])
    assert result.exit_code == 0, result.output
    out = {row["id"]: row for row in map(json.loads, result.output.splitlines())}
    assert [out[i]["level"] for i in ("a1", "a2", "b1", "c1")] == ["yellow", "red", "green", "green"]
    assert set(out["a2"]) == {"id", "level", "categories", "evidence", "situation", "speaker"}


def test_triage_jsonl_bad_line_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["triage", "--jsonl", str(path)])
    assert result.exit_code == 2
    assert "bad.jsonl:1: not valid JSON" in result.output


def test_eval_triage_table() -> None:
    result = CliRunner().invoke(main, ["eval", "triage", "--no-semantic", "--file", str(LABELLED)])
    assert result.exit_code == 0, result.output
    assert "confusion (rows gold, columns predicted)" in result.output
    for name in ("overall", "suicide", "missing", "none"):
        assert name in result.output


def test_eval_triage_json() -> None:
    result = CliRunner().invoke(main, ["eval", "triage", "--no-semantic", "--json", "--file", str(LABELLED)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["overall"]["red_recall"] >= 0.98
    assert data["overall"]["green_false_alarm"] <= 0.05
    assert set(data["confusion"]) == {"red", "yellow", "green"}
    assert "emergency" in data["per_category"]
