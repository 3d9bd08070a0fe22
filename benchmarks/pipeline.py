"""Per-message latency of the whole pipeline on the default (extractive) path.

Messages are the articles' own question variants plus greetings and follow-ups (no evaluation text).
The index is built in a temp dir unless --data-dir points at an existing one.
Run: .venv/bin/python benchmarks/pipeline.py [--messages 300] [--data-dir var]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.pipeline import Conversation, Inbound
from bot.retrieval.ingest import index_exists, ingest
from bot.storage.migrate import upgrade
from knowledge.loader import load_corpus
from stats import percentile



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tongban-bench-")) / "var"
    scratch = Path(tempfile.mkdtemp(prefix="tongban-bench-db-"))
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{scratch / 'bench.db'}")
    if not index_exists(settings):
        ingest(settings)
    upgrade(settings)

    corpus = load_corpus(settings.knowledge_dir)
    pool = [q for a in corpus.articles.values() for q in a.questions]
    pool += ["你好", "谢谢", "那要注意什么", "要去几次", "明天天气怎么样"]
    random.Random(11).shuffle(pool)
    messages = (pool * (args.messages // len(pool) + 1))[: args.messages]

    conversation = Conversation(settings)
    for i, text in enumerate(messages[:20]):
        conversation.handle(Inbound(user_id=f"warm-{i % 5}", text=text))
    latencies = []
    for i, text in enumerate(messages):
        started = time.perf_counter()
        conversation.handle(Inbound(user_id=f"user-{i % 40}", text=text))
        latencies.append((time.perf_counter() - started) * 1000)
    print(f"messages           {len(latencies)} after 20 warm-up (extractive composer, SQLite)")
    print(f"latency p50        {statistics.median(latencies):.1f} ms")
    print(f"latency p95        {percentile(latencies, 0.95):.1f} ms   target <= 150 ms")
    print(f"latency max        {max(latencies):.1f} ms")


if __name__ == "__main__":
    main()
