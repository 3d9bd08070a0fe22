"""No AppSecret, access token or key in the logs: the token fetch fails while WeChat is unreachable, the log
setup of the service (bot/logs.py) is in place, and everything written to stderr is scanned."""

from __future__ import annotations

import logging

import pytest
import requests

from bot.config import Settings
from bot.logs import configure_logging
from bot.logsafe import REDACTED, RedactSecrets, redact
from bot.storage.migrate import upgrade
from bot.wechat.client import TongbanWeChatClient
from bot.wechat.outbox import deliver_due, enqueue
from tests.conftest import free_port
from tests.fakes.wechat_api import APP_ID

APP_SECRET = "S3cr3tAppS3cretValue0123456789ab"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_token_fetch_failure_does_not_log_the_app_secret(tmp_path, capsys: pytest.CaptureFixture[str],
                                                         fmt: str) -> None:
    settings = Settings(data_dir=tmp_path / "var", wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET,
                        wechat_api_base=f"http://127.0.0.1:{free_port()}", wechat_http_timeout_seconds=1)
    upgrade(settings)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("DEBUG", fmt)
    try:
        enqueue(settings, "o-secret", "wx:o-secret:1", ["你好"])
        client = TongbanWeChatClient(settings)
        assert sum(deliver_due(settings, client).values()) == 1
        try:  # the exception itself carries the URL: log it whole, as a careless caller would
            client.fetch_access_token()
        except requests.RequestException as exc:
            assert APP_SECRET in str(exc)  # the test really exercises a leaking exception
            logging.getLogger("careless").warning("fetch failed: %s", exc, exc_info=True)
            logging.getLogger("careless").exception("again %r", exc.request.url if exc.request else exc)
    finally:
        logging.getLogger("bot").handlers.clear()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "fetch failed" in err and "careless" in err
    assert APP_SECRET not in err and "secret=" + APP_SECRET[:6] not in err


@pytest.mark.parametrize("raw", [
    f"https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1&secret={APP_SECRET}",
    "POST /cgi-bin/message/custom/send?access_token=ACCESS_TOKEN_VALUE_123 failed",
    '{"access_token": "ACCESS_TOKEN_VALUE_123", "expires_in": 7200}',
    "headers {'Authorization': 'Bearer ACCESS_TOKEN_VALUE_123'}",
    f"EncodingAESKey={AES}",
    "api_key=ACCESS_TOKEN_VALUE_123",
])
def test_redact_masks_named_secrets(raw: str) -> None:
    out = redact(raw)
    assert REDACTED in out
    assert APP_SECRET not in out and "ACCESS_TOKEN_VALUE_123" not in out and AES not in out


def test_filter_masks_configured_secrets_args_and_user_text_in_exceptions() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "value %s", (AES,), None)
    try:
        raise ValueError(f"bad 我不想活了 {APP_SECRET}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    RedactSecrets([APP_SECRET, AES]).filter(record)
    text = logging.Formatter().format(record)
    assert AES not in text and APP_SECRET not in text and "不想活" not in text and "ValueError" in text
