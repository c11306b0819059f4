"""The load generator: the same precomputed webhook requests, replayed against every target.

Requests are built before a run, each signed like WeChat signs them (and encrypted for safe
mode), with a fresh nonce, a fresh MsgId and one of many distinct users, so nothing is ever
replayed. Two engines replay them:

- `wrk` (Debian's package) with bench/wrk.lua: C, one thread pinned to the generator's core;
  far faster than any target here (its own CPU share is reported with every run).
- a small asyncio client (this module), used when wrk is missing, for runs of an exact number
  of requests (RSS growth, platform faults), and in the smoke test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from bot.web.channels.wechat import sha1_signature

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"

#: What people type, for every target: questions the catalog answers with one clear matter, so
#: the full turn (d) goes menu -> matter search -> guide card on every message.
MIX = (
    "我要办护照",
    "开无犯罪证明",
    "开个体户",
    "社保卡密码忘了",
    "办退休手续",
    "办居住证",
    "户口迁过来",
    "教师资格证",
)
ACCOUNT = "gh_ywtb_bench"


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    appid: str
    aes_key: str


def user_id(run: str, index: int) -> str:
    """An openid-shaped id, distinct per index (and per run, so runs never share sessions)."""
    return f"oBench{run}{index:010d}"


def message_xml(user: str, text: str, msg_id: int, created: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def build_requests(
    creds: Credentials, count: int, users: int, run: str, encrypt: bool, texts: tuple[str, ...] = MIX, first_user: int = 0,
) -> list[tuple[str, bytes]]:
    """`count` signed requests as (path with query, body). Request i comes from user
    `first_user + i % users` and says `texts[i % len(texts)]`."""
    crypto = None
    if encrypt:
        from wechatpy.crypto import PrpCrypto

        crypto = PrpCrypto(base64.b64decode(creds.aes_key + "="))
    now = int(time.time())
    base_id = now * 1_000_000 + secrets.randbelow(1000) * 1000
    out: list[tuple[str, bytes]] = []
    stamp = str(now)
    for i in range(count):
        user = user_id(run, first_user + i % users)
        xml = message_xml(user, texts[i % len(texts)], base_id + i, now)
        nonce = f"{secrets.token_hex(6)}{i:x}"
        query = {"signature": sha1_signature(creds.token, stamp, nonce), "timestamp": stamp, "nonce": nonce, "openid": user}
        if crypto is not None:
            encrypted = crypto.encrypt(xml, creds.appid)
            encrypted = encrypted.decode() if isinstance(encrypted, bytes) else encrypted
            query.update(encrypt_type="aes", msg_signature=sha1_signature(creds.token, stamp, nonce, encrypted))
            body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        else:
            body = xml
        out.append((f"/wechat?{urlencode(query)}", body.encode()))
    return out


def write_requests(requests: list[tuple[str, bytes]], path: Path) -> Path:
    """The file bench/wrk.lua reads: per request a path line, a length line, the body."""
    with path.open("wb") as f:
        for target, body in requests:
            f.write(target.encode() + b"\n" + str(len(body)).encode() + b"\n" + body)
    return path


# Results ------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    engine: str
    requests: int
    seconds: float
    errors: int  # connect/read/write errors, timeouts and non-2xx answers
    empty: int  # 2xx answers with no reply in them ("success": an ack, the reply comes later)
    p50_ms: float
    p99_ms: float
    max_ms: float
    generator_cpu: float = 0.0  # share of one core the generator used
    detail: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "engine": self.engine, "requests": self.requests, "seconds": round(self.seconds, 3), "rps": round(self.rps, 1),
            "errors": self.errors, "empty_answers": self.empty, "p50_ms": round(self.p50_ms, 3), "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3), "generator_cpu": round(self.generator_cpu, 3), **self.detail,
        }


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _pin(cpu: int | None):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


# wrk ----------------------------------------------------------------------------------------


def run_wrk(
    url: str, requests: list[tuple[str, bytes]], seconds: float, connections: int, cpu: int | None,
    rate: float = 0.0, timeout_s: float = 10.0,
) -> LoadResult:
    """Replay `requests` for `seconds` with wrk (one thread); `rate` > 0 paces each connection
    so the whole run offers about that many requests a second."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        path = write_requests(requests, Path(tmp) / "requests.bin")
        pause_ms = max(1, round(connections * 1000 / rate)) if rate > 0 else 0
        env = dict(os.environ, BENCH_REQUESTS=str(path), BENCH_PAUSE_MS=str(pause_ms))
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s:g}s", "-s", str(WRK_SCRIPT), url]
        with (Path(tmp) / "out").open("w+") as out_f, (Path(tmp) / "err").open("w+") as err_f:
            proc = subprocess.Popen(argv, env=env, stdout=out_f, stderr=err_f, preexec_fn=_pin(cpu))
            returncode, cpu_seconds = wait_with_usage(proc, seconds + 120)
            out_f.seek(0), err_f.seek(0)
            out, err = out_f.read(), err_f.read()
    line = next((line for line in out.splitlines() if line.startswith("BENCH ")), None)
    if returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({returncode}): {err.strip() or out.strip()}")
    data = json.loads(line[len("BENCH "):])
    elapsed = data["duration_us"] / 1e6
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    return LoadResult(
        engine="wrk", requests=data["requests"], seconds=elapsed, errors=errors, empty=data["short"],
        p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, max_ms=data["max_us"] / 1000,
        generator_cpu=cpu_seconds / elapsed if elapsed else 0.0,
        detail={"connections": connections, "offered_rps": rate or None, "wrapped": data["requests"] > len(requests),
                "error_kinds": {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}},
    )


