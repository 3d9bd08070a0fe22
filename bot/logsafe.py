"""Keeping personal data and secrets out of logs: short pseudonyms for user ids, no query strings in access
logs, and a filter that masks secrets (and user text in exception text) in every record."""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections.abc import Iterable


def user_ref(user_id: str) -> str:
    """A short stable pseudonym for a user id (openid, web session): enough to follow one user through the
    logs, useless for finding the person."""
    return "u-" + hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]


class DropQueryString(logging.Filter):
    """uvicorn's access log prints the full URL; WeChat puts the sender's openid (and signatures) in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install_access_log_filter() -> None:
    """Adds DropQueryString to uvicorn's access logger once (it survives uvicorn's own logging set-up)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryString) for f in access.filters):
        access.addFilter(DropQueryString())


# `secret=…`, `access_token=…`, `"api_key": "…"`, `Authorization: Bearer …` and the like, in URLs, JSON,
# reprs and headers. Values end at a separator a URL, a query or a repr would use.
_SECRET_NAMES = (r"(?:app_?secret|secret|access_token|refresh_token|token|api_?key|apikey|password|passwd|"
                 r"encoding_?aes_?key|aes_?key|msg_signature|signature|authorization)")
_ASSIGNED = re.compile(rf"(?i)(\b{_SECRET_NAMES}\b[\"']?\s*[=:]\s*[\"']?)(?:bearer\s+)?[^\s&\"',;)}}\]]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# Message texts are Chinese; a traceback never needs them (code and its messages are in English). Runs of
# CJK characters in exception text are masked so a user's words cannot reach the logs through an exception.
_CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with secret values (named parameters, bearer tokens, and the configured secrets) masked."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, REDACTED)
    text = _ASSIGNED.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def _configured_secrets() -> list[str]:
    from bot.config import get_settings

    s = get_settings()
    return [v for v in (s.wechat_app_secret, s.wechat_token, s.wechat_aes_key, s.llm_api_key, s.api_key,
                        s.web_secret) if v]


class RedactSecrets(logging.Filter):
    """Masks secrets in every record's message, arguments and exception text, and user text (CJK) in
    exception text. Installed on the service's log handlers (bot/logs.py) and by create_app."""

    def __init__(self, secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        self._secrets = list(secrets) if secrets is not None else None

    @property
    def secrets(self) -> list[str]:
        if self._secrets is None:
            try:
                self._secrets = _configured_secrets()
            except Exception:  # settings that do not load must not stop logging; the patterns still apply
                self._secrets = []
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what we have rather than lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = _CJK_RUN.sub("[text]", redact(text, self.secrets)).rstrip("\n")
            record.exc_info = None  # the formatter prints exc_text; the raw exception is not printed again
        elif record.exc_text:
            record.exc_text = _CJK_RUN.sub("[text]", redact(record.exc_text, self.secrets))
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Adds RedactSecrets to every handler of `logger` (the root logger by default) that lacks one."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
