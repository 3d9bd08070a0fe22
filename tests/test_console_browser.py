"""End to end in headless Chromium: a red WeChat message reaches a counsellor's queue, who claims it, replies
(the fake WeChat API receives the 客服消息), refers to 12356, schedules a follow-up and closes it; a supervisor
then sees every step in the audit log. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.config import Settings
from bot.storage.migrate import upgrade
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account
from tests.fakes.wechat_api import AES_KEY, APP_ID, TOKEN, FakeWeChatAPI, message_xml, reply_content, signed_request

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OPENID = "o-grandma-e2e"
RED = "孙子说不想活了，刚才把农药瓶子拿走了"
SEND = "/cgi-bin/message/custom/send"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, FakeWeChatAPI]]:
    with FakeWeChatAPI() as api:
        # Passive delivery (the default): the counsellor's reply must still go out as 客服消息.
        settings = Settings(data_dir=tmp_path / "var", wechat_token=TOKEN, wechat_aes_key=AES_KEY,
                            wechat_app_id=APP_ID, wechat_app_secret="s", wechat_api_base=api.base_url,
                            wechat_outbox_poll_seconds=0.2, sla_check_seconds=3600)
        upgrade(settings)
        add_account(settings, "counsellor1", teams=("12356",))
        add_account(settings, "supervisor1", role="supervisor", teams=())
        for url in serve_app(settings, None):
            yield url, api


def _login(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/console")


def _shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(ARTIFACTS / f"{name}_375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"{name}_desktop.png"), full_page=True)


def _send_wechat(base: str, text: str) -> str | None:
    params, body = signed_request(message_xml(OPENID, "text", {"Content": text, "MsgId": int(time.time() * 1000)}),
                                  "aes")
    response = httpx.post(f"{base}/wechat", params=params, content=body, timeout=10)
    assert response.status_code == 200
    return reply_content(response.content, params)


def test_red_wechat_message_to_closed_case_in_the_browser(stack: tuple[str, FakeWeChatAPI]) -> None:
    base, api = stack
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _login(page, base, "counsellor1")
        expect(page.locator("tr.empty")).to_be_visible()

        crisis_reply = _send_wechat(base, RED)
        assert crisis_reply and "12356" in crisis_reply
        sent_at = time.monotonic()
        row = page.locator('tr[data-severity="red"]')
        expect(row).to_be_visible(timeout=5000)  # the open page refreshed itself
        assert time.monotonic() - sent_at < 5
        expect(page.locator("#red-alert")).to_be_visible()
        expect(row).to_contain_text("不想活")
        _shoot(page, "console_queue")

        row.locator("a").click()
        expect(page.locator("h1")).to_contain_text("个案")
        expect(page.locator("mark").first).to_be_visible()  # the triggering words are highlighted
        page.click("#claim")
        expect(page.locator("#case-status")).to_have_text("已认领")

        page.select_option("#canned", label="我是咨询员")
        expect(page.locator("#reply-text")).not_to_have_value("")
        page.click("#reply-form button[type=submit]")
        expect(page.locator("#case-status")).to_have_text("处理中")
        deadline = time.monotonic() + 10
        while not [c for c in api.calls(SEND) if c["json"].get("touser") == OPENID]:
            assert time.monotonic() < deadline, "the 客服消息 never reached the WeChat API"
            time.sleep(0.1)
        sent = [c for c in api.calls(SEND) if c["json"].get("touser") == OPENID][0]["json"]
        assert "咨询员" in sent["text"]["content"]

        page.select_option("#referral-form select[name=destination]", "12356")
        page.fill("#referral-form input[name=outcome]", "家长答应今晚打 12356")
        page.click("#referral-form button[type=submit]")
        expect(page.locator("[role=status]")).to_contain_text("转介已记录")

        page.fill("#follow-up-form input[name=note]", "三天后电话问孩子睡眠")
        page.click("#follow-up-form button[type=submit]")
        expect(page.locator("#case-status")).to_have_text("回访中")
        _shoot(page, "console_case")

        page.select_option("#close-form select[name=outcome]", "referred")
        page.click("#close-form button[type=submit]")
        expect(page.locator("#case-status")).to_have_text("已结案")
        case_id = page.url.split("/cases/")[1].split("?")[0]

        boss = browser.new_page(viewport={"width": 1280, "height": 900})
        _login(boss, base, "supervisor1")
        boss.goto(f"{base}/console/audit?case={case_id}")
        for action in ("view_case", "claim", "reply", "referral", "follow_up", "close"):
            expect(boss.locator(f'tr[data-action="{action}"]').first).to_contain_text("counsellor1")
        boss.screenshot(path=str(ARTIFACTS / "console_audit_desktop.png"), full_page=True)
        browser.close()
