"""`tongban lint-knowledge`: the shipped corpus passes, and each rule catches what it should."""

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import PROJECT_ROOT
from knowledge.lint import check_sources, lint_crisis_sources, lint_folder
from knowledge.outreach import parse_article
from tests.test_outreach_loader import GOOD


def test_shipped_corpus_passes() -> None:
    count, problems = lint_folder(PROJECT_ROOT / "knowledge" / "outreach")
    assert count >= 70
    assert [str(p) for p in problems] == []


def test_cli_exit_status(tmp_path: Path) -> None:
    (tmp_path / "test-article.md").write_text(GOOD, "utf-8")
    ok = CliRunner().invoke(main, ["lint-knowledge", "--dir", str(tmp_path)])
    assert ok.exit_code == 0 and "1 articles checked, 0 problem(s)" in ok.output
    (tmp_path / "test-article.md").write_text(GOOD.replace("topic: eyes", "topic: weather"), "utf-8")
    bad = CliRunner().invoke(main, ["lint-knowledge", "--dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{tmp_path / 'test-article.md'}:4: topic 'weather'" in bad.output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("每天在外面玩够 2 小时。", "每" * 41), "一句话 has 41 characters"),
        (lambda t: t.replace("2. 第二步。", "\n".join(f"{i}. 第{i}步。" for i in range(2, 8))), "怎么做 has 7 steps"),
        (lambda t: t.replace("2. 第二步。", "2. " + "长" * 31), "step 2 has 31 characters"),
        (lambda t: t.replace("  - 问题四\n", ""), "at least 4 questions"),
        (lambda t: t.replace("sources:\n  - 《某指南》（某机构，2024）", "sources: []"), "no 'sources'"),
        (lambda t: t.replace("## 要警惕", "## 别的"), "missing section '## 要警惕'"),
        (lambda t: t.replace("1. 第一步。", "1. 要统筹推进。"), "stock phrase '统筹推进'"),
        (lambda t: t.replace("1. 第一步。", "1. 提高覆盖率。"), "stock phrase '覆盖率'"),
        (lambda t: t.replace("## 出处", "| a | b |\n\n## 出处"), "no tables"),
        (lambda t: t.replace("看不清黑板要查视力。", "，".join(["看不清黑板要查视力"] * 12) + "。"), "sentences average"),
        (lambda t: t.replace("id: test-article", "id: other-name"), "must equal the file name"),
    ],
)
def test_each_rule(tmp_path: Path, change, expected: str) -> None:
    (tmp_path / "test-article.md").write_text(change(GOOD), "utf-8")
    _, problems = lint_folder(tmp_path)
    assert any(expected in p.message for p in problems), [p.message for p in problems]


def test_document_titles_may_contain_stock_phrases(tmp_path: Path) -> None:
    text = GOOD.replace("《某指南》", "《关于进一步加强儿童保障工作的意见》")
    (tmp_path / "test-article.md").write_text(text, "utf-8")
    assert lint_folder(tmp_path)[1] == []


def test_duplicate_ids_and_questions_across_articles(tmp_path: Path) -> None:
    (tmp_path / "test-article.md").write_text(GOOD, "utf-8")
    (tmp_path / "copy.md").write_text(GOOD, "utf-8")
    messages = [p.message for p in lint_folder(tmp_path)[1]]
    assert any("duplicate id" in m for m in messages)
    assert any("also in" in m and "问题一" in m for m in messages)


@pytest.mark.parametrize(
    "source",
    ["《某指南》", "《某指南》（国务院令第766号）", "国家卫生健康委 12356 全国统一心理援助热线", "《某规范》第20200条"],
)
def test_source_without_year_fails(tmp_path: Path, source: str) -> None:
    (tmp_path / "test-article.md").write_text(GOOD.replace("《某指南》（某机构，2024）", source), "utf-8")
    messages = [p.message for p in lint_folder(tmp_path)[1]]
    assert messages == [f"source {source!r} has no year (add the 4-digit year it was issued)"]


@pytest.mark.parametrize(
    "source",
    ["《住宅设计规范》（GB 50096—2011）", "教育部等《加强中小学生欺凌综合治理方案》（教督〔2017〕10号）", "AHA 2025"],
)
def test_source_with_year_passes(tmp_path: Path, source: str) -> None:
    (tmp_path / "test-article.md").write_text(GOOD.replace("《某指南》（某机构，2024）", source), "utf-8")
    assert lint_folder(tmp_path)[1] == []


def test_one_bad_source_among_good_ones_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("  - 《某指南》（某机构，2024）\n", "  - 《某指南》（某机构，2024）\n  - 美国儿科学会建议\n")
    (tmp_path / "test-article.md").write_text(text, "utf-8")
    problems = lint_folder(tmp_path)[1]
    assert [p.message for p in problems] == ["source '美国儿科学会建议' has no year (add the 4-digit year it was issued)"]
    assert problems[0].line == text.splitlines().index("sources:") + 1


def test_empty_sources_fail_the_source_check(tmp_path: Path) -> None:
    path = tmp_path / "test-article.md"
    path.write_text(GOOD, "utf-8")
    article = dataclasses.replace(parse_article(path), sources=())
    assert [p.message for p in check_sources(article)] == ["sources must not be empty"]


def _crisis_dir(tmp_path: Path, sources: str) -> Path:
    crisis = tmp_path / "crisis"
    crisis.mkdir()
    (crisis / "red_emergency_fire.txt").write_text("马上打119。\n", "utf-8")
    (crisis / "sources.yaml").write_text(sources, "utf-8")
    return crisis


def test_shipped_crisis_templates_all_name_their_sources() -> None:
    count, problems = lint_crisis_sources(PROJECT_ROOT / "prompts" / "crisis")
    assert count >= 30
    assert [str(p) for p in problems] == []


