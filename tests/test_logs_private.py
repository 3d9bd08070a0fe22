"""No message text, openid or phone number in any log record, with every logger at DEBUG (incl. SQLAlchemy
and uvicorn's access log) while real flows run through a real server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from bot.config import Settings
from bot.logsafe import DropQueryString, user_ref
from tests.fakes.app_server import API_HEADERS, serve_app
from tests.fakes.wechat_api import AES_KEY, APP_ID, TOKEN, message_xml, signed_request

PHONE = "13912345678"
OPENID = "oPrivTest_9fK2mQx7Lw3Zr"
API_USER = "web-user-7f3a9c"
API_TEXT = f"我孙子这几天不说话，电话{PHONE}，怎么办"
RED_TEXT = "孙子说他不想活了，已经把农药藏起来了"
WECHAT_TEXT = f"孩子发烧了咋办 我手机{PHONE}"
SECRETS = [PHONE, OPENID, API_USER, API_TEXT, RED_TEXT, WECHAT_TEXT, "不想活了", "不说话", "发烧了咋办", TOKEN]
NOISY = ("uvicorn.access", "uvicorn.error", "uvicorn", "urllib3")
# An operator who turns on SQL logging (INFO: statements) must still not see the bound values.
SQL_LEVEL = logging.INFO


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog at DEBUG for the root and for loggers that do not propagate (uvicorn's)."""
    caplog.set_level(logging.DEBUG)
    touched = []
    for name in NOISY:
        logger = logging.getLogger(name)
        touched.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    sql = logging.getLogger("sqlalchemy.engine")
    touched.append((sql, sql.level))
    sql.setLevel(SQL_LEVEL)
    yield caplog
    for logger, level in touched:
        logger.setLevel(level)
        if caplog.handler in logger.handlers:
            logger.removeHandler(caplog.handler)


def test_flows_leave_no_personal_data_in_logs(built_settings: Settings, knowledge_index, tmp_path,
                                              everything_logged: pytest.LogCaptureFixture) -> None:
    settings = Settings(**{**built_settings.model_dump(), "database_url": f"sqlite:///{tmp_path / 'logs.db'}",
                           "wechat_token": TOKEN, "wechat_aes_key": AES_KEY, "wechat_app_id": APP_ID})
    for url in serve_app(settings, knowledge_index):
        for name in ("uvicorn.access", "uvicorn.error"):  # again: starting uvicorn reset its loggers
            logging.getLogger(name).setLevel(logging.DEBUG)
            logging.getLogger(name).addHandler(everything_logged.handler)
        for text in (API_TEXT, RED_TEXT):
            response = httpx.post(f"{url}/api/chat", json={"user_id": API_USER, "text": text},
                                      headers=API_HEADERS, timeout=30)
            assert response.status_code == 200
        assert response.json()["level"] == "red"
        params, body = signed_request(message_xml(OPENID, "text", {"Content": WECHAT_TEXT, "MsgId": 77001}), "aes")
        params["openid"] = OPENID  # WeChat adds the sender's openid to the query string
        assert httpx.post(f"{url}/wechat", params=params, content=body, timeout=30).status_code == 200
        params, body = signed_request(message_xml(OPENID, "text", {"Content": RED_TEXT, "MsgId": 77002}), "aes")
        assert httpx.post(f"{url}/wechat", params={**params, "openid": OPENID}, content=body,
                          timeout=30).status_code == 200
    records = everything_logged.records
    assert any(r.name == "uvicorn.access" for r in records), "the access log was not captured"
    assert any(r.name.startswith("sqlalchemy") for r in records), "SQL logging was not captured"
    for record in records:
        if record.name.startswith(("httpx", "httpcore")):  # the test's own HTTP client, not the server
            continue
        line = record.getMessage() + (everything_logged.handler.format(record) if record.exc_info else "")
        for secret in SECRETS:
            assert secret not in line, f"{secret!r} logged by {record.name}: {line[:300]}"


def test_user_ref_is_short_stable_and_not_the_id() -> None:
    assert user_ref(OPENID) == user_ref(OPENID) != user_ref(OPENID + "x")
    assert OPENID not in user_ref(OPENID) and len(user_ref(OPENID)) == 12


def test_access_log_filter_drops_the_query_string() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", f"/wechat?signature=s&openid={OPENID}", "1.1", 200), None)
    DropQueryString().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "POST /wechat HTTP/1.1" 200'
