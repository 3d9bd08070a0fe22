"""The per-person profile: region (county/city), relationship to the child and the children's ages.

Learned from what the person says (「我们启东这边」「我是小军的外婆」「孙子8岁」「孙女上三年级」) and stored on the
person's `contacts` row, which counsellors also edit on the case page. `set_by` remembers who set each field:
what a counsellor set is kept unless the person corrects it (「我不是启东的，是曲江的」「我们搬到兰溪了」
「我是他妈妈不是奶奶」). Retrieval prefers the region's policy document (bot.retrieval.search), a local rule from
elsewhere is framed as such (bot.answer.local), and 「您是哪个县市的？」 is asked once per person.

Reading a message is a handful of precompiled patterns (no model, no index); the database is written only
when a message tells something new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.conversation.contact import ensure_contact
from bot.prompts import prompt_yaml
from bot.retrieval.places import Places, places_named
from bot.storage.db import session_scope
from bot.storage.models import Contact, utcnow
from bot.text import small_number

FIELDS = ("relationship", "child_age", "region")
FAMILY, COUNSELLOR = "family", "counsellor"
AGE_CHARS = 16  # contacts.child_age

_NUM = r"(?:[一二两三四五六七八九十]{1,3}|\d{1,2})"
_CHILD = (r"(?:小孙子|小孙女|大孙子|大孙女|外孙女|外孙|孙子|孙女|孙儿|孙娃|孙孙|孩子|小孩|娃儿|娃娃|娃|伢子|伢|崽|"
          r"宝宝|宝贝|丫头|闺女|儿子|女儿|老大|老二|老三|大娃|二娃|小娃)")
_OTHER_CHILD = r"(?:一个|另一个|另外一个|大的|小的|老大|老二|老三|大娃|二娃|小娃|哥哥|姐姐|弟弟|妹妹|男孩|女孩)"
_ADVERBS = r"(?:今年|现在|已经|都|才|刚|刚刚|快|满|是|也|就)*"
# An age that is not the child's now: 「3岁以前」「8岁的时候」「6岁开始」.
_NOT_NOW = r"(?!以上|以下|以内|以前|以后|之前|之后|前|后|时|的时候|左右的|开始|起|到|至|-|~|—)"
_AGE_A = re.compile(rf"{_CHILD}{_ADVERBS}({_NUM})(?:周)?岁(半)?{_NOT_NOW}")
_AGE_MONTHS = re.compile(rf"{_CHILD}{_ADVERBS}({_NUM})个(?:多)?月(?!以上|以下|以内|前|后|时|的时候|开始|起|大的)")
_AGE_B = re.compile(rf"(?:我家|俺家|咱家|家里|家中|我们家)(?:有)?(?:个|一个)?({_NUM})岁(半)?(?:大)?的?{_CHILD}")
_AGE_OTHERS = re.compile(rf"{_OTHER_CHILD}(?:今年|是)?({_NUM})岁(半)?(?!的|大的|左右|以上|以下|以内|以前|前|时|的时候)")
_SEVERAL = re.compile(r"两个|俩|三个|几个|老大|老二|大的|小的|一个\d+岁一个|一个[一二三四五六七八九十]+岁一个")
_GRADE = r"(?:[一二三四五六123456]年级|[七八九789]年级|初[一二三]|高[一二三]|[小中大]班|幼儿园|托班|小学|初中|高中)"
_AGE_GRADE = re.compile(rf"{_CHILD}{_ADVERBS}(?:在)?(?:上|读|念)?({_GRADE})(?!老师|班主任|的时候)")
_GRADE_AGES = {
    **{f"{n}年级": (n + 5, n + 6) for n in range(1, 7)}, **{f"{c}年级": (n + 5, n + 6) for n, c in enumerate("一二三四五六", 1)},
    **{f"{c}年级": (n + 11, n + 12) for n, c in enumerate("七八九", 1)},
    **{f"{n}年级": (n + 5, n + 6) for n in range(7, 10)},
    **{f"初{c}": (n + 11, n + 12) for n, c in enumerate("一二三", 1)},
    **{f"高{c}": (n + 14, n + 15) for n, c in enumerate("一二三", 1)},
    "小班": (3, 4), "中班": (4, 5), "大班": (5, 6), "幼儿园": (3, 6), "托班": (2, 3), "小学": (6, 12),
    "初中": (12, 15), "高中": (15, 18),
}

_RELATION = (r"(?:儿童主任|班主任|监护人|奶奶|爷爷|外婆|外公|姥姥|姥爷|阿婆|阿公|婆婆|嘎婆|嘎公|妈妈|爸爸|母亲|父亲|"
             r"姑姑|姑妈|小姨|姨妈|舅舅|舅妈|叔叔|婶婶|伯伯|伯母|家长|老师|社工|妈|爸|娘)")
_WHOSE = (r"(?:(?:他|她|孩子|娃|娃儿|娃娃|孙子|孙女|外孙|外孙女|这个孩子|这孩子)(?:的)?|[\u4e00-\u9fff]{1,4}?的|"
          r"(?:小|阿|大)[\u4e00-\u9fff]|([\u4e00-\u9fff])\1)")
_I_AM = re.compile(rf"(?:我|俺)(?:就|只|也)?(?:是|系)(?:{_WHOSE})?(?P<rel>{_RELATION})(?![带养管照顾让叫说讲给])")
_I_AM_THE = re.compile(rf"(?:我|俺)(?:这个|这)?(?:当|做)(?P<rel>{_RELATION})的")
_CHILD_SELF = re.compile(r"(?:我|俺)(?:就)?是(?:一[个名])?(?:小学生|初中生|中学生|高中生|学生|留守儿童|孩子本人|孩子自己)")
_CHILD_OWN_AGE = re.compile(rf"(?:^|[，,。！!\s])?我(?:今年|现在|才|已经|都)*({_NUM})(?:周)?岁(?!的)")
_CHILD_OWN_GRADE = re.compile(rf"我(?:现在|今年)?(?:在)?(?:上|读|念)({_GRADE})")
_CANONICAL = {"妈": "妈妈", "娘": "妈妈", "母亲": "妈妈", "爸": "爸爸", "父亲": "爸爸"}
ROLES = frozenset({"儿童主任", "班主任", "老师", "社工", "监护人", "家长", "孩子本人"})

# A place is the person's own when the words before it say so (「我们启东这边」「我家在」「孙子在」), when they moved
# there (「搬到兰溪了」), or when 「这边」 follows it; never where someone only works (「在启东打工」).
_MINE_BEFORE = re.compile(
    r"(?:我们|俺们|咱们|我家|俺家|咱家|我|俺|咱|家里|老家|家|孩子|娃|孙子|孙女|外孙|外孙女)"
    r"(?:现在|也|都|就|一直|这边|这里|那边)?(?:是|在|住在|住|待在|呆在|属于)?$"
)
_MOVED_BEFORE = re.compile(r"(?:搬到|搬去|搬来|搬回|迁到|回到|回了|住到|转到|换到|去了)了?$")
_HERE_IS_BEFORE = re.compile(r"(?:这边|这里|这儿)(?:是|就是|属于)$")
_IS_BEFORE = re.compile(r"(?:^|[，,。\s])(?:是|就是|在)$")
_HERE_AFTER = re.compile(r"^(?:这边|这里|这儿|那边|本地|人[，,。！!\s]|人$)")
_WORKS_AFTER = re.compile(r"^(?:打工|上班|务工|工作|做工|干活|做事|出差|开店)")
_FIRST_PERSON = re.compile(r"我|俺|咱")
_CHANGE = re.compile(r"搬到|搬去|搬来|搬回|搬家|迁到|改成|改为|说错|写错|弄错|搞错|其实是|改一下")
# 「不是启东的」「不是奶奶」: what the person says they are not (dropped before reading, and a sign of a correction).
_NEGATED = re.compile(r"(?<![是要])不是[^，,。；;！!？?\s]{1,10}?(?:(?=而是|是|$)|[，,；;\s]+(?=而是|是|我是)|(?=[，,。；;！!？?\s]))")
_QUESTION = re.compile(
    r"[？?]|吗|么|怎|咋|什么|啥|多少|几|哪|谁|能不能|可不可以|要不要|有没有|是不是|该不该|会不会|行不行|如何|为何|请问|"
    r"想问|问一下|问问|帮我|帮帮|告诉我|咨询"
)
_PROVINCE = (r"(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|"
             r"甘肃|青海|内蒙古|广西|西藏|宁夏|新疆)(?:省|自治区)?")
_PROVINCE_END = re.compile(rf"{_PROVINCE}$")
_FILLER = re.compile(
    r"在外面打工|在外地打工|外出打工|在外面|在外地|打工|上班|老师好|你好|您好|哈喽|在吗|不好意思|说错|改一下|其实|刚才|"
    rf"{_PROVINCE}|"
    r"孩子|小孩|娃儿|娃娃|娃|孙子|孙女|外孙女|外孙|老师|我们|俺们|咱们|这边|这里|那边|家里|现在|今年|已经|那个|这个|"
    r"两个|三个|一个|另一个|过来|之前|以前|本来|不在|不住|"
    r"[\s，,。.！!~～、；;：:…]|[嗨喂我俺咱们是的了啊呀哈嗯呢哦噢就在住家也都嘛吧有俩还和跟对搬而个]"
)
STATEMENT_REST = 1  # characters left after the facts and filler words: more means the message asks or tells more


@dataclass(frozen=True)
class Said:
    """What one message tells about the person (None: not said)."""

    region: str | None = None
    relationship: str | None = None
    child_age: str | None = None
    correction: bool = False  # 「不是…是…」「搬到…」: the person changes what was known
    statement_only: bool = False  # the message tells this and asks nothing (「你好，我是小军的奶奶」)

    @property
    def anything(self) -> bool:
        return any(getattr(self, name) for name in FIELDS)


@dataclass(frozen=True)
class Profile:
    """The stored profile of a person, as the pipeline uses it."""

    relationship: str = ""
    child_age: str = ""
    region: str = ""
    set_by: dict[str, str] = field(default_factory=dict)
    region_asked: bool = False

    @property
    def ages(self) -> tuple[tuple[int, int], ...]:
        return age_ranges(self.child_age)


def age_ranges(child_age: str) -> tuple[tuple[int, int], ...]:
    """Ages in years from a stored child_age (「8岁」「约8–9岁、5岁」「8个月」, or what a counsellor typed:
    「八岁」「三年级」), each as (youngest, oldest)."""
    found: list[tuple[int, int]] = []
    for m in re.finditer(rf"({_NUM})\s*(?:[–\-~～到至]\s*({_NUM}))?\s*(岁|个月)|({_GRADE})", child_age):
        if m[4]:
            found.append(_GRADE_AGES[m[4]])
        elif m[3] == "个月":
            found.append((0, 0))
        else:
            low = small_number(m[1])
            found.append((low, small_number(m[2]) if m[2] else low))
    return tuple(pair for pair in found if 0 <= pair[0] <= pair[1] < 19)


def _grade_text(grade: str) -> str:
    low, high = _GRADE_AGES[grade]
    return f"约{low}–{high}岁"


_SOMEONE_ELSES = re.compile(r"(?:邻居|别人|人家|隔壁|对门|同学|朋友|亲戚|同事|他家|她家|村里|班上|有个|有一个)(?:家)?(?:的)?$")


def _ages(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The children's ages the text states, in order, and the spans that said them (not someone else's child:
    「邻居家孩子8岁」)."""
    found: list[tuple[int, str]] = []
    spans: list[tuple[int, int]] = []
    patterns = [_AGE_A, _AGE_B] + ([_AGE_OTHERS] if _SEVERAL.search(text) else [])
    for pattern in patterns:
        for m in pattern.finditer(text):
            age = small_number(m[1])
            if _SOMEONE_ELSES.search(text[max(0, m.start() - 6):m.start()]):
                continue
            if age < 19:
                found.append((m.start(1), f"{age}岁{'半' if m[2] else ''}"))
                spans.append(m.span())
    for m in _AGE_MONTHS.finditer(text):
        if 0 < small_number(m[1]) < 36 and not _SOMEONE_ELSES.search(text[max(0, m.start() - 6):m.start()]):
            found.append((m.start(1), f"{small_number(m[1])}个月"))
            spans.append(m.span())
    for m in _AGE_GRADE.finditer(text):
        if _SOMEONE_ELSES.search(text[max(0, m.start() - 6):m.start()]):
            continue
        found.append((m.start(1), _grade_text(m[1])))
        spans.append(m.span())
    ages = list(dict.fromkeys(text for _, text in sorted(found)))
    return ages, spans


