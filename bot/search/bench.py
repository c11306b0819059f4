"""`python -m bot.search.bench` (or `python -m bot bench-search`): index build time and query
latency over the embedded simulator's full catalog. Prints numbers; asserts nothing."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from bot.search.evaluate import read_cases
from bot.search.index import MatterIndex

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def run(rounds: int = 5, out=sys.stdout) -> dict:
    from integrations.platform.simulator.world import World

    world = World.load()
    started = time.perf_counter()
    MatterIndex.from_world(world)  # first build in this process: loads the word segmenter too
    first = time.perf_counter() - started
    builds = []
    for _ in range(3):
        started = time.perf_counter()
        index = MatterIndex.from_world(world)
        builds.append(time.perf_counter() - started)
    queries = [case["query"] for name in ("search-dev.jsonl", "search-more.jsonl") if (DATA / name).exists() for case in read_cases(DATA / name)]
    cold = []
    for query in queries:  # every query the first time: nothing cached yet
        started = time.perf_counter()
        index.search(query, top=5)
        cold.append(time.perf_counter() - started)
    warm = []
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            index.search(query, top=5)
            warm.append(time.perf_counter() - started)
    uncached = []  # the work behind a cache miss, once the index's own lookups are warm
    for _ in range(rounds):
        for query in queries:
            started = time.perf_counter()
            index.search_uncached(query, top=5)
            uncached.append(time.perf_counter() - started)
    numbers = {
        "matters": len(index),
        "queries": len(queries),
        "build_first_s": first,
        "build_s": statistics.median(builds),
        "cold_p50_ms": _pct(cold, 50) * 1000,
        "cold_p99_ms": _pct(cold, 99) * 1000,
        "cold_max_ms": max(cold) * 1000,
        "warm_p50_ms": _pct(warm, 50) * 1000,
        "warm_p99_ms": _pct(warm, 99) * 1000,
        "uncached_p50_ms": _pct(uncached, 50) * 1000,
        "uncached_p99_ms": _pct(uncached, 99) * 1000,
    }
    print(f"matters indexed:           {numbers['matters']}", file=out)
    print(f"index build (first, incl. segmenter load): {first:.3f} s", file=out)
    print(f"index build (median of 3): {numbers['build_s']:.3f} s", file=out)
    print(f"queries:                   {numbers['queries']} distinct, then x{rounds}", file=out)
    print(f"latency first sight:       p50 {numbers['cold_p50_ms']:.2f} ms  p99 {numbers['cold_p99_ms']:.2f} ms  max {numbers['cold_max_ms']:.2f} ms", file=out)
    print(f"latency repeated (cached): p50 {numbers['warm_p50_ms'] * 1000:.1f} µs  p99 {numbers['warm_p99_ms'] * 1000:.1f} µs", file=out)
    print(f"latency repeated uncached: p50 {numbers['uncached_p50_ms']:.2f} ms  p99 {numbers['uncached_p99_ms']:.2f} ms", file=out)
    return numbers


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


if __name__ == "__main__":
    run()
