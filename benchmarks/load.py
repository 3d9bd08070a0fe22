"""Load and soak test of POST /wechat: simulated WeChat users against `tongban serve` on 127.0.0.1.

Starts the real service as its own process (N uvicorn workers), lets --users simulated users send signed
messages (compatible and AES modes) for --seconds, with about 5 % red messages and 10 % retries
(same MsgId, concurrently or after a pause), then checks in the database that every message sent has exactly
one stored inbound row, every red message exactly one case, and nothing was stored that was never sent.
Prints throughput, latency percentiles, errors and the server's resident memory; exits 1 on any FAIL.

Run:  .venv/bin/python benchmarks/load.py --workers 1    (SQLite in a temp dir)
      .venv/bin/python benchmarks/load.py --workers 2 --database-url postgresql+psycopg://postgres@127.0.0.1/test
      .venv/bin/python benchmarks/load.py --soak         (10 min at 10 msg/s; RSS every minute, growth < 10 %)
With a PostgreSQL URL a fresh schema is created for the run and dropped afterwards. Loopback only; stops by
itself after --seconds.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import make_url, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bot, knowledge and tests.fakes

from bot.config import Settings  # noqa: E402
from bot.retrieval.ingest import index_exists, ingest  # noqa: E402
from bot.spool import pending  # noqa: E402
from bot.storage.db import session_scope  # noqa: E402
from bot.storage.models import Case, ChannelUser, Message  # noqa: E402
from knowledge.loader import load_corpus  # noqa: E402
from load_traffic import GREETINGS, Traffic  # noqa: E402
from stats import percentile  # noqa: E402
from tests.fakes.wechat_api import AES_KEY, APP_ID, TOKEN  # noqa: E402
from wechat import start_server  # noqa: E402

SOAK_SECONDS, SOAK_RATE, SOAK_GROWTH_LIMIT = 600, 10.0, 0.10
WARM_UP_SECONDS, SOAK_WARM_UP_SECONDS = 5, 60  # the soak's baseline is taken once caches have filled
SPOOL_WAIT_SECONDS = 60


# --- database for the run ---------------------------------------------------------------------------------

class RunDatabase:
    """SQLite in a temp dir, or a fresh schema in the given PostgreSQL database (dropped by `close`)."""

    def __init__(self, url: str, scratch: Path) -> None:
        self.schema = ""
        self.admin = ""
        if not url:
            self.url = f"sqlite:///{scratch / 'load.db'}"
        elif make_url(url).get_backend_name() == "postgresql":
            import psycopg

            self.admin = make_url(url).set(drivername="postgresql", query={}).render_as_string(hide_password=False)
            self.schema = f"load_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{self.schema}"')
            self.url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{self.schema}"
        else:
            self.url = url

    @property
    def label(self) -> str:
        return f"PostgreSQL (schema {self.schema})" if self.schema else make_url(self.url).get_backend_name()

    def close(self) -> None:
        if self.schema:
            import psycopg

            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')


# --- server memory ----------------------------------------------------------------------------------------

def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (uvicorn's supervisor and its worker processes), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def rss_mb(root: int) -> float:
    """Resident memory of the whole server (VmRSS of every process in the tree), in MB."""
    total_kb = 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


class MemoryWatch(threading.Thread):
    """Samples the server's RSS every `every` seconds until stopped."""

    def __init__(self, pid: int, every: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.started_at = time.monotonic()
        self.samples: list[tuple[float, float]] = [(0.0, rss_mb(pid))]
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            self.samples.append((time.monotonic() - self.started_at, rss_mb(self.pid)))

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.samples.append((time.monotonic() - self.started_at, rss_mb(self.pid)))

    @property
    def growth(self) -> float:
        return self.samples[-1][1] / self.samples[0][1] - 1


# --- after the run ----------------------------------------------------------------------------------------

def wait_for_spool(settings: Settings) -> int:
    """Waits until messages spooled during a database hiccup are stored; returns how many still wait."""
    deadline = time.monotonic() + SPOOL_WAIT_SECONDS
    while pending(settings) and time.monotonic() < deadline:
        time.sleep(1)
    return pending(settings)


def server_counters(url: str) -> Counter:
    """The service's own counters from /metrics (all workers added up)."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: Counter = Counter()
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counts[sample.name] += sample.value
    return counts


def check_database(settings: Settings, traffics: list[Traffic]) -> list[tuple[bool, str]]:
    sent = {f"wx:{s.openid}:{s.msg_id}": s for t in traffics for s in t.tally.sent.values()}
    openids = {s.openid for s in sent.values()}
    with session_scope(settings) as session:
        users = {u.id: u.external_id for u in session.scalars(
            select(ChannelUser).where(ChannelUser.channel == "wechat"))}
        ours = {uid for uid, openid in users.items() if openid in openids}
        rows = [m for m in session.scalars(select(Message).where(Message.user_id.in_(ours)))]
        cases = list(session.scalars(select(Case).where(Case.user_id.in_(ours))))
    inbound = Counter(m.msg_key for m in rows if m.direction == "in")
    outbound = sum(m.direction == "out" for m in rows)
    missing = [k for k in sent if inbound[k] == 0]
    doubled = [k for k, n in inbound.items() if n > 1]
    unknown = [k for k in inbound if k not in sent]
    cases_by_openid = Counter(users[c.user_id] for c in cases)
    red = [s for s in sent.values() if s.red]
    red_not_one = [s for s in red if cases_by_openid[s.openid] != 1]
    level = {m.msg_key: m.level for m in rows if m.direction == "in"}
    red_unflagged = [s for s in red if level.get(f"wx:{s.openid}:{s.msg_id}") != "red"]
    red_openids = {s.openid for s in red}
    other_cases = sum(n for openid, n in cases_by_openid.items() if openid not in red_openids)
    print(f"database: {len(sent)} messages sent, {sum(inbound.values())} inbound rows, {outbound} replies stored, "
          f"{len(cases)} cases ({len(red)} red messages; {other_cases} cases of other users, e.g. yellow)")
    return [
        (not missing, f"every message sent has a stored inbound row (missing {len(missing)}: {missing[:3]})"),
        (not doubled, f"no message stored twice (doubled {len(doubled)}: {doubled[:3]})"),
        (not unknown, f"no stored row for a message never sent ({len(unknown)}: {unknown[:3]})"),
        (not red_not_one, f"every red message has exactly one case for its user ({len(red_not_one)} without: "
                          f"{[(s.openid, cases_by_openid[s.openid]) for s in red_not_one[:3]]})"),
        (not red_unflagged, f"every red message is stored as red ({len(red_unflagged)} not)"),
        (outbound <= sum(inbound.values()), f"no message answered twice ({outbound} replies stored for "
                                            f"{sum(inbound.values())} messages)"),
    ]


# --- report -----------------------------------------------------------------------------------------------

def report_traffic(traffic: Traffic, wall: float, counters: Counter) -> list[tuple[bool, str]]:
    tally = traffic.tally
    lat = tally.latencies
    print(f"requests {tally.requests} ({len(tally.sent)} messages + {tally.retries} retries, "
          f"{tally.concurrent_retries} of them concurrent; {tally.bursts} red first contacts sent with a second "
          f"message at once) in {wall:.1f} s: {tally.requests / wall:.1f} requests/s, "
          f"{len(tally.sent) / wall:.1f} messages/s")
    print(f"latency ms  p50 {statistics.median(lat):.0f}  p95 {percentile(lat, 0.95):.0f}  "
          f"p99 {percentile(lat, 0.99):.0f}  max {max(lat):.0f}")
    errors = sum(tally.statuses.values()) + sum(tally.transport.values())
    print(f"errors {errors} (status {dict(tally.statuses)}, transport {dict(tally.transport)}); "
          f"busy texts {tally.busy}; over WeChat's 5 s {tally.late}; rate-limit texts {tally.rate_limited}")
    duplicates = counters["tongban_duplicate_messages_total"]
    spooled = counters["tongban_spooled_messages_total"]
    print(f"server (warm-up included): {duplicates:.0f} retries answered as duplicates, {spooled:.0f} messages spooled "
          f"(database busy), {counters['tongban_cases_opened_total']:.0f} cases opened")
    unanswered, no_crisis = traffic.unanswered(), traffic.red_without_crisis_text()
    return [
        (errors == 0, f"no errors (non-200 or transport): {errors}"),
        (not unanswered, f"every message got a reply ({len(unanswered)} without)"),
        (not no_crisis, f"every red message got its crisis reply ({len(no_crisis)} without)"),
    ]


def report_memory(watch: MemoryWatch, soak: bool) -> list[tuple[bool, str]]:
    print("server RSS (all processes): " + ", ".join(f"{t:.0f}s {mb:.0f} MB" for t, mb in watch.samples))
    growth = watch.growth
    line = f"RSS growth after warm-up {growth * 100:+.1f} % (soak limit {SOAK_GROWTH_LIMIT * 100:.0f} %)"
    return [(growth < SOAK_GROWTH_LIMIT, line)] if soak else [(True, line)]


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def server_log_problems(log_path: Path) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines()
    return [line for line in lines if "ERROR" in line or "CRITICAL" in line or line.startswith("Traceback")]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default="", help="empty = SQLite in a temp dir; PostgreSQL gets a "
                                                           "fresh schema")
    parser.add_argument("--users", type=int, default=20, help="simulated users (one thread each)")
    parser.add_argument("--seconds", type=float, default=None, help="duration (default 60; 600 with --soak)")
    parser.add_argument("--rate", type=float, default=None, help="new messages per second in total (default: "
                        "as fast as the users go with a short think time; 10 with --soak)")
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a built index (else built once)")
    parser.add_argument("--aes", choices=("mix", "plaintext", "compatible", "aes"), default="mix")
    parser.add_argument("--soak", action="store_true", help="memory soak: RSS every minute, growth < 10 %%")
    parser.add_argument("--warm-up", type=float, default=None, help="seconds of unmeasured traffic first "
                        f"(default {WARM_UP_SECONDS}; {SOAK_WARM_UP_SECONDS} with --soak)")
    parser.add_argument("--rss-every", type=float, default=60, help="seconds between RSS samples")
    args = parser.parse_args()
    args.seconds = args.seconds or (SOAK_SECONDS if args.soak else 60)
    if args.warm_up is None:
        args.warm_up = SOAK_WARM_UP_SECONDS if args.soak else WARM_UP_SECONDS
    args.rate = args.rate if args.rate is not None else (SOAK_RATE if args.soak else 0)
    return args


def main() -> None:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="tongban-load-"))
    database = RunDatabase(args.database_url, scratch)
    data_dir = args.data_dir or scratch / "var"
    # Plaintext mode is accepted only by an account without an AES key (safe mode is strict).
    aes_key = "" if args.aes == "plaintext" else AES_KEY
    settings = Settings(data_dir=data_dir, database_url=database.url, wechat_token=TOKEN, wechat_aes_key=aes_key,
                        wechat_app_id=APP_ID, wechat_rate_limit_per_minute=0, log_level="WARNING")
    checks: list[tuple[bool, str]] = []
    try:
        if not index_exists(settings):
            ingest(settings)
        pool = [q for a in load_corpus(settings.knowledge_dir).articles.values() for q in a.questions]
        pool += list(GREETINGS)
        run_id = uuid.uuid4().hex[:6]
        log_path = scratch / "server.log"
        with log_path.open("w") as log:
            process, url = start_server(settings, args.workers, log)
        try:
            warm_up = Traffic(url, pool, f"{run_id}w", args.aes, seed=1)
            warm_up.run(4, args.warm_up, 0)  # loads the index, embedder and composer in every worker
            watch = MemoryWatch(process.pid, args.rss_every)
            watch.start()
            traffic = Traffic(url, pool, run_id, args.aes)
            wall = traffic.run(args.users, args.seconds, args.rate)
            left = wait_for_spool(settings)
            counters = server_counters(url)
            watch.stop()
        finally:
            stop_server(process)
        print(f"POST /wechat load: {args.workers} worker(s), {database.label}, {args.users} users, "
              f"{args.seconds:.0f} s, rate {args.rate or 'unpaced'}, modes {args.aes}, 127.0.0.1")
        checks += report_traffic(traffic, wall, counters)
        checks.append((left == 0, f"spool empty after the run ({left} waiting)"))
        checks += report_memory(watch, args.soak)
        checks += check_database(settings, [warm_up, traffic])
        problems = server_log_problems(log_path)
        print(f"server log: {len(problems)} ERROR/CRITICAL lines" + "".join(f"\n  {p[:200]}" for p in problems[:5]))
    finally:
        database.close()
    for ok, line in checks:
        print(f"{'PASS' if ok else 'FAIL'} {line}")
    if all(ok for ok, _ in checks):
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"kept for inspection: {scratch}")
        sys.exit(1)


if __name__ == "__main__":
    main()
