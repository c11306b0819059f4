"""Notification fan-out benchmark: signed case events through the bot's stream and notifier
workers to the WeChat simulator.

    python -m bench.notifications                 # 200 events over 100 cases, 10 subscribers each: 2,000 notices
    python -m bench.notifications --events 2000 --cases 500 --subscribers 20
    python -m bench.notifications --quick         # 40 events over 20 cases, 5 subscribers each
    python -m bench.notifications --help

The bot is `python -m bot serve` with its workers on (`ctx.start_bot`, pinned to the server
core, the embedded platform simulator); the WeChat simulator runs as its own process on the
generator's core (as in bench/broadcast.py), so the bot's core does only the bot's work. Each
case gets S subscribers, written through the bot's own store (bot.services.subscriptions), and every
subscriber follows the account in the simulator. The E events (each its own number in the
matter name, so a template message names its event) are signed as the platform signs them and
POSTed to /platform/events all at once, over `--connections` connections; then the simulator's
template messages are counted until E x S have arrived.

It prints and returns: events accepted per second at the endpoint, events and notices per second
end to end (first POST to last template message the simulator recorded), event -> delivery
latency (POST to the simulator's record), duplicates and missing notices (both must be 0), the
template-send calls WeChat saw, the bot's CPU share, notices per CPU-second, peak RSS, and Redis
commands and reads per notice. WeChat has no per-second limit for template messages (only a
daily quota, 100,000 in the simulator) and the bot sets none on case notices (each event's
recipients are sent `notify_concurrency` at a time, one event at a time per process), so the
rate is reported as measured, not as a share of a cap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from bench.procs import Server, free_port, python

DEFAULT = {"events": 200, "cases": 100, "subscribers": 10}
QUICK = {"events": 40, "cases": 20, "subscribers": 5}
#: Steps of a case that do not finish it (a finishing one also invites a rating: another job).
STEPS = ("accepted", "handed_over", "special_procedure", "materials_requested", "ready_for_collection", "posted", "deadline_warning")
TEMPLATE_PATH = "/cgi-bin/message/template/send"
WECHAT_TEMPLATE_DAILY_QUOTA = 100_000
_EVENT_NO = re.compile(r"#(\d{6})")


def openid(case: int, n: int) -> str:
    return f"oBenchNt{case:06d}x{n:04d}xxxxxxxxx"


def case_no(case: int) -> str:
    return f"YWBENCH{case:08d}"


def measure(ctx, events: int | None = None, cases: int | None = None, subscribers: int | None = None,
            connections: int = 64, timeout: float | None = None) -> dict:
    """E events over C cases, S subscribers per case: every notice through the stream to the
    WeChat simulator, once. `ctx` is a bench.harness.Context; sizes default to DEFAULT (QUICK
    when the run is small, as `--quick` makes it)."""
    sizes = dict(QUICK if ctx.options.users <= 2000 else DEFAULT)
    sizes.update({k: v for k, v in (("events", events), ("cases", cases), ("subscribers", subscribers)) if v is not None})
    e, c, s = sizes["events"], min(sizes["cases"], sizes["events"]), sizes["subscribers"]
    expected = e * s
    timeout = timeout if timeout is not None else max(60.0, expected / 50)
    quota = max(WECHAT_TEMPLATE_DAILY_QUOTA, expected)
    run = secrets.token_hex(3)
    prefix, secret = f"bench-nt:{run}:", secrets.token_urlsafe(24)

    sim_port = free_port()
    sim = Server("wechat-sim", python("-m", "integrations.wechat.simulator", "--port", str(sim_port), "--template-quota", str(quota)),
                 sim_port, ctx.generator_cpu, log=ctx.workdir / "notifications-wechat-sim.log")
    sim.start()
    bot = None
    try:
        sim.wait_ready("/_admin/stats")
        ctx.say(f"notifications: {e:,} events over {c:,} cases, {s} subscribers each ({expected:,} notices) ...")
        bot = ctx.start_bot("notifications", prefix, YWTB_RUN_WORKERS="true", YWTB_PLATFORM_EVENTS_SECRET=secret,
                            YWTB_WECHAT_API_URL=sim.url, YWTB_WECHAT_SECRET="bench")
        result = _in_child(ctx, bot, sim.url, prefix, secret, run, e, c, s, connections, timeout)
    finally:
        if bot is not None:
            bot.stop()
        sim.stop()
        _forget(ctx.redis_port, prefix)
    result.update(events=e, cases=c, subscribers=s, notices_expected=expected, connections=connections,
                  wechat_limit_per_s=None, wechat_template_daily_quota=WECHAT_TEMPLATE_DAILY_QUOTA,
                  our_limit_per_s=None, notify_concurrency=_notify_concurrency())
    result["exactly_once"] = result["duplicates"] == 0 and result["missing"] == 0 and result["unexpected"] == 0
    for line in report_lines(result):
        ctx.say(line)
    return result


def _notify_concurrency() -> int:
    from bot.settings import Settings

    return Settings.model_fields["notify_concurrency"].default


def _in_child(ctx, bot: Server, sim_url: str, prefix: str, secret: str, run: str, e: int, c: int, s: int,
              connections: int, timeout: float) -> dict:
    """The generator side (set-up, POSTs, polling, counting) in a child process pinned to the
    generator's core, like bench.generator's asyncio replay."""
    import multiprocessing

    mp = multiprocessing.get_context("fork")
    parent, child = mp.Pipe(duplex=False)
    proc = mp.Process(target=_child, args=(child, ctx, bot, sim_url, prefix, secret, run, e, c, s, connections, timeout))
    proc.start()
    child.close()
    try:
        result = parent.recv()
    except EOFError:
        result = RuntimeError("the notifications generator died")
    proc.join()
    if isinstance(result, BaseException):
        raise result
    return result


def _child(conn, ctx, bot, sim_url, prefix, secret, run, e, c, s, connections, timeout) -> None:
    try:
        os.sched_setaffinity(0, {ctx.generator_cpu})
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        conn.send(runner(_fan_out(ctx, bot, sim_url, prefix, secret, run, e, c, s, connections, timeout)))
    except BaseException as exc:  # the parent raises it
        conn.send(exc)
    finally:
        conn.close()


async def _fan_out(ctx, bot: Server, sim_url: str, prefix: str, secret: str, run: str, e: int, c: int, s: int,
                   connections: int, timeout: float) -> dict:
    import aiohttp

    from bench.harness import redis_client, redis_counts, redis_delta
    from bot.keys import Keys
    from bot.stores.client import connect
    from bot.settings import load_settings
    from bot.services.subscriptions import Added, Subscriptions
    from integrations.platform.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_event
    from integrations.platform.models import CaseEvent

    keys = Keys(prefix)
    settings = load_settings(redis_url=ctx.redis_url, key_prefix=prefix, platform_events_secret=secret)
    redis = connect(ctx.redis_url)
    people = {case: [openid(case, n) for n in range(s)] for case in range(c)}
    try:
        store = Subscriptions(redis, keys, settings)
        pairs = [(user, case_no(case)) for case, users in people.items() for user in users]
        for start in range(0, len(pairs), 500):
            await asyncio.gather(*(store.remember(user, number, "基准测试事项", phone_last4="0000") for user, number in pairs[start:start + 500]))
            added = await asyncio.gather(*(store.subscribe(user, number) for user, number in pairs[start:start + 500]))
            assert all(a == Added.added for a in added), "a benchmark subscription was refused"
    finally:
        await redis.aclose()

    # The events, signed before the clock starts. Event n is about case n % C, its matter name
    # carries "#n", so the template message's title says which event it is.
    now = datetime.now(timezone.utc)
    bodies: list[tuple[bytes, dict]] = []
    for n in range(e):
        case = n % c
        event = CaseEvent(id=f"bench-{run}-{n:06d}", type=STEPS[(n // c) % len(STEPS)], case_no=case_no(case), at=now,
                          matter_name=f"基准测试事项 #{n:06d}", department="区行政审批局", from_department="区市场监管局",
                          note="基准测试", days_left=3)
        raw = event.model_dump_json().encode()
        stamp = str(int(time.time()))
        bodies.append((raw, {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign_event(secret, stamp, raw)}))

    expected = e * s
    counter = redis_client(ctx.redis_port)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        followers = [user for users in people.values() for user in users]
        for start in range(0, len(followers), 10_000):
            async with http.post(f"{sim_url}/_admin/followers", json={"openids": followers[start:start + 10_000]}) as resp:
                assert resp.status == 200, await resp.text()

        async def template_count() -> int:
            async with http.get(f"{sim_url}/_admin/stats") as resp:
                return (await resp.json())["messages"].get("template", 0)

        base = await template_count()
        posted_at: list[float] = [0.0] * e
        statuses: Counter = Counter()

        async def post(n: int) -> None:
            raw, headers = bodies[n]
            posted_at[n] = time.time()
            try:
                async with http.post(f"{bot.url}/platform/events", data=raw, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                statuses["error"] += 1

        redis_before, cpu_before, rss_before = redis_counts(counter), bot.cpu_seconds(), bot.memory_kib()
        t0 = time.time()
        await asyncio.gather(*(post(n) for n in range(e)))
        posted = time.time()
        end = posted + timeout
        got = base
        while time.time() < end:
            got = await template_count()
            if got - base >= expected:
                break
            await asyncio.sleep(0.05)
        seen_done = time.time()
        cpu_after, peak_rss = bot.cpu_seconds(), bot.memory_kib("VmHWM")
        redis_after = redis_counts(counter)
        await asyncio.sleep(0.5)  # anything sent late (a repeat) is counted too
        async with http.get(f"{sim_url}/_admin/messages", params={"kind": "template"}) as resp:
            messages = (await resp.json())["messages"]
        async with http.get(f"{sim_url}/_admin/stats") as resp:
            stats = await resp.json()

    owner = {user: case for case, users in people.items() for user in users}
    received: Counter = Counter()
    latencies, last, unexpected = [], t0, 0
    for m in messages:
        found = _EVENT_NO.search(m["content"]["data"].get("first", {}).get("value", ""))
        n = int(found.group(1)) if found else -1
        if not (0 <= n < e) or owner.get(m["openid"]) != n % c:
            unexpected += 1
            continue
        received[(m["openid"], n)] += 1
        if received[(m["openid"], n)] == 1:
            latencies.append(m["at"] - posted_at[n])
            last = max(last, m["at"])
    delivered = len(received)
    try:
        pending = counter.xpending(keys.events(), settings.notify_group)["pending"]
    except Exception:
        pending = None
    counter.close()

    elapsed = max(last - t0, 1e-9)
    post_s = max(posted - t0, 1e-9)
    cpu = cpu_after - cpu_before
    latencies.sort()
    redis = redis_delta(redis_before, redis_after, delivered)
    return {
        "accepted": statuses.get(202, 0), "repeated": statuses.get(200, 0),
        "post_errors": sum(v for k, v in statuses.items() if k not in (200, 202)),
        "post_seconds": round(post_s, 3), "accepted_events_per_s": round(statuses.get(202, 0) / post_s, 1),
        "fanout_seconds": round(elapsed, 3), "events_per_s": round(delivered / s / elapsed, 1),
        "notices_per_s": round(delivered / elapsed, 1),
        "latency_p50_ms": _pct(latencies, 0.50), "latency_p99_ms": _pct(latencies, 0.99),
        "latency_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "delivered": delivered, "duplicates": sum(v - 1 for v in received.values()), "missing": e * s - delivered,
        "unexpected": unexpected, "timed_out": got - base < expected,
        "send_calls": stats["calls"].get(TEMPLATE_PATH, 0), "stream_pending": pending,
        "bot_cpu_share": round(cpu / max(seen_done - t0, 1e-9), 3),
        "notices_per_cpu_second": round(delivered / cpu, 1) if cpu > 0 else None,
        "rss_mib": round(rss_before / 1024, 1), "peak_rss_mib": round(peak_rss / 1024, 1),
        "redis_commands_per_notice": redis["redis_commands_per_turn"], "redis_reads_per_notice": redis["redis_round_trips_per_turn"],
    }


def _pct(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000, 1)


def _forget(port: int, prefix: str) -> None:
    from bench.harness import redis_client

    client = redis_client(port)
    try:
        names = list(client.scan_iter(match=f"{prefix}*", count=10_000))
        for start in range(0, len(names), 10_000):
            client.delete(*names[start:start + 10_000])
    finally:
        client.close()


def report_lines(r: dict) -> list[str]:
    def ms(v):
        return "-" if v is None else (f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms")

    return [
        f"\n== notifications: {r['events']:,} events over {r['cases']:,} cases, {r['subscribers']} subscribers each "
        f"({r['notices_expected']:,} notices) ==",
        f"  accepted at /platform/events    {r['accepted']:,} in {r['post_seconds']:.2f} s, {r['accepted_events_per_s']:,.0f} events/s "
        f"({r['connections']} connections), errors {r['post_errors']}",
        f"  through the stream to WeChat    {r['fanout_seconds']:.2f} s, {r['events_per_s']:,.0f} events/s, {r['notices_per_s']:,.0f} notices/s"
        + (" (TIMED OUT)" if r["timed_out"] else ""),
        f"  event -> delivery latency       p50 {ms(r['latency_p50_ms'])}  p99 {ms(r['latency_p99_ms'])}  max {ms(r['latency_max_ms'])}",
        f"  every notice delivered once     {'yes' if r['exactly_once'] else 'NO'} ({r['delivered']:,} delivered, "
        f"{r['duplicates']} duplicates, {r['missing']} missing, {r['unexpected']} unexpected; "
        f"{r['send_calls']:,} template-send calls; {r['stream_pending']} events pending in the stream)",
        f"  limit                           WeChat: none per second for template messages (daily quota "
        f"{r['wechat_template_daily_quota']:,}); ours: none (notify_concurrency {r['notify_concurrency']} per event, "
        f"one event at a time per process)",
        f"  bot                             cpu {r['bot_cpu_share']:.0%} of its core, {r['notices_per_cpu_second'] or 0:,.0f} notices per CPU-s, "
        f"RSS {r['rss_mib']} MiB, peak {r['peak_rss_mib']} MiB",
        f"  redis per notice                {r['redis_commands_per_notice']} commands, {r['redis_reads_per_notice']} reads",
    ]


def main(argv: list[str] | None = None) -> int:
    from bench.harness import Options, bench_context

    parser = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, help=f"case events posted (default {DEFAULT['events']})")
    parser.add_argument("--cases", type=int, help=f"cases they are about (default {DEFAULT['cases']})")
    parser.add_argument("--subscribers", type=int, help=f"subscribers per case (default {DEFAULT['subscribers']})")
    parser.add_argument("--connections", type=int, default=64, help="connections posting the events (default 64)")
    parser.add_argument("--timeout", type=float, help="longest wait for every notice (default max(60 s, notices / 50))")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK['events']} events over {QUICK['cases']} cases, {QUICK['subscribers']} subscribers each")
    parser.add_argument("--json", dest="json_path", type=Path, help="write the result as JSON to this file")
    parser.add_argument("--keep", type=Path, help="keep the bot's and the simulator's logs in this folder")
    a = parser.parse_args(argv)
    options = Options(users=2000 if a.quick else Options.users, out=sys.stdout, keep=a.keep)
    with bench_context(options, prefix="ywtb-bench-nt-") as ctx:
        print(f"Notification benchmark: load average {os.getloadavg()[0]:.2f}; the bot on core {ctx.server_cpu}, "
              f"Redis, the WeChat simulator and the generator on core {ctx.generator_cpu}", flush=True)
        result = measure(ctx, a.events, a.cases, a.subscribers, a.connections, a.timeout)
    if a.json_path:
        a.json_path.parent.mkdir(parents=True, exist_ok=True)
        a.json_path.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["exactly_once"] and not result["post_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