def wait_with_usage(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    """Wait for a child; returns its exit code and the CPU seconds (user + system) it used."""
    end = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_utime + usage.ru_stime
        if time.monotonic() > end:
            proc.kill()
            timeout = 30
            end = time.monotonic() + timeout
        time.sleep(0.05)


# The asyncio client -------------------------------------------------------------------------


async def _connection(host: str, port: int, queue: list, latencies: list, counts: dict, stop_at: float, pause: float, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    reader = writer = None
    while queue and loop.time() < stop_at:
        target, body = queue.pop()
        request = (
            f"POST {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            answer = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            counts["errors"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        latencies.append(time.perf_counter() - started)
        if not 200 <= status < 400:
            counts["errors"] += 1
        elif len(answer) < 64:
            counts["empty"] += 1
        if close:
            writer.close()
            reader = writer = None
        if pause:
            await asyncio.sleep(pause)
    if writer is not None:
        writer.close()


async def replay(
    url: str, requests: list[tuple[str, bytes]], connections: int, seconds: float | None = None, rate: float = 0.0, timeout: float = 10.0,
) -> LoadResult:
    """Replay requests (each once, in order) over `connections` keep-alive connections, until
    they are all sent or `seconds` have passed."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    queue = list(reversed(requests))
    latencies: list[float] = []
    counts = {"errors": 0, "empty": 0}
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + (seconds if seconds else 1e9)
    pause = connections / rate if rate > 0 else 0.0
    cpu0 = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(
        _connection(parts.hostname, parts.port, queue, latencies, counts, stop_at, pause, timeout) for _ in range(connections)
    ))
    elapsed = time.perf_counter() - started
    latencies.sort()
    done = len(latencies)

    def pct(p: float) -> float:
        return latencies[min(done - 1, int(p * done))] * 1000 if done else 0.0

    return LoadResult(
        engine="asyncio", requests=done + counts["errors"], seconds=elapsed, errors=counts["errors"], empty=counts["empty"],
        p50_ms=pct(0.50), p99_ms=pct(0.99), max_ms=latencies[-1] * 1000 if done else 0.0,
        generator_cpu=(time.process_time() - cpu0) / elapsed if elapsed else 0.0,
        detail={"connections": connections, "offered_rps": rate or None, "wrapped": False,
                "over_4_5s": sum(1 for x in latencies if x >= 4.5)},
    )


def replay_in_process(url: str, requests, connections: int, seconds: float | None = None, rate: float = 0.0, cpu: int | None = None) -> LoadResult:
    """`replay` in a child process pinned to `cpu`, so the generator never shares the
    harness's interpreter (or its core) with anything else."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_replay_child, args=(child, url, requests, connections, seconds, rate, cpu))
    proc.start()
    child.close()
    result = parent.recv()
    proc.join()
    if isinstance(result, BaseException):
        raise result
    return result


def _replay_child(conn, url, requests, connections, seconds, rate, cpu) -> None:
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        conn.send(runner(replay(url, requests, connections, seconds, rate)))
    except BaseException as exc:  # the parent raises it
        conn.send(exc)
    finally:
        conn.close()
