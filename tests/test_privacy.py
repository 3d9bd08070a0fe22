"""Retention purge, export-user and delete-user, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from bot.config import Settings, get_settings
from bot.privacy import UserNotFound, delete_user, export_user, purge
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent, ChannelUser, Contact, Message, WechatFollower, WechatOutbox, utcnow

NOW = utcnow()


def _ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def _user(session, external_id: str, channel: str = "wechat", seen_days: float = 0) -> ChannelUser:
    user = ChannelUser(channel=channel, external_id=external_id, last_seen_at=_ago(seen_days), created_at=_ago(seen_days))
    session.add(user)
    session.flush()
    return user


def _message(session, user: ChannelUser, text: str, days: float, case: Case | None = None) -> None:
    session.add(Message(user_id=user.id, direction="in", text=text, created_at=_ago(days),
                        case_id=case.id if case else None))


def _case(session, user: ChannelUser, status: str, updated_days: float) -> Case:
    case = Case(user_id=user.id, channel=user.channel, severity="red", categories=["suicide"], status=status,
                created_at=_ago(updated_days), updated_at=_ago(updated_days))
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, kind="created", payload={}))
    return case


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_purge_keeps_cases_and_recent_chats_and_drops_the_rest(db_settings: Settings) -> None:
    settings = Settings(**{**db_settings.model_dump(), "retention_days": 30, "case_retention_days": 1095})
    upgrade(settings)
    with session_scope(settings) as session:
        quiet = _user(session, "old-chatter", seen_days=40)
        _message(session, quiet, "去年问过的营养问题", days=40)
        recent = _user(session, "recent-chatter", seen_days=1)
        _message(session, recent, "昨天问的护眼问题", days=1)
        _message(session, recent, "两个月前问的问题", days=60)
        open_case_user = _user(session, "open-case", seen_days=2000)
        open_case = _case(session, open_case_user, "open", updated_days=2000)
        _message(session, open_case_user, "很久以前的求助", days=2000, case=open_case)
        closed_old = _user(session, "closed-long-ago", seen_days=1200)
        old_case = _case(session, closed_old, "closed", updated_days=1200)
        _message(session, closed_old, "三年多前的求助", days=1200, case=old_case)
        closed_recent = _user(session, "closed-last-year", seen_days=300)
        kept_case = _case(session, closed_recent, "closed", updated_days=300)
        _message(session, closed_recent, "去年的求助", days=300, case=kept_case)
        session.add(WechatOutbox(openid="old-chatter", msg_key="wx:1", text="旧答复", status="sent", created_at=_ago(40)))
        session.add(WechatOutbox(openid="recent-chatter", msg_key="wx:2", text="待发", status="queued", created_at=_ago(40)))
        session.add(WechatFollower(openid="gone", active=False, updated_at=_ago(40)))
        session.add(WechatFollower(openid="here", active=True, updated_at=_ago(400)))

    report = purge(settings, now=NOW)

    assert (report.messages, report.cases, report.outbox, report.followers) == (3, 1, 1, 1)
    with session_scope(settings) as session:
        texts = set(session.scalars(select(Message.text)))
        assert texts == {"昨天问的护眼问题", "很久以前的求助", "去年的求助"}
        assert {c.status for c in session.scalars(select(Case))} == {"open", "closed"}
        assert _count(session, CaseEvent) == 2  # the purged case's events went with it
        users = set(session.scalars(select(ChannelUser.external_id)))
        assert "old-chatter" not in users and "closed-long-ago" not in users
        assert {"recent-chatter", "open-case", "closed-last-year"} <= users
        assert set(session.scalars(select(WechatOutbox.status))) == {"queued"}
        assert set(session.scalars(select(WechatFollower.openid))) == {"here"}
    assert purge(settings, now=NOW).messages == 0  # idempotent


def test_export_and_delete_user(db_settings: Settings) -> None:
    upgrade(db_settings)
    with session_scope(db_settings) as session:
        user = _user(session, "o-family-1")
        case = _case(session, user, "open", updated_days=0)
        case.region = "江苏省启东市汇龙镇"
        _message(session, user, "孩子最近不说话", days=0, case=case)
        other = _user(session, "o-family-2")
        _message(session, other, "别人的消息", days=0)
        session.add(WechatOutbox(openid="o-family-1", msg_key="wx:9", text="答复", status="queued"))
        session.add(WechatFollower(openid="o-family-1"))

    from bot.conversation.profile import read_profile, remember
    from bot.retrieval.places import places_in

    with session_scope(db_settings) as session:
        user_id = session.scalar(select(ChannelUser.id).where(ChannelUser.external_id == "o-family-1"))
    remember(db_settings, user_id, read_profile("我是奶奶，我们启东这边", places_in(db_settings.knowledge_dir / "policy")))
    exported = export_user(db_settings, "wechat", "o-family-1")
    assert [m["text"] for m in exported["messages"]] == ["孩子最近不说话"]
    assert exported["profile"]["relationship"] == "奶奶" and exported["profile"]["region"] == "启东"
    assert exported["cases"][0]["events"][0]["kind"] == "created"
    assert exported["cases"][0]["region"] == "江苏省启东市汇龙镇"  # where the family is: theirs to see
    json.dumps(exported, ensure_ascii=False)  # JSON-ready

    counts = delete_user(db_settings, "wechat", "o-family-1")
    assert counts == {"answer_records": 0, "messages": 1, "cases": 1, "outbox": 1, "followers": 1}
    with session_scope(db_settings) as session:
        assert set(session.scalars(select(Message.text))) == {"别人的消息"}
        assert _count(session, CaseEvent) == 0
        assert session.get(Contact, user_id) is None  # the profile goes with the person
    with pytest.raises(UserNotFound):
        export_user(db_settings, "wechat", "o-family-1")


def test_privacy_commands(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        upgrade(settings)
        with session_scope(settings) as session:
            user = _user(session, "visitor-7", channel="web")
            _message(session, user, "网页上的问题", days=0)
        runner = CliRunner()
        exported = runner.invoke(main, ["export-user", "--channel", "web", "--id", "visitor-7"])
        assert exported.exit_code == 0, exported.output
        assert json.loads(exported.output)["messages"][0]["text"] == "网页上的问题"
        refused = runner.invoke(main, ["delete-user", "--channel", "web", "--id", "visitor-7"], input="n\n")
        assert refused.exit_code != 0
        deleted = runner.invoke(main, ["delete-user", "--channel", "web", "--id", "visitor-7", "--yes"])
        assert deleted.exit_code == 0 and "1 messages" in deleted.output
        missing = runner.invoke(main, ["export-user", "--channel", "web", "--id", "visitor-7"])
        assert missing.exit_code == 2 and "no web user" in missing.output
        purged = runner.invoke(main, ["purge"])
        assert purged.exit_code == 0 and purged.output.startswith("purged 0 messages")
    finally:
        get_settings.cache_clear()
