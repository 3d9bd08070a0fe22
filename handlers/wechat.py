"""WeChat 公众号 endpoint: verify, decrypt, parse, dedupe, answer within the deadline, reply or queue.

GET /wechat is the server check of 基本配置 → 服务器配置; POST /wechat receives messages and events in
plaintext, compatible or safe (AES) mode. Every POST answers within `wechat_reply_deadline_seconds`.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage, UnknownMessage
from wechatpy.utils import check_signature

from bot.config import Settings
from bot.errors import ChannelError
from bot.logsafe import user_ref
from bot.pipeline import Conversation, Inbound, Outcome
from bot.prompts import prompt_text, prompt_yaml
from bot.rate_limit import held_back
from bot.wechat import followers, nonces
from bot.wechat.held import passive_reply
from bot.wechat.outbox import OutboxWorker, enqueue
from bot.wechat.replies import reply_parts, text_reply_xml

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
REPLAY_SECONDS = 300  # a signed request older or newer than this is treated as a replay
REPLY_MARGIN_SECONDS = 0.3  # time kept back for encrypting and sending the reply
UNSUPPORTED_MEDIA = frozenset({"image", "video", "shortvideo", "location", "link", "file", "miniprogrampage"})
SUBSCRIBE_EVENTS = frozenset({"subscribe", "subscribe_scan"})
SUCCESS = "success"
PIPELINE_THREADS = 16


class _Reject(ChannelError):
    """A request we refuse: HTTP status and a reason for the log (never shown to the sender)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Runtime:
    executor: ThreadPoolExecutor
    crypto: WeChatCrypto | None
    worker: OutboxWorker | None = None


_runtime_lock = threading.Lock()


def _runtime(app: FastAPI) -> _Runtime:
    """Per-app state, built on first use so the router also works without the lifespan (ASGI tests)."""
    with _runtime_lock:
        runtime = getattr(app.state, "wechat", None)
        if runtime is None:
            settings: Settings = app.state.settings
            crypto = (WeChatCrypto(settings.wechat_token, settings.wechat_aes_key, settings.wechat_app_id)
                      if settings.wechat_aes_key else None)
            # Answers are CPU-bound (one GIL): more threads add database contention, not throughput.
            runtime = _Runtime(ThreadPoolExecutor(max_workers=PIPELINE_THREADS, thread_name_prefix="wechat"), crypto)
            app.state.wechat = runtime
        return runtime


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    runtime = _runtime(app)
    # Runs in passive mode too whenever the API credentials are set: counsellors' replies from the console
    # always go out as 客服消息.
    if settings.wechat_app_id and settings.wechat_app_secret:
        from bot.wechat.client import make_client

        runtime.worker = OutboxWorker(settings, make_client(settings))
        runtime.worker.start()
    yield
    if runtime.worker is not None:
        runtime.worker.stop()
    runtime.executor.shutdown(wait=False, cancel_futures=False)
    app.state.wechat = None  # a later start-up (tests restart apps) builds a fresh runtime


router = APIRouter(tags=["wechat"], lifespan=_lifespan)


# --- request checks ---------------------------------------------------------------------------------------

def _verify(settings: Settings, params: dict[str, str]) -> None:
    if not settings.wechat_token:
        raise _Reject(403, "TONGBAN_WECHAT_TOKEN is not set")
    try:
        check_signature(settings.wechat_token, params.get("signature", ""), params.get("timestamp", ""),
                        params.get("nonce", ""))
    except InvalidSignatureException:
        raise _Reject(403, "bad signature") from None
    try:
        stamp = int(params.get("timestamp", ""))
    except ValueError:
        raise _Reject(403, "timestamp is not a number") from None
    if abs(time.time() - stamp) > REPLAY_SECONDS:
        raise _Reject(403, "stale timestamp (possible replay)")


