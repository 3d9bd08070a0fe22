"""Turns policy text into short plain statements.

A policy sentence is cut into clauses (at ，；： outside brackets and quotes); an answer is made of contiguous
clauses of one sentence (a `Unit`), rewritten word by word: stock adverbs dropped, official words swapped for
everyday ones, lists of departments shortened. Every rewrite matches whole words of jieba's cut, so a word
is never cut in half (the old filler remover turned 「确保送教有效果」 into 「确保送教果」). The word lists and
the framing texts are in prompts/plain_policy.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.prompts import prompt_yaml
from bot.retrieval.tokenizer import pos_segment, segment

_ITEM_NUMBER_RE = re.compile(r"^\s*(?:[（(]?[一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}\s*[.．、])\s*")
_ASKS_WHO_RE = re.compile(r"哪些部门|哪个部门|什么部门|哪几个部门|谁来|找谁|报给|报告给|谁管|谁负责|哪些单位|哪个单位|向谁|跟谁|哪个管|归谁")
_TABLE_KEYS_DROP = ("责任主体", "责任单位", "考核核验方式", "牵头部门")
_FIELDS = (r"民政|教育|教体|卫生健康|卫健|公安|司法|财政|人社|人力资源社会保障|网信|应急管理|应急|水利|水务|住建|市场监管|医保|"
           r"宣传|文明办|农业农村|乡村振兴|发改|统计|消防救援|妇联|团委|残联|工会|法院|检察院")
# A named body (「市民政局」「团市委」「人民法院」), or a bare field (「民政」) inside a list that ends 「等部门」.
_ORG = (r"(?:市委|市|区|县|镇|乡|省)?(?:(?:民政|教育|教体|卫生健康|卫健|公安|司法|财政|人社|网信|应急管理|应急|水利|水务|"
        r"住建|市场监管|医保|宣传|农业农村|乡村振兴|发改|统计|消防救援)(?:局|部门|委|办|厅|机关)|妇联|团委|团市委|残联|"
        r"关工委|共青团|工会|人民法院|人民检察院|法院|检察院|文明办|妇儿工委办公室|妇儿工委)")
_DEPT_LIST_RE = re.compile(
    rf"(?P<lead>会同|联合|协调|依托)?(?:{_ORG}(?:[、和及与]{_ORG})+(?:等(?:有关|相关)?部门)?|"
    rf"(?:{_FIELDS})(?:[、和及与](?:{_FIELDS}))+等(?:有关|相关)?部门)"
)
# 「（市民政局、市卫生健康委按照职责分工负责）」: who is responsible for an item, at its end.
_RESPONSIBLE_RE = re.compile(r"[（(]([^（）()]{2,80}?)(?:按照职责分工|按职责分工|分别)?(?:牵头)?负责[）)]")
_BRACKET_NOTE_RE = re.compile(r"[（(][^（）()]*(?:负责|牵头|配合|参加部门)[^（）()]*[）)]")
_CLAUSE_END = "，；：,;:"
_SENTENCE_END = "。！？!?"
_OPEN, _CLOSE = "（(“‘《「【", "）)”’》」】"
# A clause (and so an answer unit) may not end on a word that needs what follows it.
# A sentence may not end on a word that needs what follows it, nor start on one that needs what went before
# (whole words of jieba's cut: 「行为」 and 「普及」 end well, a lone 「为」 or 「及」 does not).
_DANGLING_END = frozenset("的 和 与 及 或 、 对 把 将 为 向 从 在 以及 及其 并 且 使 让 被 要 是 由 给 于 关于 通过 按照 根据 "
                          "对于 针对 围绕 加强 建立 开展 实施 多做 执行 做 做到 确保 推动 带动 提高 包括 如".split())
_DANGLING_START = frozenset("并 且 而 及 和 以及 或 或者 与 等 的 、 也 并且 而且 同时也 其 其中".split())
_CJK_RE = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Rules:
    target: str
    responsible: str
    departments: str
    drop_words: frozenset[str]
    replace: dict[str, str]
    framing_openers: tuple[str, ...]
    framing_anywhere: tuple[str, ...]
    jargon: tuple[str, ...]


@lru_cache(maxsize=1)
def rules() -> Rules:
    data = prompt_yaml("plain_policy.yaml")
    return Rules(
        target=str(data["target"]),
        responsible=str(data["responsible"]),
        departments=str(data["departments"]),
        drop_words=frozenset(str(w) for w in data["drop_words"]),
        replace={str(k): str(v or "") for k, v in data["replace"].items()},
        framing_openers=tuple(str(w) for w in data["framing_openers"]),
        framing_anywhere=tuple(str(w) for w in data["framing_anywhere"]),
        jargon=tuple(str(w) for w in data["jargon"]),
    )


def asks_who(question: str) -> bool:
    return bool(_ASKS_WHO_RE.search(question))


def jargon_words(text: str) -> list[str]:
    """The official words (prompts/plain_policy.yaml `jargon`) found in `text`."""
    return [w for w in rules().jargon if w in text]


def balanced(text: str) -> bool:
    """Every bracket and quote opened in `text` is closed, in order."""
    stack: list[str] = []
    for ch in text:
        if ch in _OPEN:
            stack.append(_CLOSE[_OPEN.index(ch)])
        elif ch in _CLOSE:
            if not stack or stack.pop() != ch:
                return False
    return not stack


def well_formed(sentence: str) -> bool:
    """A sentence an answer may show: balanced, some words, no dangling word at either end."""
    body = sentence.rstrip(_SENTENCE_END + _CLAUSE_END)
    if len(_CJK_RE.findall(body)) < 4 or not balanced(body):
        return False
    if body[:1] in _CLAUSE_END + _SENTENCE_END + "、":
        return False
    words = [w for w in segment(body) if w.strip()]
    if words[0] in _DANGLING_START or words[-1] in _DANGLING_END:
        return False
    return not _object_without_verb(re.split(r"[，；：,;:]", body)[-1])


_OBJECT_HEADS = frozenset(("对", "对于", "针对"))
# 「团委围绕…多元需求」「通过政府购买服务等方式」: a clause opened by one of these and ending on a noun has no
# main verb yet (it frames what the next clause does).
_FRAME_HEADS = frozenset(("围绕", "通过", "依托", "结合", "面向", "按照", "根据", "为了"))


def _object_without_verb(clause: str) -> bool:
    """「…对于就诊的农村留守儿童」「团委围绕…多元需求」: a phrase whose clause ends before a verb acts on it."""
    if "对" not in clause and not any(head in clause for head in _FRAME_HEADS):
        return False
    tagged = [(word, flag) for word, flag in pos_segment(clause) if word.strip()]
    if not tagged:
        return False
    if any(word in _FRAME_HEADS for word, _ in tagged[:3]) and (tagged[-1][1].startswith("n") or tagged[-1][1] == "vn"):
        return True
    heads = [i for i, (word, flag) in enumerate(tagged) if word in _OBJECT_HEADS and flag == "p"]
    if not heads:
        return False
    after = tagged[heads[-1] + 1:]
    marks = [i for i, (word, _) in enumerate(after) if word == "的"]
    tail = after[marks[-1] + 1:] if marks else after
    return not any(flag.startswith("v") for _, flag in tail)


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, each with its closing mark; brackets and quotes are never split."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(sentence):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        elif depth == 0 and ch in _CLAUSE_END + _SENTENCE_END:
            if sentence[i - 1:i].isdigit() and sentence[i + 1:i + 2].isdigit():
                continue  # 「1:100」, 「1,000」
            out.append(sentence[start:i + 1])
            start = i + 1
    if sentence[start:].strip():
        out.append(sentence[start:])
    return [c for c in out if c.strip()]


def responsible_for(text: str) -> str:
    """The departments named in an item's closing 「（…负责）」 note, or ""."""
    match = _RESPONSIBLE_RE.search(text)
    return match.group(1).strip("、，") if match else ""


