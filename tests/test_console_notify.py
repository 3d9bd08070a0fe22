"""Case alerts on every channel (webhook, WeCom robot, WeChat template message) and SLA breaches once each."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.config import Settings
from bot.console.sla import check_sla
from bot.metrics import SLA_BREACHES
from bot.casework.notify_channels import alert_case
from bot.storage.db import session_scope
from bot.storage.migrate import upgrade
from bot.storage.models import Case, CaseEvent
from tests.fakes.console import add_account, add_case
from tests.fakes.webhook import WebhookReceiver
from tests.fakes.wechat_api import APP_ID, FakeWeChatAPI

TEMPLATE = "/cgi-bin/message/template/send"
FAST = (0.05, 0.05, 0.05)


def _join(threads) -> None:  # type: ignore[no-untyped-def]
    for thread in threads:
        thread.join(10)


@pytest.fixture
def channels(db_settings: Settings):
    with WebhookReceiver() as hook, WebhookReceiver(fail_first=1, wecom=True) as robot, FakeWeChatAPI() as api:
        settings = Settings(**{**db_settings.model_dump(), "notify_webhook_url": hook.url,
                               "notify_wecom_url": robot.url, "notify_wechat_template_id": "tpl-red",
                               "wechat_app_id": APP_ID, "wechat_app_secret": "s", "wechat_api_base": api.base_url,
                               "console_base_url": "https://console.example.org"})
        upgrade(settings)
        yield settings, hook, robot, api


def test_red_case_alert_reaches_every_channel(channels) -> None:  # type: ignore[no-untyped-def]
    settings, hook, robot, api = channels
    add_account(settings, "oncall", teams=(), on_call=True, openid="o-oncall")
    add_account(settings, "teamie", teams=("12356",), openid="o-team")
    add_account(settings, "elsewhere", teams=("12355",), openid="o-other")
    add_account(settings, "unbound", teams=("12356",))
    payload = {"kind": "red_case", "case_id": 41, "severity": "red", "escalated": False,
               "categories": ["suicide"], "channel": "wechat", "team": "12356"}
    _join(alert_case(settings, payload, FAST))
    assert hook.received == [payload]
    assert robot.attempts == 2, "the WeCom errcode answer is retried"
    markdown = robot.received[0]
    assert markdown["msgtype"] == "markdown"
    content = markdown["markdown"]["content"]
    assert "#41" in content and "自杀风险" in content and "https://console.example.org/console/cases/41" in content
    sent = api.calls(TEMPLATE)
    assert sorted(c["json"]["touser"] for c in sent) == ["o-oncall", "o-team"]
    assert sent[0]["json"]["template_id"] == "tpl-red" and sent[0]["json"]["url"].endswith("/console/cases/41")


def test_sla_breach_is_alerted_once(channels) -> None:  # type: ignore[no-untyped-def]
    settings, hook, robot, _ = channels
    late = add_case(settings, external_id="late")
    fresh = add_case(settings, external_id="fresh")
    answered = add_case(settings, external_id="answered")
    an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    with session_scope(settings) as session:
        session.get(Case, late).created_at = an_hour_ago
        session.get(Case, answered).created_at = an_hour_ago
        session.get(Case, answered).first_response_at = an_hour_ago + dt.timedelta(minutes=5)
    counted = SLA_BREACHES.labels("red")._value.get() + SLA_BREACHES.labels("yellow")._value.get()
    assert check_sla(settings, delays=FAST) == [late]
    assert check_sla(settings, delays=FAST) == []  # once per breach
    assert SLA_BREACHES.labels("red")._value.get() + SLA_BREACHES.labels("yellow")._value.get() == counted + 1
    assert hook.event.wait(5)
    assert [p["case_id"] for p in hook.received] == [late] and hook.received[0]["kind"] == "sla_breach"
    assert robot.event.wait(5) and "超过响应时限" in robot.received[0]["markdown"]["content"]
    with session_scope(settings) as session:
        assert session.get(Case, late).sla_breach_notified and not session.get(Case, fresh).sla_breach_notified
        assert session.query(CaseEvent).filter_by(case_id=late, kind="sla_breach").count() == 1
