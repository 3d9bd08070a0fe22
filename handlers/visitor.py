"""The web chat's anonymous visitor id: a random token in an HttpOnly cookie, set by the server.

The page never chooses or sees its id; every JSON call is tied to the visitor by this cookie.
"""

from __future__ import annotations

import re
import secrets

from fastapi import Request, Response

COOKIE_NAME = "tongban_visitor"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers accept; renewed on every page load
CHANNEL = "web"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def visitor_id(request: Request) -> str | None:
    """The visitor id from the cookie, or None when it is missing or not one we could have issued."""
    value = request.cookies.get(COOKIE_NAME, "")
    return value if _TOKEN_RE.match(value) else None


def ensure_visitor(request: Request, response: Response) -> str:
    """The request's visitor id, issuing a new one if needed; (re)sets the cookie so it stays long-lived."""
    visitor = visitor_id(request) or secrets.token_urlsafe(24)
    response.set_cookie(COOKIE_NAME, visitor, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
    return visitor


def message_key(channel: str, sender: str, client_msg_id: str) -> str:
    """The pipeline's dedupe key for a message the client numbered itself (a re-send is answered once)."""
    return f"{channel}:{sender}:{client_msg_id}"
