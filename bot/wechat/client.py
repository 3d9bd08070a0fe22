"""WeChat API client: wechatpy with an HTTP timeout, a configurable API base, a bounded token refresh
and an access-token cache shared by every worker (database or Redis)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from bot.config import Settings
from bot.errors import ConfigError
from bot.storage.db import session_scope
from bot.storage.models import WechatToken, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

WECHAT_API = "https://api.weixin.qq.com"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, token expired
# A cached token this close to expiry counts as expired, so a worker fetches a fresh one before
# WeChat starts refusing the old one (wechatpy itself cannot know the expiry of a shared token).
REFRESH_MARGIN = dt.timedelta(minutes=5)


class _ApiBaseAdapter(HTTPAdapter):
    """Sends wechatpy's requests (including the hard-coded token URL) to `base` with a default timeout."""

    def __init__(self, base: str, timeout: float) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.url and request.url.startswith(WECHAT_API) and self.base != WECHAT_API:
            request.url = self.base + request.url[len(WECHAT_API):]
        if kwargs.get("timeout") is None:  # wechatpy's token fetch passes none
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; we only ever store UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


class DatabaseStorage(SessionStorage):
    """wechatpy session storage in the `wechat_tokens` table (shared by all processes on one database)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def get(self, key: str, default: Any = None) -> Any:
        with session_scope(self.settings) as session:
            row = session.get(WechatToken, key)
            if row is None:
                return default
            expires = _aware(row.expires_at)
            if expires is not None and expires - REFRESH_MARGIN <= utcnow():
                return default
            return row.value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        expires = utcnow() + dt.timedelta(seconds=ttl) if ttl else None
        try:
            with session_scope(self.settings) as session:
                session.merge(WechatToken(key=key, value=str(value), expires_at=expires))
        except IntegrityError:  # another worker inserted the same key at the same moment: overwrite it
            with session_scope(self.settings) as session:
                row = session.get(WechatToken, key)
                if row is not None:
                    row.value, row.expires_at = str(value), expires

    def delete(self, key: str) -> None:
        with session_scope(self.settings) as session:
            session.execute(delete(WechatToken).where(WechatToken.key == key))


class _RedisStorage(SessionStorage):
    """Redis token cache that, like DatabaseStorage, hides a token within REFRESH_MARGIN of expiry."""

    def __init__(self, url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.redis.get(f"tongban:wechat:{key}")
        return value.decode() if value is not None else default

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        ttl = max(1, int(ttl - REFRESH_MARGIN.total_seconds())) if ttl else None
        self.redis.set(f"tongban:wechat:{key}", str(value), ex=ttl)

    def delete(self, key: str) -> None:
        self.redis.delete(f"tongban:wechat:{key}")


def token_storage(settings: Settings) -> SessionStorage:
    if settings.wechat_token_store == "redis":
        return _RedisStorage(settings.redis_url)
    return DatabaseStorage(settings)


class TongbanWeChatClient(WeChatClient):
    """WeChatClient without wechatpy's unbounded auto-retry; `call` refreshes the token at most once."""

    def __init__(self, settings: Settings, storage: SessionStorage | None = None) -> None:
        if not settings.wechat_app_id or not settings.wechat_app_secret:
            raise ConfigError("TONGBAN_WECHAT_APP_ID and TONGBAN_WECHAT_APP_SECRET must be set to call the WeChat API")
        super().__init__(settings.wechat_app_id, settings.wechat_app_secret, session=storage or token_storage(settings),
                         timeout=settings.wechat_http_timeout_seconds, auto_retry=False)
        self._http.mount(WECHAT_API, _ApiBaseAdapter(settings.wechat_api_base, settings.wechat_http_timeout_seconds))

    @property
    def access_token(self) -> str:
        # The storage decides freshness (it is shared); wechatpy's per-instance expiry would skip refreshing.
        token = self.session.get(self.access_token_key)
        if token:
            return token
        self.fetch_access_token()
        return self.session.get(self.access_token_key) or ""

    def call(self, request: Callable[[], T]) -> T:
        """Runs one API call; on an invalid/expired token, fetches a new token once and retries once."""
        try:
            return request()
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("wechat access token rejected (%s); fetching a new one", exc.errcode)
            self.session.delete(self.access_token_key)
            self.fetch_access_token()
            return request()

    def send_text(self, openid: str, text: str) -> dict:
        return self.call(lambda: self.message.send_text(openid, text))

    def send_typing(self, openid: str) -> dict:
        return self.call(lambda: self.post("message/custom/typing", data={"touser": openid, "command": "Typing"}))

    def create_menu(self, menu: dict) -> dict:
        return self.call(lambda: self.menu.create(menu))


def make_client(settings: Settings) -> TongbanWeChatClient:
    return TongbanWeChatClient(settings)
