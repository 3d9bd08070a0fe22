"""The case page's transcript shows only what the viewer may see: the messages of cases they may open and the
conversation in no case, never the replies, phone numbers or words of another counsellor's case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.casework.cases import record_case
from bot.config import Settings
from bot.console.views import case_detail
from bot.safety import triage
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, ChannelUser, Message
from tests.fakes.app_server import serve_app
from tests.fakes.console import actor, add_account, add_case, login

SECRET_REPLY = "我是李老师，今晚打我手机13912345678"
SECRET_WORDS = "他打我，身份证11010519491231002X"


def _two_cases(settings: Settings, owner: int) -> tuple[int, int]:
    """Case A (abuse, team 12355, held by `owner`, closed) and then case B (red, team 12356, unclaimed) of one
    user, with a green message in between that belongs to no case."""
    first = add_case(settings, SECRET_WORDS, categories=("abuse",), team="12355", external_id="two-cases")
    with session_scope(settings) as session:
        case = session.get(Case, first)
        case.assigned_to, case.status = owner, "closed"
        session.add(Message(user_id=case.user_id, direction="out", author="counsellor", text=SECRET_REPLY,
                            level="red", case_id=first))
        session.add(Message(user_id=case.user_id, direction="in", text="谢谢你们", level="green"))
        session.flush()
        user = session.get(ChannelUser, case.user_id)
        message = Message(user_id=user.id, direction="in", text="孩子说不想活了", level="red")
        session.add(message)
        session.flush()
        second = record_case(session, user, message, triage("孩子说不想活了", semantic=False)).case_id
        session.get(Case, second).team = "12356"
    return first, second


@pytest.fixture
def db(db_settings: Settings) -> Settings:
    upgrade(db_settings)
    return db_settings


def test_transcript_leaves_out_a_case_the_viewer_may_not_open(db: Settings) -> None:
    owner = add_account(db, "owner-a", teams=("12355",))
    stranger = add_account(db, "stranger-b", teams=("12356",))
    boss = add_account(db, "boss-c", role="supervisor", teams=())
    first, second = _two_cases(db, owner)
    with session_scope(db) as session:
        detail = case_detail(session, session.get(Case, second), actor(db, stranger), db)
        texts = ["".join(piece for piece, _ in m["pieces"]) for m in detail["transcript"]]
        assert texts == ["谢谢你们", "孩子说不想活了"]
        assert detail["hidden_messages"] == 2 and detail["earlier"] == []
        created = session.scalar(select(CaseEvent).where(CaseEvent.case_id == second, CaseEvent.kind == "created"))
        snapshot = [entry["text"] for entry in created.payload["transcript"]]
        assert SECRET_REPLY not in snapshot and SECRET_WORDS not in snapshot
        full = case_detail(session, session.get(Case, second), actor(db, boss), db)
        assert len(full["transcript"]) == 4 and full["hidden_messages"] == 0
        assert [case.id for case in full["earlier"]] == [first]


def test_case_page_does_not_show_another_case_reply_or_numbers(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var", sla_check_seconds=3600)
    upgrade(settings)
    owner = add_account(settings, "holder", teams=("12355",))
    add_account(settings, "newcomer", teams=("12356",))
    first, second = _two_cases(settings, owner)
    for url in serve_app(settings, None):
        client, _ = login(url, "newcomer")
        page = client.get(f"/console/cases/{second}")
        assert page.status_code == 200 and "孩子说" in page.text
        for secret in ("13912345678", "11010519491231002X", "李老师", "他打我", f"#{first}"):
            assert secret not in page.text
        assert "另有 2 条消息属于你无权查看的个案" in page.text
        holder, _ = login(url, "holder")  # the holder of the first case cannot open the second at all
        assert holder.get(f"/console/cases/{second}").status_code == 403