def _no_doctype(xml: bytes | str) -> None:
    """WeChat never sends a DTD; refusing one rules out entity expansion (billion laughs) and XXE."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if b"<!doctype" in raw.lower() or b"<!entity" in raw.lower():
        raise _Reject(400, "XML with a DOCTYPE or ENTITY")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Reject(413, f"body of {declared} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Reject(413, "body over 64 KB")
    return body


_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"'][^>]*\?>")


def _decode(body: bytes) -> str:
    """The body as text in its declared encoding (UTF-8 without a declaration, as WeChat sends it); bytes
    that are not valid in that encoding, or an unknown encoding, are refused rather than guessed at."""
    declared = _DECLARATION.match(body[:200])
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(encoding)
        text = body.decode(encoding)
    except LookupError:
        raise _Reject(400, "unknown XML encoding") from None
    except UnicodeDecodeError:
        raise _Reject(400, f"body is not valid {encoding}") from None
    # The text is decoded now: the declaration must not make the parser decode it again.
    return text[text.index("?>") + 2:] if declared else text


def _open(crypto: WeChatCrypto | None, params: dict[str, str], body: bytes) -> str:
    """The message XML: decrypted in safe/compatible mode (encrypt_type=aes), else the body itself. With an
    AES key configured, only encrypted messages with a valid msg_signature are accepted: the plain
    `signature` covers only token, timestamp and nonce, so a captured one would sign any forged body."""
    _no_doctype(body)
    if crypto is not None and params.get("encrypt_type") != "aes":
        raise _Reject(403, "plaintext message while TONGBAN_WECHAT_AES_KEY is set (safe mode only)")
    if params.get("encrypt_type", "raw") != "aes":
        return _decode(body)
    if crypto is None:
        raise _Reject(400, "encrypted message but TONGBAN_WECHAT_AES_KEY is not set")
    try:
        xml = crypto.decrypt_message(body, params.get("msg_signature", ""), params.get("timestamp", ""),
                                      params.get("nonce", ""))
    except InvalidSignatureException:
        raise _Reject(403, "bad msg_signature") from None
    except InvalidAppIdException:
        raise _Reject(400, "message for another appid") from None
    except Exception as exc:  # garbage ciphertext fails in many ways (base64, padding, XML); all mean "reject"
        raise _Reject(400, f"cannot decrypt ({type(exc).__name__})") from None
    _no_doctype(xml)
    declared = _DECLARATION.match(xml[:200].encode("utf-8", "replace"))
    return xml[xml.index("?>") + 2:] if declared else xml  # decrypted text: a declaration must not re-decode it


async def _check_nonce(settings: Settings, params: dict[str, str], body: bytes) -> None:
    """Refuses a signed request whose nonce came with another request within the replay window (shared by all
    workers; bot/wechat/nonces.py). A database or Redis failure lets the request through: a crisis message is
    never refused for it."""
    digest = nonces.request_digest(params, body)
    try:
        fresh = await run_in_threadpool(nonces.first_use, settings, params.get("nonce", ""), digest, REPLAY_SECONDS)
    except Exception:  # SQLAlchemyError, RedisError: the store is down; dedupe still stops double answers
        log.warning("wechat nonce not checked: store unavailable", exc_info=True)
        return
    if not fresh:
        raise _Reject(403, "nonce already used by another request within the replay window (replay)")


def _msg_type(message: BaseMessage) -> str:
    if isinstance(message, UnknownMessage):  # wechatpy has no class for e.g. "file"; the raw type still counts
        return str(message._data.get("MsgType", "unknown")).lower()
    return message.type


def _parse(xml: str) -> BaseMessage:
    try:
        message = parse_message(xml)
    except Exception as exc:  # malformed XML or no MsgType
        raise _Reject(400, f"unparseable message ({type(exc).__name__})") from None
    if message is None or not message.source or not message.target:
        raise _Reject(400, "message without FromUserName/ToUserName")
    if not all(value is None or isinstance(value, str) for value in message._data.values()):
        raise _Reject(400, "a field is nested or repeated")  # xmltodict gives dicts and lists for those
    try:
        if message.type != "event" and _msg_type(message) in ("text", "voice") and not message.id:
            raise _Reject(400, "message without MsgId")
        if not message.time:
            raise _Reject(400, "message without CreateTime")
    except (TypeError, ValueError):
        raise _Reject(400, "MsgId or CreateTime is not a number") from None
    return message


def read_message(crypto: WeChatCrypto | None, params: dict[str, str], body: bytes) -> BaseMessage:
    """The message in a POST body (decrypted when `encrypt_type=aes`); any bad body raises ChannelError."""
    return _parse(_open(crypto, params, body))


# --- answering --------------------------------------------------------------------------------------------

def _enqueue_outcome(settings: Settings, openid: str, msg_key: str, future: Future) -> None:
    """Late answer (past the deadline): deliver it through the outbox."""
    try:
        outcome: Outcome = future.result()
        if outcome.reply_text and not outcome.duplicate:
            enqueue(settings, openid, msg_key, reply_parts(outcome.reply_text), outcome.case_id)
    except Exception:
        log.exception("late answer for %s could not be queued", user_ref(openid))


def _log_failure(future: Future) -> None:
    if future.exception() is not None:
        log.error("late wechat answer failed", exc_info=future.exception())


async def _converse(request: Request, inbound: Inbound, received: float) -> str:
    """Runs the pipeline with a deadline; returns the passive reply text ("" = answer "success")."""
    settings: Settings = request.app.state.settings
    convo: Conversation = request.app.state.conversation
    if await run_in_threadpool(held_back, settings, convo, inbound, settings.wechat_rate_limit_per_minute):
        log.info("wechat rate limit reached for a follower; green message answered with the limit text")
        return prompt_text("replies/rate_limited.txt")
    future = _runtime(request.app).executor.submit(convo.handle, inbound)
    budget = settings.wechat_reply_deadline_seconds - (time.monotonic() - received) - REPLY_MARGIN_SECONDS
    is_async = settings.wechat_delivery == "async"
    waiter = asyncio.wrap_future(future)
    done, _ = await asyncio.wait({waiter}, timeout=max(budget, 0.05))  # unlike wait_for, never cancels the work
    if not done:
        waiter.add_done_callback(lambda w: w.cancelled() or w.exception())  # read here; reported by the callbacks
        if is_async:
            future.add_done_callback(lambda f: _enqueue_outcome(settings, inbound.user_id, inbound.msg_key or "", f))
            return ""
        future.add_done_callback(_log_failure)
        log.warning("wechat answer not ready within the deadline; busy text sent")
        return prompt_text("replies/busy.txt")
    try:
        outcome = waiter.result()
    except Exception:  # e.g. the database is unreachable: the user is asked to send again
        log.exception("wechat message could not be handled")
        return "" if is_async else prompt_text("replies/busy.txt")
    if outcome.intent == "human" and not outcome.spooled:
        await run_in_threadpool(followers.want_person, settings, inbound.user_id)
    # Red and yellow always go back in the HTTP response, and so does everything while the database (and so
    # the outbox) is unavailable.
    if is_async and outcome.level == "green" and not outcome.spooled:
        if not outcome.duplicate and outcome.reply_text:
            await run_in_threadpool(enqueue, settings, inbound.user_id, inbound.msg_key or "",
                                    reply_parts(outcome.reply_text), outcome.case_id)
        return ""
    if outcome.spooled or outcome.duplicate:
        return outcome.reply_text
    # In human mode the reply is usually "" (answered "success"); a 订阅号 adds the counsellor's held messages.
    return await run_in_threadpool(passive_reply, settings, inbound.user_id, outcome.reply_text, outcome.level)


async def _event_reply(request: Request, message: BaseMessage, received: float) -> str:
    settings: Settings = request.app.state.settings
    event = getattr(message, "event", "")
    openid = message.source
    if event in SUBSCRIBE_EVENTS:
        await run_in_threadpool(followers.subscribe, settings, openid)
        return prompt_text("replies/welcome.txt")
    if event == "unsubscribe":
        cancelled = await run_in_threadpool(followers.unsubscribe, settings, openid)
        log.info("follower unsubscribed; %d queued deliveries cancelled", cancelled)
        return ""
    if event == "click":
        entry = prompt_yaml("wechat_menu_replies.yaml").get(getattr(message, "key", "") or "")
        if not isinstance(entry, dict):
            log.info("unknown menu key clicked")
            return ""
        if "ask" in entry:
            key = f"wxev:{openid}:{message.time}"
            return await _converse(request, Inbound(openid, str(entry["ask"]), "wechat", "text", key), received)
        return str(entry.get("reply", "")).strip()
    return ""  # VIEW, SCAN, location reports, template results …: nothing to say


def _message_key(openid: str, msg_id: int) -> str:
    """The dedupe key of a message: the sender and its MsgId (one sender cannot take another's MsgId)."""
    sender = openid if len(openid) <= 64 else hashlib.sha256(openid.encode("utf-8", "surrogatepass")).hexdigest()
    return f"wx:{sender}:{msg_id}"


async def _reply_text(request: Request, message: BaseMessage, received: float) -> str:
    kind = _msg_type(message)
    if kind == "event":
        return await _event_reply(request, message, received)
    if kind in UNSUPPORTED_MEDIA:
        return prompt_text("replies/unsupported_media.txt")
    msg_key = _message_key(message.source, message.id)
    if kind == "text":
        inbound = Inbound(message.source, message.content or "", "wechat", "text", msg_key)
    elif kind == "voice":
        inbound = Inbound(message.source, "", "wechat", "voice", msg_key, getattr(message, "recognition", None))
    else:
        log.info("unknown WeChat message type %r ignored", kind)
        return ""
    return await _converse(request, inbound, received)


# --- routes -----------------------------------------------------------------------------------------------

@router.get("/wechat")
async def verify_server(request: Request) -> Response:
    """Server check from 基本配置 → 服务器配置: echo `echostr` when the signature is ours."""
    params = dict(request.query_params)
    token = request.app.state.settings.wechat_token
    try:
        if not token:
            raise InvalidSignatureException()
        check_signature(token, params.get("signature", ""), params.get("timestamp", ""), params.get("nonce", ""))
    except InvalidSignatureException:
        log.warning("wechat server check refused: bad signature or TONGBAN_WECHAT_TOKEN not set")
        return PlainTextResponse("forbidden", status_code=403)
    return PlainTextResponse(params.get("echostr", ""))


@router.post("/wechat")
async def receive(request: Request) -> Response:
    """One message or event in; a passive reply, or "success" when there is nothing (more) to send now."""
    received = time.monotonic()
    params = dict(request.query_params)
    settings: Settings = request.app.state.settings
    runtime = _runtime(request.app)
    try:
        _verify(settings, params)
        body = await _read_body(request)
        message = read_message(runtime.crypto, params, body)
        await _check_nonce(settings, params, body)
    except _Reject as exc:
        log.warning("wechat request refused (%d): %s", exc.status, exc)
        return PlainTextResponse("forbidden" if exc.status == 403 else "bad request", status_code=exc.status)
    text = await _reply_text(request, message, received)
    if not text:
        return PlainTextResponse(SUCCESS)
    xml = text_reply_xml(text, to_user=message.source, from_account=message.target)
    if runtime.crypto is not None and params.get("encrypt_type") == "aes":
        xml = runtime.crypto.encrypt_message(xml, params["nonce"], params["timestamp"])
    return Response(xml, media_type="application/xml")
