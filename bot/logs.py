"""Structured logs: one JSON object per line, with the request id of the HTTP request being handled.

Message texts, openids and phone numbers never go into logs; code logs ids through `bot.logsafe.user_ref`.
Secrets are masked in every record by `bot.logsafe.RedactSecrets`, installed on the handler here.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import logging.config
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():  # fields passed with extra={...}
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # already formatted (and redacted) by bot.logsafe.RedactSecrets
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = request_id.get()
        return f"{line} [{rid}]" if rid else line


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A dictConfig for our loggers and uvicorn's (uvicorn applies it in every worker process)."""
    formatter = "bot.logs.JsonFormatter" if fmt == "json" else "bot.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": {"()": formatter}},
        # Every record passes RedactSecrets: no AppSecret, token or key (and no user text in a traceback).
        "filters": {"redact": {"()": "bot.logsafe.RedactSecrets"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr",
                                "filters": ["redact"]}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            # uvicorn's own handlers are replaced by ours; its access log is off because it prints query
            # strings (WeChat puts the openid there). handlers/observability.py logs requests instead.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "chromadb": {"level": "WARNING"},
            "bm25s": {"level": "WARNING"},
        },
    }


def configure_logging(level: str, fmt: str) -> None:
    logging.config.dictConfig(logging_config(level, fmt))
