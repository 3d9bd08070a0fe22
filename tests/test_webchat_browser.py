"""The web chat in headless Chromium (Debian package, Playwright) against the real app under uvicorn.

Screenshots go to tests/artifacts/ (phone and desktop) for a person to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import PROJECT_ROOT, Settings
from bot.storage.db import session_scope
from bot.storage.models import Case, ChannelUser, Message
from handlers.visitor import COOKIE_NAME
from tests.fakes.app_server import serve_app

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
ARTICLES = ("nutrition-picky-eating.md", "eyes-outdoor-time.md", "teeth-brushing-toothpaste.md")
RED_TEXT = "我家孙子跟我说他不想活了，想去死"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small knowledge base (three articles), ingested in a few seconds."""
    from bot.retrieval.ingest import ingest

    root = tmp_path_factory.mktemp("webchat")
    knowledge = root / "knowledge"
    (knowledge / "policy").mkdir(parents=True)
    (knowledge / "outreach").mkdir()
    (knowledge / "policy" / "documents.yaml").write_text("[]\n", "utf-8")
    for name in ARTICLES:
        shutil.copy(PROJECT_ROOT / "knowledge" / "outreach" / name, knowledge / "outreach" / name)
    settings = Settings(data_dir=root / "var", knowledge_dir=knowledge)
    report = ingest(settings)
    assert report.chunks > 0 and not report.errors, report.errors
    return settings


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[str]:
    yield from serve_app(settings, None)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def phone(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh phone-sized browser (its own cookie and storage) on the chat page."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(server)
    ARTIFACTS.mkdir(exist_ok=True)
    yield page
    context.close()


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("在这里打字提问").fill(text)
    page.get_by_role("button", name="发送").click()


def bot_rows(page):  # type: ignore[no-untyped-def]
    return page.locator(".row.from-bot[data-id]")


def visitor_user(settings: Settings, page) -> ChannelUser | None:  # type: ignore[no-untyped-def]
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE_NAME)
    with session_scope(settings) as session:
        return session.scalar(select(ChannelUser).where(ChannelUser.channel == "web", ChannelUser.external_id == cookie.rpartition(".")[0]))


def assert_no_horizontal_overflow(page) -> None:  # type: ignore[no-untyped-def]
    widths = page.evaluate("""() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,
        log: document.getElementById('messages').scrollWidth, logView: document.getElementById('messages').clientWidth})""")
    assert widths["page"] <= widths["view"] and widths["log"] <= widths["logView"], widths


def test_quick_topic_question_gets_an_answer_with_a_source(phone) -> None:  # type: ignore[no-untyped-def]
    phone.get_by_role("button", name="问营养").click()
    phone.get_by_role("button", name="问：娃挑食不吃青菜咋办？").click()
    answer = bot_rows(phone).last
    answer.locator(".sources summary").click()
    assert "《" in answer.locator(".sources li").first.inner_text()
    assert phone.locator("#alert").is_hidden()
    assert phone.locator(".row.mine[data-id]").count() == 1 and phone.locator(".row.waiting").count() == 0
    assert_no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "webchat-phone-answer.png"))


def test_red_message_shows_call_links_and_opens_a_case(phone, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    send(phone, RED_TEXT)
    alert = phone.get_by_role("alert")
    alert.wait_for(state="visible")
    assert "有危险" in alert.inner_text()
    links = [alert.get_by_role("link", name=f"打 {n}", exact=False).get_attribute("href")
             for n in ("110", "120", "12356", "12355")]
    assert links == ["tel:110", "tel:120", "tel:12356", "tel:12355"]
    assert "12356" in bot_rows(phone).last.inner_text()
    user = visitor_user(settings, phone)
    assert user is not None
    with session_scope(settings) as session:
        case = session.scalar(select(Case).where(Case.user_id == user.id))
        assert case is not None and case.severity == "red" and case.channel == "web"
    phone.reload()  # the banner comes back with the conversation
    phone.get_by_role("alert").wait_for(state="visible")
    assert_no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "webchat-phone-red.png"))


