"""Attacks on the counsellor console over real HTTP (uvicorn), on SQLite and PostgreSQL: SQL injection, XSS and
CSV formula injection, oversized forms, CSRF-less posts, session fixation, brute force, forged authorization,
security headers. Each attack must be refused (never a 5xx, never a leak) and leave an audit entry."""

from __future__ import annotations

import csv
import io
import re
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.console.accounts import LOGIN_REFUSED, MAX_FAILED_LOGINS
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Account, AuditEntry, Case, CaseEvent, ConsoleSession, FollowUp, Referral
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account, add_case, csrf_of, login

SQLI = ["' OR '1'='1", "1 OR 1=1", "1;DROP TABLE cases", "'); DROP TABLE audit_log;--", '" OR ""="',
        "1' UNION SELECT password_hash FROM accounts--", "%' OR 1=1 --", "中文'--"]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
CASE_ACTIONS = ("claim", "assign", "note", "referral", "report", "defer_report", "follow_up", "follow_up_done",
                "close", "reopen", "reply")


class Server(str):
    settings: Settings


@pytest.fixture
def server(db_settings: Settings) -> Iterator[Server]:
    # All requests come from 127.0.0.1: per-IP backoff is loosened here (tests/test_console_login_backoff.py
    # tests it) so that the account lockout and the other attacks can be seen on their own.
    settings = db_settings.model_copy(update={"sla_check_seconds": 3600, "console_ip_free_failures": 1000})
    upgrade(settings)
    for url in serve_app(settings, None):
        served = Server(url)
        served.settings = settings
        yield served


def _audit(settings: Settings, action: str, username: str | None = None) -> list[AuditEntry]:
    with session_scope(settings) as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        if username is not None:
            query = query.where(AuditEntry.username == username)
        return list(session.scalars(query))


def _count(settings: Settings, model: type) -> int:
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def _claimed_by(settings: Settings, case_id: int, account_id: int) -> None:
    with session_scope(settings) as session:
        case = session.get(Case, case_id)
        case.assigned_to, case.status = account_id, "claimed"


def _error_of(page: httpx.Response) -> str:
    return re.search(r'<p class="error" role="alert">(.*?)</p>', page.text, re.S)[1]


def _link(case_id: int) -> str:
    return f'href="/console/cases/{case_id}"'


# --- SQL injection -----------------------------------------------------------------------------------------

