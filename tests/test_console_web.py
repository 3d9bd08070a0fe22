"""Console over real HTTP (uvicorn): login, lockout, cookie flags, CSRF, permissions, escaping, masking."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.console.views import mask
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Account, AuditEntry, Case, ConsoleSession
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account, add_case, csrf_of, login


class Server(str):
    settings: Settings


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Every request here comes from 127.0.0.1: the per-IP backoff (tests/test_console_login_backoff.py) is
    # loosened so failed logins in one test do not slow the next.
    settings = Settings(data_dir=tmp_path_factory.mktemp("console") / "var", sla_check_seconds=3600,
                        console_ip_free_failures=1000)
    upgrade(settings)
    for url in serve_app(settings, None):
        served = Server(url)
        served.settings = settings
        yield served


def test_no_account_means_no_way_in(server: Server) -> None:
    response = httpx.get(f"{server}/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    _, answer = login(server, "admin", "admin")
    assert answer.status_code == 401 and "用户名或密码不对" in answer.text


def test_login_sets_a_strict_httponly_cookie_and_a_new_session_id(server: Server) -> None:
    add_account(server.settings, "cookie")
    client, first = login(server, "cookie")
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain http here
    again, second = login(server, "cookie")
    assert client.cookies["tongban_console"] != again.cookies["tongban_console"]
    assert client.get("/console").status_code == 200


def test_secure_cookie_behind_a_trusted_https_proxy(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var", trusted_proxies="127.0.0.1", sla_check_seconds=3600)
    upgrade(settings)
    add_account(settings, "proxied")
    for url in serve_app(settings, None):
        headers = {"X-Forwarded-Proto": "https"}
        page = httpx.get(f"{url}/console/login", headers=headers)
        assert "Secure" in page.headers["set-cookie"]
        token = page.cookies["tongban_login_csrf"]  # a Secure cookie: sent back by hand over this plain socket
        response = httpx.post(f"{url}/console/login", headers={**headers, "Cookie": f"tongban_login_csrf={token}"},
                              data={"username": "proxied", "password": PASSWORD, "csrf": token})
        assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]
        plain = httpx.get(f"{url}/console/login", headers={"X-Forwarded-Proto": "http"})
        assert "Secure" not in plain.headers["set-cookie"]


def test_ten_failed_logins_lock_the_account_for_15_minutes(server: Server) -> None:
    add_account(server.settings, "locky")
    for _ in range(10):
        _, answer = login(server, "locky", "wrong password")
        assert answer.status_code == 401
    _, answer = login(server, "locky")  # right password, but locked
    assert answer.status_code == 401 and "锁定" in answer.text
    with session_scope(server.settings) as session:
        account = session.scalar(select(Account).where(Account.username == "locky"))
        until = account.locked_until.replace(tzinfo=dt.timezone.utc) if account.locked_until.tzinfo is None \
            else account.locked_until
        assert dt.timedelta(minutes=14) < until - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(minutes=15)
        account.locked_until = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)  # 15 minutes later
        failures = session.scalar(select(AuditEntry.id).where(AuditEntry.action == "login_failed"))
    assert failures is not None
    _, answer = login(server, "locky")
    assert answer.status_code == 303


def test_idle_session_expires(server: Server) -> None:
    add_account(server.settings, "idle")
    client, _ = login(server, "idle")
    with session_scope(server.settings) as session:
        for row in session.scalars(select(ConsoleSession)):
            row.last_seen_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=31)
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_state_changing_posts_need_the_csrf_token(server: Server) -> None:
    add_account(server.settings, "csrf")
    case_id = add_case(server.settings, external_id="csrf-visitor")
    client, _ = login(server, "csrf")
    assert client.post(f"/console/cases/{case_id}/claim", data={}).status_code == 403
    assert client.post(f"/console/cases/{case_id}/claim", data={"csrf": "forged"}).status_code == 403
    with session_scope(server.settings) as session:
        assert session.get(Case, case_id).status == "open"
    token = csrf_of(client)
    assert client.post(f"/console/cases/{case_id}/claim", data={"csrf": token}).status_code == 303
    with session_scope(server.settings) as session:
        assert session.get(Case, case_id).status == "claimed"
    # the login form is protected too (double-submit cookie)
    assert httpx.post(f"{server}/console/login", data={"username": "csrf", "password": PASSWORD}).status_code == 403


def test_script_in_a_message_is_shown_as_text(server: Server) -> None:
    add_account(server.settings, "escape")
    case_id = add_case(server.settings, "<script>alert(1)</script>孩子说不想活了", external_id="xss")
    client, _ = login(server, "escape")
    for page in (client.get("/console").text, client.get(f"/console/cases/{case_id}").text):
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_numbers_are_masked_in_lists_and_whole_on_the_audited_case_page(server: Server) -> None:
    assert mask("电话13812345678 身份证11010519491231002X") == "电话138****5678 身份证110105********002X"
    assert mask("座机0798-8661120") == "座机0798-****1120"
    add_account(server.settings, "masker")
    case_id = add_case(server.settings, "13812345678不想活", external_id="mask")
    client, _ = login(server, "masker")
    queue = client.get("/console").text
    assert "138****5678" in queue and "13812345678" not in queue
    assert "13812345678" in client.get(f"/console/cases/{case_id}").text
    with session_scope(server.settings) as session:
        viewed = session.scalar(select(AuditEntry).where(AuditEntry.action == "view_case",
                                                         AuditEntry.case_id == case_id))
        assert viewed is not None and viewed.username == "masker" and viewed.ip == "127.0.0.1"


def test_counsellor_cannot_open_a_colleagues_case_or_the_audit_log(server: Server) -> None:
    mine, other = add_account(server.settings, "perm-a"), add_account(server.settings, "perm-b")
    add_account(server.settings, "perm-boss", role="supervisor", teams=())
    case_id = add_case(server.settings, external_id="perm")
    with session_scope(server.settings) as session:
        case = session.get(Case, case_id)
        case.assigned_to, case.status = mine, "claimed"
    client, _ = login(server, "perm-b")
    assert client.get(f"/console/cases/{case_id}").status_code == 403
    assert f"/console/cases/{case_id}\"" not in client.get("/console").text
    assert client.post(f"/console/cases/{case_id}/note", data={"csrf": csrf_of(client), "text": "x"}).status_code == 403
    assert client.get("/console/audit").status_code == 403
    assert client.get("/console/reports").status_code == 403
    boss, _ = login(server, "perm-boss")
    assert boss.get(f"/console/cases/{case_id}").status_code == 200
    audit_page = boss.get(f"/console/audit?case={case_id}")
    assert audit_page.status_code == 200
    with session_scope(server.settings) as session:
        entries = {(e.username, e.action) for e in session.scalars(select(AuditEntry)
                                                                   .where(AuditEntry.case_id == case_id))}
    assert ("perm-b", "denied") in entries and ("perm-b", "view_case") not in entries
    assert ("perm-boss", "view_case") in entries
    assert other != mine


def test_reports_and_csv_export(server: Server) -> None:
    add_account(server.settings, "rep-boss", role="supervisor", teams=())
    add_case(server.settings, external_id="rep")
    client, _ = login(server, "rep-boss")
    page = client.get("/console/reports")
    assert page.status_code == 200 and "<svg" in page.text and "每周个案" in page.text
    csv = client.get("/console/export.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("case_id,created_at,severity") and len(lines) >= 2
    assert "不想活" not in csv.text  # no message text in the 台账


def test_admin_creates_an_account_with_a_password_shown_once(server: Server) -> None:
    add_account(server.settings, "root", role="admin", teams=())
    client, _ = login(server, "root")
    token = csrf_of(client, "/console/users")
    page = client.post("/console/users", data={"csrf": token, "action": "create", "username": "newbie",
                                               "role": "counsellor", "teams": ["12356", "local"]})
    assert page.status_code == 200 and "只显示这一次" in page.text
    password = re.search(r"<code>([^<]+)</code>", page.text)[1]
    _, answer = login(server, "newbie", password)
    assert answer.status_code == 303


def test_reply_goes_through_the_cases_channel(server: Server) -> None:
    from bot.storage.models import ChannelUser, Message, WechatOutbox

    add_account(server.settings, "replier")
    web_case = add_case(server.settings, external_id="web-visitor")
    old_wechat = add_case(server.settings, channel="wechat", external_id="o-old")
    with session_scope(server.settings) as session:  # the family's last message was three days ago
        for message in session.scalars(select(Message).where(Message.case_id == old_wechat)):
            message.created_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
    client, _ = login(server, "replier")
    for case_id in (web_case, old_wechat):
        client.post(f"/console/cases/{case_id}/claim", data={"csrf": csrf_of(client)})
    token = csrf_of(client)
    assert client.post(f"/console/cases/{web_case}/reply", data={"csrf": token, "text": "您好，我是咨询员"}).status_code == 303
    refused = client.post(f"/console/cases/{old_wechat}/reply", data={"csrf": token, "text": "您好"})
    assert refused.status_code == 409 and "48 小时" in refused.text
    with session_scope(server.settings) as session:
        out = list(session.scalars(select(Message).join(ChannelUser, ChannelUser.id == Message.user_id)
                                   .where(Message.direction == "out", Message.case_id.in_([web_case, old_wechat]))))
        assert [(m.case_id, m.text) for m in out] == [(web_case, "您好，我是咨询员")]
        assert session.scalar(select(WechatOutbox.id).where(WechatOutbox.case_id == old_wechat)) is None
        assert session.get(Case, web_case).status == "in_progress"


def test_case_page_says_who_is_writing_and_what_happened(server: Server) -> None:
    from bot.storage.models import CaseEvent

    add_account(server.settings, "triager")
    case_id = add_case(server.settings, "孙子掉河里了，捞上来没气了", categories=("emergency",), external_id="who")
    with session_scope(server.settings) as session:
        session.add(CaseEvent(case_id=case_id, kind="created", payload={
            "severity": "red", "categories": ["emergency"], "situation": "drowning",
            "speaker": "guardian_about_child", "model": {"p_red": 0.97, "p_risk": 0.99}}))
    client, _ = login(server, "triager")
    page = client.get(f"/console/cases/{case_id}").text
    assert "谁在说：监护人说孩子的事" in page and "发生了什么：溺水" in page and "红色把握 97%" in page
