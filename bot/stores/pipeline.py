"""The webhook's Redis path: every turn's commands, from all the turns in flight, share one
connection and leave in one write per event-loop pass (auto-pipelining, as ioredis and
Lettuce do), packed and parsed by hiredis in C.

Why not redis-py here: a redis-py pipeline of a turn's commands costs tens of microseconds of
Python (a pool checkout under a lock, per-argument encoding, a parser object per reply) and
one write and one read per turn; at thousands of messages a second that was a quarter of the
bot's CPU (bench/RESULTS.md). Everything else in the bot (workers, stores, blocking stream
reads) keeps using redis-py; this module carries only the few commands a message needs.

`for_client(redis)` gives the batcher for a redis-py client: an `AutoPipeline` on the same
server, database and credentials, or, for clients it cannot mirror (a Redis Cluster, a
credential provider), a `PoolBatch` that runs the same commands through redis-py. Both raise
redis-py's exceptions, so callers handle one family of errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

CLIENT_NAME = "ywtb-webhook"
WATCH_EVERY = 0.5  # seconds between checks that the oldest unanswered command is not overdue


class ReplyError(ResponseError):
    """An error reply from Redis, returned in a batch's results in the place of its command."""


def is_noscript(reply: Any) -> bool:
    return isinstance(reply, NoScriptError) or (isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT"))


class Script:
    """A Lua script called by its SHA1 (`script(keys, args)` makes an EVALSHA command for `run`
    or `call`), loaded with EVAL when the server lacks it (a restarted or flushed Redis).

    `fixed`: the last arguments of every call, the same for the script's life (TTLs, limits):
    `packed(keys, args)` packs only the rest per call (hiredis packs ~70 ns an argument)."""

    __slots__ = ("source", "sha", "fixed", "_tail", "_heads")

    def __init__(self, source: str, fixed: tuple = ()):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.fixed = tuple(fixed)
        self._tail = _items(hiredis.pack_command(self.fixed)) if self.fixed else b""
        self._heads: dict[tuple[int, int], bytes] = {}
        _SOURCES[self.sha] = source

    def __call__(self, keys: tuple | list, args: tuple | list) -> tuple:
        return ("EVALSHA", self.sha, len(keys), *keys, *args, *self.fixed)

    def packed(self, keys: tuple, args: tuple) -> bytes:
        """The RESP bytes of `self(keys, args)`, byte for byte."""
        shape = (len(keys), len(args))
        head = self._heads.get(shape)
        if head is None:
            count = 3 + shape[0] + shape[1] + len(self.fixed)
            head = self._heads[shape] = b"*%d\r\n" % count + _items(hiredis.pack_command(("EVALSHA", self.sha, shape[0])))
        return head + _items(hiredis.pack_command((*keys, *args))) + self._tail


def _items(packed: bytes) -> bytes:
    """A packed command without its "*N" header: its items, to join with others'."""
    return packed[packed.index(b"\r\n") + 2:]


_SOURCES: dict[str, str] = {}  # every Script's source by its SHA1, for the EVAL after a NOSCRIPT


def _as_eval(command: tuple) -> tuple | None:
    """The EVAL for an EVALSHA of one of our scripts, else None."""
    if command and command[0] == "EVALSHA":
        source = _SOURCES.get(command[1])
        if source is not None:
            return ("EVAL", source, *command[2:])
    return None


async def _reload_missing(batch, commands: tuple, results: list) -> list:
    """Runs again, with EVAL, each script call the server answered NOSCRIPT."""
    for i, result in enumerate(results):
        if is_noscript(result) and (again := _as_eval(commands[i])) is not None:
            results[i] = (await batch.run(again))[0]
    return results


class _Protocol(asyncio.Protocol):
    """One connection: commands are queued with their futures, written once per loop pass, and
    matched to replies in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float | None):
        self.loop = loop
        self.timeout = timeout
        self.reader = hiredis.Reader(protocolError=InvalidResponse, replyError=ReplyError)
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self.failure: Exception | None = None
        self._watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.alive = True
        if self.timeout:
            self._watch = self.loop.call_later(WATCH_EVERY, self._check_overdue)

    def submit(self, packed: bytes) -> asyncio.Future:
        if not self.alive:
            raise self.failure or RedisConnectionError("Redis connection closed")
        future = self.loop.create_future()
        if not self.out:
            self.loop.call_soon(self._flush)
        self.out.append(packed)
        self.waiting.append((future, self.loop.time()))
        return future

    def _flush(self) -> None:
        if self.out and self.alive:
            data = b"".join(self.out) if len(self.out) > 1 else self.out[0]
            self.out.clear()
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        try:
            while (reply := self.reader.gets()) is not False:
                future = waiting.popleft()[0]
                if not future.done():  # a caller that gave up (cancelled) still had its reply read
                    future.set_result(reply)
        except (InvalidResponse, IndexError) as exc:  # garbage or a reply nobody asked for
            self._fail(InvalidResponse(f"Redis protocol error: {exc}"))

    def _check_overdue(self) -> None:
        if not self.alive:
            return
        if self.waiting and self.loop.time() - self.waiting[0][1] > self.timeout:
            self._fail(RedisTimeoutError("Timeout reading from Redis"))
            return
        self._watch = self.loop.call_later(WATCH_EVERY, self._check_overdue)

    def _fail(self, exc: Exception) -> None:
        if self.alive:
            self.failure = exc
            self.transport.abort()  # connection_lost fails whatever is waiting

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if self._watch is not None:
            self._watch.cancel()
        failure = self.failure or RedisConnectionError(f"Redis connection lost: {exc}" if exc else "Redis connection closed")
        self.failure = failure
        self.out.clear()
        while self.waiting:
            future = self.waiting.popleft()[0]
            if not future.done():
                future.set_exception(type(failure)(str(failure)))
                future.exception()  # retrieved: a cancelled caller must not leave a warning behind

    def close(self) -> None:
        if self.transport is not None and self.alive:
            self._flush()
            self.transport.close()


class AutoPipeline:
    """Commands sent in the same event-loop pass share one write on one connection."""

    def __init__(self, *, host: str = "localhost", port: int = 6379, path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None, ssl=None,
                 connect_timeout: float | None = 5.0, timeout: float | None = 5.0):
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password, self.ssl = username, password, ssl
        self.connect_timeout, self.timeout = connect_timeout, timeout
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Future | None = None

    async def run(self, *commands: tuple) -> list:
        """The replies to `commands`, sent together; an error reply is returned in its place
        (a `ResponseError`), a connection failure raises."""
        proto = self._proto
        if proto is None or not proto.alive:
            proto = await self._connect()
        futures = [proto.submit(hiredis.pack_command(command)) for command in commands]
        results = [await future for future in futures]
        for result in results:
            if isinstance(result, ResponseError):
                return await _reload_missing(self, commands, results)
        return results

    def call(self, command: tuple):
        """`await batch.call(command)`: the reply to one command, as `run` gives it (an error
        reply returned, a NOSCRIPT answered with EVAL). On a live connection this is the
        reply's future itself, not a coroutine: a message's two trips each save a frame and a
        list (`redo` turns a NOSCRIPT reply into the EVAL's)."""
        proto = self._proto
        if proto is None or not proto.alive:
            return self._call_slowly(command)
        return proto.submit(hiredis.pack_command(command))

    def call_script(self, script: Script, keys: tuple, args: tuple):
        """`call(script(keys, args))`, with the script's fixed arguments packed once."""
        proto = self._proto
        if proto is None or not proto.alive:
            return self._call_slowly(script(keys, args))
        return proto.submit(script.packed(keys, args))

    async def _call_slowly(self, command: tuple):
        return (await self.run(command))[0]

    async def redo(self, command: tuple, reply):
        """What `call` should have given for a reply that is a NOSCRIPT error: the EVAL's reply."""
        return (await _reload_missing(self, (command,), [reply]))[0]

    async def _connect(self) -> _Protocol:
        if self._connecting is not None:  # someone else is connecting: share their result
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        self._connecting = loop.create_future()
        try:
            proto = await self._open(loop)
        except BaseException as exc:
            self._connecting.set_exception(exc if isinstance(exc, Exception) else RedisConnectionError("cancelled"))
            self._connecting.exception()
            raise
        else:
            self._proto = proto
            self._connecting.set_result(proto)
            return proto
        finally:
            self._connecting = None

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        def factory() -> _Protocol:
            return _Protocol(loop, self.timeout)

        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.path:
                    _, proto = await loop.create_unix_connection(factory, self.path)
                else:
                    _, proto = await loop.create_connection(factory, self.host, self.port, ssl=self.ssl)
        except TimeoutError:
            raise RedisTimeoutError(f"Timeout connecting to Redis at {self._where()}") from None
        except OSError as exc:
            raise RedisConnectionError(f"Error connecting to Redis at {self._where()}: {exc.strerror or exc}") from None
        hello: list[tuple] = [("CLIENT", "SETNAME", CLIENT_NAME)]  # how operators find it in CLIENT LIST
        if self.password:
            hello.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        futures = [proto.submit(hiredis.pack_command(c)) for c in (hello[1:] + hello[:1])]  # AUTH first
        try:
            async with asyncio.timeout(self.connect_timeout):
                for future in futures:
                    reply = await future
                    if isinstance(reply, ResponseError):
                        raise RedisConnectionError(f"Redis refused the connection set-up: {reply}")
        except TimeoutError:
            proto.close()
            raise RedisTimeoutError(f"Timeout setting up the connection to Redis at {self._where()}") from None
        except BaseException:
            proto.close()
            raise
        return proto

    def _where(self) -> str:
        return self.path or f"{self.host}:{self.port}"

    async def aclose(self) -> None:
        if self._proto is not None:
            self._proto.close()
            self._proto = None


class PoolBatch:
    """The same interface through redis-py (a Redis Cluster client routes each command)."""

    def __init__(self, redis):
        self.redis = redis

    async def run(self, *commands: tuple) -> list:
        async with self.redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            results = await pipe.execute(raise_on_error=False)
        return await _reload_missing(self, commands, results)

    async def call(self, command: tuple):
        return (await self.run(command))[0]

    async def call_script(self, script: Script, keys: tuple, args: tuple):
        return (await self.run(script(keys, args)))[0]

    async def redo(self, command: tuple, reply):
        return (await _reload_missing(self, (command,), [reply]))[0]

    async def aclose(self) -> None:
        return None


def for_client(redis) -> AutoPipeline | PoolBatch:
    """A batcher on the same server as the redis-py client `redis`."""
    pool = getattr(redis, "connection_pool", None)
    if not isinstance(redis, Redis) or pool is None:
        return PoolBatch(redis)
    kw = pool.connection_kwargs
    if kw.get("credential_provider") is not None or kw.get("protocol") not in (None, 2, "2"):
        return PoolBatch(redis)
    common = dict(
        db=int(kw.get("db") or 0), username=kw.get("username"), password=kw.get("password"),
        connect_timeout=kw.get("socket_connect_timeout") or kw.get("socket_timeout") or 5.0,
        timeout=kw.get("socket_timeout") or 5.0,
    )
    cls = pool.connection_class
    if issubclass(cls, UnixDomainSocketConnection):
        return AutoPipeline(path=kw["path"], **common)
    ssl = None
    if issubclass(cls, SSLConnection):
        try:
            ssl = cls(**kw).ssl_context.get()
        except Exception:  # whatever it needs, redis-py knows how to do it
            return PoolBatch(redis)
    return AutoPipeline(host=kw.get("host") or "localhost", port=int(kw.get("port") or 6379), ssl=ssl, **common)
