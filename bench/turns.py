"""N full turns in one process, for counting what a turn costs in CPU: the bot's real app (safe
mode, the shared Redis in YWTB_REDIS_URL, the embedded platform simulator) served on a loopback
socket, and a small client in the same process sending the benchmark's questions (bench.generator,
signed and encrypted as WeChat does) over keep-alive connections.

    python -m bench.turns --turns 400                     # process CPU per turn, best of --repeat
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=var/cg/cg.%p \\
        .venv/bin/python -m bench.turns --turns 200 --callgrind var/cg     # instructions per turn
    python -m bench.turns --profile var/turns.pstats      # cProfile of the measured turns

On a shared machine wall-clock figures are noise; the instruction count is not (it counts the
whole process: the bot and this client, the same for every commit, and `--app bare`, aiohttp
answering a fixed XML, says what the client and aiohttp's own request handling cost). Under
callgrind instrumentation is off while the app starts and the catalog loads, and on (counters
zeroed) only for the measured turns (callgrind_control)."""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.generator import MIX, build_requests
from bench.harness import CREDS

HOST = "127.0.0.1"


def _env(redis_url: str, prefix: str, var: Path) -> None:
    for key in [k for k in os.environ if k.startswith("YWTB_") and k != "YWTB_REDIS_URL"]:
        del os.environ[key]
    os.environ.update(
        YWTB_ENV="dev", YWTB_REDIS_URL=redis_url, YWTB_KEY_PREFIX=prefix,
        YWTB_WECHAT_TOKEN=CREDS.token, YWTB_WECHAT_APPID=CREDS.appid, YWTB_WECHAT_AES_KEY=CREDS.aes_key,
        YWTB_WECHAT_MODE="safe", YWTB_RUN_WORKERS="false", YWTB_VAR_DIR=str(var), YWTB_LOG_JSON="true", YWTB_LOG_LEVEL="INFO",
        # Under callgrind a turn takes ~50x longer: the passive reply's deadline at its most and
        # claims that need no renewal, so that every turn still takes the path it takes at
        # full speed (answered in time, one timer, no renewal).
        YWTB_DEADLINE_SECONDS="4.9", YWTB_DEDUP_LEASE_SECONDS="60",
    )


