"""Property tests for text normalisation (bot/text.py) and reply splitting (bot/wechat/replies.py)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.text import clean_for_search, fold_width, normalize
from bot.wechat.replies import MAX_REPLY_BYTES, reply_parts, split_reply

FAST = settings(max_examples=300, deadline=None)

# Unicode of every kind (surrogates included: JSON can carry a lone "\ud800"), plus the characters the
# channels actually send: CJK, full-width forms, emoji with joiners, control characters and odd spaces.
any_text = st.text(st.characters(), max_size=400)
cjk_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
        st.sampled_from(list("。，！？；：、…「」 \u3000\n\t\r\u200d\ufe0f😭💊🔪👨‍👩‍👧")),
        st.characters(max_codepoint=0x7F),
    ),
    max_size=400,
)
texts = st.one_of(any_text, cjk_text)


@FAST
@given(texts)
@example("！！！？？ 。。")
@example("\ud800孩子")
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once


@FAST
@given(texts)
def test_normalize_output_is_bounded_and_clean(text: str) -> None:
    out = normalize(text)
    assert len(out) <= len(text) * 2  # opencc may rewrite a phrase, never blow it up
    assert not any(0xFF10 <= ord(ch) <= 0xFF5A and ch.isalnum() for ch in out)  # no full-width letters/digits
    assert all(ch in "\n\t\u200d" or not (ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF) for ch in out)
    out.encode("utf-8")  # no lone surrogates left: storable and sendable


@FAST
@given(texts, st.integers(min_value=1, max_value=600))
@example("a" * 499 + " b", 500)
def test_clean_for_search_is_bounded_and_idempotent(text: str, limit: int) -> None:
    out = clean_for_search(text, max_chars=limit)
    assert len(out) <= limit
    assert out == out.strip()
    assert clean_for_search(out, max_chars=limit) == out


@FAST
@given(texts)
def test_fold_width_keeps_length(text: str) -> None:
    assert len(fold_width(text)) == len(text)


# --- reply splitting ---------------------------------------------------------------------------------------

def rejoins(original: str, parts: list[str]) -> bool:
    """`original` is the parts in order with only whitespace before, between and after them.

    split_reply trims each part (WeChat shows leading/trailing blanks as nothing), so that whitespace is all
    it may drop; every other character must come back, in order, exactly once.
    """
    pos = 0
    for part in parts:
        while pos < len(original) and original[pos].isspace():
            pos += 1
        if not original.startswith(part, pos):
            return False
        pos += len(part)
    return original[pos:].strip() == ""


reply_text = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000),
    # Long Chinese replies with sentence ends, the realistic case for the 2048-byte limit.
    st.lists(st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=900)
             .map(lambda s: s + "。"), max_size=8).map("".join),
    st.text(st.sampled_from(list("孩子a 。\n😭\U0001F468\u200d")), max_size=5000),
)


@settings(max_examples=300, deadline=None)
@given(reply_text, st.sampled_from([MAX_REPLY_BYTES, 64, 7, 4]))
@example("。" * 700 + "好", MAX_REPLY_BYTES)
@example("a" * 2047 + "孩", MAX_REPLY_BYTES)
def test_split_reply_parts_fit_and_rejoin(text: str, limit: int) -> None:
    parts = split_reply(text, limit)
    for part in parts:
        assert part and part == part.strip()
        assert len(part.encode("utf-8")) <= limit  # encoding succeeds: no character was cut in half
    assert rejoins(text, parts)
    assert bool(parts) == bool(text.strip())


@settings(max_examples=100, deadline=None)
@given(reply_text)
def test_reply_parts_respect_wechat_limits(text: str) -> None:
    parts = reply_parts(text)
    assert len(parts) <= 5
    assert all(0 < len(p.encode("utf-8")) <= MAX_REPLY_BYTES for p in parts)


def test_small_numbers_in_digits_and_chinese() -> None:
    from bot.text import small_number

    assert [small_number(w) for w in ("8", "八", "十", "十二", "二十", "两", "二十三")] == [8, 8, 10, 12, 20, 2, 23]
    assert small_number("几") == 99  # unreadable: larger than any age the callers accept
