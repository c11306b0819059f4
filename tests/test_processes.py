"""The bot as operators run it: real `python -m bot` processes on one Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import psutil
import pytest

from bot.lifetime import die_with_parent
from tests.support import AES_KEY, APPID, ROOT, TOKEN, Chat
from tests.support import release, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
    env.update(YWTB_VAR_DIR=str(tmp_path / "var"), YWTB_LOG_JSON="true")
    env.update(extra)
    return env


class Served:
    """A `python -m bot serve` process; stopped with SIGTERM like a process manager would."""

    def __init__(self, env: dict, port: int):
        self.port = port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent(),
        )

    async def ready(self, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    raise AssertionError(f"bot exited: {self.proc.stderr.read()}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("bot did not become ready")

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, out, err


class _Remote:
    """Just enough of an aiohttp test client for `Chat` to post to a real process."""

    def __init__(self, http: aiohttp.ClientSession, port: int):
        self.http, self.base = http, f"http://127.0.0.1:{port}"

    async def post(self, path: str, **kwargs):
        resp = await self.http.post(self.base + path, **kwargs)
        await resp.read()
        return resp


@pytest.fixture
def secrets_env(redis_url, key_prefix, tmp_path, redis):  # `redis` removes the bots' keys afterwards
    return bot_env(
        tmp_path, YWTB_REDIS_URL=redis_url, YWTB_KEY_PREFIX=key_prefix,
        YWTB_WECHAT_TOKEN=TOKEN, YWTB_WECHAT_APPID=APPID, YWTB_WECHAT_AES_KEY=AES_KEY,
    )


@pytest.mark.slow  # two bot processes
async def test_two_processes_serve_one_conversation_alternately(secrets_env, redis, peer):
    one, two = Served(secrets_env, free_port()), Served(secrets_env, free_port())
    try:
        await one.ready()
        await two.ready()
        async with aiohttp.ClientSession() as http:
            a, b = Chat(_Remote(http, one.port), peer), Chat(_Remote(http, two.port), peer)
            assert "本区服务大厅" in await a.say("4")
            assert "金安大道一段98号" in await b.say("2")
            assert "回复序号查看地址" in await a.say("返回")
            assert "洪洲大道二段55号" in await b.say("1")
            assert "先不看了" in await a.say("取消")
            assert "请说说您想办什么事" in await b.say("1")  # back at the menu
    finally:
        code_one, _, err_one = one.stop()
        code_two, _, _ = two.stop()
    assert code_one == 0 and code_two == 0, err_one


@pytest.mark.slow  # a bot process and the terminal chat
async def test_terminal_chat_talks_to_a_running_bot(secrets_env):
    bot = Served(secrets_env, free_port())
    try:
        await bot.ready()
        chat = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat", "--url", f"http://127.0.0.1:{bot.port}", "--user", "oTerminal",
            cwd=ROOT, env=secrets_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(chat.communicate("你好\n4\n3\n".encode()), timeout=60)
    finally:
        bot.stop()
    out = out.decode()
    assert chat.returncode == 0, err.decode()
    assert "请回复序号选择" in out and "本区服务大厅" in out and "滨河路二段16号" in out


def test_production_refuses_to_start_without_secrets_or_with_embedded_redis(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=bot_env(tmp_path, YWTB_ENV="production"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "YWTB_WECHAT_TOKEN" in result.stderr and "YWTB_REDIS_URL" in result.stderr
    assert "embedded Redis is for development only" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_prints_effective_settings_with_secrets_masked(tmp_path):
    env = bot_env(tmp_path, YWTB_WECHAT_TOKEN="supersecrettoken123", YWTB_REDIS_URL="redis://:hunter2pass@db.internal:6379/2", YWTB_PORT="9000")
    result = subprocess.run([sys.executable, "-m", "bot", "config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "supersecrettoken123" not in result.stdout and "hunter2pass" not in result.stdout
    assert '"wechat_token": "su****23"' in result.stdout
    assert "db.internal:6379/2" in result.stdout  # where it points stays visible
    assert '"port": 9000' in result.stdout  # environment beats config/default.toml


def test_invalid_aes_key_is_a_clear_startup_error(tmp_path):
    env = bot_env(tmp_path, YWTB_WECHAT_AES_KEY="too-short")
    result = subprocess.run([sys.executable, "-m", "bot", "config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "43-character EncodingAESKey" in result.stderr and "Traceback" not in result.stderr


def test_diagrams_are_drawn_from_the_dialog_tables(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot", "diagrams", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    halls = (tmp_path / "halls.md").read_text()
    assert "stateDiagram-v2" in halls and "text [names_hall]" in halls and "pick --> shown:" in halls
    assert "idle --> idle" in (tmp_path / "menu.md").read_text()


# Nothing the bot or the suite starts outlives it ------------------------------------------------


def redis_servers_in(directory) -> set[int]:
    """The redis-server processes running with `directory` as their data directory."""
    found = set()
    for process in psutil.process_iter(["name", "cwd", "status"]):
        if process.info["name"] == "redis-server" and process.info["cwd"] == str(directory) and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.add(process.pid)
    return found


def running(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie has ended: only its exit status is left to collect)."""
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