class Client:
    """One keep-alive HTTP/1.1 connection sending prepared POSTs one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def post(self, target: str, body: bytes) -> tuple[int, bytes]:
        head = f"POST {target} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def _serve(app_kind: str, port: int):
    """The app on HOST:port; returns (runner, what to close)."""
    from aiohttp import web

    if app_kind == "bare":
        from bench.targets.bare import answer

        app = web.Application()
        app.router.add_post("/wechat", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        return runner, None
    from bot.app import create_app
    from bot.logs import setup_logging
    from bot.settings import load_settings
    from bot.stores.client import connect
    from bot.web.serving import serve_runner, serve_socket

    settings = load_settings(host=HOST, port=port).with_dev_secrets()
    setup_logging(settings.log_level, settings.log_json)
    redis = connect(settings.redis_url.get_secret_value(), settings.redis_max_connections)
    runner = serve_runner(create_app(settings, redis), settings)
    await runner.setup()
    server = await serve_socket(runner, settings)
    return runner, (server, redis)


async def _ready(clients: list[Client], app_kind: str, timeout: float = 600.0) -> None:
    """Until a question gets a guide card (the catalog loads in the background)."""
    if app_kind == "bare":
        return
    from bot.dev.peer import WeChatServerPeer

    peer = WeChatServerPeer(CREDS.token, CREDS.appid, CREDS.aes_key)
    end = time.monotonic() + timeout
    attempt = 0
    while time.monotonic() < end:
        attempt += 1
        signed = peer.sign(peer.text(f"oTurnsProbe{os.getpid()}x{attempt:06d}", MIX[0]))
        status, body = await clients[0].post(signed.path, signed.body)
        answer = peer.read(status, body.decode())
        if answer.text and answer.text.startswith("【"):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("the bot never answered with a guide card")


async def _run(clients: list[Client], requests: list[tuple[str, bytes]]) -> int:
    """Sends `requests` spread over the clients, each client one at a time; the number of
    answers that were not a 200 with a reply in them."""
    bad = 0

    async def one(client: Client, share: list[tuple[str, bytes]]) -> None:
        nonlocal bad
        for target, body in share:
            status, answer = await client.post(target, body)
            if status != 200 or b"<Encrypt>" not in answer and b"<Content>" not in answer:
                bad += 1

    n = len(clients)
    await asyncio.gather(*(one(c, requests[i::n]) for i, c in enumerate(clients)))
    return bad


def _callgrind(*args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(os.getpid())], check=True, capture_output=True)


def _instructions(directory: str, label: str) -> int:
    """The `summary:` of the newest callgrind dump of this process named `label`."""
    for path in sorted(glob.glob(os.path.join(directory, f"cg.{os.getpid()}.*")), key=os.path.getmtime, reverse=True):
        text = Path(path).read_text(errors="replace")
        if f"desc: Trigger: Client Request: {label}" in text or f"desc: Trigger: dump {label}" in text:
            for line in text.splitlines():
                if line.startswith("summary:"):
                    return int(line.split()[1])
    raise RuntimeError(f"no callgrind dump {label} in {directory}")


async def _connect(port: int, n: int) -> list[Client]:
    return [Client(*await asyncio.open_connection(HOST, port)) for _ in range(n)]


def _close(clients: list[Client]) -> None:
    for client in clients:
        client.writer.close()


async def _parts(app, batch: list[tuple[str, bytes]], args: argparse.Namespace) -> None:
    """What each part of a turn costs, called directly on `batch` (fresh users): the channel's
    checks, decryption, parsing, the dispatcher's whole turn (Redis and the conversation), the
    conversation's step alone, reading a message, and the answer (render, encrypt)."""
    from yarl import URL

    from bot.stores import Nonce, turn_tallies
    from bot.web.appkeys import DISPATCHER, WECHAT_CHANNEL
    from bot.web.channels.wechat import parse_xml, to_incoming
    from dialogs.engine import analysis_of
    from dialogs.smalltalk import read

    channel, dispatcher = app[WECHAT_CHANNEL], app[DISPATCHER]
    queries = [URL(target).query for target, _ in batch]
    bodies = [body for _, body in batch]
    n = len(batch)
    signed = [channel._check_signature(q) for q in queries]
    xmls = [channel._decrypt(b, q, ts, nonce) for b, q, (ts, nonce) in zip(bodies, queries, signed)]

    def fresh():
        return [to_incoming(parse_xml(x)) for x in xmls]

    async def measure(name: str, work) -> None:
        if args.callgrind:
            _callgrind("-i", "on")
            _callgrind("-z")
        cpu = time.process_time()
        result = work()
        if asyncio.iscoroutine(result):
            await result
        cpu = time.process_time() - cpu
        line = f"part {name}: {cpu / n * 1e6:,.1f} us CPU"
        if args.callgrind:
            _callgrind("-d", name)
            _callgrind("-i", "off")
            line += f", {_instructions(args.callgrind, name) / n:,.0f} instructions"
        print(line + " each", flush=True)

    await measure("nothing", lambda: None)  # what measuring itself costs (callgrind_control's process): subtract it
    await measure("signature", lambda: [channel._check_signature(q) for q in queries])
    await measure("decrypt", lambda: [channel._decrypt(b, q, ts, nonce) for b, q, (ts, nonce) in zip(bodies, queries, signed)])
    await measure("parse", fresh)
    incoming = fresh()
    await measure("read", lambda: [(analysis_of(i), read(i)) for i in incoming])
    incoming = fresh()

    async def steps():
        for one in incoming:
            turn_tallies.set([])
            await dispatcher.conversation.step(None, one)
    await measure("step", steps)
    incoming = fresh()
    outcomes = []

    async def receive():
        for one, body, (ts, nonce) in zip(incoming, bodies, signed):
            outcomes.append(await dispatcher.receive(one, Nonce(int(ts), nonce, str(hash(body)))))
    await measure("receive", receive)
    await measure("answer", lambda: [channel._answer(o, i, True, nonce) for o, i, (_, nonce) in zip(outcomes, incoming, signed)])


