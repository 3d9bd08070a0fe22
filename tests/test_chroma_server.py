"""Server mode against a real `chroma run` process on 127.0.0.1, and the keyword fallback when it dies."""

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.retrieval.ingest import ingest
from bot.retrieval.search import KnowledgeIndex
from tests.conftest import free_port

CHROMA = Path(sys.executable).with_name("chroma")


def start_chroma(path: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("chroma server did not start")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, Path, int]]:
    if not CHROMA.exists() and not shutil.which("chroma"):
        pytest.skip("the chroma command (from the chromadb package) is not installed")
    port = free_port()
    path = tmp_path / "chroma-server"
    process = start_chroma(path, port)
    holder = {"process": process}
    yield f"http://127.0.0.1:{port}", holder, path, port
    holder["process"].terminate()
    holder["process"].wait(10)


def test_ingest_and_search_through_a_chroma_server(tmp_path: Path, small_knowledge: Path, chroma_server) -> None:
    url, holder, path, port = chroma_server
    settings = Settings(data_dir=tmp_path / "var", knowledge_dir=small_knowledge, chroma_url=url)
    report = ingest(settings)
    assert report.embedded == report.chunks > 0
    assert not (settings.chroma_path).exists(), "server mode must not write an embedded store"
    assert ingest(settings).embedded == 0

    index = KnowledgeIndex(settings)
    hits = index.search("留守儿童心理健康关爱", k=3)
    assert hits and hits[0].dense_rank is not None and index.dense_available

    holder["process"].terminate()
    holder["process"].wait(10)
    fallback = index.search("留守儿童心理健康关爱", k=3)
    assert fallback and all(h.dense_rank is None for h in fallback)
    assert not index.dense_available

    holder["process"] = start_chroma(path, port)
    recovered = index.search("留守儿童心理健康关爱", k=3)
    assert recovered and recovered[0].dense_rank is not None and index.dense_available


def test_readyz_is_degraded_while_chroma_is_down_and_triage_still_works(
        tmp_path: Path, small_knowledge: Path, chroma_server) -> None:
    from fastapi.testclient import TestClient

    from bot.pipeline import Conversation, Inbound
    from handlers.app import create_app

    url, holder, path, port = chroma_server
    settings = Settings(data_dir=tmp_path / "var", knowledge_dir=small_knowledge, chroma_url=url,
                        purge_interval_hours=0)
    ingest(settings)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["status"] == "ok"
        holder["process"].terminate()
        holder["process"].wait(10)
        body = client.get("/readyz")
        assert body.status_code == 200 and body.json()["status"] == "degraded" and body.json()["chroma"] == "unreachable"
        convo: Conversation = client.app.state.conversation
        red = convo.handle(Inbound("c-1", "孩子说不想活了，刀已经拿在手上", "api"))
        assert red.level == "red" and "12356" in red.reply_text
        answer = convo.handle(Inbound("c-2", "留守儿童心理健康关爱服务有哪些", "api"))
        assert answer.level == "green"  # answered from keyword search
        holder["process"] = start_chroma(path, port)
        assert client.get("/readyz").json()["status"] == "ok"  # recovers by itself