async def all_gone(pids: set[int]) -> bool:
    return not running(pids)


async def written(pid_file) -> bool:
    """A child has written its server's pid."""
    return pid_file.exists() and bool(pid_file.read_text())


def kill_leftovers(pids: set[int]) -> None:
    for pid in running(pids):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.slow  # a bot process killed three ways
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "sigterm", "sigkill"])
async def test_the_embedded_redis_server_stops_with_the_bot(tmp_path, how):
    """`python -m bot serve` with no YWTB_REDIS_URL starts its own redis-server; however the bot
    ends (Ctrl+C, a process manager's SIGTERM, even SIGKILL), that server ends with it."""
    bot = Served(bot_env(tmp_path), free_port())
    data = tmp_path / "var" / "redis"
    started: set[int] = set()
    try:
        await bot.ready(timeout=60)
        started = redis_servers_in(data)
        assert len(started) == 1, started
        bot.proc.send_signal(how)
        code = await asyncio.to_thread(bot.proc.wait, 30)
        assert await wait_for(lambda: all_gone(started), timeout=15), f"redis-server {running(started)} outlived the bot"
        if how != signal.SIGKILL:
            assert code == 0, bot.proc.stderr.read()[-3000:]
    finally:
        bot.stop()
        kill_leftovers(started | redis_servers_in(data))


#: A benchmark's own redis-server (bench.harness.start_redis), started by a process that then
#: waits to be killed.
BENCH_HOLDER = """
import pathlib, sys, time

from bench.harness import start_redis

server = start_redis(pathlib.Path(sys.argv[1]), None)
pathlib.Path(sys.argv[2]).write_text(str(server.proc.pid))
time.sleep(600)
"""


async def test_a_killed_benchmark_takes_its_redis_server_along(tmp_path):
    """The benchmark starts servers of its own (Redis, the bot, the peer); when the benchmark, or
    the test running it, is killed outright, they end with it instead of running on."""
    pid_file = tmp_path / "redis.pid"
    bench = subprocess.Popen([sys.executable, "-c", BENCH_HOLDER, str(tmp_path), str(pid_file)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server: set[int] = set()
    try:
        assert await wait_for(lambda: written(pid_file), timeout=30), bench.stderr.read() if bench.poll() is not None else "no pid written"
        server = {int(pid_file.read_text())}
        assert running(server)
        bench.kill()
        await asyncio.to_thread(bench.wait, 30)
        assert await wait_for(lambda: all_gone(server), timeout=15), f"redis-server {server} outlived the benchmark"
    finally:
        if bench.poll() is None:
            bench.kill()
        kill_leftovers(server)


#: A test that holds the suite's `redis` fixture: it writes the server's pid, then waits (for a
#: SIGKILL) or ends.
HOLDER = """
import asyncio, os, pathlib

from tests.support import released

async def test_holds_the_embedded_redis(redis):
    pid = (await redis.info("server"))["process_id"]
    pathlib.Path(os.environ["YWTB_TEST_PID_FILE"]).write_text(str(pid))
    while not released(os.environ["YWTB_TEST_RELEASE"]):  # until the test has seen the server running
        await asyncio.sleep(0.02)
"""


@pytest.mark.slow  # a whole pytest run in a child process
@pytest.mark.parametrize("hold", [False, True], ids=["suite-ends", "suite-sigkilled"])
async def test_the_suites_embedded_redis_server_stops_with_the_suite(tmp_path, hold):
    """tests/conftest.py's `redis_url` starts a redis-server when YWTB_REDIS_URL is unset: it
    ends when the run ends, and when the run is killed."""
    (tmp_path / "test_holder.py").write_text(HOLDER)
    pid_file = tmp_path / "redis.pid"
    env = {k: v for k, v in os.environ.items() if not k.startswith("YWTB_")}
    # The holder keeps the suite (and its server) up until released: "suite-ends" releases it once
    # the server was seen running, "suite-sigkilled" never does and kills the run instead.
    name = f"suite-{secrets.token_hex(4)}"
    env.update(YWTB_TEST_PID_FILE=str(pid_file), YWTB_TEST_RELEASE=name)
    suite = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml"),
         "--rootdir", str(ROOT), str(tmp_path / "test_holder.py")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    server: set[int] = set()
    try:
        assert await wait_for(lambda: written(pid_file), timeout=60), suite.stdout.read() if suite.poll() is not None else "no pid written"
        server = {int(pid_file.read_text())}
        assert running(server)
        if hold:
            suite.kill()
        else:
            release(name)
        code = await asyncio.to_thread(suite.wait, 60)
        assert await wait_for(lambda: all_gone(server), timeout=15), f"redis-server {server} outlived the test run"
        if not hold:
            assert code == 0, suite.stdout.read()
    finally:
        if suite.poll() is None:
            suite.kill()
        suite.communicate()
        kill_leftovers(server)