def _join_ages(ages: list[str]) -> str:
    kept: list[str] = []
    for age in ages:
        if len("、".join([*kept, age])) > AGE_CHARS:
            break
        kept.append(age)
    return "、".join(kept)


def _relationship(text: str) -> tuple[str | None, list[tuple[int, int]], str | None]:
    """(relationship, spans, the child's own age or grade if a child introduces themselves)."""
    for pattern in (_I_AM, _I_AM_THE):
        m = pattern.search(text)
        if m:
            word = m["rel"]
            return _CANONICAL.get(word, word), [m.span()], None
    m = _CHILD_SELF.search(text)
    if m:
        return "孩子本人", [m.span()], None
    m = _CHILD_OWN_AGE.search(text)
    if m and small_number(m[1]) < 18:
        return "孩子本人", [m.span()], f"{small_number(m[1])}岁"
    m = _CHILD_OWN_GRADE.search(text)
    if m:
        return "孩子本人", [m.span()], _grade_text(m[1])
    return None, [], None


def _mentions(text: str, places: Places) -> list[tuple[int, int, str, bool]]:
    """Places named in the text: (start, end, name as it is stored, whether it is a known name: a document's
    place or a county jieba's dictionary knows)."""
    found: list[tuple[int, int, str, bool]] = []
    for m in re.finditer(rf"(?:{places.alias_pattern})(?:市|县|区)?", text):
        found.append((m.start(), m.end(), m[0], True))
    known = set(places_named(text, known_only=True))
    for name in places_named(text):
        for m in re.finditer(re.escape(name), text):
            if not any(s < m.end() and m.start() < e for s, e, _, _ in found):
                found.append((m.start(), m.end(), name, name in known))
    return sorted(found)