@lru_cache(maxsize=1)
def _phrases_by_first_char() -> dict[str, tuple[str, ...]]:
    rule = rules()
    table: dict[str, list[str]] = {}
    for phrase in sorted({*rule.replace, *rule.drop_words}, key=len, reverse=True):
        table.setdefault(phrase[0], []).append(phrase)
    return {first: tuple(phrases) for first, phrases in table.items()}


def _rewrite_words(text: str) -> str:
    """Drops and replaces whole words (prompts/plain_policy.yaml); a phrase must start and end on a word boundary."""
    rule = rules()
    table = _phrases_by_first_char()
    pieces = segment(text)
    ends: dict[int, int] = {}  # character offset where a word ends -> index of the word after it
    offset = 0
    starts = []
    for index, piece in enumerate(pieces):
        starts.append(offset)
        offset += len(piece)
        ends[offset] = index + 1
    out: list[str] = []
    i = 0
    while i < len(pieces):
        start = starts[i]
        matched = False
        for phrase in table.get(text[start], ()):
            stop = start + len(phrase)
            if stop not in ends or not text.startswith(phrase, start):
                continue
            j = ends[stop]
            following = pieces[j] if j < len(pieces) else ""
            previous = out[-1] if out else ""
            if phrase in rule.replace:
                new = rule.replace[phrase]
                if not new and not _CJK_RE.search(previous[-1:]):
                    continue  # 「体系」 alone stays; it is dropped only where it ends a longer name
                out.append(new)
            elif _CJK_RE.match(following[:1]) and previous not in ("不", "没", "是"):
                out.append("")  # an adverb before another word
            else:
                continue
            i = j
            matched = True
            break
        if not matched:
            out.append(pieces[i])
            i += 1
    return "".join(out)


