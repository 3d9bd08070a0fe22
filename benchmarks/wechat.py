"""End-to-end latency of POST /wechat in safe (AES) mode over real HTTP on 127.0.0.1.

Each request: signature check, decrypt, parse, dedupe, triage, retrieval, extractive answer, encrypt.
Runs >= 1000 messages at 1, 8 and 32 concurrent clients against `tongban serve --workers N`, started as its
own process (so the clients do not share the server's interpreter), then checks that every message got
exactly one stored inbound row and a reply (zero errors, zero duplicates).
Run: .venv/bin/python benchmarks/wechat.py [--messages 1000] [--workers 2] [--data-dir var] [--database-url URL]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes (message builders)

from bot.config import Settings  # noqa: E402
from bot.prompts import prompt_text  # noqa: E402
from bot.retrieval.ingest import index_exists, ingest  # noqa: E402
from bot.storage.db import session_scope  # noqa: E402
from bot.storage.models import Message  # noqa: E402
from knowledge.loader import load_corpus  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.fakes.wechat_api import (AES_KEY, APP_ID, TOKEN, message_xml, reply_content,  # noqa: E402
                                    signed_request)

TONGBAN = Path(sys.executable).with_name("tongban")


def start_server(settings: Settings, workers: int, log: IO | None = None) -> tuple[subprocess.Popen, str]:
    """`tongban serve` as its own process (its output to `log` when given); returns once /readyz is 200."""
    port = free_port()
    env = {**os.environ, "TONGBAN_DATA_DIR": str(settings.data_dir), "TONGBAN_DATABASE_URL": settings.sqlalchemy_url,
           "TONGBAN_WECHAT_TOKEN": TOKEN, "TONGBAN_WECHAT_AES_KEY": AES_KEY, "TONGBAN_WECHAT_APP_ID": APP_ID,
           "TONGBAN_WECHAT_RATE_LIMIT_PER_MINUTE": "0", "TONGBAN_LOG_LEVEL": "WARNING",
           "TONGBAN_PURGE_INTERVAL_HOURS": "0"}
    process = subprocess.Popen([str(TONGBAN), "serve", "--port", str(port), "--workers", str(workers)], env=env,
                               stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise SystemExit("server exited")
        time.sleep(0.5)
    process.kill()
    raise SystemExit("server not ready")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run_level(url: str, pool: list[str], clients: int, total: int, ids: itertools.count) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    late: list[float] = []  # answered with the busy text because the pipeline missed the deadline
    busy = prompt_text("replies/busy.txt")
    lock = threading.Lock()
    per_client = -(-total // clients)  # at least `total` messages in all

    def client(number: int) -> None:
        with httpx.Client(timeout=10) as http:
            for i in range(per_client):
                text = pool[(number * 7919 + i) % len(pool)]
                xml = message_xml(f"bench-{clients}-{number}-{i % 10}", "text", {"Content": text, "MsgId": next(ids)})
                params, body = signed_request(xml, "aes")
                started = time.perf_counter()
                try:
                    response = http.post(f"{url}/wechat", params=params, content=body)
                    reply = reply_content(response.content, params) if response.status_code == 200 else None
                    problem = None if reply else f"{response.status_code} {response.text[:60]!r}"
                except httpx.HTTPError as exc:
                    problem = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if not problem and reply == busy:
                        late.append(elapsed)
                    if problem:
                        errors.append(problem)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as executor:
        list(executor.map(client, range(clients)))
    wall = time.perf_counter() - started
    return {"clients": clients, "n": len(latencies), "errors": errors, "wall": wall, "latencies": latencies,
            "late": late}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000, help="messages per concurrency level")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tongban-bench-")) / "var"
    scratch = Path(tempfile.mkdtemp(prefix="tongban-bench-db-"))
    settings = Settings(data_dir=data_dir, database_url=args.database_url or f"sqlite:///{scratch / 'wechat.db'}",
                        wechat_token=TOKEN, wechat_aes_key=AES_KEY, wechat_app_id=APP_ID,
                        wechat_rate_limit_per_minute=0, log_level="WARNING")
    if not index_exists(settings):
        ingest(settings)
    corpus = load_corpus(settings.knowledge_dir)
    pool = [q for a in corpus.articles.values() for q in a.questions]
    pool += ["你好", "谢谢", "那要注意什么", "要去几次", "明天天气怎么样"]
    random.Random(11).shuffle(pool)
    ids = itertools.count(1)
    server_log = (scratch / "server.log").open("wb")
    process, url = start_server(settings, args.workers, server_log)
    try:
        run_level(url, pool, 4, 40, ids)  # warm-up: loads the index, embedder and composer
        results = [run_level(url, pool, clients, args.messages, ids) for clients in (1, 8, 32)]
    finally:
        process.terminate()
        process.wait(30)
        server_log.close()
    logged = (scratch / "server.log").read_text("utf-8", errors="replace")
    with session_scope(settings) as session:
        inbound = session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
        keys = session.scalar(select(func.count(func.distinct(Message.msg_key))).where(Message.direction == "in"))
    sent = 40 + sum(r["n"] for r in results)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"POST /wechat, safe mode (AES), passive replies, extractive composer, {backend}, "
          f"{args.workers} worker(s), 127.0.0.1")
    print(f"{'clients':>7} {'messages':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'msg/s':>7} "
          "errors busy")
    for r in results:
        lat = r["latencies"]
        print(f"{r['clients']:>7} {r['n']:>8} {statistics.median(lat):>8.1f} {percentile(lat, 0.95):>8.1f} "
              f"{percentile(lat, 0.99):>8.1f} {max(lat):>8.1f} {r['n'] / r['wall']:>7.1f} {len(r['errors']):>6} "
              f"{len(r['late'])}")
        for problem in sorted(set(r["errors"]))[:5]:
            print(f"        error: {problem}")
    print(f"inbound rows {inbound} for {sent} messages; distinct msg keys {keys}; duplicates {inbound - keys}")
    print(f"server log: {logged.count('database is locked')} 'database is locked', "
          f"{logged.count('spooled')} spooled messages")
    print("busy = passive busy text because the answer missed the 4.5 s deadline (the answer is still stored)")
    if any(r["errors"] for r in results) or inbound != sent or keys != sent:
        sys.exit(1)


if __name__ == "__main__":
    main()
