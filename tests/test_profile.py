"""The per-person profile: what a message says about the person (region, relationship, the children's ages),
places with and without a policy document, and how it is stored (a counsellor's entry is kept unless the
person corrects it; 「您是哪个县市的？」 is claimed once)."""

from __future__ import annotations

import pytest

from bot.config import PROJECT_ROOT, Settings
from bot.conversation.profile import (COUNSELLOR, FAMILY, Said, age_ranges, claim_region_question, facts_line,
                                      mark_counsellor_fields, read_profile, remember)
from bot.retrieval.places import Places, places_named
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import ChannelUser, Contact, utcnow

PLACES = Places.from_dir(PROJECT_ROOT / "knowledge" / "policy")


def said(text: str, awaiting: bool = False) -> Said:
    return read_profile(text, PLACES, awaiting)


@pytest.mark.parametrize(("text", "relationship"), [
    ("你好，我是小军的奶奶", "奶奶"),
    ("我是奶奶", "奶奶"),
    ("我是小军的外婆", "外婆"),
    ("我是他外公", "外公"),
    ("我是孩子妈", "妈妈"),
    ("我是村里的儿童主任", "儿童主任"),
    ("我是老师", "老师"),
    ("我这个当奶奶的也不懂这些", "奶奶"),
    ("我是学生", "孩子本人"),
    ("我上三年级", "孩子本人"),
    ("我今年10岁", "孩子本人"),
])
def test_relationship_is_read_from_a_self_introduction(text: str, relationship: str) -> None:
    assert said(text).relationship == relationship


@pytest.mark.parametrize("text", ["我是奶奶带大的", "我是觉得奶奶太惯孩子", "孩子奶奶说要打疫苗", "我今年65岁",
                                  "奶奶可以领补贴吗"])
def test_no_relationship_where_the_person_does_not_say_who_they_are(text: str) -> None:
    assert said(text).relationship is None


@pytest.mark.parametrize(("text", "ages"), [
    ("孙子8岁", "8岁"),
    ("孩子今年8岁了，老是咳嗽", "8岁"),
    ("孙女上三年级", "约8–9岁"),
    ("两个娃一个5岁一个10岁", "5岁、10岁"),
    ("孙子8岁孙女5岁", "8岁、5岁"),
    ("我家8岁的孙子挑食", "8岁"),
    ("宝宝8个月了", "8个月"),
    ("我是爷爷，孙子上初二了", "约13–14岁"),
    ("孙子三岁半", "3岁半"),
])
def test_childrens_ages_are_read(text: str, ages: str) -> None:
    assert said(text).child_age == ages


@pytest.mark.parametrize("text", ["8岁孩子一天吃多少肉", "孩子3岁以前要注意什么", "邻居家孩子8岁天天没人管",
                                  "村里有个娃上三年级就不读了", "孩子几岁能打疫苗", "一个8岁的孩子该吃多少",
                                  "孩子6岁开始换牙吗", "3到6岁的孩子看电视多久"])
def test_ages_in_a_general_question_are_not_the_persons_children(text: str) -> None:
    assert said(text).child_age is None


@pytest.mark.parametrize(("text", "region"), [
    ("我们启东这边儿童主任多久来一趟", "启东"),
    ("我们是岳阳的", "岳阳"),
    ("我们这边是浮梁", "浮梁"),
    ("我家在启东市", "启东市"),
    ("启东这边的儿童主任多久来", "启东"),
    ("您好 我是孩子外婆 我们住在安化县", "安化县"),
    ("我们安化县这边有没有营养餐补助", "安化县"),
    ("我在启东打工，孩子在老家安化县", "安化县"),
    ("孙子在浏阳市上学", "浏阳市"),
])
def test_the_persons_own_place_is_read(text: str, region: str) -> None:
    assert said(text).region == region


@pytest.mark.parametrize("text", ["曲江的hpv疫苗要不要钱", "景德镇的学校一学期查几次视力", "我在启东打工", "孩子在县里读书",
                                  "去市妇幼保健院要挂什么号", "每个县都有儿童主任吗", "启东", "偏远山区这边的孩子上学远",
                                  "大城市的孩子近视多吗", "自然保护区能带孩子去玩吗"])
