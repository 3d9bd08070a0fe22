"""The learning loop in headless Chromium (Debian package, Playwright), SQLite and PostgreSQL: a grandmother
votes 👎 on a web answer (the vote survives a reload; a crisis reply has no buttons); the supervisor opens
「待补充的问题」 from the menu, writes a curated answer for the unanswered question, the family's next
similar question gets it, its hit shows on 整理的回答, and 「命中测试」 shows the scores and the reply.

Screenshots of the phone and the console pages go to tests/artifacts/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bot.config import Settings
from bot.prompts import prompt_yaml
from bot.storage.migrate import upgrade
from tests.fakes.app_server import serve_app
from tests.fakes.console import PASSWORD, add_account

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).parent / "artifacts"
KNOWN = "孩子挑食不吃青菜咋办"
UNKNOWN = "孩子左撇子要不要改"
UNKNOWN_AGAIN = "娃是左撇子要不要纠正"
ANSWER = "用左手是娃自己的习惯，不用打骂着改。吃饭、写字哪只手顺手就用哪只手，多夸他做得好的地方。"
RED = "我家孙子跟我说他不想活了，想去死"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


@pytest.fixture
def base(db_settings: Settings, built_settings: Settings, knowledge_index) -> Iterator[str]:
    settings = Settings(**{**built_settings.model_dump(), "database_url": db_settings.sqlalchemy_url,
                           "chroma_collection": f"b{uuid.uuid4().hex[:10]}", "sla_check_seconds": 3600})
    upgrade(settings)
    add_account(settings, "sup1", role="supervisor")
    yield from serve_app(settings, knowledge_index)


def _say(page: Page, text: str) -> None:
    page.get_by_label("在这里打字提问").fill(text)
    page.get_by_role("button", name="发送").click()
    expect(page.locator(".row.waiting")).to_have_count(0, timeout=TIMEOUT_MS)


def test_votes_and_the_supervisors_curated_answer_in_two_browsers(base: str, request: pytest.FixtureRequest) -> None:
    web = prompt_yaml("feedback.yaml")["web"]
    pages = prompt_yaml("console_feedback.yaml")["pages"]
    shots = ARTIFACTS / f"feedback-{request.node.callspec.id}"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        family = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True,
                                     locale="zh-CN").new_page()
        console = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
        errors: list[str] = []
        for page in (family, console):
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda error: errors.append(str(error)))

        family.goto(base)
        bot = family.locator(".row.from-bot[data-id]")
        _say(family, KNOWN)
        answer = bot.last
        up, down = answer.get_by_role("button", name=f"👍 {web['up']}"), answer.get_by_role("button", name=f"👎 {web['down']}")
        expect(up).to_have_attribute("aria-pressed", "false")
        down.click()
        expect(down).to_have_attribute("aria-pressed", "true")
        expect(answer.locator(".feedback-note")).to_have_text(web["thanks_down"])
        family.screenshot(path=str(shots / "phone-voted.png"))
        up.click()  # changed
        expect(up).to_have_attribute("aria-pressed", "true")
        expect(down).to_have_attribute("aria-pressed", "false")
        with family.expect_response(lambda r: r.url.endswith("/api/chat/feedback") and r.request.method == "POST"):
            down.click()  # and back to 👎 (stored before the reload: the test does not race the request)
        expect(down).to_have_attribute("aria-pressed", "true")
        family.reload()
        expect(bot.first.get_by_role("button", name=f"👎 {web['down']}")).to_have_attribute("aria-pressed", "true")

        _say(family, UNKNOWN)
        expect(bot.last.locator(".feedback button")).to_have_count(2)  # a not-covered reply can be rated

        other = browser.new_context(viewport={"width": 375, "height": 740}, locale="zh-CN").new_page()
        other.goto(base)
        _say(other, RED)
        crisis = other.locator(".row.from-bot[data-id]").last
        expect(crisis).to_contain_text("12356")
        expect(crisis.locator(".feedback")).to_have_count(0)  # no buttons under a crisis reply

        console.goto(f"{base}/console/login")
        console.fill("input[name=username]", "sup1")
        console.fill("input[name=password]", PASSWORD)
        console.click("button[type=submit]")
        console.get_by_role("link", name=pages["gaps"]).click()
        groups = console.locator("li.gap")
        expect(groups).to_have_count(2)
        expect(groups.filter(has_text=KNOWN)).to_contain_text(prompt_yaml("console_feedback.yaml")["votes"]["down"])
        console.screenshot(path=str(shots / "console-gaps.png"), full_page=True)
        groups.filter(has_text=UNKNOWN).get_by_role("link", name=prompt_yaml("console_feedback.yaml")["gaps"]["write"]).click()
        expect(console.locator("input[name=question]")).to_have_value(UNKNOWN)
        console.locator("input[name=covers]").first.check()
        console.locator("textarea[name=variants]").fill(UNKNOWN_AGAIN)
        console.locator("textarea[name=answer]").fill(ANSWER)
        console.get_by_role("button", name=prompt_yaml("console_feedback.yaml")["curated"]["save"]).click()
        expect(console.locator("p.ok")).to_have_text(prompt_yaml("console_feedback.yaml")["curated"]["saved"])
        row = console.locator("tr[data-status=active]")
        expect(row).to_contain_text(UNKNOWN)
        expect(row.locator("td.hits")).to_have_text("0")

        _say(family, UNKNOWN_AGAIN)
        expect(bot.last).to_contain_text(ANSWER)
        expect(bot.last.locator(".feedback button")).to_have_count(2)
        family.screenshot(path=str(shots / "phone-curated.png"))
        console.reload()
        expect(row.locator("td.hits")).to_have_text("1")

        console.get_by_role("link", name=pages["hit_test"]).click()
        console.locator("input[name=q]").fill(KNOWN)
        console.get_by_role("button", name=prompt_yaml("console_feedback.yaml")["hit_test"]["run"]).click()
        expect(console.locator("#hit-reply")).to_have_attribute("data-intent", "answer")
        expect(console.locator("#hit-passages tbody tr").first).to_have_attribute("data-kind", "outreach")
        expect(console.locator("#hit-passages td.score-vector").first).to_contain_text("0.")
        console.screenshot(path=str(shots / "console-hit-test.png"), full_page=True)
        console.locator("input[name=q]").fill(UNKNOWN)
        console.get_by_role("button", name=prompt_yaml("console_feedback.yaml")["hit_test"]["run"]).click()
        expect(console.locator("#hit-curated li[data-preferred=yes]")).to_contain_text(UNKNOWN)
        expect(console.locator("#hit-reply")).to_have_attribute("data-composer", "curated")
        browser.close()
    assert errors == []
