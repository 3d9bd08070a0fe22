"""Simulated WeChat users for benchmarks/load.py: who sends what, when, and what came back.

Each user thread sends one signed message, waits for the answer, thinks, and sends the next. About 5 % of
messages are red, each from a fresh openid (so "one case per red message" can be checked); about 10 % are
sent again with the same MsgId, either at the same moment (a retry racing the original) or after a pause
(WeChat's own retry when an answer is slow). Half of the red senders are new users who send a second
message at the same moment (a worried grandparent typing in bursts). Retries and those second messages run
on a bounded pool of their own.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from bot.prompts import prompt_text
from bot.safety import crisis_reply, triage
from tests.fakes.wechat_api import message_xml, reply_content, signed_request

# Written for this benchmark (never taken from the evaluation sets); each one is triaged red.
RED_MESSAGES = (
    "我孙子今天跟我说他不想活了，说活着没意思",
    "孩子写了一封信说要去死，信还放在枕头底下",
    "我家丫头说想从楼顶跳下去，怎么劝都不听",
    "我闺女说同学都欺负她，她想吃安眠药一了百了",
    "孙子说晚上要割腕，刀都藏在书包里了",
    "孩子用小刀划自己的手腕，划了好多道口子",
    "娃从昨天下午放学就没回家，到处找不到人",
    "我家小孙子在集市上走丢了，已经找了三个钟头",
    "孩子被人贩子带走了怎么办，派出所还没来",
    "孩子把家里的农药喝了一口，嘴里全是味道",
    "小孙子误吃了一把降压药，现在一直想睡",
    "娃喝了放在饮料瓶里的敌敌畏，吐了好几次",
    "小孩误喝了洗衣液，一直在咳嗽",
    "孙子掉进水塘里了，捞上来不喘气了",
    "孩子吃东西卡住了喉咙，脸都憋紫了",
    "娃被热水烫了一大片，皮都起泡掉了，哭得喘不上气",
    "邻居家男人天天拿皮带抽孩子，孩子身上全是血印子",
    "孩子后妈不给饭吃，还用烟头烫孩子的手",
    "我家儿子被他爹打得站不起来，腿可能断了",
    "有个大人老是摸我孙女下面，还不让她告诉家里",
    "村里一个老头把小姑娘叫到屋里脱她衣服",
)
GREETINGS = ("你好", "您好", "谢谢", "谢谢你", "在吗", "早上好", "好的，知道了")
RED_SHARE = 0.05
RETRY_SHARE = 0.10
BURST_SHARE = 0.5  # of red senders
WECHAT_WAIT_SECONDS = 5.0  # WeChat gives up on an answer after this and retries
MODES = ("compatible", "aes")  # with an AES key set, plaintext posts are refused (safe mode is strict)
# uvicorn closes a connection idle for 5 s; reusing one at that moment is a client-side ReadError, so the
# clients drop idle connections well before.
KEEP_ALIVE = httpx.Limits(keepalive_expiry=1.0)


@dataclass
class Sent:
    msg_id: int
    openid: str
    text: str
    mode: str
    red: bool
    replies: list[str] = field(default_factory=list)  # every non-empty reply any attempt got


@dataclass
class Tally:
    """Everything the clients saw, shared by all threads (guarded by `lock`)."""

    latencies: list[float] = field(default_factory=list)  # ms, every request
    statuses: Counter = field(default_factory=Counter)  # non-200 status codes
    transport: Counter = field(default_factory=Counter)  # timeouts and connection errors by exception name
    busy: int = 0
    rate_limited: int = 0
    late: int = 0  # answered after WeChat would have stopped waiting
    retries: int = 0
    concurrent_retries: int = 0
    bursts: int = 0
    sent: dict[int, Sent] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return len(self.latencies)


class Pacer:
    """Hands out send times `1/rate` apart across all users; rate 0 = no pacing (think time only)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self, deadline: float, rng: random.Random) -> bool:
        """Sleeps until this user may send; False once the run is over."""
        if not self.interval:
            time.sleep(rng.uniform(0.05, 0.25))  # a user reads the answer before typing again
            return time.monotonic() < deadline
        with self.lock:
            slot = max(self.next, time.monotonic())
            self.next = slot + self.interval
        if slot >= deadline:
            return False
        time.sleep(max(0.0, slot - time.monotonic()))
        return True


