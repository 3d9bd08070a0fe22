"""Whose life is at risk in a message about suicide or despair: the writer, another adult, or a child.

A neighbour who reports that an old woman wants to drink pesticide, or a parent far away whose mother says
she is done with living, needs different words from the person in crisis (「您很重要」) and from a carer
whose child is at risk (「孩子有危险」). The speaker alone does not tell: a bystander can write about a
child or about an adult.

The subject of the first risk phrase is the last person named before it in the same sentence (within a short
window): an adult kin or neighbour word, a child word, or 我. Objects do not count (带孙子, 跟我说), and a 我
after 说 is quoted speech, the words of whoever spoke before it. Deterministic regular expressions, no model.
"""

from __future__ import annotations

import re
from typing import Literal

Subject = Literal["writer", "adult", "child", "unknown"]

# The categories where a person's own life is at risk from themselves: the only ones whose subject matters.
AT_RISK_OWN_LIFE = frozenset({"suicide", "self_harm", "guardian_crisis"})

_ADULT = (r"(?:(?:我|他|她|你|孩子|娃|孙子|孙女)?的?"
          r"(?:奶奶|爷爷|外婆|外公|姥姥|姥爷|老人家|老人|老太太|老爷子|老奶奶|老爷爷|大爷|大娘|大妈|婆婆|公公|"
          r"阿婆|阿公|阿嬷|老伴|老头子|老头|老太婆|妈妈|爸爸|母亲|父亲|老妈|老爸|媳妇|老婆|老公|丈夫|妻子|"
          r"儿媳|女婿|嫂子|伯伯|叔叔|阿姨|婶婶|舅舅|舅妈|姑姑|姨妈|邻居|村民|家长)|"
          r"(?:我|他|她|孩子|娃)(?:他|她)?(?:妈|爸|娘|爹))")
# A child as the one who acts; after 带/看/管/养/陪/打/骂/照顾 it is the object.
_CHILD = (r"(?<![带看管养陪打骂顾])(?:孩子|娃娃|娃儿|娃|孙子|孙女|外孙女|外孙|小孩|学生|闺女|伢子|伢|崽|"
          r"妹妹|弟弟)(?![他她]?(?:妈|爸|娘|爹))")
# A son or daughter: a child to a parent, an adult (the child's parent) to a grandparent.
_OFFSPRING = r"(?:儿子|女儿)"
# 我 as the one who acts: not after 跟/对/和/给/告诉/问/叫/让/找/同/向 (then it is the object).
_ME = r"(?<![跟对和给诉问叫让找同向])我"
_TOKEN = re.compile(rf"(?P<adult>{_ADULT})|(?P<child>{_CHILD})|(?P<offspring>{_OFFSPRING})|(?P<me>{_ME})")
# 「孩子说：奶奶，我不想活了」, 「他说我不想活了」: the 我 is whoever spoke before 说.
_QUOTE = re.compile(r"说(?:[：:“\"「]|$)")

_RISK = re.compile(r"不想活|活够了|活不下去|活着没意思|不活了|想死|寻死|去死|轻生|自杀|寻短见|想不开|一了百了|"
                   r"喝(?:了)?农药|喝(?:了)?药|上吊|跳河|跳楼|跳井|跳崖|割腕|结束(?:自己|生命)|死了算了|死了干净|"
                   r"撑不下去|熬不下去|不想拖累")
_WINDOW = 24
_SENTENCE_END = re.compile(r"[。！？!?\n]")


def risk_subject(text: str, speaker: str = "unknown") -> Subject:
    """Who is at risk in `text` (normalised): the subject of its first risk phrase. `speaker` decides
    whether 儿子/女儿 is a child (a parent writing) or nobody known (a grandparent's son is an adult)."""
    risk = _RISK.search(text)
    if risk is None:
        return "unknown"
    start = max(0, risk.start() - _WINDOW)
    window = text[start:risk.start()]
    ends = list(_SENTENCE_END.finditer(window))
    if ends:
        window = window[ends[-1].end():]
    subject: Subject = "unknown"
    before_quote: Subject = "unknown"  # the subject when the last 说 began a quote
    for token in _TOKEN.finditer(window):
        kind = token.lastgroup
        if kind == "me" and _QUOTE.search(window[:token.start()]):
            subject = before_quote
            continue
        if kind == "me":
            subject = "writer"
        elif kind == "adult":
            subject = "adult"
        elif kind == "offspring":
            subject = "child" if speaker in ("parent", "bystander") else "unknown"
        else:
            subject = "child"
        if not _QUOTE.search(window[:token.start()]):
            before_quote = subject
    return subject


# The writer says they hit the child themselves, or asks whether hitting works (「我打过他几回也没用」,
# 「打一顿管用不」): a question about discipline, answered with what to do instead, not as a report of
# someone else's violence (「还有人打孩子，请打110」). Someone else hitting (「他爸打他，我拦不住」) does not match.
_WRITER_HITS = re.compile(
    r"(?:我|俺|阮|偶)(?:也|就|都|还|又|真|实在)?(?:忍不住|气得|气不过|一气之下|没忍住)?(?:动手)?"
    r"(?:打|揍|抽|扇|收拾)(?:了|过)?(?:他|她|娃|孩子|孙子|孙女|外孙|崽|伢)?"
    r"(?:几回|几次|一顿|几顿|两下|几下|一下|一巴掌|两巴掌|屁股)|"
    r"(?:打|揍)(?:了|过)?(?:一顿|几顿|几回|几次|几下)?(?:也|都)(?:不管用|没用|不听|不改)|"
    r"(?:打|揍)(?:一顿|几下|两下|一下)(?:管用|有用|行不行|可以不|要得不|中不中)"
)


def writer_hits(text: str) -> bool:
    """Whether the normalised text says the writer hit the child, or asks if hitting would help."""
    return bool(_WRITER_HITS.search(text))
