"""Case state machine, permissions and routing (core, no HTTP), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.casework import workflow as wf
from bot.casework.cases import record_case, team_for
from bot.config import Settings
from bot.safety import triage
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import AuditEntry, Case, CaseEvent, ChannelUser, Message
from tests.fakes.console import actor, add_account, add_case


@pytest.fixture
def db(db_settings: Settings) -> Settings:
    upgrade(db_settings)
    return db_settings


def _run(settings: Settings, case_id: int, account_id: int, action, *args) -> None:  # type: ignore[no-untyped-def]
    who = actor(settings, account_id)
    with session_scope(settings) as session:
        action(session, session.get(Case, case_id), who, *args)


def _status(settings: Settings, case_id: int) -> str:
    with session_scope(settings) as session:
        return session.get(Case, case_id).status


def test_full_lifecycle_and_audit(db: Settings) -> None:
    me = add_account(db, "amy")
    case_id = add_case(db)
    _run(db, case_id, me, wf.claim)
    assert _status(db, case_id) == "claimed"
    _run(db, case_id, me, wf.add_referral, "12356", "家长答应今晚打")
    assert _status(db, case_id) == "in_progress"
    _run(db, case_id, me, wf.schedule_follow_up, dt.date.today(), "问睡眠")
    assert _status(db, case_id) == "follow_up"
    _run(db, case_id, me, wf.close, "referred", "")
    assert _status(db, case_id) == "closed"
    _run(db, case_id, me, wf.reopen, "又来信了")
    assert _status(db, case_id) == "in_progress"
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        # claiming, referring and closing tell the family nothing: no first response was recorded
        assert case.first_response_at is None and case.closed_at is None and case.outcome is None
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)
                                       .order_by(AuditEntry.id)))
        kinds = set(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)))
    assert actions == ["claim", "referral", "follow_up", "close", "reopen"]
    assert {"claim", "referral", "follow_up", "close", "reopen"} <= kinds


@pytest.mark.parametrize(("status", "action", "args"), [
    ("open", wf.close, ("resolved",)),
    ("open", wf.reopen, ("x",)),
    ("claimed", wf.reopen, ("x",)),
    ("closed", wf.add_referral, ("110", "")),
])
def test_invalid_transitions_are_refused_with_a_clear_message(db: Settings, status: str, action, args) -> None:
    me = add_account(db, "amy", role="supervisor")
    case_id = add_case(db)
    with session_scope(db) as session:
        session.get(Case, case_id).status = status
    with pytest.raises(wf.WorkflowError, match="不能"):
        _run(db, case_id, me, action, *args)
    assert _status(db, case_id) == status


def test_transition_table_is_explicit() -> None:
    assert wf.next_status("open", "claim") == "claimed"
    assert wf.next_status("follow_up", "close") == "closed"
    with pytest.raises(wf.WorkflowError):
        wf.next_status("closed", "claim")


def test_abuse_case_needs_a_mandatory_report_or_a_deferral_to_close(db: Settings) -> None:
    me = add_account(db, "amy", teams=("12355",))
    case_id = add_case(db, "他爸又打孩子", categories=("abuse",), team="12355", mandatory=True)
    _run(db, case_id, me, wf.claim)
    with pytest.raises(wf.WorkflowError, match="强制报告"):
        _run(db, case_id, me, wf.close, "resolved", "")
    with pytest.raises(wf.WorkflowError, match="原因"):
        _run(db, case_id, me, wf.defer_mandatory_report, "  ")
    _run(db, case_id, me, wf.defer_mandatory_report, "孩子已被亲戚接走，明天和民政一起报")
    _run(db, case_id, me, wf.close, "safe_now", "")
    assert _status(db, case_id) == "closed"


def test_a_report_time_given_in_beijing_time_reads_back_as_the_same_moment(db: Settings) -> None:
    """Was a bug on SQLite: 10:30 Beijing time stored as the wall time 10:30, read back as UTC (18:30)."""
    from bot.console.accounts import aware
    from bot.storage.models import MandatoryReport

    me = add_account(db, "amy", teams=("12355",))
    case_id = add_case(db, "他爸又打孩子", categories=("abuse",), team="12355", mandatory=True)
    _run(db, case_id, me, wf.claim)
    beijing = dt.datetime(2025, 3, 1, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    _run(db, case_id, me, wf.record_mandatory_report, "派出所", beijing, "HL-1")
    with session_scope(db) as session:
        stored = session.scalar(select(MandatoryReport.reported_at).where(MandatoryReport.case_id == case_id))
    assert aware(stored) == beijing


def test_counsellor_cannot_see_or_act_on_another_counsellors_case(db: Settings) -> None:
    amy, ben = add_account(db, "amy"), add_account(db, "ben")
    boss = add_account(db, "boss", role="supervisor", teams=())
    outsider = add_account(db, "cat", teams=("12355",))
    case_id = add_case(db)
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert wf.can_view(actor(db, ben), case) and not wf.can_view(actor(db, outsider), case)
    _run(db, case_id, amy, wf.claim)
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert not wf.can_view(actor(db, ben), case)
        assert wf.can_view(actor(db, boss), case) and wf.can_view(actor(db, amy), case)
    with pytest.raises(wf.PermissionDenied):
        _run(db, case_id, ben, wf.add_note, "看一眼")
    with pytest.raises(wf.PermissionDenied):
        _run(db, case_id, ben, wf.assign, ben)  # only supervisors assign
    _run(db, case_id, boss, wf.assign, ben, "12355")  # reassign across teams, audited
    with session_scope(db) as session:
        case = session.get(Case, case_id)
        assert (case.assigned_to, case.team) == (ben, "12355")
        audited = set(session.scalars(select(AuditEntry.action).where(AuditEntry.case_id == case_id)))
    assert {"assign", "reassign_team"} <= audited


def test_on_call_counsellor_sees_red_cases_of_every_team(db: Settings) -> None:
    on_call = add_account(db, "night", teams=(), on_call=True)
    red, yellow = add_case(db, team="local"), add_case(db, severity="yellow", team="local", external_id="v2")
    with session_scope(db) as session:
        assert wf.can_view(actor(db, on_call), session.get(Case, red))
        assert not wf.can_view(actor(db, on_call), session.get(Case, yellow))


def test_routing_follows_the_teams_file(tmp_path) -> None:
    from bot.config import PROJECT_ROOT

    shipped = PROJECT_ROOT / "bot" / "casework" / "routing_teams.yaml"
    assert team_for(("suicide",), shipped) == "12356"
    assert team_for(("sexual_abuse", "emotional"), shipped) == "12355"
    assert team_for(("missing",), shipped) == "local"
    assert team_for((), shipped) == "local"
    regional = tmp_path / "teams.yaml"
    regional.write_text("default_team: local\ncategories: {suicide: '12356'}\nregions: {启东: {suicide: local}}\n",
                        "utf-8")
    assert team_for(("suicide",), regional, region="启东") == "local"
    assert team_for(("suicide",), regional, region="别处") == "12356"


def test_record_case_puts_a_new_case_in_its_teams_queue(db: Settings) -> None:
    with session_scope(db) as session:
        user = ChannelUser(channel="web", external_id="route-1")
        session.add(user)
        session.flush()
        message = Message(user_id=user.id, direction="in", text="孙子被同学打了，天天被欺负", level="yellow")
        session.add(message)
        session.flush()
        result = triage(message.text)
        change = record_case(session, user, message, result, db.teams_file)
        assert change.team == team_for(result.categories, db.teams_file)
        assert session.get(Case, change.case_id).team == change.team


def test_routing_by_region_matches_the_name_inside_what_the_person_said(tmp_path) -> None:
    regional = tmp_path / "teams.yaml"
    regional.write_text("default_team: local\ncategories: {suicide: '12356'}\nregions: {启东: {suicide: local}}\n",
                        "utf-8")
    assert team_for(("suicide",), regional, region="启东市") == "local"
    assert team_for(("suicide",), regional, region="江苏启东") == "local"
    assert team_for(("suicide",), regional, region="安化县") == "12356"
