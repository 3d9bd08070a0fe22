"""The production shape, started natively: `tongban serve --workers 2` against one PostgreSQL database and a
`chroma run` server. Both workers share dedupe, conversation state, cases, the outbox and the metrics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.storage.db import session_scope
from bot.storage.models import Case, ChannelUser, Message, WechatOutbox
from tests.conftest import free_port, fresh_pg_schema, pg_available
from tests.fakes.wechat_api import AES_KEY, APP_ID, TOKEN, FakeWeChatAPI, message_xml, signed_request
from tests.test_chroma_server import chroma_server  # noqa: F401 (fixture)

TONGBAN = Path(sys.executable).with_name("tongban")
WORKERS = 2


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = pg_available()
    if reason:
        pytest.skip(reason)
    with fresh_pg_schema("w") as url:
        yield url


def _wait_ready(base: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited early"
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("server not ready in time")


@pytest.fixture
def cluster(tmp_path: Path, small_knowledge: Path, chroma_server, pg_url: str):  # noqa: F811
    chroma_url = chroma_server[0]
    with FakeWeChatAPI() as wechat:
        port = free_port()
        data = tmp_path / "var"
        env = {**os.environ, "TONGBAN_DATA_DIR": str(data), "TONGBAN_KNOWLEDGE_DIR": str(small_knowledge),
               "TONGBAN_DATABASE_URL": pg_url, "TONGBAN_CHROMA_URL": chroma_url,
               "TONGBAN_WECHAT_TOKEN": TOKEN, "TONGBAN_WECHAT_AES_KEY": AES_KEY, "TONGBAN_WECHAT_APP_ID": APP_ID,
               "TONGBAN_WECHAT_APP_SECRET": "secret", "TONGBAN_WECHAT_DELIVERY": "async",
               "TONGBAN_WECHAT_API_BASE": wechat.base_url, "TONGBAN_WECHAT_OUTBOX_POLL_SECONDS": "0.2",
               "TONGBAN_WECHAT_RATE_LIMIT_PER_MINUTE": "1000"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log_file = (tmp_path / "serve.log").open("wb")
        process = subprocess.Popen([str(TONGBAN), "serve", "--port", str(port), "--workers", str(WORKERS)],
                                   env=env, stdout=log_file, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process)
            yield base, Settings(data_dir=data, database_url=pg_url), wechat, data
        finally:
            process.terminate()
            process.wait(20)
            log_file.close()


def _post(base: str, xml: str) -> httpx.Response:
    params, body = signed_request(xml, "aes")
    return httpx.post(f"{base}/wechat", params=params, content=body, timeout=15)


def _count(settings: Settings, model, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope(settings) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)))


def test_two_workers_share_dedupe_cases_outbox_and_metrics(cluster) -> None:
    base, settings, wechat, data = cluster
    questions = ["孩子不爱吃饭怎么办", "娃儿看黑板看不清咋办", "小孩牙齿黑了要看医生吗", "留守儿童关爱有哪些政策",
                 "孩子个子矮要不要去查", "夏天怎么防溺水"]
    green = [(f"o-green-{i}", 7_000_000 + i, text) for i, text in enumerate(questions)]
    red = ("o-red-1", 7_100_000, "孙子刚才说不想活了，拿着绳子在屋里")
    jobs = [message_xml(openid, "text", {"Content": text, "MsgId": msg_id})
            for openid, msg_id, text in [*green, red] for _ in range(3)]  # every message arrives 3 times at once
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        responses = list(pool.map(lambda xml: _post(base, xml), jobs))
    assert all(r.status_code == 200 for r in responses)

    # In async mode a slow answer finishes after "success"; give the workers time, then count.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count(settings, Message, Message.direction == "out") < len(green) + 1:
        time.sleep(0.3)
    time.sleep(1.0)  # a late duplicate would show up by now
    assert _count(settings, Message, Message.direction == "in") == len(green) + 1
    assert _count(settings, Case) == 1
    assert _count(settings, ChannelUser) == len(green) + 1

    # Green answers go out as 客服消息 from the shared outbox, each exactly once, whichever worker claims it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count(settings, WechatOutbox, WechatOutbox.status == "queued"):
        time.sleep(0.3)
    sends = Counter(call["json"]["touser"] for call in wechat.calls("/cgi-bin/message/custom/send"))
    # (The red reply is passive; on a loaded machine it can miss the passive deadline and go out this way too.)
    assert {openid for openid, _, _ in green} <= set(sends) <= {openid for openid, _, _ in green} | {red[0]}
    parts = {openid: _count(settings, WechatOutbox, WechatOutbox.openid == openid) for openid in sends}
    assert sends == Counter(parts)

    # The conversation continues in the other worker: a calm follow-up joins the open red case.
    follow = message_xml(red[0], "text", {"Content": "他现在睡着了", "MsgId": 7_100_001})
    for _ in range(4):  # whichever worker answers
        assert _post(base, follow).status_code == 200
    with session_scope(settings) as session:
        case_ids = set(session.scalars(select(Message.case_id).where(Message.direction == "in",
                                                                     Message.text.like("他现在睡着了%"))))
    assert len(case_ids) == 1 and None not in case_ids

    # Both workers served, and /metrics adds their counters up.
    pids = {m.group(1) for f in (data / "metrics").iterdir() if (m := re.search(r"_(\d+)\.db$", f.name))}
    assert len(pids) >= WORKERS
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    handled = sum(float(v) for v in re.findall(r'^tongban_messages_total\{channel="wechat",level="\w+"\} (\S+)$',
                                              metrics, re.M))
    assert handled == len(green) + 2
    assert re.search(r'^tongban_cases_opened_total\{severity="red"\} 1\.0$', metrics, re.M)
