"""What kind of answer a question asks for, and whether a clause holds that kind of answer.

A family asks for one thing: a number (多少/几岁/多久), how often (多久一次/一月一访), who (找谁/谁管), where
(去哪), whether it is free (要不要钱), or whether the child qualifies (能不能/够不够条件). The composer prefers
the policy clause that holds that thing over one that merely shares words with the question.
"""

from __future__ import annotations

import re

NUMBER = "number"
FREQUENCY = "frequency"
WHO = "who"
WHERE = "where"
FREE = "free"
ELIGIBILITY = "eligibility"
WHEN = "when"

_ASKS: dict[str, re.Pattern[str]] = {
    FREQUENCY: re.compile(
        r"多久(?:一次|一回|一趟|来一|去一|查一|访一|看一)|多长时间(?:一次|一回|来一)|几次|几回|几趟|多少次|一年几|一月几|"
        r"一个月几|一学期几|每(?:年|月|周|学期)(?:几|多少)|隔多久|多久来|多久查|多久走访|多久上门|多久看|频次|多勤|"
        # the verb between: 「多久来屋里看一趟」, 「好久来家里一回」
        r"(?:多久|好久|几久|几耐)[^，。？！?,]{0,6}(?:一次|一回|一趟|一遍)"
    ),
    NUMBER: re.compile(
        r"多少|几岁|多大|多久|多长|几个|几年|几天|几名|几项|几元|几块|比例|百分之|几成|多高|标准是|"
        # dialect: 几多 (粤, how many), 几耐 (粤, how long), 好久/几久 (湘赣/川渝 questions: how long)
        r"几多|几耐|几久|要(?:搞|等|做|查|练|睡|玩|吃|住|养|关)?好久"
    ),
    WHO: re.compile(
        r"找谁|谁管|谁来|谁负责|谁去|向谁|跟谁|问谁|归谁|哪个部门|哪些部门|什么部门|哪个单位|哪些单位|哪个人|什么人|"
        r"哪个管|谁给|谁帮|报给|报告给"
    ),
    WHERE: re.compile(r"去哪|到哪|哪里|哪儿|哪点|在哪|什么地方|啥地方|哪家|哪个医院|哪个地方"),
    FREE: re.compile(
        r"要不要钱|要钱|收不收|收费|收钱|免费|花钱|自费|掏钱|出钱|给钱|交钱|费用|多少钱|几多钱|贵不贵|报销|不要钱|免不免"
    ),
    ELIGIBILITY: re.compile(
        r"能不能|可不可以|可以吗|行不行|够不够|符合|条件|算不算|有没有资格|能否|能申请|可以申请|哪些孩子|什么样的孩子|"
        r"啥样的|认定|评上|能享受|能领|有没有份|够格|资格"
    ),
    WHEN: re.compile(r"什么时候|啥时候|哪年|哪天|几月|几号|何时|什么时间|啥时间"),
}

_HOLDS: dict[str, re.Pattern[str]] = {
    FREQUENCY: re.compile(
        r"每(?:年|月|周|日|天|学期|季度|半年)|一(?:年|月|周)\s*[0-9一二两三四五六]\s*次|一月一访|一年两排|"
        r"[0-9一二两三四五六七八九十]+\s*次"
    ),
    NUMBER: re.compile(
        r"\d|[一二两三四五六七八九十百千]+(?:次|天|周|个|名|小时|分钟|岁|月|年|项|元|所|人|成)|百分之|以上|以下|不少于|不低于"
    ),
    WHO: re.compile(
        r"儿童主任|儿童督导员|民政|学校|老师|教师|班主任|村(?:（居）)?(?:民)?委员?会|村委会|公安|派出所|卫生院|医生|"
        r"妇联|团委|残联|法院|检察院|社工|志愿者|部门|局|机构|导师|医院|中心|负责"
    ),
    WHERE: re.compile(r"卫生院|医院|学校|中心|站|室|之家|门诊|机构|窗口|村委会|社区|平台|热线|\d{5}|家中|上门|入户"),
    FREE: re.compile(r"免费|不收费|减免|补助|补贴|资助|救助|全额|报销|自费|费用|生活费|经费"),
    ELIGIBILITY: re.compile(
        r"符合.{0,8}条件|纳入|列入|对象|认定|申请|孤儿|残疾|低保|特困|事实无人抚养|困境儿童|可以|可|适龄|范围"
    ),
    WHEN: re.compile(r"20\d\d\s*年|\d{1,2}\s*月|入学|学期|寒暑假|之前|以前|以内|每年|每学期|出生|岁"),
}


def asked_types(question: str) -> set[str]:
    """The kinds of answer `question` asks for (empty: a general question)."""
    found = {name for name, pattern in _ASKS.items() if pattern.search(question)}
    if FREQUENCY in found:
        found.discard(NUMBER)  # 「多久来一次」 asks how often, not for any number
    return found


def is_cue(word: str) -> bool:
    """Whether a word of the question only says what kind of answer is asked for (多久, 一次, 找谁, 免费 …)."""
    return any(pattern.search(word) for pattern in _ASKS.values()) or bool(_CUE_WORD_RE.fullmatch(word))


_CUE_WORD_RE = re.compile(r"[一两二三几每]?[次回趟遍]|一次|一回|一趟|几次|多少|怎么|怎样|什么|如何|可以|能否|需要")


def holds(kind: str, text: str) -> bool:
    """Whether `text` states an answer of this kind."""
    return bool(_HOLDS[kind].search(text))