def test_sql_injection_in_every_input_is_inert(server: Server) -> None:
    settings = server.settings
    amy, ben = add_account(settings, "amy"), add_account(settings, "ben")
    add_account(settings, "boss", role="supervisor", teams=())
    hidden = add_case(settings, external_id="hidden")
    mine = add_case(settings, external_id="mine")
    _claimed_by(settings, hidden, ben)
    for attempt in SQLI:
        _, answer = login(server, attempt, attempt)
        assert answer.status_code == 401 and LOGIN_REFUSED in answer.text
    _, answer = login(server, "amy' --", PASSWORD)
    assert answer.status_code == 401

    client, _ = login(server, "amy")
    for attempt in SQLI:
        for name in ("status", "severity", "category", "mine", "overdue"):
            for path in ("/console", "/console/queue/rows"):
                page = client.get(path, params={name: attempt})
                assert page.status_code == 200 and _link(hidden) not in page.text
    for path in ("/console/cases/1 OR 1=1", "/console/cases/1;DROP TABLE cases", f"/console/cases/{hidden} OR 1=1",
                 "/console/cases/99999999999999999999", "/console/cases/-1", "/console/cases/²"):
        assert client.get(path).status_code == 422
    token = csrf_of(client)
    assert client.post("/console/cases/1 OR 1=1/note", data={"csrf": token, "text": "x"}).status_code == 422
    assert client.post(f"/console/cases/{mine}/claim", data={"csrf": token}).status_code == 303
    forms = [("note", {"text": attempt}) for attempt in SQLI] + [
        ("referral", {"destination": SQLI[0], "outcome": "x"}),
        ("referral", {"destination": "12356", "outcome": SQLI[1]}),
        ("follow_up", {"due_on": SQLI[2], "note": "x"}),
        ("follow_up", {"due_on": "9999-12-31", "note": "x"}),
        ("follow_up", {"due_on": "2030-01-02", "note": SQLI[3]}),
        ("follow_up_done", {"follow_up_id": SQLI[4]}),
        ("follow_up_done", {"follow_up_id": "99999999999999999999"}),
        ("report", {"reported_to": SQLI[5], "reported_at": SQLI[6], "reference": SQLI[7]}),
        ("report", {"reported_to": "派出所", "reported_at": "0001-01-01T00:00", "reference": "x"}),
        ("assign", {"account_id": SQLI[1], "team": SQLI[0]}),
        ("close", {"outcome": SQLI[0]}),
    ]
    for action, form in forms:
        answer = client.post(f"/console/cases/{mine}/{action}", data={"csrf": token, **form})
        assert answer.status_code in (303, 403, 409), (action, form, answer.status_code)
        assert _link(hidden) not in answer.text
    page = client.get(f"/console/cases/{mine}")
    assert page.status_code == 200 and "&#39;); DROP TABLE audit_log;--" in page.text  # stored and shown as text

    boss, _ = login(server, "boss")
    for attempt in SQLI:
        audit_page = boss.get("/console/audit", params={"case": attempt, "user": attempt, "action": attempt})
        assert audit_page.status_code == 200 and "没有记录" in audit_page.text
        for path in ("/console/reports", "/console/export.csv"):
            assert boss.get(path, params={"from": attempt, "to": attempt}).status_code == 200
    for start, end in (("0001-01-01", "9999-12-31"), ("9999-12-31", "0001-01-01"), ("2024-02-30", "2024-13-01")):
        for path in ("/console/reports", "/console/export.csv"):
            assert boss.get(path, params={"from": start, "to": end}).status_code == 200
    assert boss.get("/console/export.csv", params={"to": "0001-01-01"}).status_code == 200

    assert _count(settings, Case) == 2 and _count(settings, Account) == 3  # the tables are still there
    with session_scope(settings) as session:
        notes = list(session.scalars(select(CaseEvent.payload).where(CaseEvent.kind == "note")))
        assert [note["text"] for note in notes] == SQLI
        assert list(session.scalars(select(Referral.outcome))) == [SQLI[1]]
        assert [f.note for f in session.scalars(select(FollowUp))] == [SQLI[3]]
    refused = _audit(settings, "request_refused", "amy")
    assert len(refused) == 7 and {entry.detail["reason"] for entry in refused} == {"malformed"}
    assert any(entry.detail["path"] == "/console/cases/1 OR 1=1" for entry in refused)
    assert len(_audit(settings, "login_failed")) == len(SQLI) + 1
    denied = _audit(settings, "denied", "amy")  # the forged assign
    assert len(denied) == 1 and denied[0].detail["reason"].startswith("只有督导可以指派")


# --- XSS and CSV formula injection ---------------------------------------------------------------------------

def test_script_payloads_are_escaped_on_every_page_and_neutralised_in_the_csv(server: Server) -> None:
    settings = server.settings
    chat = httpx.post(f"{server}/api/chat", json={"user_id": "xss-visitor", "text": XSS + "我不想活了"}, timeout=30)
    assert chat.status_code == 200 and chat.json()["level"] == "red"
    case_id = chat.json()["case_id"]
    add_account(settings, "root", role="admin", teams=())
    add_account(settings, "boss", role="supervisor", teams=())
    root, _ = login(server, "root")
    evil_name = '=HYPERLINK("http://e.x")<script>alert(1)</script>'
    created = root.post("/console/users", data={"csrf": csrf_of(root, "/console/users"), "action": "create",
                                                 "username": evil_name, "display_name": XSS, "role": "counsellor",
                                                 "teams": ["12356"]})
    assert created.status_code == 200
    password = re.search(r"<code>([^<]+)</code>", created.text)[1]
    evil, answer = login(server, evil_name, password)
    assert answer.status_code == 303
    token = csrf_of(evil)
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    for action, form in (("claim", {}), ("note", {"text": XSS}), ("referral", {"destination": "12356", "outcome": XSS}),
                         ("follow_up", {"due_on": today, "note": XSS}), ("reply", {"text": XSS})):
        assert evil.post(f"/console/cases/{case_id}/{action}", data={"csrf": token, **form}).status_code == 303

    boss, _ = login(server, "boss")
    pages = [evil.get("/console"), evil.get("/console/queue/rows"), evil.get(f"/console/cases/{case_id}"),
             boss.get("/console/audit"), boss.get("/console/audit", params={"user": evil_name}),
             boss.get("/console/reports"),
             boss.get(f"/console/cases/{case_id}"), root.get("/console/users")]
    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, page.url
    case_page = pages[2].text
    # the message, the reply, the referral outcome and the follow-up note
    assert case_page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 4
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[3].text  # the audit log shows the referral outcome

    export = boss.get("/console/export.csv")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[1][rows[0].index("assigned_to")] == "'" + evil_name
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]


