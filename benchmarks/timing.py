"""Timing helpers: interleaved repeats, best-of, and a ratio line every benchmark prints."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved(candidates: dict[str, Callable[[], object]], repeat: int = 7, warmup: int = 1) -> dict[str, float]:
    """Best wall time (s) of each callable, alternating them so drift hits all alike."""
    for _ in range(warmup):
        for function in candidates.values():
            function()
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(repeat):
        for name, function in candidates.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(
    title: str, ours: float, baseline: float, limit: float | None = None, baseline_name: str = "baseline"
) -> float:
    ratio = ours / baseline
    verdict = "" if limit is None else ("  OK" if ratio <= limit else f"  OVER the {limit} limit")
    print(f"{title}: ours {ours * 1e3:.2f} ms, {baseline_name} {baseline * 1e3:.2f} ms, ratio {ratio:.3f}{verdict}")
    return ratio
