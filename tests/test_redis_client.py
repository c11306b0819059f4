"""The bot's redis-py client (bot/stores/client.py) when connections die: a pooled connection the
server closed is replaced before it is used, and a command whose connection dies under it is made
again on a fresh one only when making it twice changes nothing.

Connections go through a loopback proxy that can cut the next command's connection either before
the command reaches Redis or after Redis ran it (its answer never comes back): the two ways a
connection dies in production, made to happen on purpose."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.stores.client import connect, repeatable


class CuttingProxy:
    """Forwards TCP to Redis; `cut("before")` / `cut("after")` drops the connection that carries
    the next command, before forwarding it / after Redis answered it, without the answer."""

    def __init__(self, redis_url: str):
        target = urlparse(redis_url)
        self.unix = target.path if target.scheme == "unix" else None
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 6379
        self.db = (target.path.strip("/") or "0") if target.scheme != "unix" else "0"
        self.mode: str | None = None
        self.cuts = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/{self.db}"

    def cut(self, mode: str) -> None:
        self.mode = mode

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        if self.unix:
            upstream_in, upstream_out = await asyncio.open_unix_connection(self.unix)
        else:
            upstream_in, upstream_out = await asyncio.open_connection(self.host, self.port)
        try:
            while data := await client_in.read(65536):
                mode, self.mode = self.mode, None
                if mode == "before":
                    break
                upstream_out.write(data)
                await upstream_out.drain()
                answer = await upstream_in.read(65536)
                if mode == "after" or not answer:
                    break
                client_out.write(answer)
                await client_out.drain()
            if mode:
                self.cuts += 1
        finally:
            client_out.close()
            upstream_out.close()

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def proxy(redis_url):
    proxy = CuttingProxy(redis_url)
    yield proxy
    await proxy.stop()


async def test_a_read_whose_connection_dies_under_it_is_answered_on_a_new_one(proxy, redis, key_prefix):
    client = connect(await proxy.start())
    try:
        await redis.set(f"{key_prefix}greeting", "你好")
        assert await client.get(f"{key_prefix}greeting") == "你好".encode()
        for mode in ("before", "after"):
            proxy.cut(mode)
            assert await client.get(f"{key_prefix}greeting") == "你好".encode(), mode
        assert proxy.cuts == 2
    finally:
        await client.aclose()


async def test_a_write_whose_connection_dies_after_redis_ran_it_is_not_made_twice(proxy, redis, key_prefix):
    client = connect(await proxy.start())
    counter = f"{key_prefix}counter"
    try:
        assert await client.incr(counter) == 1
        proxy.cut("after")
        with pytest.raises(RedisConnectionError):
            await client.incr(counter)
        assert int(await redis.get(counter)) == 2  # ran once: the caller is told, Redis is not asked again
        assert await client.incr(counter) == 3  # and the next command has a connection again
    finally:
        await client.aclose()


async def test_a_script_declared_repeatable_is_made_again_and_another_is_not(proxy, redis, key_prefix):
    client = connect(await proxy.start())
    # Setting a field to a value: twice is the same as once.
    put = repeatable(client.register_script("redis.call('HSET', KEYS[1], 'state', ARGV[1]) return 1"))
    bump = client.register_script("return redis.call('HINCRBY', KEYS[1], 'n', 1)")
    record = f"{key_prefix}record"
    try:
        assert await put(keys=[record], args=["sent"]) == 1
        proxy.cut("after")
        assert await put(keys=[record], args=["done"]) == 1
        assert await redis.hget(record, "state") == b"done"
        assert await bump(keys=[record]) == 1
        proxy.cut("after")
        with pytest.raises(RedisConnectionError):
            await bump(keys=[record])
        assert await redis.hget(record, "n") == b"2"
    finally:
        await client.aclose()
