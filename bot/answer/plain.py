"""Turns policy sentences into short plain statements: no stock phrases, no lists of departments."""

from __future__ import annotations

import re

# Openers and adverbs that carry no fact for a family.
_STOCK_RE = re.compile(
    r"(各相关部门|各有关部门|各地|各级|相关部门|有关部门)?要(?=[\u4e00-\u9fff])|"
    r"进一步|切实|全面|积极|认真|不断|持续|大力|深入|扎实|着力|加快|有效|努力|稳步|常态化|规范化|"
    r"坚持以[^，。；]*为[^，。；]*[，；]|按照[^，。；]*要求[，；]?|根据[^，。；]*[，；]"
)
_DEPT = r"(?:市|区|县|镇|乡|省)?(?:民政|教育|教体|卫生健康|卫健|公安|司法|财政|人社|妇联|团委|团市委|残联|检察|法院|人民法院|人民检察院|网信|应急|水利|水务|住建|市场监管|医保|工会|关工委|宣传|文明办|农业农村|乡村振兴|发改|统计|共青团|妇儿工委)(?:局|部门|委|院|办|厅|组织|机关)?"
_DEPT_LIST_RE = re.compile(rf"(?:由|会同|联合|协调|组织|依托)?{_DEPT}(?:[、和及与]{_DEPT})+(?:等(?:有关|相关)?部门)?")
_ITEM_NUMBER_RE = re.compile(r"^\s*(?:[（(]?[一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}\s*[.．、])\s*")
_ASKS_WHO_RE = re.compile(r"哪些部门|哪个部门|什么部门|哪几个部门|谁来|找谁|报给|报告给|谁管|谁负责|哪些单位|哪个单位")
_TABLE_KEYS_DROP = ("责任主体", "责任单位", "考核核验方式", "牵头部门")


def asks_who(question: str) -> bool:
    return bool(_ASKS_WHO_RE.search(question))


def plain_table_row(text: str, keep_who: bool) -> str:
    """「二级具体考核指标：X；2028年（…目标）：Y；责任主体：Z」 -> 「X：2028年Y」."""
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
    return f"{subject}：{body}。" if subject else f"{body}。"


def plain_sentence(sentence: str, keep_who: bool) -> str:
    """One policy sentence, rewritten plainly; the concrete numbers, who and what stay."""
    text = _ITEM_NUMBER_RE.sub("", sentence.strip())
    if not keep_who:
        text = _DEPT_LIST_RE.sub("有关部门", text)
    text = _STOCK_RE.sub("", text)
    text = re.sub(r"有关部门有关部门", "有关部门", text)
    text = re.sub(r"^[，、；]+", "", text)
    return text.strip()
