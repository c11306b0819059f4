"""The understanding step's cost per message (dialogs.understand.understand).

    python -m bench.understanding              # 20,000 calls of each kind
    python -m bench.understanding --calls 2000

Prints the time to load the word lists once (start-up), then the per-call p50 / p99 (wall clock
and the thread's CPU time, which a busy shared machine does not inflate) on
typical messages (greetings, pastes of details, dates, ratings, questions) and on 4,000-character
messages (a pasted document, a run of digits, keyboard mashing), of which only the first
MAX_EXAMINED characters are read.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from datetime import date
from pathlib import Path

from dialogs.understand import MAX_EXAMINED, HallNames, load, understand
from integrations.platform.models import Hall

ROOT = Path(__file__).resolve().parent.parent
TYPICAL = [
    ("你好", ()), ("谢谢", ()), ("好的", ("yes_no",)), ("1", ("choice",)), ("5", ("rating",)), ("五星好评", ()),
    ("菜单", ()), ("我要转人工", ()), ("继续", ()), ("qq", ()), ("😂😂😂", ()),
    ("张三 110101199003078515 13800138000", ("name",)), ("我的身份证号是51160219800101123X", ("id_number",)),
    ("我叫王小明，手机138 0013 8000，明天上午去北辰", ("name",)), ("下周二下午三点", ("date",)),
    ("办件编号11510000MB1234567820261203001", ()), ("开个店需要办什么", ()), ("我想预约明天去车管所办驾照", ()),
    ("How do I renew my passport?", ()), ("身份证丢了怎么补办，要带什么材料", ()),
]
LONG = [(text[:4000], expects) for text, expects in [
    ("一网通办政务服务事项办事指南，申请材料：身份证原件及复印件。" * 140, ()),
    ("13800138000 110101199003078515 " * 130, ("name",)),
    ("asdfjkl;qwer " * 310, ()),
]]


def calibration() -> float:
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.perf_counter() - start


def timed(cases: list[tuple[str, tuple]], calls: int, today: date, halls: HallNames) -> tuple[list[float], list[float]]:
    """Per call: the wall-clock time, and the CPU time of this thread (what the call itself
    costs, without the time the machine gave to other processes)."""
    wall, cpu = [], []
    for i in range(calls):
        text, expects = cases[i % len(cases)]
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        understand(text, today, halls, expects)
        cpu.append((time.thread_time_ns() - start_cpu) / 1000)
        wall.append((time.perf_counter_ns() - start) / 1000)
    return sorted(wall), sorted(cpu)


def report(name: str, samples: tuple[list[float], list[float]]) -> None:
    for clock, sorted_samples in zip(("wall", "cpu"), samples):
        def at(share: float) -> float:
            return sorted_samples[min(len(sorted_samples) - 1, int(share * len(sorted_samples)))]
        print(f"{name:<34} {clock:<4}  p50 {at(0.50):8.1f} µs   p99 {at(0.99):8.1f} µs   ({len(sorted_samples)} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    start = time.perf_counter()
    load()
    print(f"word lists loaded once in {time.perf_counter() - start:.2f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"this machine now: a million-step Python loop takes {calibration():.3f} s (the figures below scale with it)")
    raw = json.loads((ROOT / "integrations" / "platform" / "data" / "halls.json").read_text(encoding="utf-8"))
    halls = HallNames.of(Hall.model_validate(h) for h in raw)
    today = date(2026, 12, 3)
    gc.freeze()  # as the bot does after start-up: the word lists are not scanned by every collection
    random.seed(7)
    cases = TYPICAL[:]
    random.shuffle(cases)
    timed(cases, 200, today, halls)  # warm the caches (numerals, phone checks) as a running bot has
    report("typical messages", timed(cases, args.calls, today, halls))
    assert all(len(text) >= 4000 for text, _ in LONG)
    report(f"4,000 characters (reads {MAX_EXAMINED})", timed(LONG, max(args.calls // 10, 300), today, halls))


if __name__ == "__main__":
    main()
