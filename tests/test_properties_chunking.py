"""Property tests for the policy chunker and the outreach article parser/chunker."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.errors import IngestError
from knowledge.outreach import article_chunks, parse_article
from knowledge.policy_chunker import MAX_CHARS, TARGET_CHARS, PolicyMeta, chunk_policy, pack_sentences

META = PolicyMeta(doc_id="d", title="某县留守儿童关爱方案", short_title="某县方案", region="某县", source_file="policy/d.txt")
MIN_CHUNK = 8  # chunk_policy drops passages shorter than this (stray fragments)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

hanzi = st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF)  # no 一二三… numerals: they start headings
clause = st.text(hanzi, min_size=1, max_size=40)
sentence = st.lists(clause, min_size=1, max_size=4).map("，".join).map(lambda s: s + "。")
heading = st.one_of(
    st.builds(lambda n, t: f"{n}、{t}", st.sampled_from("一二三四五六七八九十"), clause),
    st.builds(lambda n, t: f"（{n}）{t}", st.sampled_from("一二三四五六七八九十"), clause),
    st.builds(lambda n, t: f"{n}.{t}", st.integers(1, 20), sentence),
    st.builds(lambda n, t: f"（{n}）{t}", st.integers(1, 20), sentence),
    st.sampled_from(["主要目标：", "工作措施："]),
)
body_line = st.lists(sentence, min_size=1, max_size=6).map("".join)


@st.composite
def structured_document(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A policy-shaped document and the body sentences in it."""
    lines: list[str] = []
    sentences: list[str] = []
    for _ in range(draw(st.integers(1, 25))):
        if draw(st.booleans()):
            lines.append(draw(heading))
        else:
            line = draw(body_line)
            lines.append(line)
            sentences.extend(s + "。" for s in line.split("。") if s)
    blank = draw(st.sampled_from(["\n", "\n\n", "\r\n"]))
    return blank.join(lines), sentences


messy_line = st.one_of(
    body_line, heading, st.text(max_size=80), st.just("- 3 -"), st.just("目录"), st.just("\t"),
    st.builds(lambda t: "\t" + t, st.text(max_size=20)), st.builds(lambda t: f"[bookmark: _Toc{t}]", st.text(max_size=8)),
    st.text(hanzi, min_size=400, max_size=1200),  # a long stretch with no punctuation at all
)
messy_document = st.lists(messy_line, max_size=40).map("\n".join)


def check_chunks(chunks) -> None:  # type: ignore[no-untyped-def]
    for position, chunk in enumerate(chunks):
        assert chunk.position == position
        assert MIN_CHUNK <= len(chunk.text) <= MAX_CHARS, len(chunk.text)
        assert chunk.text.strip() and chunk.section
        assert chunk.search_text.endswith(chunk.text)


@PROPS
@given(messy_document)
@example("孩" * 1000)
def test_policy_chunker_never_raises_and_bounds_chunks(raw: str) -> None:
    check_chunks(chunk_policy(raw, META))


@PROPS
@given(structured_document())
# Regression: a heading over 30 characters without 。 had the next body line joined to it, and that body
# sentence ended up only in the section label.
@example(("一、" + "乙" * 30 + "\n" + "丙" * 7 + "。", ["丙" * 7 + "。"]))
def test_policy_chunker_keeps_every_sentence(doc: tuple[str, list[str]]) -> None:
    """Every body sentence long enough to stand alone is quoted whole by some chunk (sentences are at most
    4 clauses of 40 characters, within the limit, so none needs cutting)."""
    raw, sentences = doc
    chunks = chunk_policy(raw, META)
    check_chunks(chunks)
    texts = [c.text for c in chunks]
    for s in sentences:
        if len(s) >= MIN_CHUNK:
            assert any(s in t for t in texts), (s, raw)


def covers(whole: str, chunks: list[str]) -> bool:
    """Chunks, in order, each start at or before the end of the previous one (overlap allowed) and together
    reach the end of `whole`; a final chunk repeating text already quoted may be left out."""
    end = 0
    for chunk in chunks:
        starts = [i for i in range(max(0, end - len(chunk)), end + 1) if whole.startswith(chunk, i)]
        if not starts:
            return False
        end = max(end, starts[-1] + len(chunk))
    return end == len(whole) or (bool(chunks) and whole[end:] in chunks[-1])


@PROPS
@given(st.lists(st.one_of(sentence, st.text(hanzi, min_size=1, max_size=900), st.text(max_size=60)), max_size=12))
@example(["好的。", "好的。"])
@example(["甲" * 10 + "。", "乙" * 10 + "。", "丙" * 370 + "。"])  # regression: overlap + long sentence was 382
def test_pack_sentences_bounds_and_covers(sentences: list[str]) -> None:
    sentences = [s for s in sentences if s]
    chunks = pack_sentences(sentences)
    assert all(0 < len(c) <= MAX_CHARS for c in chunks)
    assert covers("".join(sentences), chunks)
    assert bool(chunks) == bool(sentences)
    assert TARGET_CHARS <= MAX_CHARS


# --- outreach articles -------------------------------------------------------------------------------------

section_name = st.one_of(st.sampled_from(["一句话", "怎么做", "要警惕", "说明", "出处"]), st.text(hanzi, min_size=1, max_size=6))
section_body = st.lists(st.one_of(sentence, st.builds(lambda n, s: f"{n}. {s}", st.integers(1, 9), sentence),
                                  st.builds(lambda s: f"- {s}", sentence), st.just("")), max_size=6).map("\n".join)
front_value = st.one_of(st.text(hanzi, min_size=1, max_size=10), st.lists(st.text(hanzi, min_size=1, max_size=10), max_size=4))


@st.composite
def article_text(draw: st.DrawFn) -> str:
    keys = draw(st.lists(st.sampled_from(["id", "title", "topic", "questions", "sources", "audience", "reviewed"]),
                         unique=True))
    front = "\n".join(f"{k}: {draw(front_value)!r}".replace("'", '"') for k in keys)
    sections = draw(st.lists(st.tuples(section_name, section_body), max_size=6))
    body = "\n\n".join(f"## {name}\n{text}" for name, text in sections)
    return draw(st.sampled_from([f"---\n{front}\n---\n{body}", f"---\n{front}\n---\n\n{body}\n", body]))


def parse_text(raw: bytes):  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.md"
        path.write_bytes(raw)
        return parse_article(path)


@PROPS
@given(st.one_of(article_text().map(str.encode), st.binary(max_size=300),
                 st.text(max_size=300).map(lambda t: ("---\n" + t + "\n---\n## 一句话\n好。").encode("utf-8", "surrogatepass"))))
def test_outreach_parser_raises_only_ingest_error(raw: bytes) -> None:
    try:
        article = parse_text(raw)
    except IngestError as exc:
        assert str(exc).startswith("a.md: ")
        return
    chunks = article_chunks(article)
    quoted = [name for name, text in article.sections.items() if name != "出处" and text.strip()]
    assert [c.section for c in chunks] == quoted  # one chunk per section with content, in order
    for chunk in chunks:
        assert chunk.text and chunk.text.split() == article.sections[chunk.section].split()  # words kept
