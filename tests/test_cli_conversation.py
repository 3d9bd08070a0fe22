"""`tongban ask`, `ask --jsonl`, `chat` and `eval answers` through Click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Settings, get_settings


@pytest.fixture
def env(built_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(built_settings.data_dir))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_ask_prints_the_reply(env: Path) -> None:
    result = CliRunner().invoke(main, ["ask", "孩子挑食不吃青菜咋办"])
    assert result.exit_code == 0 and "出处：《" in result.output


def test_ask_jsonl_keeps_sessions_apart(env: Path) -> None:
    lines = [
        {"id": "1", "session": "s1", "question": "孩子查出来缺铁性贫血"},
        {"id": "2", "session": "s1", "question": "那吃什么好"},
        {"id": "3", "question": "那吃什么好"},
        {"id": "4", "question": "孙子说不想活了"},
    ]
    path = env / "in.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), "utf-8")
    result = CliRunner().invoke(main, ["ask", "--jsonl", str(path)])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert set(rows[0]) == {"id", "answer", "sources", "grounded", "level"}
    assert any(food in rows[1]["answer"] for food in ("肉", "猪肝", "鸭血"))
    assert rows[1]["answer"] != rows[2]["answer"]
    assert rows[3]["level"] == "red"
    assert not (Path(env) / "cli.db").exists(), "batch runs use a scratch database"


def test_chat_is_interactive(env: Path) -> None:
    result = CliRunner().invoke(main, ["chat", "--user", "t1"], input="你好\n孩子挑食咋办\n")
    assert result.exit_code == 0
    assert result.output.count("童伴") >= 3 and "出处：《" in result.output


def test_eval_answers_reports_recall_and_out_of_scope(env: Path) -> None:
    qa = env / "qa.jsonl"
    items = [
        {"id": "a", "question": "景德镇村小的童心驿站一周开几天", "facts": [["5天"]], "kind": "grounded"},
        {"id": "b", "question": "孙子的户口怎么迁到城里", "facts": [], "kind": "out_of_scope"},
    ]
    qa.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in items), "utf-8")
    result = CliRunner().invoke(main, ["eval", "answers", "--file", str(qa), "--json"])
    figures = json.loads(result.output.splitlines()[0])
    assert {k: figures[k] for k in ("fact_recall", "grounded_questions", "out_of_scope_rate", "out_of_scope_questions")} == {
        "fact_recall": 1.0, "grounded_questions": 1, "out_of_scope_rate": 1.0, "out_of_scope_questions": 1}
    # How plain the answers read (issue 17's targets: few official words, short sentences, short replies).
    assert figures["official_words_rate"] == 0.0 and 0 < figures["mean_sentence_chars"] <= 40
    assert figures["over_length_rate"] in (0.0, 1.0)


def test_chat_shows_the_cases_public_reference_not_its_database_id(env: Path) -> None:
    from sqlalchemy import select

    from bot.storage.db import session_scope
    from bot.storage.models import Case

    result = CliRunner().invoke(main, ["chat", "--user", "t2"], input="孙子说不想活了\n")
    assert result.exit_code == 0
    with session_scope(get_settings()) as session:
        case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None and f"个案 {case.public_ref}]" in result.output
    assert f"个案 {case.id}]" not in result.output