# --- oversized forms -----------------------------------------------------------------------------------------

def test_oversized_forms_get_413_and_nothing_is_stored(server: Server) -> None:
    settings = server.settings
    add_account(settings, "big")
    case_id = add_case(settings)
    client, _ = login(server, "big")
    token = csrf_of(client)
    assert client.post(f"/console/cases/{case_id}/claim", data={"csrf": token}).status_code == 303
    huge = client.post(f"/console/cases/{case_id}/note", data={"csrf": token, "text": "孩" * 350_000})  # ~1 MB
    assert huge.status_code == 413
    just_over = client.post(f"/console/cases/{case_id}/note", data={"csrf": token, "text": "x" * 70_000})
    assert just_over.status_code == 413
    many = urlencode([("csrf", token), ("text", "x")] + [("a", "")] * 10_000)  # 30 KB: small, but many fields
    assert client.post(f"/console/cases/{case_id}/note", content=many,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 413
    multipart = client.post(f"/console/cases/{case_id}/note", data={"csrf": token, "text": "x"},
                            files={"upload": ("a.txt", b"x" * 100)})
    assert multipart.status_code == 413  # the console takes no files
    page = client.get("/console/login")
    login_token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    assert client.post("/console/login", data={"username": "big", "password": "p" * 1_000_000,
                                               "csrf": login_token}).status_code == 413
    with session_scope(settings) as session:
        assert session.scalar(select(CaseEvent.id).where(CaseEvent.kind == "note")) is None
    refused = _audit(settings, "request_refused", "big")
    assert [entry.detail["reason"] for entry in refused] == [
        "body_too_large", "body_too_large", "too_many_fields", "too_many_fields", "body_too_large"]
    normal = client.post(f"/console/cases/{case_id}/note", data={"csrf": token, "text": "家访记录" * 1000})
    assert normal.status_code == 303


# --- CSRF ----------------------------------------------------------------------------------------------------

def test_every_state_changing_post_without_the_csrf_token_is_refused_and_audited(server: Server) -> None:
    settings = server.settings
    add_account(settings, "chief", role="admin")
    case_id = add_case(settings)
    client, _ = login(server, "chief")
    routes = [f"/console/cases/{case_id}/{action}" for action in CASE_ACTIONS] + ["/console/users", "/console/logout"]
    for route in routes:
        for forged in ({}, {"csrf": "forged"}, {"csrf": "伪造"}):
            answer = client.post(route, data={**forged, "text": "x", "action": "create", "username": "sneaky"})
            assert answer.status_code == 403, (route, forged, answer.status_code)
    refused = _audit(settings, "csrf_refused", "chief")
    assert len(refused) == 3 * len(routes) and {e.detail["path"] for e in refused} == set(routes)
    assert client.get("/console").status_code == 200  # logout without the token did not log out
    with session_scope(settings) as session:
        assert session.get(Case, case_id).status == "open"
        assert session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id)) is None
        assert session.scalar(select(Account.id).where(Account.username == "sneaky")) is None
    stranger = httpx.Client(base_url=server)
    assert stranger.post("/console/login", data={"username": "chief", "password": PASSWORD}).status_code == 403
    stranger.get("/console/login")
    assert stranger.post("/console/login", data={"username": "chief", "password": PASSWORD,
                                                 "csrf": "仿冒"}).status_code == 403
    assert [e.detail["username"] for e in _audit(settings, "csrf_refused", "")] == ["chief", "chief"]


# --- sessions ------------------------------------------------------------------------------------------------

