"""Keeping personal data out of logs: short pseudonyms for user ids, and no query strings in access logs."""

from __future__ import annotations

import hashlib
import logging


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
