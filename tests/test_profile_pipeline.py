"""The profile through the conversation engine (real index, SQLite and PostgreSQL): learned from what people say,
used by retrieval and answers (own place's rules, other places' rules framed as local, 「您是哪个县市的？」 once),
corrected by saying so, a counsellor's entry kept, the children's ages used for age-dependent questions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.conversation.profile import COUNSELLOR, FAMILY, mark_counsellor_fields
from bot.pipeline import Conversation, Inbound, Outcome
from bot.prompts import prompt_text, prompt_yaml
from bot.retrieval.places import Home
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import ChannelUser, Contact, utcnow

TEXTS = prompt_yaml("profile.yaml")
ASK_REGION = TEXTS["ask_region"]
VISION = "学校一学期给孩子查几次视力"  # only local rules answer it: 景德镇 每学期2次, 兰溪 每年
JINGDEZHEN, LANXI, QIDONG, QUJIANG = ("jingdezhen-rural-child-health", "lanxi-child-development-14th",
                                      "qidong-left-behind-care-3year", "qujiang-child-development-2030")


@pytest.fixture
def convo(db_settings: Settings, built_settings: Settings, knowledge_index) -> Conversation:
    settings = Settings(**{**built_settings.model_dump(), "database_url": db_settings.sqlalchemy_url})
    upgrade(settings)
    return Conversation(settings, index=knowledge_index)


def ask(convo: Conversation, text: str, user: str) -> Outcome:
    return convo.handle(Inbound(user_id=user, text=text, channel="web"))


def contact(convo: Conversation, user: str) -> Contact:
    """The person's contacts row (an empty one when none was written)."""
    with session_scope(convo.settings) as session:
        user_id = session.scalar(select(ChannelUser.id).where(ChannelUser.external_id == user))
        row = session.get(Contact, user_id)
        if row is None:
            return Contact(user_id=user_id, relationship="", child_age="", region="", set_by=None)
        session.expunge(row)
        return row


def test_a_self_introduction_is_remembered_and_greeted(convo: Conversation) -> None:
    outcome = ask(convo, "你好，我是小军的奶奶，我们是启东的，孙子8岁", "p1")
    assert outcome.intent == "introduction" and outcome.level == "green"
    assert outcome.reply_text.startswith(prompt_text("replies/introduction.txt"))
    assert "记下了：您是孩子的奶奶，在启东，孩子8岁" in outcome.reply_text
    row = contact(convo, "p1")
    assert (row.relationship, row.region, row.child_age) == ("奶奶", "启东", "8岁")
    assert row.set_by == {"relationship": FAMILY, "region": FAMILY, "child_age": FAMILY}


def test_a_local_rule_to_someone_of_unknown_place_is_framed_and_the_place_asked_once(convo: Conversation) -> None:
    first = ask(convo, VISION, "p2")
    assert first.grounded and JINGDEZHEN in [source["doc_id"] for source in first.sources]
    assert "各地规定不一样，比如景德镇：" in first.reply_text and "在景德镇，" not in first.reply_text
    assert ASK_REGION in first.reply_text
    again = ask(convo, "儿童主任多久来一趟", "p2")
    assert again.grounded and "各地规定不一样，比如" in again.reply_text
    assert ASK_REGION not in again.reply_text  # asked once per person
    assert contact(convo, "p2").region_asked_at is not None


def test_naming_the_place_after_the_question_answers_it_for_that_place(convo: Conversation) -> None:
    assert ASK_REGION in ask(convo, VISION, "p3").reply_text
    answer = ask(convo, "兰溪", "p3")
    assert answer.intent == "introduction" and answer.grounded
    assert answer.reply_text.startswith(TEXTS["region_noted"].format(place="兰溪"))
    assert answer.sources[0]["doc_id"] == LANXI and "在兰溪，" in answer.reply_text and "每年" in answer.reply_text
    assert contact(convo, "p3").region == "兰溪"


def test_a_known_place_gets_its_own_rule_unframed(convo: Conversation) -> None:
    ask(convo, "我们是兰溪的", "p4")
    outcome = ask(convo, VISION, "p4")
    assert outcome.grounded and outcome.sources[0]["doc_id"] == LANXI
    assert "在兰溪，" in outcome.reply_text and "各地规定不一样" not in outcome.reply_text
    assert ASK_REGION not in outcome.reply_text and "景德镇" not in outcome.reply_text


def test_a_place_without_a_document_hears_the_rule_is_from_elsewhere(convo: Conversation) -> None:
    ask(convo, "我们是湖南安化县的", "p5")
    outcome = ask(convo, VISION, "p5")
    assert outcome.grounded
    assert "这是景德镇的规定，安化县不一定一样：" in outcome.reply_text
    assert TEXTS["ask_local"].format(home="安化县") in outcome.reply_text and ASK_REGION not in outcome.reply_text


def test_a_place_named_in_the_question_wins_over_the_profile(convo: Conversation) -> None:
    ask(convo, "我们启东这边", "p6")
    outcome = ask(convo, "曲江的hpv疫苗要不要钱", "p6")
    assert outcome.sources[0]["doc_id"] == QUJIANG and "在曲江，" in outcome.reply_text
    assert "不一定一样" not in outcome.reply_text and contact(convo, "p6").region == "启东"