def _shorten_departments(text: str, keep_who: bool) -> str:
    text = _BRACKET_NOTE_RE.sub("", text)
    if keep_who:
        return text
    name = rules().departments
    return _DEPT_LIST_RE.sub(lambda m: f"{m.group('lead') or ''}{name}", text)


def plain_clause(span: str, keep_who: bool = False) -> str:
    """Contiguous clauses of one sentence, rewritten plainly and ended with 。 ("" if nothing is left)."""
    text = _ITEM_NUMBER_RE.sub("", span.strip())
    text = _shorten_departments(text, keep_who)
    text = _rewrite_words(text)
    text = re.sub(r"(有关部门)(?:、?有关部门)+", r"\1", text)
    text = text.strip().rstrip(_CLAUSE_END + _SENTENCE_END + "、 ")
    text = text.lstrip(_CLAUSE_END + "、 ")
    return f"{text}。" if text else ""


def is_framing(clause: str) -> bool:
    """A clause that only frames the plan (「坚持以…为…」「按照…要求」)."""
    body = _ITEM_NUMBER_RE.sub("", clause.strip())
    return body.startswith(rules().framing_openers) or any(w in body for w in rules().framing_anywhere)


def plain_table_row(text: str, keep_who: bool, rewrite: bool = True) -> str:
    """「二级具体考核指标：X；2028年（…目标）：Y；责任主体：Z」 -> 「X：2028年Y」 (`rewrite`: in plain words)."""
    parts = [p for p in re.split(r"[；;]", text.rstrip("。")) if p]
    subject = ""
    details = []
    for part in parts:
        key, _, value = part.partition("：")
        if not value:
            details.append(part)
        elif key in ("二级具体考核指标", "行动任务"):
            subject = value
        elif key.startswith(_TABLE_KEYS_DROP) and not keep_who:
            continue
        elif key == "工作举措及目标":
            details.append(value)
        else:
            details.append(f"{re.sub(r'（[^）]*目标）', '', key)}{value}")
    # The first two periods (e.g. 2026—2027 and 2028) say what families can expect now.
    body = "；".join(details[:2])
    body = _rewrite_words(body) if rewrite else body
    return f"{subject}：{body}。" if subject else f"{body}。"
