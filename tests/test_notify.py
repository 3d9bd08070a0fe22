"""Red-case notifications: delivered as JSON, retried, and never in the way of the reply."""

from __future__ import annotations

import time

import pytest

from bot.config import Settings
from bot.casework.notify import notify_red_case
from bot.pipeline import Conversation, Inbound
from bot.storage.migrate import upgrade
from tests.conftest import free_port
from tests.fakes.webhook import WebhookReceiver

RED = "孙子说不想活了，刚才把农药瓶子拿走了"


def test_delivery_is_retried_until_it_succeeds() -> None:
    with WebhookReceiver(fail_first=2) as hook:
        thread = notify_red_case(hook.url, {"case_id": 7}, delays=(0.05, 0.05, 0.05))
        assert thread is not None
        thread.join(5)
        assert hook.attempts == 3 and hook.received == [{"case_id": 7}]


def test_receiver_down_gives_up_after_bounded_retries(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens here
    thread = notify_red_case(url, {"case_id": 8}, delays=(0.01, 0.01))
    thread.join(10)
    assert not thread.is_alive()
    assert "gave up after 3 attempts" in caplog.text


def test_no_url_means_no_thread() -> None:
    assert notify_red_case("", {"case_id": 1}) is None


@pytest.fixture
def convo_with_hook(built_settings: Settings, knowledge_index, tmp_path):
    def make(url: str) -> Conversation:
        settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{tmp_path / 'n.db'}",
                               "notify_webhook_url": url})
        upgrade(settings)
        return Conversation(settings, index=knowledge_index)

    return make


def test_new_red_case_is_posted_once(convo_with_hook) -> None:
    with WebhookReceiver() as hook:
        convo = convo_with_hook(hook.url)
        outcome = convo.handle(Inbound(user_id="n1", text=RED, channel="web"))
        assert hook.event.wait(5)
        convo.handle(Inbound(user_id="n1", text="他现在还在哭", channel="web"))  # same open case, already notified
        time.sleep(0.3)
        assert len(hook.received) == 1
        payload = hook.received[0]
        assert payload["case_id"] == outcome.case_id and payload["severity"] == "red"
        assert payload["channel"] == "web" and "suicide" in payload["categories"]
        assert "text" not in payload, "message text stays out of notifications"


def test_slow_receiver_does_not_delay_the_reply(convo_with_hook) -> None:
    with WebhookReceiver(delay=3.0) as hook:
        convo = convo_with_hook(hook.url)
        started = time.perf_counter()
        outcome = convo.handle(Inbound(user_id="n2", text=RED))
        assert outcome.level == "red" and time.perf_counter() - started < 2.0
