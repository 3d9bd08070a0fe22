"""`tongban serve` as a real process: migrations run, health endpoints answer over HTTP."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.config import Settings
from tests.conftest import free_port

TONGBAN = Path(sys.executable).with_name("tongban")


def test_serve_answers_health_and_readiness(built_settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "var"
    shutil.copytree(built_settings.resolved_data_dir, data)
    port = free_port()
    env = {**os.environ, "TONGBAN_DATA_DIR": str(data)}
    process = subprocess.Popen([str(TONGBAN), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        assert health.json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        assert (data / "tongban.db").exists()
    finally:
        process.terminate()
        process.wait(10)
