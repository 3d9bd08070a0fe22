"""Case alerts on every configured channel: generic webhook (JSON), WeCom group robot (markdown) and WeChat
template messages to counsellors who bound their WeChat. Each channel runs on its own daemon thread with
bounded retries, so an alert never blocks a reply and one slow channel never delays another."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import requests
from sqlalchemy import or_, select
from wechatpy.exceptions import WeChatClientException

from bot.config import Settings
from bot.casework.notify import RETRY_DELAYS, notify_red_case
from bot.prompts import prompt_yaml
from bot.storage.db import session_scope
from bot.storage.models import Account, TeamMember

log = logging.getLogger(__name__)


def _wecom_accepted(response: httpx.Response) -> bool:
    """The robot answers HTTP 200 with {"errcode": 0} on success and a non-zero errcode otherwise."""
    try:
        return response.status_code == 200 and response.json().get("errcode") == 0
    except ValueError:
        return False


def _title(payload: dict[str, Any]) -> str:
    kind = "escalated" if payload.get("kind") == "red_case" and payload.get("escalated") else payload.get("kind")
    return prompt_yaml("notify/alerts.yaml")["titles"].get(kind, "")


def case_url(settings: Settings, case_id: int) -> str:
    return f"{settings.console_base_url.rstrip('/')}/console/cases/{case_id}" if settings.console_base_url else ""


def wecom_markdown(settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    texts, labels = prompt_yaml("notify/alerts.yaml"), prompt_yaml("console_labels.yaml")
    url = case_url(settings, payload["case_id"])
    content = texts["wecom"].format(
        title=_title(payload), case_id=payload["case_id"],
        severity=labels["severities"].get(payload.get("severity"), payload.get("severity")),
        categories="、".join(labels["categories"].get(c, c) for c in payload.get("categories", [])) or "-",
        channel=labels["channels"].get(payload.get("channel"), payload.get("channel")),
        team="、".join(payload.get("teams") or [payload.get("team") or "-"]), link=texts["link"].format(url=url) if url else "",
    ).strip()
    return {"msgtype": "markdown", "markdown": {"content": content}}


def template_recipients(settings: Settings, teams: list[str]) -> list[str]:
    """Openids of active accounts with a bound WeChat that are on call or in one of the teams concerned."""
    with session_scope(settings) as session:
        in_team = select(TeamMember.account_id).where(TeamMember.team_key.in_([t for t in teams if t]))
        return list(session.scalars(select(Account.wechat_openid).where(
            Account.active.is_(True), Account.wechat_openid.is_not(None), Account.wechat_openid != "",
            or_(Account.on_call.is_(True), Account.id.in_(in_team)))))


def _send_templates(settings: Settings, payload: dict[str, Any], delays: tuple[float, ...]) -> None:
    from bot.wechat.client import make_client

    labels = prompt_yaml("console_labels.yaml")
    data = {
        "first": {"value": _title(payload)},
        "keyword1": {"value": f"#{payload['case_id']}"},
        "keyword2": {"value": labels["severities"].get(payload.get("severity"), "")},
        "keyword3": {"value": "、".join(labels["categories"].get(c, c) for c in payload.get("categories", []))},
        "remark": {"value": prompt_yaml("notify/alerts.yaml")["template_remark"]},
    }
    url = case_url(settings, payload["case_id"]) or None
    client = make_client(settings)
    for openid in template_recipients(settings, payload.get("teams") or [payload.get("team") or ""]):
        for attempt, delay in enumerate((0.0, *delays)):
            time.sleep(delay)
            try:
                client.call(lambda: client.message.send_template(openid, settings.notify_wechat_template_id,
                                                                 data, url=url))
                break
            except (WeChatClientException, requests.RequestException) as exc:
                reason = f"{exc.errcode}" if isinstance(exc, WeChatClientException) else type(exc).__name__
                log.warning("template alert for case %s failed (attempt %d): %s", payload["case_id"], attempt + 1,
                            reason)  # a requests exception's text holds the URL with the access token
        else:
            log.error("template alert for case %s gave up", payload["case_id"])


def alert_case(settings: Settings, payload: dict[str, Any],
               delays: tuple[float, ...] = RETRY_DELAYS) -> list[threading.Thread]:
    """Starts delivery of one alert ({case_id, severity, categories, channel, team, kind, …}) on every
    configured channel; returns the threads (tests may join them)."""
    threads = [
        notify_red_case(settings.notify_webhook_url, payload, delays),
        notify_red_case(settings.notify_wecom_url, wecom_markdown(settings, payload) if settings.notify_wecom_url
                        else {}, delays, accepted=_wecom_accepted),
    ]
    if settings.notify_wechat_template_id and settings.wechat_app_id and settings.wechat_app_secret:
        thread = threading.Thread(target=_send_templates, args=(settings, payload, delays), daemon=True,
                                  name="case-template-alert")
        thread.start()
        threads.append(thread)
    return [thread for thread in threads if thread is not None]
