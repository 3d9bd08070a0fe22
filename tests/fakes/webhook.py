"""A webhook receiver on 127.0.0.1 that records JSON posts and can fail the first N of them."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.received: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.delay = delay
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.attempts += 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.received.append(json.loads(body))
                receiver.event.set()
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