def _region(text: str, places: Places, awaiting: bool) -> tuple[str | None, list[tuple[int, int]], bool]:
    """(the person's own place, its spans, whether they moved there)."""
    first_person = bool(_FIRST_PERSON.search(text))
    mentions = _mentions(text, places)
    for start, end, name, known in mentions:
        before, after = text[max(0, start - 12):start], text[end:]
        before = _PROVINCE_END.sub("", before)  # 「我们是湖南安化县的」
        if _WORKS_AFTER.match(after):
            continue
        here = _HERE_AFTER.match(after)
        span = (start, end + (here.end() if here else 0))
        moved = _MOVED_BEFORE.search(before)
        if moved:
            return name, [(start - (len(before) - moved.start()), span[1])], True
        mine = _MINE_BEFORE.search(before) or _HERE_IS_BEFORE.search(before)
        if mine or (here and known) or (first_person and _IS_BEFORE.search(before)):
            reach = mine.start() if mine else len(before)
            return name, [(start - (len(before) - reach), span[1])], False
    compact = re.sub(r"[\s，,。.！!~～]", "", text)
    if awaiting and len(mentions) == 1 and len(compact) <= 12 and not _QUESTION.search(text):
        start, end, name, _ = mentions[0]
        return name, [(start, end)], False  # the answer to 「您是哪个县市的？」
    return None, [], False


