"""Forwarded headers are believed only from the configured proxies (rightmost untrusted X-Forwarded-For
entry); otherwise the socket peer is the client. The audit log and the login backoff use that address, and
the deploy files never trust everyone."""

from __future__ import annotations

import re

import httpx
import pytest
import yaml
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import AuditEntry
from handlers.forwarded import client_address, parse_networks
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account

NGINX = parse_networks("10.0.0.2, 172.30.0.0/24")


@pytest.mark.parametrize(("peer", "header", "expected"), [
    ("198.51.100.1", ["6.6.6.6"], "198.51.100.1"),  # not a proxy: its header is ignored
    ("10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
    ("10.0.0.2", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # the client wrote 6.6.6.6 itself
    ("10.0.0.2", ["6.6.6.6", "203.0.113.9, 172.30.0.7"], "203.0.113.9"),  # two proxies, two header lines
    ("10.0.0.2", ["172.30.0.5, 172.30.0.7"], "172.30.0.5"),  # only proxies: the farthest one
    ("10.0.0.2", ["not-an-ip, 172.30.0.7"], "172.30.0.7"),
    ("10.0.0.2", [], "10.0.0.2"),
])
def test_rightmost_untrusted_entry(peer: str, header: list[str], expected: str) -> None:
    assert client_address(peer, header, NGINX) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("127.0.0.1", ["6.6.6.6"], ()) == "127.0.0.1"
    with pytest.raises(ValueError):
        parse_networks("*")


def _login_ips(settings: Settings, username: str) -> list[str]:
    with session_scope(settings) as session:
        return [entry.ip for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("login", "login_failed", "login_throttled"))).order_by(AuditEntry.id))
                if entry.username == username or entry.detail.get("username") == username]


def _login_from(url: str, username: str, forwarded: str, password: str = PASSWORD) -> httpx.Response:
    client = httpx.Client(base_url=url, timeout=10, headers={"X-Forwarded-For": forwarded})
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/console/login").text)[1]
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf": token})


def test_forged_header_is_ignored_without_a_trusted_proxy(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var", sla_check_seconds=3600)
    upgrade(settings)
    add_account(settings, "direct")
    for url in serve_app(settings, None):
        assert _login_from(url, "direct", "6.6.6.6", "wrong password").status_code == 401
        assert _login_from(url, "direct", "6.6.6.6").status_code == 303
        page = _login_from(url, "direct", "6.6.6.6")
        assert "Secure" not in page.headers["set-cookie"]
    assert _login_ips(settings, "direct") == ["127.0.0.1"] * 3


def test_trusted_proxy_gives_the_audit_and_the_backoff_the_real_client(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "var", sla_check_seconds=3600, trusted_proxies="127.0.0.1")
    upgrade(settings)
    add_account(settings, "behind")
    for url in serve_app(settings, None):
        for _ in range(settings.console_ip_free_failures):  # a guesser who forges an address to the left
            assert _login_from(url, "behind", f"6.6.6.{_}, 203.0.113.9", "wrong password").status_code == 401
        assert _login_from(url, "behind", "203.0.113.9").status_code == 401  # that address must wait now
        assert _login_from(url, "behind", "198.51.100.7").status_code == 303  # another office is not slowed
    assert _login_ips(settings, "behind") == ["203.0.113.9"] * 6 + ["198.51.100.7"]


def test_deploy_files_trust_only_nginx() -> None:
    compose = yaml.safe_load((PROJECT_ROOT / "deploy" / "docker-compose.yml").read_text("utf-8"))
    trusted = compose["x-app-env"]["TONGBAN_TRUSTED_PROXIES"]
    assert "*" not in trusted and "TONGBAN_FORWARDED_ALLOW_IPS" not in compose["x-app-env"]
    nginx_address = compose["services"]["nginx"]["networks"]["edge"]["ipv4_address"]
    assert parse_networks(trusted) == parse_networks(nginx_address)
    conf = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text("utf-8")
    assert "$proxy_add_x_forwarded_for" not in conf  # the edge proxy replaces what the client claims
    assert conf.count("proxy_set_header X-Forwarded-For $remote_addr;") == 2