def test_sessions_do_not_survive_login_logout_password_reset_or_deactivation(server: Server) -> None:
    settings = server.settings
    add_account(settings, "victim")
    add_account(settings, "mallory")
    add_account(settings, "root", role="admin", teams=())
    planted = httpx.Client(base_url=server, cookies={"tongban_console": "attacker-chosen-id"})
    assert planted.get("/console", follow_redirects=False).status_code == 303
    attacker, _ = login(server, "mallory")
    attacker_token = attacker.cookies["tongban_console"]
    for chosen in ("attacker-chosen-id", attacker_token):  # fixation: a made-up id, or the attacker's own session
        browser = httpx.Client(base_url=server)
        browser.cookies.set("tongban_console", chosen, domain="127.0.0.1", path="/console")
        answer = _login_with(browser, "victim")
        issued = answer.cookies["tongban_console"]
        assert answer.status_code == 303 and issued not in (chosen, attacker_token)
        assert "victim" in browser.get("/console").text
    assert attacker.get("/console", follow_redirects=False).status_code == 303  # ended at the victim's login

    victim, _ = login(server, "victim")
    stolen = victim.cookies["tongban_console"]
    assert victim.post("/console/logout", data={"csrf": csrf_of(victim)}).status_code == 303
    assert _replay(server, stolen).status_code == 303

    root, _ = login(server, "root")
    victim, _ = login(server, "victim")
    stolen = victim.cookies["tongban_console"]
    reset = root.post("/console/users", data={"csrf": csrf_of(root, "/console/users"), "action": "reset_password",
                                              "username": "victim"})
    new_password = re.search(r"<code>([^<]+)</code>", reset.text)[1]
    assert _replay(server, stolen).status_code == 303  # the reset ended the session
    victim, answer = login(server, "victim", new_password)
    assert answer.status_code == 303
    stolen = victim.cookies["tongban_console"]
    assert root.post("/console/users", data={"csrf": csrf_of(root, "/console/users"), "action": "toggle_active",
                                             "username": "victim"}).status_code == 200
    assert _replay(server, stolen).status_code == 303  # deactivation ended it too
    _, answer = login(server, "victim", new_password)  # right password, inactive account
    assert answer.status_code == 401 and _error_of(answer) == LOGIN_REFUSED
    with session_scope(settings) as session:
        victim_id = session.scalar(select(Account.id).where(Account.username == "victim"))
        assert session.scalar(select(ConsoleSession.id).where(ConsoleSession.account_id == victim_id)) is None
    assert {e.detail["username"] for e in _audit(settings, "user_reset_password", "root")} == {"victim"}
    assert _audit(settings, "login_failed")[-1].detail == {"username": "victim", "reason": "unknown_or_inactive"}


