"""The handoff story in headless Chromium with two browser contexts (the family's web chat and the counsellor's
console), on SQLite and PostgreSQL: red message -> queue -> claim-and-send -> the family sees the counsellor
-> the family's answer appears live on the case page and the bot stays quiet -> a new emergency gets 120 at
once and the case page alerts the counsellor; the call-back number the family gave shows tap-to-call -> the
child is being beaten (a new red category): 110 at once, and the case now needs the mandatory report, which
the counsellor records (to whom, when, reference) -> 「交还给机器人」 -> the case is closed, and the closed case
page keeps the report record and the closing note (also when opened again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.config import Settings
from bot.prompts import prompt_text
from bot.storage.migrate import upgrade
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RED = "我家孙子跟我说他不想活了，想去死"
QUESTION = "孩子现在在您身边吗？"
SAFE_NOW = "在身边，我们安全，谢谢老师"
FALL = "孩子从楼梯上摔下来，叫不醒"
BEATEN = "他爸爸喝醉了用皮带抽他，身上全是血印子"
POLICE = "启东市公安局汇龙派出所"
REPORTED_AT = "2025-03-01T10:30"  # Beijing time, as the datetime-local field takes it
REFERENCE = "HL-20250301-07"
TIMEOUT_MS = 8000


@pytest.fixture
def base(db_settings: Settings, tmp_path: Path) -> Iterator[str]:
    settings = Settings(**{**db_settings.model_dump(), "sla_check_seconds": 3600, "console_poll_seconds": 1.0})
    upgrade(settings)
    add_account(settings, "amy", teams=("12356",))
    yield from serve_app(settings, None)


def _say(page: Page, text: str) -> None:
    page.get_by_label("在这里打字提问").fill(text)
    page.get_by_role("button", name="发送").click()
    expect(page.locator(".row.waiting")).to_have_count(0)


def test_the_counsellor_holds_the_conversation_in_two_browsers(base: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        family = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
        console = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
        for page in (family, console):
            page.set_default_timeout(TIMEOUT_MS)

        console.goto(f"{base}/console/login")
        console.fill("input[name=username]", "amy")
        console.fill("input[name=password]", PASSWORD)
        console.click("button[type=submit]")
        expect(console).to_have_url(f"{base}/console")

        family.goto(base)
        _say(family, RED)
        bot = family.locator(".row.from-bot[data-id]")
        expect(bot.last).to_contain_text("12356")
        expect(bot.last).to_contain_text(prompt_text("replies/ask_callback.txt"))  # asked once for a number
        _say(family, "13812345678")
        expect(bot.last).to_contain_text("13812345678")
        bot_count = bot.count()

        row = console.locator('tr[data-severity="red"]')
        expect(row).to_be_visible()  # the queue refreshed itself
        row.locator("a").first.click()
        expect(console.locator("#conversation-mode")).to_have_attribute("data-mode", "bot")
        expect(console.locator("#callback-phone")).to_have_attribute("href", "tel:13812345678")
        console.fill("#reply-text", QUESTION)
        console.get_by_role("button", name="认领并发送").click()
        expect(console.locator("#conversation-mode")).to_have_attribute("data-mode", "human")

        expect(family.locator(".row.from-person").last).to_contain_text(QUESTION)  # looks like a person
        _say(family, SAFE_NOW)
        expect(console.locator("#live-messages li.live", has_text=SAFE_NOW)).to_be_visible()  # no reload
        family.wait_for_timeout(500)
        assert bot.count() == bot_count  # the bot did not talk over the counsellor

        _say(family, FALL)
        expect(bot.last).to_contain_text("120")
        assert "120" in bot.last.locator(".text").inner_text().splitlines()[0]  # the number first
        expect(console.locator("#risk-alert")).to_be_visible()
        expect(console.locator("#live-messages li.live", has_text=FALL)).to_be_visible()

        _say(family, BEATEN)  # a new red category: its own safety reply, 110 first
        expect(bot.last).to_contain_text("110")
        assert "110" in bot.last.locator(".text").inner_text().splitlines()[0]
        expect(console.locator("#live-messages li.live", has_text=BEATEN)).to_be_visible()

        console.reload()  # abuse: the case now needs the mandatory report before it may be closed
        report = console.locator(".card.mandatory")
        expect(report).to_contain_text("结案前必须填写")
        report.locator("input[name=reported_to]").fill(POLICE)
        report.locator("input[name=reported_at]").fill(REPORTED_AT)
        report.locator("input[name=reference]").fill(REFERENCE)
        report.get_by_role("button", name="记录报告").click()
        expect(console.locator(".card.mandatory")).to_contain_text(f"已报告：{POLICE}")

        console.get_by_role("button", name="交还给机器人").click()
        expect(console.locator("#conversation-mode")).to_have_attribute("data-mode", "bot")
        expect(bot.last).to_contain_text(prompt_text("replies/handback.txt").splitlines()[0][:10])

        close = console.locator("#close-form")
        close.locator("input[name=note]").fill("孩子已送医，家长在身边")
        close.get_by_role("button", name="结案").click()
        expect(console.locator("#case-status")).to_have_attribute("data-status", "closed")
        case_url = console.url.split("?")[0]
        for _ in range(2):  # right after closing, and opened again later
            expect(console.locator("#closing-note")).to_contain_text("孩子已送医")
            record = console.locator("#closed-report")
            for part in (POLICE, "2025-03-01 10:30", REFERENCE):
                expect(record).to_contain_text(part)
            console.goto(case_url)
        browser.close()