def test_a_place_in_a_question_is_not_where_the_person_lives(text: str) -> None:
    assert said(text).region is None


@pytest.mark.parametrize("text", ["启东", "湖南安化县", "启东的"])
def test_a_bare_place_answers_the_region_question(text: str) -> None:
    assert said(text, awaiting=True).region in ("启东", "安化县")
    assert said(text, awaiting=True).statement_only


@pytest.mark.parametrize(("text", "field", "value"), [
    ("我们搬到兰溪了", "region", "兰溪"),
    ("我不是启东的，是曲江的", "region", "曲江"),
    ("我们不在启东了，搬到金华了", "region", "金华"),
    ("我是他妈妈不是奶奶", "relationship", "妈妈"),
    ("我不是奶奶，我是外婆", "relationship", "外婆"),
    ("孙子不是8岁，是9岁", "child_age", "9岁"),
])
def test_corrections_say_the_new_value(text: str, field: str, value: str) -> None:
    result = said(text)
    assert getattr(result, field) == value and result.correction and result.statement_only


@pytest.mark.parametrize(("text", "only"), [
    ("你好，我是小军的奶奶", True),
    ("你好，我是小军的奶奶，我们是启东的，孙子8岁", True),
    ("老师你好，我是孩子的爸爸，在外面打工", True),
    ("我是奶奶，孙子老是咳嗽怎么办", False),
    ("我家8岁的孙子挑食", False),
    ("我们启东这边儿童主任多久来一趟", False),
])
def test_a_message_that_only_introduces_the_person(text: str, only: bool) -> None:
    assert said(text).statement_only is only


@pytest.mark.parametrize(("text", "names"), [
    ("孩子在安化县上学", ["安化县"]), ("我们住在长沙市开福区", ["长沙市", "开福区"]), ("湖南省安化县", ["安化县"]),
    ("沛县的", ["沛县"]), ("孩子奶奶安化县的", ["安化县"]), ("去菜市场", []), ("我在超市上班", []), ("娃在县里读书", []),
    ("全市", []), ("我们区", []), ("每个县都有", []), ("城区学校", []), ("去县医院", []), ("这个区的学校", []),
])
def test_county_and_city_names_are_found_without_a_document(text: str, names: list[str]) -> None:
    assert places_named(text) == names


def test_a_question_names_only_counties_the_dictionary_knows() -> None:
    assert PLACES.other_place_in("偏远山区的学校有营养餐吗") is None
    assert PLACES.other_place_in("宁乡市的学校有营养餐吗") is None  # not in the dictionary: only a statement sets it
    assert said("我们住在宁乡市").region == "宁乡市"


def test_places_map_to_their_documents() -> None:
    assert PLACES.doc_for("启东市") == "qidong-left-behind-care-3year"
    assert PLACES.doc_for("韶关市曲江区") == "qujiang-child-development-2030"
    assert PLACES.doc_for("浮梁") == "jingdezhen-rural-child-health"
    assert PLACES.doc_for("安化县") is None
    assert PLACES.other_place_in("安化县的营养餐有补助吗") == "安化县"
    assert PLACES.other_place_in("启东市的营养餐有补助吗") is None
    assert PLACES.name_of("lanxi-child-development-14th") == "兰溪"


def test_age_ranges_read_what_the_bot_and_counsellors_store() -> None:
    assert age_ranges("约8–9岁、5岁") == ((8, 9), (5, 5))
    assert age_ranges("八岁") == ((8, 8),)
    assert age_ranges("三年级") == ((8, 9),)
    assert age_ranges("8个月") == ((0, 0),)
    assert age_ranges("不清楚") == ()


# --- storage ---------------------------------------------------------------------------------------------------

@pytest.fixture
def user_id(db_settings: Settings) -> int:
    upgrade(db_settings)
    with session_scope(db_settings) as session:
        user = ChannelUser(channel="web", external_id="p1")
        session.add(user)
        session.flush()
        return user.id


