"""Helpers for console tests: accounts, a red case in the database, and a logged-in HTTP client."""

from __future__ import annotations

import re

import httpx

from bot.casework.workflow import Actor
from bot.config import Settings
from bot.console.accounts import create_account, teams_of
from bot.storage.db import session_scope
from bot.storage.models import Account, Case, ChannelUser, Message

PASSWORD = "correct horse battery"


def add_account(settings: Settings, name: str, role: str = "counsellor", teams: tuple[str, ...] = ("12356",),
                on_call: bool = False, openid: str | None = None) -> int:
    with session_scope(settings) as session:
        account = create_account(session, name, PASSWORD, role, teams, on_call=on_call)
        account.wechat_openid = openid
        return account.id


def actor(settings: Settings, account_id: int) -> Actor:
    with session_scope(settings) as session:
        account = session.get(Account, account_id)
        return Actor(account, teams_of(session, account_id), "127.0.0.1")


def add_case(settings: Settings, text: str = "孩子说不想活了", severity: str = "red",
             categories: tuple[str, ...] = ("suicide",), team: str = "12356", channel: str = "web",
             external_id: str = "visitor-1", mandatory: bool = False) -> int:
    with session_scope(settings) as session:
        user = ChannelUser(channel=channel, external_id=external_id)
        session.add(user)
        session.flush()
        case = Case(user_id=user.id, channel=channel, severity=severity, categories=list(categories),
                    evidence=[], reasons=["test"], status="open", mandatory_report=mandatory, team=team)
        session.add(case)
        session.flush()
        session.add(Message(user_id=user.id, direction="in", text=text, level=severity, case_id=case.id))
        return case.id


def login(base_url: str, username: str, password: str = PASSWORD) -> tuple[httpx.Client, httpx.Response]:
    """A client that fetched the login page (CSRF cookie) and posted the form; returns it and the answer."""
    client = httpx.Client(base_url=base_url, timeout=10)
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    response = client.post("/console/login", data={"username": username, "password": password, "csrf": token})
    return client, response


def csrf_of(client: httpx.Client, path: str = "/console") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)[1]
