"""Fixed-reply intents (greeting, self-introduction, thanks, menu, ask for a person, out of scope) before retrieval.

An out-of-scope reply names the public line that fits (bot.referrals). A self-introduction (「你好，我是小军的
奶奶」), or any message that only tells who the person is, where they live or how old the children are, is
greeted and says back what was remembered on the profile (bot.conversation.profile); a correction
(「我们搬到兰溪了」) is confirmed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.conversation.profile import Remembered, Said, facts_line
from bot.prompts import prompt_text, prompt_yaml
from bot.referrals import referral_line, with_referral

# A message about a child, a guardian or any topic we cover is never "out of scope", even if it mentions
# the weather (「天热了怎么防中暑」) or shopping (「买什么牙膏给娃」).
_IN_SCOPE_RE = re.compile(
    r"孩子|娃|孙|崽|伢|儿子|女儿|闺女|宝宝|小孩|学生|儿童|少年|留守|学校|老师|爷爷|奶奶|外公|外婆|老人|"
    r"吃|喝|眼|牙|病|药|疫苗|体检|身高|体重|发烧|心理|心情|哭|安全|溺水|中暑|农药|欺负|政策|补助|救助|低保|监护|照护"
)


# 「孩子他爸」, 「娃她妈」, 「孙子他爹」 name an adult: their wages or lawsuit are not a question about a child.
_ADULT_KIN_RE = re.compile(r"(?:孩子|娃儿|娃|孙子|孙女|外孙女|外孙|伢子|伢|崽)(?:他|她|的)?(?:爸爸|妈妈|爸|妈|爹|娘|老汉|老爸|老妈)")


def _in_scope(text: str) -> bool:
    return bool(_IN_SCOPE_RE.search(_ADULT_KIN_RE.sub("", text)))


@dataclass(frozen=True)
class Intent:
    name: str
    reply: str


@lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[str, str, tuple[re.Pattern[str], ...]], ...]:
    table = prompt_yaml("intents.yaml")
    return tuple(
        (name, spec["reply"], tuple(re.compile(p, re.I) for p in spec.get("patterns", ())))
        for name, spec in table.items()
    )


def detect_intent(text: str, said: Said | None = None, remembered: Remembered | None = None) -> Intent | None:
    """The first fixed-reply intent that matches the normalised message, or None. `said`: what the message
    tells about the person; `remembered`: what of it was stored on their profile."""
    stripped = text.strip()
    if not stripped:
        return Intent("empty", prompt_text("replies/menu.txt"))
    for name, reply, patterns in _compiled():
        if not any(p.search(stripped) for p in patterns):
            continue
        if name == "out_of_scope" and _in_scope(stripped):
            continue
        if name == "out_of_scope":
            return _out_of_scope(stripped)
        if name == "introduction":
            return _introduction(said, remembered)
        return Intent(name, prompt_text(f"replies/{reply}"))
    if said is not None and said.statement_only:
        return _introduction(said, remembered)
    # Wages, lawsuits, papers: another public line answers these; a child or a covered topic still goes to search.
    if referral_line(stripped) and not _in_scope(stripped):
        return _out_of_scope(stripped)
    return None


def _out_of_scope(text: str) -> Intent:
    return Intent("out_of_scope", with_referral(prompt_text("replies/out_of_scope.txt"), text))


def _introduction(said: Said | None, remembered: Remembered | None) -> Intent:
    """The greeting, with what was remembered said back; a correction is confirmed instead."""
    greeting = prompt_text("replies/introduction.txt")
    facts = facts_line(remembered.profile, remembered.changed) if remembered and remembered.changed else ""
    if not facts:
        return Intent("introduction", greeting)
    texts = prompt_yaml("profile.yaml")
    if said is not None and said.correction:
        return Intent("introduction", f"{texts['changed'].format(facts=facts)}\n{texts['changed_more']}")
    return Intent("introduction", f"{greeting}\n{texts['remembered'].format(facts=facts)}")