def test_crisis_reply_shows_its_lines_and_its_first_line_stays_in_sight(phone) -> None:  # type: ignore[no-untyped-def]
    phone.locator("#text-size").click()  # large text: the reply is taller than the room under the banner
    send(phone, "家里着火了，孙子还在屋里，<b>快</b>")
    alert = phone.get_by_role("alert")
    alert.wait_for(state="visible")
    reply = bot_rows(phone).last
    reply.wait_for()
    text = reply.locator(".text")
    assert text.evaluate("node => getComputedStyle(node).whiteSpace") in ("pre-wrap", "pre-line")
    lines = [line for line in text.inner_text().splitlines() if line.strip()]
    assert lines[0].startswith("马上打119") and len(lines) >= 7
    assert text.evaluate("node => node.getBoundingClientRect().height / parseFloat(getComputedStyle(node).lineHeight)") >= 7
    assert reply.get_by_role("link", name="119").get_attribute("href") == "tel:119"
    assert phone.locator(".row.mine b").count() == 0  # the visitor's words stay text
    log_top = phone.locator("#messages").bounding_box()["y"]
    assert reply.bounding_box()["y"] >= log_top - 1  # the first line (119) is not hidden under the banner
    phone.screenshot(path=str(ARTIFACTS / "webchat-phone-fire.png"))
    opened = alert.bounding_box()["height"]
    fold = phone.get_by_role("button", name="收起")
    fold.click()
    assert phone.locator("#alert-calls").is_hidden()
    assert alert.bounding_box()["height"] < opened / 2
    assert phone.get_by_role("button", name="展开").get_attribute("aria-expanded") == "false"
    phone.get_by_role("button", name="展开").click()
    assert phone.locator("#alert-calls").is_visible()
    phone.locator("#text-size").click()


def test_large_text_is_remembered_across_reloads(phone) -> None:  # type: ignore[no-untyped-def]
    def font_size() -> float:
        return float(phone.evaluate("parseFloat(getComputedStyle(document.querySelector('.bubble .text')).fontSize)"))

    normal = font_size()
    toggle = phone.locator("#text-size")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert font_size() > normal * 1.2
    phone.reload()
    assert phone.locator("#text-size").get_attribute("aria-pressed") == "true"
    assert font_size() > normal * 1.2
    phone.get_by_role("button", name="问看牙").click()
    assert_no_horizontal_overflow(phone)
    phone.screenshot(path=str(ARTIFACTS / "webchat-phone-large-text.png"))
    phone.locator("#text-size").click()
    phone.reload()
    assert phone.locator("#text-size").get_attribute("aria-pressed") == "false"


def test_counsellor_reply_from_the_database_appears(phone, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    send(phone, "你好")
    bot_rows(phone).last.wait_for()
    user = visitor_user(settings, phone)
    assert user is not None
    with session_scope(settings) as session:  # what the counsellor console stores when it answers a web visitor
        session.add(Message(user_id=user.id, direction="out", author="counsellor",
                            text="您好，我是镇上的儿童督导员<b>小王</b>，有事可以跟我说。"))
    reply = phone.locator(".row.from-person").last
    reply.wait_for()  # arrives with the next poll (every few seconds)
    assert "儿童督导员<b>小王</b>" in reply.inner_text() and "工作人员" in reply.inner_text()
    assert reply.locator("b").count() == 0  # shown as text, never as markup


def test_failed_send_keeps_the_text_and_resend_is_answered_once(phone) -> None:  # type: ignore[no-untyped-def]
    phone.route("**/api/chat", lambda route: route.abort())
    send(phone, "娃多久要去外面玩一会儿")
    phone.get_by_role("button", name="重发这条消息").wait_for()
    assert "网络不好" in phone.locator("#status").inner_text()
    phone.screenshot(path=str(ARTIFACTS / "webchat-phone-send-failed.png"))
    phone.unroute("**/api/chat")
    phone.reload()  # nothing is lost on reload either: the waiting message is sent by itself
    bot_rows(phone).last.wait_for()
    assert phone.locator(".row.mine").all_inner_texts()[-1].endswith("娃多久要去外面玩一会儿")
    assert phone.locator(".row.mine").count() == 1 and phone.locator(".row.waiting").count() == 0


def test_desktop_layout(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(server)
    send(page, "孩子每天到户外活动多长时间对眼睛好")
    bot_rows(page).last.locator(".sources summary").click()
    assert_no_horizontal_overflow(page)
    page.screenshot(path=str(ARTIFACTS / "webchat-desktop.png"))
    context.close()