def test_crisis_template_without_sources_fails(tmp_path: Path) -> None:
    crisis = _crisis_dir(tmp_path, "templates:\n  red_emergency_fire: []\n  red_gone: [某指南 2025]\n")
    messages = [p.message for p in lint_crisis_sources(crisis)[1]]
    assert any("no sources for crisis template 'red_emergency_fire'" in m for m in messages), messages
    assert any("no red_gone.txt" in m for m in messages), messages
    (tmp_path / "test-article.md").write_text(GOOD, "utf-8")
    bad = CliRunner().invoke(main, ["lint-knowledge", "--dir", str(tmp_path), "--crisis-dir", str(crisis)])
    assert bad.exit_code == 1 and "1 crisis templates checked, 2 problem(s)" in bad.output
    (crisis / "sources.yaml").write_text("templates:\n  red_emergency_fire: [国家消防救援局 火场逃生常识]\n", "utf-8")
    ok = CliRunner().invoke(main, ["lint-knowledge", "--dir", str(tmp_path), "--crisis-dir", str(crisis)])
    assert ok.exit_code == 0, ok.output


POLICY_DIR = PROJECT_ROOT / "knowledge" / "policy"
YUNXI_TITLE = "云溪区教体系统农村留守儿童和困境儿童关爱服务质量提升三年行动实施方案"
CITED = f"《{YUNXI_TITLE}》（岳阳市云溪区教育体育局，2024）第二部分第（三）项第7条"
PLACE = f"""---
id: test-place
title: 云溪：学校给娃建档
topic: services
place: yunxi-left-behind-care-3year
audience: [grandparent]
questions:
  - 云溪问题一
  - 云溪问题二
  - 云溪问题三
  - 云溪问题四
sources:
  - {CITED}
reviewed: 2026-12-02
---

## 一句话
云溪的方案写着：学校给留守娃建档。

## 怎么做
1. 老师来问，如实说。

## 要警惕
- 有危险打 110。

## 出处
- {CITED}
"""


def test_place_article_passes(tmp_path: Path) -> None:
    (tmp_path / "test-place.md").write_text(PLACE, "utf-8")
    assert lint_folder(tmp_path, POLICY_DIR)[1] == []


def test_policy_dir_defaults_to_the_sibling_of_the_articles(small_knowledge: Path) -> None:
    (small_knowledge / "outreach" / "test-place.md").write_text(PLACE, "utf-8")
    assert lint_folder(small_knowledge / "outreach")[1] == []
    (small_knowledge / "outreach" / "test-place.md").write_text(PLACE.replace("## 一句话\n云溪的", "## 一句话\n"), "utf-8")
    assert any("一句话 must name the place" in p.message for p in lint_folder(small_knowledge / "outreach")[1])


def _without_section(text: str) -> str:
    head, cited = text.split("## 出处", 1)
    return head + "## 出处" + cited.replace("第二部分第（三）项第7条", "里说的")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("place: yunxi-left-behind-care-3year", "place: yunxi-plan"),
         "place 'yunxi-plan' is not a document id in documents.yaml"),
        (lambda t: t.replace("云溪的方案写着：", "方案写着："), "一句话 must name the place (云溪/岳阳)"),
        (_without_section, f"出处 must cite 《{YUNXI_TITLE}》 and where in it"),
        (lambda t: t.split("## 出处")[0] + "## 出处\n- 《云溪区留守和困境儿童关爱服务三年行动方案》第二部分\n",
         f"出处 must cite 《{YUNXI_TITLE}》"),
        (lambda t: t.replace("1. 老师来问，如实说。", "1. 启东也是这样做的。"),
         "names '启东' (qidong-left-behind-care-3year): a place article speaks of its own place only"),
    ],
)
def test_each_place_rule(tmp_path: Path, change, expected: str) -> None:
    (tmp_path / "test-place.md").write_text(change(PLACE), "utf-8")
    messages = [p.message for p in lint_folder(tmp_path, POLICY_DIR)[1]]
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("where", ["title: 测试文章", "  - 问题一", "1. 第一步。"])
def test_national_article_may_not_name_a_place_with_a_local_plan(tmp_path: Path, where: str) -> None:
    text = GOOD.replace(where, where + "（景德镇）")
    (tmp_path / "test-article.md").write_text(text, "utf-8")
    problems = lint_folder(tmp_path, POLICY_DIR)[1]
    assert [p.message for p in problems] == [
        "names '景德镇': a local rule goes in a place article (front matter `place: jingdezhen-rural-child-health`)"
    ]
    assert problems[0].line == text.splitlines().index(where + "（景德镇）") + 1


def test_a_place_in_the_sources_of_a_national_article_is_fine(tmp_path: Path) -> None:
    text = GOOD.replace("## 出处\n- 《某指南》", "## 出处\n- 《某指南》，参考了景德镇的做法")
    (tmp_path / "test-article.md").write_text(text, "utf-8")
    assert lint_folder(tmp_path, POLICY_DIR)[1] == []


def test_cli_checks_place_articles_against_the_policy_dir(tmp_path: Path) -> None:
    (tmp_path / "test-place.md").write_text(PLACE, "utf-8")
    ok = CliRunner().invoke(main, ["lint-knowledge", "--dir", str(tmp_path), "--policy-dir", str(POLICY_DIR)])
    assert ok.exit_code == 0, ok.output
    (tmp_path / "test-place.md").write_text(PLACE.replace("yunxi-left-behind-care-3year", "yunxi-plan"), "utf-8")
    bad = CliRunner().invoke(main, ["lint-knowledge", "--dir", str(tmp_path), "--policy-dir", str(POLICY_DIR)])
    assert bad.exit_code == 1 and "place 'yunxi-plan'" in bad.output
