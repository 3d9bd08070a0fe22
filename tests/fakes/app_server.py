"""The real Tongban app under uvicorn on 127.0.0.1, in a thread, for end-to-end tests over HTTP."""

from __future__ import annotations

import threading
import time


def serve_app(settings, index):  # type: ignore[no-untyped-def]
    """Starts the real app under uvicorn on 127.0.0.1 in a thread; yields its base URL (a generator for fixtures)."""
    import uvicorn

    from bot.pipeline import Conversation
    from handlers.app import create_app
    from tests.conftest import free_port

    app = create_app(settings)
    app.state.conversation = Conversation(settings, index=index)  # share the session's loaded index
    port = free_port()
    # As `tongban serve`: uvicorn leaves X-Forwarded-* alone; handlers.forwarded decides whom to believe.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