async def main_async(args: argparse.Namespace) -> None:
    from bench.procs import free_port

    port = free_port()
    runner, extra = await _serve(args.app, port)
    probe = await _connect(port, 1)
    await _ready(probe, args.app)
    _close(probe)
    run_id = f"t{os.getpid()}"
    texts = tuple(args.text or MIX)
    first_user = 0

    def requests(count: int) -> list[tuple[str, bytes]]:
        """Fresh ones (their timestamps must be in the window when they are sent), new users."""
        nonlocal first_user
        built = build_requests(CREDS, count, count, run_id, encrypt=True, texts=texts, first_user=first_user)
        first_user += count
        return built

    clients = await _connect(port, args.connections)
    bad = await _run(clients, requests(args.warmup))
    _close(clients)
    if args.parts:
        await _parts(runner.app, requests(args.turns), args)
    results = []
    for rep in range(args.repeat):
        batch = requests(args.turns)
        clients = await _connect(port, args.connections)  # the server closes idle ones
        profiler = None
        if args.callgrind:
            _callgrind("-i", "on")
            _callgrind("-z")
        if args.profile and rep == args.repeat - 1:
            import cProfile

            profiler = cProfile.Profile(time.process_time)  # CPU, not wall time: a loaded machine preempts us
            profiler.enable()
        cpu = time.process_time()
        missed = await _run(clients, batch)
        cpu = time.process_time() - cpu
        bad += missed
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        line = f"rep {rep}: {cpu / args.turns * 1e6:,.0f} us CPU a turn ({missed} without a reply)"
        if args.callgrind:
            label = f"turns{rep}"
            _callgrind("-d", label)
            _callgrind("-i", "off")
            count = _instructions(args.callgrind, label)
            results.append(count / args.turns)
            line += f", {count / args.turns:,.0f} instructions a turn"
        else:
            results.append(cpu / args.turns * 1e6)
        print(line, flush=True)
        _close(clients)
    unit = "instructions" if args.callgrind else "us CPU"
    print(f"{args.app}: {args.turns} turns x {args.repeat}, {args.connections} connections: best {min(results):,.0f} {unit} a turn"
          f" (median {sorted(results)[len(results) // 2]:,.0f}); answers without a reply: {bad}", flush=True)
    if extra is not None:
        server, redis = extra
        server.close()
        await runner.cleanup()
        await redis.aclose()
    else:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", choices=("bot", "bare"), default="bot")
    parser.add_argument("--turns", type=int, default=400, help="turns per measured run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--text", action="append", help="say this instead of the bench's questions (repeatable)")
    parser.add_argument("--redis", default=os.environ.get("YWTB_REDIS_URL", ""), help="Redis URL (default: YWTB_REDIS_URL)")
    parser.add_argument("--var", type=Path, default=Path("var/turns"), help="the bot's var dir (search vectors are cached there)")
    parser.add_argument("--callgrind", metavar="DIR", help="running under callgrind, dumps in DIR: count instructions")
    parser.add_argument("--parts", action="store_true", help="also measure each part of a turn called directly")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the last measured run here")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args(argv)
    if not args.redis:
        parser.error("give --redis or YWTB_REDIS_URL (your own database)")
    _env(args.redis, f"turns:{os.getpid()}:", args.var.resolve())
    loop_factory = None
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
