"""Shared helpers for the benchmark scripts (run as `python benchmarks/<name>.py`, so this imports as `stats`)."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float:
    """The value at `share` (0..1) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]
