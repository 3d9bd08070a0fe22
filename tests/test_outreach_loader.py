"""Outreach article parsing and bad-input reporting."""

from pathlib import Path

import pytest

from bot.errors import IngestError
from knowledge.loader import load_corpus
from knowledge.outreach import parse_article

GOOD = """---
id: test-article
title: 测试文章
topic: eyes
audience: [grandparent]
questions:
  - 问题一
  - 问题二
  - 问题三
  - 问题四
sources:
  - 《某指南》（某机构，2024）
reviewed: 2026-11-22
---

## 一句话
每天在外面玩够 2 小时。

## 怎么做
1. 第一步。
2. 第二步。

## 要警惕
- 看不清黑板要查视力。

## 出处
- 《某指南》
"""


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_good_article_parses(tmp_path: Path) -> None:
    article = parse_article(write(tmp_path, "test-article.md", GOOD))
    assert article.one_liner == "每天在外面玩够 2 小时。"
    assert article.steps == ["第一步。", "第二步。"]
    assert article.warnings == ["看不清黑板要查视力。"]
    assert article.reviewed == "2026-11-22"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        (b"\x00\x01\x02binary", "binary file"),
        ("## 一句话\n没有前言", "missing YAML front matter"),
        ("---\nid: [unclosed\n---\n## 一句话\n x", "bad front matter"),
        ("---\n- a list\n---\nbody", "must be a mapping"),
        ("---\nid: x\ntitle: t\ntopic: eyes\nsources: [a]\n---\nbody", "no 'questions'"),
        (b"\xff\xfe\xfa not utf8", "not UTF-8"),
    ],
)
def test_bad_articles_raise_a_named_error(tmp_path: Path, content, message: str) -> None:
    with pytest.raises(IngestError, match=message) as info:
        parse_article(write(tmp_path, "bad.md", content))
    assert str(info.value).startswith("bad.md:")


def test_corpus_skips_bad_files_and_keeps_the_rest(small_knowledge: Path) -> None:
    write(small_knowledge / "outreach", "broken.md", "---\nid: [oops\n---\n")
    write(small_knowledge / "outreach", "empty.md", "")
    corpus = load_corpus(small_knowledge)
    assert len(corpus.articles) == 3
    assert sorted(e.split(":")[0] for e in corpus.errors) == ["broken.md", "empty.md"]
    assert any(c.kind == "policy" for c in corpus.chunks)


def test_duplicate_ids_are_reported(small_knowledge: Path) -> None:
    first = sorted((small_knowledge / "outreach").glob("*.md"))[0]
    (small_knowledge / "outreach" / "copy.md").write_text(first.read_text("utf-8"), "utf-8")
    corpus = load_corpus(small_knowledge)
    assert any("duplicate id" in e for e in corpus.errors)


YUNXI = "yunxi-left-behind-care-3year"
PLACE = GOOD.replace("id: test-article", "id: place-test").replace(
    "topic: eyes", f"topic: services\nplace: {YUNXI}"
)


def test_place_article_takes_its_documents_region(small_knowledge: Path) -> None:
    write(small_knowledge / "outreach", "place-test.md", PLACE)
    corpus = load_corpus(small_knowledge)
    assert corpus.errors == []
    policy_region = {c.region for c in corpus.chunks if c.doc_id == YUNXI}
    place = [c for c in corpus.chunks if c.doc_id == "place-test"]
    assert policy_region == {"湖南省岳阳市云溪区"}
    assert place and {c.region for c in place} == policy_region
    assert all(c.kind == "outreach" and c.extra["place"] == YUNXI for c in place)
    assert {c.short_title for c in place} == {corpus.policies[YUNXI].short_title}  # cited as the document
    assert corpus.articles["place-test"].place == YUNXI
    national = [c for c in corpus.chunks if c.kind == "outreach" and c.doc_id != "place-test"]
    assert national and all(c.region == "全国" and "place" not in c.extra for c in national)


def test_place_article_for_an_unknown_document_is_skipped_not_served_as_national(small_knowledge: Path) -> None:
    write(small_knowledge / "outreach", "place-test.md", PLACE.replace(YUNXI, "nowhere-plan"))
    corpus = load_corpus(small_knowledge)
    assert any(e.startswith("place-test.md: place 'nowhere-plan'") for e in corpus.errors), corpus.errors
    assert "place-test" not in corpus.articles
    assert not [c for c in corpus.chunks if c.doc_id == "place-test"]


def test_place_must_name_one_document(tmp_path: Path) -> None:
    path = write(tmp_path, "place-test.md", PLACE.replace(f"place: {YUNXI}", "place: [a, b]"))
    with pytest.raises(IngestError, match="'place' must be one policy document id"):
        parse_article(path)
