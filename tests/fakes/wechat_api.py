"""A fake WeChat API on 127.0.0.1: token, 客服消息 send/typing, menu/create, template/send.

Records every request; `fail(path, *errcodes)` makes the next calls to `path` return those errcodes in order;
`slow_seconds` delays every answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ENDPOINTS = ("/cgi-bin/token", "/cgi-bin/message/custom/send", "/cgi-bin/message/custom/typing",
             "/cgi-bin/menu/create", "/cgi-bin/message/template/send")


class FakeWeChatAPI:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.errors: dict[str, deque[int]] = defaultdict(deque)
        self.slow_seconds = 0.0
        self.slow_path: str | None = None  # when set, only this endpoint is slow
        self.tokens_issued = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _answer(self, body: bytes) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                try:
                    data = json.loads(body) if body else {}
                except ValueError:
                    data = {"raw": body.decode("utf-8", "replace")}
                with fake.lock:
                    fake.requests.append({"path": url.path, "query": query, "json": data})
                    queued = fake.errors[url.path]
                    errcode = queued.popleft() if queued else 0
                    if url.path == "/cgi-bin/token" and not errcode:
                        fake.tokens_issued += 1
                        payload = {"access_token": f"token-{fake.tokens_issued}", "expires_in": 7200}
                    elif url.path not in ENDPOINTS:
                        payload = {"errcode": 404, "errmsg": "no such endpoint"}
                    else:
                        payload = {"errcode": errcode, "errmsg": "ok" if not errcode else f"error {errcode}"}
                if fake.slow_seconds and fake.slow_path in (None, url.path):
                    time.sleep(fake.slow_seconds)
                out = json.dumps(payload).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                self._answer(b"")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail(self, path: str, *errcodes: int) -> None:
        with self.lock:
            self.errors[path].extend(errcodes)

    def calls(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def __enter__(self) -> "FakeWeChatAPI":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- inbound messages, built the way the WeChat server builds them ---------------------------------------

import hashlib  # noqa: E402
import secrets  # noqa: E402

from wechatpy.crypto import WeChatCrypto  # noqa: E402

APP_ID = "wx0123456789abcdef"
ACCOUNT = "gh_tongban_test"
TOKEN = "tongban-test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, like 基本配置 generates


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def message_xml(openid: str, msg_type: str, fields: dict[str, str | int], create_time: int | None = None) -> str:
    body = "".join(f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>"
                   for k, v in fields.items())
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"{body}</xml>")


def signed_request(xml: str, mode: str = "plaintext", timestamp: int | None = None,
                   token: str = TOKEN, app_id: str = APP_ID) -> tuple[dict[str, str], bytes]:
    """Query parameters and body for `mode` plaintext | compatible | aes."""
    stamp, nonce = str(timestamp or int(time.time())), secrets.token_hex(4)
    params = {"signature": sign(token, stamp, nonce), "timestamp": stamp, "nonce": nonce, "openid": "o"}
    if mode == "plaintext":
        return params, xml.encode()
    crypto = WeChatCrypto(token, AES_KEY, app_id)
    envelope = crypto.encrypt_message(xml, nonce, stamp)
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    params.update(encrypt_type="aes", msg_signature=sign(token, stamp, nonce, encrypt))
    if mode == "compatible":  # plaintext fields and the ciphertext side by side
        return params, xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
    return params, (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()


def reply_content(body: bytes, params: dict[str, str]) -> str | None:
    """The text of a passive reply (decrypted when the request was encrypted); None for "success"."""
    import xmltodict

    if body in (b"success", b""):
        return None
    text = body.decode()
    if params.get("encrypt_type") == "aes":
        envelope = xmltodict.parse(text)["xml"]
        text = WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
            text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    return xmltodict.parse(text)["xml"]["Content"]

