"""The webhook's auto-pipelined Redis connection (bot/stores/pipeline.py), against real servers:
it batches, it survives what happens to connections in production, and it never hangs a turn."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bench.harness import redis_binary
from bench.procs import free_port
from bot.lifetime import die_with_parent
from bot.stores.pipeline import CLIENT_NAME, AutoPipeline, PoolBatch, Script, for_client
from tests.support import Chat

COUNT = Script("return redis.call('INCR', KEYS[1])")


async def _reads(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_reads_processed"])


async def test_commands_of_concurrent_callers_share_writes_and_keep_their_order(redis, key_prefix):
    fast = for_client(redis)
    assert isinstance(fast, AutoPipeline)
    key = f"{key_prefix}counter"
    try:
        await fast.run(("PING",))
        before = await _reads(redis)
        results = await asyncio.gather(*(fast.run(("INCR", key), ("GET", key)) for _ in range(1000)))
        reads = await _reads(redis) - before
    finally:
        await fast.aclose()
    assert [r[0] for r in results] == list(range(1, 1001))  # in the order they were issued
    assert all(int(got) == n for n, got in results)
    assert reads < 100  # a thousand callers, a handful of socket reads on the server


async def test_a_script_the_server_forgot_is_loaded_again(redis, key_prefix):
    for n, batch in enumerate((for_client(redis), PoolBatch(redis))):
        await redis.script_flush()  # as after a restart of Redis
        key = f"{key_prefix}scripted{n}"
        assert await batch.run(COUNT([key], []), COUNT([key], [])) == [1, 2]
        await batch.aclose()


async def test_a_single_call_gives_the_reply_or_the_error_and_a_forgotten_script_is_redone(redis, key_prefix):
    fast = for_client(redis)
    key = f"{key_prefix}called"
    try:
        assert await fast.call(COUNT([key], [])) == 1  # connects first: the slow way
        await redis.script_flush()
        command = COUNT([key], [])
        reply = await fast.call(command)  # the live connection's future itself
        assert isinstance(reply, ResponseError) and "NOSCRIPT" in str(reply)
        assert await fast.redo(command, reply) == 2
        assert await fast.call(COUNT([key], [])) == 3  # loaded again by the EVAL
    finally:
        await fast.aclose()


async def test_messages_are_answered_after_redis_forgot_the_dispatchers_scripts(chat: Chat, redis):
    first = await chat.say("你好")
    assert first and "系统繁忙" not in first
    await redis.script_flush()  # as after a restart of Redis: admit and commit are unknown to it
    assert await chat.say("你好") == first
    await redis.script_flush()
    menu = await chat.say("菜单")
    assert menu and "系统繁忙" not in menu


async def test_an_error_reply_takes_the_place_of_its_command_only(redis, key_prefix):
    fast = for_client(redis)
    key = f"{key_prefix}text"
    await redis.set(key, "not a number")
    ok, failed, after = await fast.run(("SET", f"{key_prefix}a", "1"), ("INCR", key), ("GET", f"{key_prefix}a"))
    await fast.aclose()
    assert ok == b"OK" and after == b"1"
    assert isinstance(failed, ResponseError) and "not an integer" in str(failed)


async def test_the_database_in_the_url_is_the_one_written(redis_url, key_prefix):
    pool = ConnectionPool.from_url(redis_url)  # the same server (TCP or socket), database 7
    other = Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **{**pool.connection_kwargs, "db": 7}))
    fast = for_client(other)
    try:
        await fast.run(("SET", f"{key_prefix}db", "seven", "EX", 60))
        assert await other.get(f"{key_prefix}db") == b"seven"
    finally:
        await other.delete(f"{key_prefix}db")
        await fast.aclose()
        await other.aclose()


@pytest.fixture
def password_redis(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--requirepass", "s3cret-pw", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(),
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            import socket

            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.kill()
    proc.wait()


async def test_a_password_in_the_url_is_used_and_a_wrong_one_is_a_clear_error(password_redis):
    good = Redis.from_url(f"redis://:s3cret-pw@127.0.0.1:{password_redis}/0")
    bad = Redis.from_url(f"redis://:wrong@127.0.0.1:{password_redis}/0")
    fast, refused = for_client(good), for_client(bad)
    try:
        assert await fast.run(("SET", "k", "v"), ("GET", "k")) == [b"OK", b"v"]
        with pytest.raises(RedisConnectionError, match="refused the connection set-up"):
            await refused.run(("PING",))
    finally:
        await fast.aclose()
        await refused.aclose()
        await good.aclose()
        await bad.aclose()


async def test_a_silent_server_times_out_instead_of_hanging():
    async def swallow(reader, writer):
        await reader.read(1 << 20)  # reads, never answers
        await asyncio.sleep(30)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fast = AutoPipeline(host="127.0.0.1", port=port, timeout=0.6, connect_timeout=0.6)
    started = time.monotonic()
    try:
        with pytest.raises(RedisTimeoutError):
            await fast.run(("PING",))
    finally:
        await fast.aclose()
        server.close()
    assert time.monotonic() - started < 2.0


async def test_a_killed_connection_is_noticed_and_the_next_message_served_on_a_new_one(chat: Chat, redis):
    assert "回复序号" in await chat.say("菜单")
    clients = await redis.client_list()
    ours = [c for c in clients if c.get("name") == CLIENT_NAME]
    assert ours, "the webhook's connection names itself in CLIENT LIST"
    for c in ours:
        try:
            await redis.client_kill(c["addr"])
        except ResponseError:  # closed meanwhile: a shared Redis lists other processes' connections too
            pass
    answers = [await chat.say(t) for t in ("菜单", "菜单")]
    assert all("回复序号" in a for a in answers), answers  # the dead connection was noticed, not used


def test_a_scripts_fixed_arguments_are_packed_once_into_the_same_bytes():
    import hiredis

    script = Script("return ARGV", fixed=(3000, 0, b"D[\"\xe8\xaf\xb7\"]", "ttl"))
    for keys, args in ((("k1", "k2"), ("a", 1, b"\x00b")), ((), ()), (("键",), ("中文", ""))):
        assert script.packed(keys, args) == hiredis.pack_command(script(keys, args))


async def test_a_script_call_with_fixed_arguments_gets_them_all(redis, key_prefix):
    script = Script("return {KEYS[1], ARGV[1], ARGV[2], ARGV[3]}", fixed=("fixed", 7))
    fast = for_client(redis)
    try:
        for _ in range(2):  # the first connects (the slow way), the second packs
            assert await fast.call_script(script, (f"{key_prefix}k",), ("given",)) == [f"{key_prefix}k".encode(), b"given", b"fixed", b"7"]
        await redis.script_flush()
        reply = await fast.call_script(script, (f"{key_prefix}k",), ("again",))
        assert await fast.redo(script((f"{key_prefix}k",), ("again",)), reply) == [f"{key_prefix}k".encode(), b"again", b"fixed", b"7"]
    finally:
        await fast.aclose()
