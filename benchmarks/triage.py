"""Triage latency per message, learned risk model included: p50 / p95 / max over the labelled set.

    .venv/bin/python benchmarks/triage.py [--file tests/safety/labelled.jsonl] [--passes 2] [--rules-only]

Every message is triaged with its session history, cold: the per-turn cache is cleared first, so the
figures are those of a message never seen before. Target: p95 <= 15 ms on the 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.jsonl import read_jsonl  # noqa: E402
from bot.safety.evaluate import with_history  # noqa: E402
from bot.safety.risk_model import load_risk_model  # noqa: E402
from bot.safety.semantic import get_index  # noqa: E402
from bot.safety.triage import analyse_turn, triage  # noqa: E402
from stats import percentile  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "safety" / "labelled.jsonl")
    parser.add_argument("--passes", type=int, default=2, help="times through the file (>= 500 messages)")
    parser.add_argument("--no-semantic", action="store_true", help="(rules only) without the embedding layer")
    parser.add_argument("--rules-only", action="store_true", help="without the learned risk model")
    args = parser.parse_args()
    learned = not args.rules_only and load_risk_model() is not None
    semantic = not args.no_semantic and not learned  # the embedding layer stands in only without the model

    items = list(with_history(read_jsonl(args.file)))
    if semantic and get_index() is None:
        sys.exit("embedder unavailable: cannot benchmark the semantic layer")
    for row, history in items[:20]:  # warm-up: regexes, opencc, pinyin tables, embedder
        triage(row["text"], history, semantic=semantic, learned=learned)

    timings: list[float] = []
    for _ in range(args.passes):
        for row, history in items:
            analyse_turn.cache_clear()
            start = time.perf_counter()
            triage(row["text"], history, semantic=semantic, learned=learned)
            timings.append((time.perf_counter() - start) * 1000)

    print(f"messages: {len(timings)} ({len(items)} labelled x {args.passes}), learned model: {learned}, "
          f"semantic layer: {semantic}")
    print(f"p50: {statistics.median(timings):.2f} ms")
    print(f"p95: {percentile(timings, 0.95):.2f} ms")
    print(f"max: {max(timings):.2f} ms")
    print(f"mean: {statistics.fmean(timings):.2f} ms")


if __name__ == "__main__":
    main()
