"""The web chat's anonymous visitor id: a random token issued and signed by the server, in an HttpOnly cookie.

The page never chooses or sees its id; every JSON call is tied to the visitor by this cookie. The cookie is
`<id>.<signature>` (HMAC-SHA256 with the web secret), so an id the server never issued is refused and
replaced: nobody can pick another visitor's id, or invent ids to spread one flood over many "visitors".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from fastapi import Request, Response

from bot.config import Settings

COOKIE_NAME = "tongban_visitor"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers accept; renewed on every page load
CHANNEL = "web"
SECRET_FILE = "web_secret"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_SIGNATURE_CHARS = 43  # urlsafe base64 of 32 bytes, without padding


def web_secret(settings: Settings) -> bytes:
    """TONGBAN_WEB_SECRET, or a random secret generated once and kept in the data dir (shared by the workers
    of one machine; readable by the service user only)."""
    if settings.web_secret:
        return settings.web_secret.encode()
    path: Path = settings.resolved_data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker wrote it first
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
    value = path.read_text().strip()
    if not value:  # a worker is still writing it
        raise RuntimeError("web secret file is empty")
    return value.encode()


def _sign(settings: Settings, visitor: str) -> str:
    digest = hmac.new(web_secret(settings), f"visitor:{visitor}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def visitor_id(request: Request) -> str | None:
    """The visitor id from the cookie, or None when it is missing or not one this server signed."""
    value = request.cookies.get(COOKIE_NAME, "")
    visitor, _, signature = value.rpartition(".")
    if not _TOKEN_RE.match(visitor) or len(signature) != _SIGNATURE_CHARS:
        return None
    expected = _sign(request.app.state.settings, visitor)
    return visitor if hmac.compare_digest(signature.encode(), expected.encode()) else None


def ensure_visitor(request: Request, response: Response) -> str:
    """The request's visitor id, issuing a new one if needed; (re)sets the cookie so it stays long-lived."""
    visitor = visitor_id(request) or secrets.token_urlsafe(24)
    cookie = f"{visitor}.{_sign(request.app.state.settings, visitor)}"
    response.set_cookie(COOKIE_NAME, cookie, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return visitor


def message_key(channel: str, sender: str, client_msg_id: str) -> str:
    """The pipeline's dedupe key for a message the client numbered itself (a re-send is answered once)."""
    return f"{channel}:{sender}:{client_msg_id}"