def test_what_the_person_says_is_stored_and_marked_as_theirs(db_settings: Settings, user_id: int) -> None:
    got = remember(db_settings, user_id, said("你好，我是小军的奶奶，我们是启东的，孙子8岁"))
    assert got.changed == ("relationship", "child_age", "region")
    with session_scope(db_settings) as session:
        contact = session.get(Contact, user_id)
        assert (contact.relationship, contact.child_age, contact.region) == ("奶奶", "8岁", "启东")
        assert contact.set_by == {"relationship": FAMILY, "child_age": FAMILY, "region": FAMILY}
    assert facts_line(got.profile, got.changed) == "您是孩子的奶奶，在启东，孩子8岁"
    again = remember(db_settings, user_id, said("我是奶奶"))
    assert again.changed == () and again.profile.relationship == "奶奶"


def test_a_counsellors_entry_is_kept_until_the_person_corrects_it(db_settings: Settings, user_id: int) -> None:
    with session_scope(db_settings) as session:
        contact = Contact(user_id=user_id, region="浮梁县", relationship="外婆", updated_at=utcnow())
        session.add(contact)
        mark_counsellor_fields(contact, ["region", "relationship"])
    kept = remember(db_settings, user_id, said("我们启东这边儿童主任多久来一趟"))
    assert kept.changed == () and kept.kept == ("region",) and kept.profile.region == "浮梁县"
    corrected = remember(db_settings, user_id, said("我不是浮梁的，是启东的"))
    assert corrected.changed == ("region",) and corrected.profile.region == "启东"
    assert corrected.profile.set_by == {"region": FAMILY, "relationship": COUNSELLOR}
    assert remember(db_settings, user_id, said("我是他妈妈不是外婆")).profile.relationship == "妈妈"


def test_the_region_question_is_claimed_once(db_settings: Settings, user_id: int) -> None:
    assert claim_region_question(db_settings, user_id)
    assert not claim_region_question(db_settings, user_id)
    with session_scope(db_settings) as session:
        assert session.get(Contact, user_id).region_asked_at is not None


def test_the_region_question_is_never_claimed_when_the_region_is_known(db_settings: Settings, user_id: int) -> None:
    remember(db_settings, user_id, said("我们是安化县的"))
    assert not claim_region_question(db_settings, user_id)


def test_0009_adds_who_set_what_and_the_region_question_and_goes_down_again(db_settings: Settings) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from bot.storage.db import get_engine
    from bot.storage.migrate import alembic_config

    upgrade(db_settings, "0007_handoff_modes")
    with get_engine(db_settings).begin() as conn:
        conn.execute(text("INSERT INTO channel_users (id, channel, external_id, active, created_at, last_seen_at) "
                          "VALUES (1, 'web', 'v1', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        conn.execute(text("INSERT INTO contacts (user_id, relationship, child_age, region, phone, updated_at) "
                          "VALUES (1, '奶奶', '8岁', '启东', '', CURRENT_TIMESTAMP)"))
    upgrade(db_settings)
    with session_scope(db_settings) as session:
        contact = session.get(Contact, 1)
        assert (contact.region, contact.set_by, contact.region_asked_at) == ("启东", None, None)
    engine = get_engine(db_settings)
    with engine.begin() as connection:
        config = alembic_config(db_settings)
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_handoff_modes")
    engine.dispose()
    columns = {column["name"] for column in inspect(get_engine(db_settings)).get_columns("contacts")}
    assert "set_by" not in columns and "region_asked_at" not in columns and "region" in columns


@pytest.mark.parametrize(("ages", "question", "hint"), [
    ("8岁", "孙子一天吃多少肉合适", "8岁 上学"),
    ("约8–9岁", "孩子一天吃几顿", "8岁 上学"),
    ("1岁半", "孩子一天吃几顿", "1岁"),
    ("8个月", "一天喝多少奶", "婴儿"),
    ("8岁", "孩子发烧怎么办", ""),  # not an age-dependent question
    ("8岁", "3岁的孩子一天吃几顿", ""),  # the question says the age
    ("", "孙女上三年级，一天喝多少奶", "8岁 上学"),  # the person's child's age, said in the question
    ("1岁", "孙子10岁了，一天吃几顿", "10岁 上学"),
    ("5岁、10岁", "孩子一天吃几顿", ""),  # two stages: no guess
    ("", "孩子一天吃几顿", ""),
])
def test_the_childrens_age_steers_age_dependent_questions(ages: str, question: str, hint: str) -> None:
    from bot.conversation.profile import age_hint

    assert age_hint(age_ranges(ages), question) == hint