class Traffic:
    """Runs the simulated users against `url` and records what they saw in `tally`."""

    def __init__(self, url: str, pool: list[str], run_id: str, mode: str, seed: int = 7) -> None:
        self.url = f"{url}/wechat"
        self.pool = pool
        self.run_id = run_id
        self.mode = mode
        self.seed = seed
        self.tally = Tally()
        self.ids = itertools.count(int(time.time() * 1000) * 1000)  # unique across runs sharing a database
        self.red_users = itertools.count(1)
        self.busy_text = prompt_text("replies/busy.txt")
        self.limit_text = prompt_text("replies/rate_limited.txt")

    def user_openid(self, number: int) -> str:
        return f"load{self.run_id}-u{number}"

    def _post(self, http: httpx.Client, sent: Sent) -> None:
        """One attempt: signs afresh (WeChat signs every retry anew), posts, records the outcome."""
        xml = message_xml(sent.openid, "text", {"Content": sent.text, "MsgId": sent.msg_id})
        params, body = signed_request(xml, sent.mode)
        started = time.perf_counter()
        reply, status, problem = None, 0, None
        try:
            response = http.post(self.url, params=params, content=body)
            status = response.status_code
            if status == 200:
                reply = reply_content(response.content, params)
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with self.tally.lock:
            tally = self.tally
            tally.latencies.append(elapsed)
            if problem:
                tally.transport[problem] += 1
            elif status != 200:
                tally.statuses[status] += 1
            tally.late += elapsed > WECHAT_WAIT_SECONDS * 1000
            tally.busy += reply == self.busy_text
            tally.rate_limited += reply == self.limit_text
            if reply:
                sent.replies.append(reply)

    def _new_message(self, openid: str, text: str, red: bool, rng: random.Random) -> Sent:
        mode = rng.choice(MODES) if self.mode == "mix" else self.mode
        sent = Sent(next(self.ids), openid, text, mode, red)
        with self.tally.lock:
            self.tally.sent[sent.msg_id] = sent
        return sent

    def _send_later(self, retries: ThreadPoolExecutor, http: httpx.Client, sent: Sent, delay: float) -> None:
        def attempt() -> None:
            time.sleep(delay)
            self._post(http, sent)

        retries.submit(attempt)

    def _user(self, number: int, deadline: float, pacer: Pacer, retries: ThreadPoolExecutor,
              shared: httpx.Client) -> None:
        rng = random.Random(self.seed * 100_003 + number)
        with httpx.Client(timeout=10, limits=KEEP_ALIVE) as http:
            while pacer.wait(deadline, rng):
                red = rng.random() < RED_SHARE
                if red:
                    openid = f"load{self.run_id}-red{next(self.red_users)}"
                    sent = self._new_message(openid, rng.choice(RED_MESSAGES), True, rng)
                    if rng.random() < BURST_SHARE:
                        with self.tally.lock:
                            self.tally.bursts += 1
                        companion = self._new_message(openid, rng.choice(GREETINGS), False, rng)
                        self._send_later(retries, shared, companion, 0.0)
                else:
                    text = rng.choice(GREETINGS) if rng.random() < 0.15 else rng.choice(self.pool)
                    sent = self._new_message(self.user_openid(number), text, False, rng)
                retry = rng.random() < RETRY_SHARE
                concurrent = retry and rng.random() < 0.5
                with self.tally.lock:
                    self.tally.retries += retry
                    self.tally.concurrent_retries += concurrent
                if concurrent:
                    self._send_later(retries, shared, sent, 0.0)
                self._post(http, sent)
                if retry and not concurrent:
                    self._send_later(retries, shared, sent, rng.uniform(0.2, 2.0))

    def run(self, users: int, seconds: float, rate: float) -> float:
        """Sends for `seconds`, then waits for the retries still queued; returns the wall time."""
        pacer = Pacer(rate)
        started = time.monotonic()
        deadline = started + seconds
        limits = httpx.Limits(max_connections=max(4, users // 2), keepalive_expiry=KEEP_ALIVE.keepalive_expiry)
        with httpx.Client(timeout=10, limits=limits) as shared, \
                ThreadPoolExecutor(max(4, users // 2), thread_name_prefix="retry") as retries, \
                ThreadPoolExecutor(users, thread_name_prefix="user") as executor:
            for future in [executor.submit(self._user, n, deadline, pacer, retries, shared) for n in range(users)]:
                future.result()
        return time.monotonic() - started

    def unanswered(self) -> list[Sent]:
        """Messages no attempt got a reply for (a retry that lost the race may answer "success")."""
        return [s for s in self.tally.sent.values() if not s.replies]

    def red_without_crisis_text(self) -> list[Sent]:
        missing = []
        for sent in self.tally.sent.values():
            if sent.red:
                expected = crisis_reply(triage(sent.text))[:20]
                if not any(expected in reply for reply in sent.replies):
                    missing.append(sent)
        return missing

    def by_openid(self) -> dict[str, list[Sent]]:
        grouped: dict[str, list[Sent]] = defaultdict(list)
        for sent in self.tally.sent.values():
            grouped[sent.openid].append(sent)
        return grouped