def _login_with(client: httpx.Client, username: str) -> httpx.Response:
    """Logs in with an existing client, keeping whatever cookies it carries."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text)[1]
    return client.post("/console/login", data={"username": username, "password": PASSWORD, "csrf": token})


def _replay(server: str, token: str) -> httpx.Response:
    """The queue requested with a copied session cookie, from another browser."""
    return httpx.get(f"{server}/console", cookies={"tongban_console": token}, follow_redirects=False)


# --- brute force ---------------------------------------------------------------------------------------------

def test_brute_force_locks_the_account_without_revealing_which_names_exist(server: Server) -> None:
    settings = server.settings
    add_account(settings, "target")
    timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
    messages = set()
    for attempt in range(MAX_FAILED_LOGINS):
        for kind, name in (("unknown", f"nobody{attempt}"), ("wrong", "target")):
            started = time.perf_counter()
            _, answer = login(server, name, "not the password")
            timings[kind].append(time.perf_counter() - started)
            assert answer.status_code == 401
            messages.add(_error_of(answer))
    _, locked = login(server, "target")  # the next attempt, with the right password
    _, unknown = login(server, "nobody", PASSWORD)
    assert locked.status_code == unknown.status_code == 401
    messages |= {_error_of(locked), _error_of(unknown)}
    assert messages == {LOGIN_REFUSED}  # the same words whether the name exists, is wrong or is locked
    # Unknown names run argon2 against a dummy hash, so they take about as long as a wrong password.
    assert statistics.median(timings["unknown"]) > 0.3 * statistics.median(timings["wrong"])
    reasons = [e.detail["reason"] for e in _audit(settings, "login_failed") if e.detail["username"] == "target"]
    assert reasons == ["wrong_password"] * (MAX_FAILED_LOGINS - 1) + ["locked_now", "locked"]
    assert [e.detail["username"] for e in _audit(settings, "account_locked")] == ["target"]
    with session_scope(settings) as session:
        account = session.scalar(select(Account).where(Account.username == "target"))
        assert account.failed_logins == MAX_FAILED_LOGINS and account.locked_until is not None


def test_parallel_guesses_cannot_outrun_the_lockout(server: Server) -> None:
    settings = server.settings
    add_account(settings, "racer")
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda i: login(server, "racer", f"guess {i}")[1].status_code, range(24)))
    assert answers == [401] * 24
    _, answer = login(server, "racer")
    assert answer.status_code == 401 and _error_of(answer) == LOGIN_REFUSED
    reasons = [e.detail["reason"] for e in _audit(settings, "login_failed")]
    assert reasons.count("wrong_password") == MAX_FAILED_LOGINS - 1 and reasons.count("locked_now") == 1
    assert len(_audit(settings, "account_locked")) == 1


# --- authorization -------------------------------------------------------------------------------------------

def test_forged_posts_and_role_pages_are_refused_and_audited(server: Server) -> None:
    settings = server.settings
    amy, ben = add_account(settings, "amy"), add_account(settings, "ben")
    add_account(settings, "boss", role="supervisor", teams=())
    theirs, unclaimed = add_case(settings, external_id="a"), add_case(settings, external_id="b")
    _claimed_by(settings, theirs, amy)
    client, _ = login(server, "ben")
    token = csrf_of(client)
    attempts = [client.get(f"/console/cases/{theirs}")]
    attempts += [client.post(f"/console/cases/{theirs}/{action}", data={
        "csrf": token, "text": "偷看", "destination": "110", "outcome": "resolved", "due_on": "2030-01-01",
        "reason": "x", "reported_to": "x", "account_id": str(ben)}) for action in CASE_ACTIONS]
    attempts.append(client.post(f"/console/cases/{unclaimed}/assign", data={"csrf": token, "account_id": str(ben)}))
    attempts += [client.get(path) for path in ("/console/audit", "/console/reports", "/console/export.csv",
                                               "/console/users")]
    attempts.append(client.post("/console/users", data={"csrf": token, "action": "create", "username": "ben2",
                                                         "role": "admin"}))
    boss, _ = login(server, "boss")
    attempts.append(boss.get("/console/users"))
    attempts.append(boss.post("/console/users", data={"csrf": csrf_of(boss), "action": "reset_password",
                                                      "username": "amy"}))
    assert [answer.status_code for answer in attempts] == [403] * len(attempts)
    assert all("偷看" not in answer.text and "不想活" not in answer.text for answer in attempts[:12])
    denied = _audit(settings, "denied")
    assert len(denied) == len(attempts)
    assert [e.username for e in denied] == ["ben"] * (len(attempts) - 2) + ["boss", "boss"]
    with session_scope(settings) as session:
        case = session.get(Case, theirs)
        assert (case.assigned_to, case.status) == (amy, "claimed")
        assert session.get(Case, unclaimed).assigned_to is None
        assert session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == theirs)) is None
        assert session.scalar(select(Account.id).where(Account.username == "ben2")) is None
    _, answer = login(server, "amy")  # amy's password was not reset
    assert answer.status_code == 303


# --- headers -------------------------------------------------------------------------------------------------

def test_console_pages_send_security_headers_and_are_never_cached(server: Server) -> None:
    settings = server.settings
    add_account(settings, "boss", role="supervisor", teams=())
    case_id = add_case(settings)
    client, _ = login(server, "boss")
    answers = [httpx.get(f"{server}/console/login"), httpx.get(f"{server}/console", follow_redirects=False),
               client.get("/console"), client.get("/console/queue/rows"), client.get(f"/console/cases/{case_id}"),
               client.get("/console/audit"), client.get("/console/reports"), client.get("/console/export.csv"),
               client.get("/console/cases/x"), client.post(f"/console/cases/{case_id}/claim", data={})]
    assert [a.status_code for a in answers] == [200, 303, 200, 200, 200, 200, 200, 200, 422, 403]
    for answer in answers:
        headers = answer.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"
    for answer in answers:  # no inline script for the CSP to forbid
        assert re.findall(r"<script(?![^>]*\bsrc=)", answer.text) == []
