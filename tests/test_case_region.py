"""Region on cases (SQLite and PostgreSQL for the database parts): a case takes the person's contact region,
and takes it later when the counsellor learns it; the routing file's `regions:` block gives the region's local
team (启东 -> 启东市未成年人保护工作站) for what would go to the generic local team, unless nobody staffs it; the
queue, the case page and the 台账 CSV show the region."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.casework.cases import ensure_region_teams, record_case, team_for, teams_for
from bot.config import PROJECT_ROOT, Settings
from bot.errors import ConfigError
from bot.safety import Triage
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, ChannelUser, Contact, Message, Team, utcnow
from tests.fakes.app_server import serve_app
from tests.fakes.console import add_account, csrf_of, login

SHIPPED = PROJECT_ROOT / "bot" / "casework" / "routing_teams.yaml"
NEGLECT = Triage("yellow", ("neglect",), ("没人管",), ("test",))
SUICIDE_AND_NEGLECT = Triage("red", ("suicide", "neglect"), ("不想活",), ("test",))


def test_the_shipped_file_sends_qidong_cases_of_the_local_categories_to_the_qidong_station() -> None:
    assert team_for(["neglect"], SHIPPED, "江苏省启东市汇龙镇") == "qidong"
    assert team_for(["neglect"], SHIPPED, "汇龙镇") == "qidong"  # an alias
    assert team_for([], SHIPPED, "启东") == "qidong"  # no category with a team: the region's local team
    assert team_for(["suicide"], SHIPPED, "启东") == "12356"  # the hotline categories stay with the hotline
    assert teams_for(["suicide", "neglect"], SHIPPED, "启东") == ["12356", "qidong"]
    assert team_for(["neglect"], SHIPPED, "湖南省岳阳市云溪区") == "local"  # no entry: the category map
    assert team_for(["neglect"], SHIPPED, "") == team_for(["neglect"], SHIPPED) == "local"


def test_an_entry_overrides_categories_and_the_longest_name_wins(tmp_path: Path) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text("default_team: local\ncategories: {suicide: '12356', neglect: local, abuse: '12355'}\n"
                       "regions:\n"
                       "  启东: {team: qidong, categories: {abuse: qidong}}\n"
                       "  启东市汇龙镇: {team: huilong}\n"
                       "  某县: {neglect: mouxian}\n", "utf-8")  # the file's first format: a category map
    assert team_for(["abuse"], routing, "启东市吕四港镇") == "qidong"
    assert team_for(["suicide"], routing, "启东市吕四港镇") == "12356"
    assert team_for(["neglect"], routing, "江苏省启东市汇龙镇") == "huilong"
    assert team_for(["neglect"], routing, "某县某镇") == "mouxian"
    broken = tmp_path / "broken.yaml"
    broken.write_text("default_team: local\ncategories: {}\nregions:\n  启东: {name: 启东站}\n", "utf-8")
    with pytest.raises(ConfigError, match="启东"):
        team_for(["neglect"], broken, "启东")


@pytest.fixture
def db(db_settings: Settings) -> Settings:
    settings = Settings(**{**db_settings.model_dump(), "sla_check_seconds": 3600})
    upgrade(settings)
    with session_scope(settings) as session:
        assert ensure_region_teams(session, settings.teams_file) == ["qidong"]
    with session_scope(settings) as session:
        assert ensure_region_teams(session, settings.teams_file) == []  # once
        assert session.get(Team, "qidong").name == "启东市未成年人保护工作站"
    return settings


def _case_for(settings: Settings, external_id: str, triage: Triage, region: str = "") -> int:
    with session_scope(settings) as session:
        user = ChannelUser(channel="web", external_id=external_id)
        session.add(user)
        session.flush()
        if region:
            session.add(Contact(user_id=user.id, region=region, updated_at=utcnow()))
        message = Message(user_id=user.id, direction="in", text="孩子没人管", level=triage.level)
        session.add(message)
        session.flush()
        return record_case(session, user, message, triage, settings.teams_file).case_id


def test_a_new_case_takes_the_contact_region_and_its_staffed_local_team(db: Settings) -> None:
    unstaffed = _case_for(db, "early", NEGLECT, "江苏省启东市汇龙镇")
    add_account(db, "qd", teams=("qidong",))
    staffed = _case_for(db, "later", NEGLECT, "江苏省启东市汇龙镇")
    hotline = _case_for(db, "hotline", SUICIDE_AND_NEGLECT, "启东")
    elsewhere = _case_for(db, "elsewhere", NEGLECT, "湖南省岳阳市云溪区")
    unknown = _case_for(db, "unknown", NEGLECT)
    with session_scope(db) as session:
        got = {case_id: (session.get(Case, case_id).region, session.get(Case, case_id).team)
               for case_id in (unstaffed, staffed, hotline, elsewhere, unknown)}
    assert got == {unstaffed: ("江苏省启东市汇龙镇", "local"),  # nobody in the station's team yet: never unread
                   staffed: ("江苏省启东市汇龙镇", "qidong"), hotline: ("启东", "12356"),
                   elsewhere: ("湖南省岳阳市云溪区", "local"), unknown: ("", "local")}


class Server(str):
    settings: Settings


@pytest.fixture
def server(db: Settings) -> Iterator[Server]:
    for url in serve_app(db, None):
        served = Server(url)
        served.settings = db
        yield served


def _post(client: httpx.Client, case_id: int, action: str, **fields: str) -> httpx.Response:
    token = csrf_of(client, f"/console/cases/{case_id}")
    return client.post(f"/console/cases/{case_id}/{action}", data={"csrf": token, **fields}, follow_redirects=False)


def test_a_region_learned_later_moves_the_case_and_shows_everywhere(server: Server) -> None:
    settings = server.settings
    add_account(settings, "qd", teams=("qidong",))
    add_account(settings, "amy", teams=("local",))
    case_id = _case_for(settings, "grandma", NEGLECT)
    moved_by_hand = _case_for(settings, "other", NEGLECT)
    with session_scope(settings) as session:
        assert session.get(Case, case_id).team == "local"
        session.get(Case, moved_by_hand).team = "12355"  # a supervisor moved it: the region leaves it there
    amy, _ = login(server, "amy")
    assert _post(amy, case_id, "claim").status_code == 303
    assert _post(amy, case_id, "contact", region="江苏省启东市汇龙镇").status_code == 303
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        assert (case.region, case.team, case.assigned_to is not None) == ("江苏省启东市汇龙镇", "qidong", True)
        event = session.scalar(select(CaseEvent.payload).where(CaseEvent.case_id == case_id,
                                                               CaseEvent.kind == "rerouted"))
        assert event == {"from_team": "local", "to_team": "qidong", "region": "江苏省启东市汇龙镇"}
    page = amy.get(f"/console/cases/{case_id}").text  # amy holds it still, in the station's team now
    assert re.search(r'id="case-region">地区 江苏省启东市汇龙镇<', page) and "启东市未成年人保护工作站" in page
    rows = amy.get("/console/queue/rows").text
    assert 'class="region">江苏省启东市汇龙镇<' in rows and "启东市未成年人保护工作站" in rows
    add_account(settings, "boss", role="supervisor")
    boss, _ = login(server, "boss")
    _post(boss, moved_by_hand, "contact", region="启东")
    with session_scope(settings) as session:
        assert (session.get(Case, moved_by_hand).region, session.get(Case, moved_by_hand).team) == ("启东", "12355")
    export = boss.get("/console/export.csv").text.lstrip("\ufeff")
    rows = {row["case_id"]: row for row in csv.DictReader(io.StringIO(export))}
    assert rows[str(case_id)]["region"] == "江苏省启东市汇龙镇" and rows[str(case_id)]["team"] == "qidong"
    assert rows[str(moved_by_hand)]["region"] == "启东"
