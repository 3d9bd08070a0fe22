"""Cold start: seconds from `tongban serve` on an empty data directory until /readyz answers 200.

The index is built on the way (from the passage vectors shipped in knowledge/vectors/), the database migrated.
Run: .venv/bin/python benchmarks/cold_start.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TONGBAN = Path(sys.executable).parent / "tongban"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_run(timeout: float) -> float:
    data = Path(tempfile.mkdtemp(prefix="tongban-cold-"))
    port = free_port()
    env = {**os.environ, "TONGBAN_DATA_DIR": str(data / "var")}
    started = time.perf_counter()
    process = subprocess.Popen([str(TONGBAN), "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < timeout:
            if process.poll() is not None:
                raise SystemExit(f"tongban serve exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"not ready within {timeout:.0f} s")
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    times = [one_run(args.timeout) for _ in range(args.runs)]
    for i, seconds in enumerate(times, 1):
        print(f"run {i}: ready in {seconds:.1f} s")
    print(f"cold start (empty data dir -> /readyz 200): best {min(times):.1f} s, worst {max(times):.1f} s "
          f"on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