def test_a_county_named_in_the_question_without_a_document_is_used_for_that_answer(convo: Conversation) -> None:
    outcome = ask(convo, "安化县的学校一学期给孩子查几次视力", "p7")
    assert "这是景德镇的规定，安化县不一定一样：" in outcome.reply_text and ASK_REGION not in outcome.reply_text
    assert contact(convo, "p7").region == ""  # asked about, not said to live there


def test_the_person_corrects_the_profile_by_saying_so(convo: Conversation) -> None:
    ask(convo, "我是奶奶，我们启东这边", "p8")
    moved = ask(convo, "我们搬到兰溪了", "p8")
    assert moved.intent == "introduction" and moved.reply_text.startswith(TEXTS["changed"].format(facts="在兰溪"))
    fixed = ask(convo, "我是他妈妈不是奶奶", "p8")
    assert fixed.reply_text.startswith(TEXTS["changed"].format(facts="您是孩子的妈妈"))
    row = contact(convo, "p8")
    assert (row.region, row.relationship) == ("兰溪", "妈妈")
    assert ask(convo, VISION, "p8").sources[0]["doc_id"] == LANXI


def test_a_counsellors_entry_is_kept_unless_the_person_corrects_it(convo: Conversation) -> None:
    ask(convo, "你好", "p9")
    with session_scope(convo.settings) as session:
        user_id = session.scalar(select(ChannelUser.id).where(ChannelUser.external_id == "p9"))
        row = Contact(user_id=user_id, region="兰溪市", updated_at=utcnow())
        session.add(row)
        mark_counsellor_fields(row, ["region"])
    ask(convo, "我们启东这边儿童主任多久来一趟", "p9")
    assert contact(convo, "p9").region == "兰溪市"
    assert ask(convo, VISION, "p9").sources[0]["doc_id"] == LANXI  # the counsellor's region is used
    ask(convo, "我不是兰溪的，是启东的", "p9")
    row = contact(convo, "p9")
    assert row.region == "启东" and row.set_by["region"] == FAMILY


@pytest.mark.parametrize("text", ["我们启东这边", "我家孙女今年1岁", "你好，我是小军的奶奶"])
def test_a_message_that_only_says_who_the_person_is_is_greeted_not_scripted(convo: Conversation, text: str) -> None:
    outcome = ask(convo, text, "p15")
    assert outcome.level == "green" and outcome.intent == "introduction" and outcome.case_id is None


def test_a_crisis_message_still_teaches_the_profile(convo: Conversation) -> None:
    outcome = ask(convo, "我是他外婆，孙子说不想活了", "p10")
    assert outcome.level == "red"
    assert contact(convo, "p10").relationship == "外婆"


def test_the_childrens_age_picks_the_article_for_their_age(convo: Conversation) -> None:
    ask(convo, "孙子8岁", "p11")
    older = ask(convo, "孩子一天吃几顿", "p11")
    ask(convo, "我家孙女今年1岁", "p12")
    younger = ask(convo, "孩子一天吃几顿", "p12")
    assert older.sources[0]["doc_id"] == "nutrition-school-age-breakfast"
    assert younger.sources[0]["doc_id"] == "nutrition-balanced-plate-toddler"


def test_general_articles_are_the_same_wherever_the_person_lives(convo: Conversation) -> None:
    plain = ask(convo, "孩子发烧怎么办", "p13")
    ask(convo, "我们安化县这边", "p14")
    there = ask(convo, "孩子发烧怎么办", "p14")
    assert plain.sources == there.sources and ASK_REGION not in plain.reply_text


# --- retrieval ---------------------------------------------------------------------------------------------------

def test_home_boosts_its_document_without_filtering(knowledge_index) -> None:
    lanxi = knowledge_index.search(VISION, k=5, home=Home("兰溪", LANXI))
    assert lanxi[0].doc_id == LANXI
    nowhere = knowledge_index.search(VISION, k=5, home=Home("安化县", None))
    assert nowhere[0].doc_id == JINGDEZHEN  # demoted, still there: the only rule that answers


def test_home_demotes_other_places_rules(knowledge_index) -> None:
    assert knowledge_index.search("HPV疫苗要不要钱", k=3)[0].doc_id == QUJIANG
    at_qidong = knowledge_index.search("HPV疫苗要不要钱", k=3, home=Home("启东", QIDONG))
    assert QUJIANG not in [hit.doc_id for hit in at_qidong]


def test_a_named_place_ignores_home(knowledge_index) -> None:
    hits = knowledge_index.search("曲江hpv疫苗要不要钱", k=3, home=Home("启东", QIDONG))
    assert hits[0].doc_id == QUJIANG


def test_a_case_goes_to_the_team_of_the_persons_region(convo: Conversation, tmp_path) -> None:
    from bot.storage.models import Case

    teams = tmp_path / "teams.yaml"
    teams.write_text("default_team: local\ncategories: {suicide: '12356'}\nregions: {启东: {suicide: local}}\n",
                     "utf-8")
    convo.settings = convo.settings.model_copy(update={"teams_file": teams})
    ask(convo, "我们启东这边", "p16")
    local = ask(convo, "孙子说不想活了", "p16")
    said_now = ask(convo, "我们是启东的，孙女说不想活了", "p17")  # the region said in the message itself
    elsewhere = ask(convo, "孙子说不想活了", "p18")
    with session_scope(convo.settings) as session:
        assert session.get(Case, local.case_id).team == "local"
        assert session.get(Case, said_now.case_id).team == "local"
        assert session.get(Case, elsewhere.case_id).team == "12356"
