"""Retrieval benchmark: ingest time (cold and no-change), query latency p50/p95, resident memory.

Queries are the articles' own question variants and the policy section labels, so no evaluation text is used.
Run: .venv/bin/python benchmarks/retrieval.py [--queries 300] [--keep-dir DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.retrieval.ingest import ingest
from bot.retrieval.search import KnowledgeIndex
from knowledge.loader import load_corpus
from stats import percentile


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse an index here (default: a temp dir)")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="tongban-bench-")) / "var"
    settings = Settings(data_dir=data_dir)

    started = time.perf_counter()
    cold = ingest(settings)
    cold_seconds = time.perf_counter() - started
    started = time.perf_counter()
    warm = ingest(settings)
    warm_seconds = time.perf_counter() - started

    corpus = load_corpus(settings.knowledge_dir)
    pool = [q for a in corpus.articles.values() for q in a.questions]
    pool += sorted({c.section.split(" > ")[-1] for c in corpus.chunks if c.kind == "policy"})
    random.Random(7).shuffle(pool)
    queries = (pool * (args.queries // max(len(pool), 1) + 1))[: args.queries]

    index = KnowledgeIndex(settings)
    for query in queries[:20]:
        index.search(query, k=5)
    latencies = []
    for query in queries:
        t0 = time.perf_counter()
        index.search(query, k=5)
        latencies.append((time.perf_counter() - t0) * 1000)

    print(f"chunks                 {cold.chunks}")
    print(f"ingest cold            {cold_seconds:.1f} s  ({cold.embedded} embedded)")
    print(f"ingest no change       {warm_seconds:.2f} s  ({warm.embedded} embedded)   target <= 3 s")
    print(f"queries                {len(latencies)} after 20 warm-up")
    print(f"query latency p50      {statistics.median(latencies):.1f} ms")
    print(f"query latency p95      {percentile(latencies, 0.95):.1f} ms   target <= 50 ms")
    print(f"resident memory        {rss_mb():.0f} MB   target <= 600 MB")


if __name__ == "__main__":
    main()