def read_profile(text: str, places: Places, awaiting_region: bool = False) -> Said:
    """What the (normalised) message says about the person. `awaiting_region`: the bot asked 「您是哪个县市的？」
    and has no region yet, so a bare place name (「启东」「湖南安化县」) answers it."""
    negated = list(_NEGATED.finditer(text))
    plain = _NEGATED.sub("", text)
    relationship, spans, own_age = _relationship(plain)
    ages, age_spans = _ages(plain)
    if own_age and not ages:
        ages = [own_age]
    region, region_spans, moved = _region(plain, places, awaiting_region)
    said_anything = bool(relationship or ages or region)
    rest = plain
    named = [(start, end) for start, end, _, _ in _mentions(plain, places)] if region else []
    for start, end in sorted([*spans, *age_spans, *region_spans, *named], reverse=True):
        rest = rest[:start] + " " * (end - start) + rest[end:]
    rest = _FILLER.sub("", rest)
    return Said(
        region=region, relationship=relationship, child_age=_join_ages(ages) or None,
        correction=bool(negated or moved or _CHANGE.search(text)),
        statement_only=said_anything and len(rest) <= STATEMENT_REST and not _QUESTION.search(text),
    )


# Questions whose answer depends on the child's age (food by age, vision and health checks, vaccines, growth,
# teeth, sleep, speech), and words that already say the age or stage.
_AGE_DEPENDENT = re.compile(r"吃|喝|饭|餐|奶|营养|零食|辅食|视力|眼睛|近视|体检|疫苗|打针|身高|体重|长个|矮|胖|瘦|牙|睡|说话|走路")
_STAGE_SAID = re.compile(r"岁|月龄|个月|年级|幼儿园|小学|初中|高中|中学|婴儿|宝宝|上学|青春期|新生儿")


def age_hint(ages: tuple[tuple[int, int], ...], question: str) -> str:
    """Words added to the search query (a soft boost for the articles of the child's age, 「8岁 上学」) when the
    question depends on age: the age the question states about the person's child (「孙女上三年级，一天喝多少奶」),
    else the profile's; none when the question says the age its own way (「3岁的孩子…」) or the children's ages
    fall in different stages."""
    age = child_age(ages, question)
    if age is None:
        return ""
    return {"baby": "婴儿", "small": f"{age}岁", "school": f"{age}岁 上学"}[_stage(age)]


def child_age(ages: tuple[tuple[int, int], ...], question: str) -> int | None:
    """The one age (lowest of its range) that an age-dependent question is about: stated in the question about
    the person's child, else the profile's; None when unknown, not age-dependent or the stages differ."""
    if not _AGE_DEPENDENT.search(question):
        return None
    stated, _ = _ages(question)
    if stated:
        ages = age_ranges("、".join(stated))
    elif _STAGE_SAID.search(question):
        return None
    if not ages or len({_stage(low) for low, _ in ages}) != 1:
        return None
    return ages[0][0]


def _stage(age: int) -> str:
    return "baby" if age < 1 else "small" if age < 6 else "school"


# --- storage -------------------------------------------------------------------------------------------------

def profile_from(contact: Contact | None) -> Profile:
    if contact is None:
        return Profile()
    return Profile(relationship=contact.relationship or "", child_age=contact.child_age or "",
                   region=contact.region or "", set_by=dict(contact.set_by or {}),
                   region_asked=contact.region_asked_at is not None)


def profile_of(session: Session, user_id: int) -> Profile:
    return profile_from(session.get(Contact, user_id))


@dataclass(frozen=True)
class Remembered:
    profile: Profile
    changed: tuple[str, ...] = ()  # the fields this message set or changed
    kept: tuple[str, ...] = ()  # fields the person named but a counsellor's entry was kept


def remember(settings: Settings, user_id: int, said: Said) -> Remembered:
    """Stores what the person said on their contacts row. A field a counsellor set is changed only when the
    person corrects it; the same value said again changes nothing."""
    if not said.anything:
        with session_scope(settings) as session:
            return Remembered(profile_of(session, user_id))
    ensure_contact(settings, user_id)
    changed: list[str] = []
    kept: list[str] = []
    with session_scope(settings) as session:
        contact = session.get(Contact, user_id, with_for_update=True)
        set_by = dict(contact.set_by or {})
        for name in FIELDS:
            value = getattr(said, name)
            if not value:
                continue
            if value == getattr(contact, name):
                continue
            if set_by.get(name) == COUNSELLOR and getattr(contact, name) and not said.correction:
                kept.append(name)
                continue
            setattr(contact, name, value)
            set_by[name] = FAMILY
            changed.append(name)
        if changed:
            contact.set_by, contact.updated_at = set_by, utcnow()
        return Remembered(profile_from(contact), tuple(changed), tuple(kept))


def mark_counsellor_fields(contact: Contact, names: list[str]) -> None:
    """A counsellor set these fields on the case page: the bot keeps them (an emptied field is nobody's)."""
    set_by = dict(contact.set_by or {})
    for name in names:
        if name in FIELDS:
            if getattr(contact, name):
                set_by[name] = COUNSELLOR
            else:
                set_by.pop(name, None)
    contact.set_by = set_by


def claim_region_question(settings: Settings, user_id: int) -> bool:
    """True exactly once per person with no region: the answer then ends with 「您是哪个县市的？」."""
    ensure_contact(settings, user_id)
    with session_scope(settings) as session:
        return session.execute(update(Contact).where(Contact.user_id == user_id, Contact.region_asked_at.is_(None),
                                                     Contact.region == "")
                               .values(region_asked_at=utcnow())).rowcount == 1


# --- what the bot says about it ---------------------------------------------------------------------------------

def texts() -> dict:
    return prompt_yaml("profile.yaml")


def facts_line(profile: Profile, names: tuple[str, ...]) -> str:
    """「您是孩子的奶奶，在启东，孩子8岁」 for the fields named, from prompts/profile.yaml."""
    words = texts()["facts"]
    parts: list[str] = []
    for name in ("relationship", "region", "child_age"):
        if name not in names or not getattr(profile, name):
            continue
        value = getattr(profile, name)
        if name == "relationship":
            key = "child_self" if value == "孩子本人" else "role" if value in ROLES else "relationship"
        else:
            key = name
        parts.append(words[key].format(value=value))
    return "，".join(parts)
