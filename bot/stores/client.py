"""The one way the bot connects to Redis: a bounded, blocking pool, so a burst of messages waits
briefly for a connection instead of failing with "Too many connections", and that survives a
Redis restart without failing the turns that come after it.

A restart (or an idle timeout, or a proxy) leaves the pool's idle connections dead. redis-py
checks each connection it hands out and reconnects one the server has closed, but skips that
check while "maintenance notifications" (a Redis Enterprise feature, on by default with RESP3
since redis-py 8) are enabled: then every dead connection failed one command, one turn told
系统繁忙 per connection, as late as the connection's next use. We turn them off, so the pool's
own check runs on every checkout.

A connection can still die between its checkout and its reply (the server restarting right
then). `ReconnectingRedis` then runs the command once more on a fresh connection when doing it
twice cannot change anything: a read, or a script registered with `repeatable`. Anything else
raises, as before: the server may have run it before the connection died.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.maint_notifications import MaintNotificationsConfig

#: Commands that only read: running one twice gives the same answer and changes nothing.
READS = frozenset(name.encode() for name in (
    "GET", "MGET", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN",
    "HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN", "HKEYS", "HVALS", "HSCAN",
    "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SSCAN",
    "ZRANGE", "ZREVRANGE", "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANK", "ZREVRANK", "ZSCORE", "ZCARD", "ZCOUNT", "ZSCAN",
    "LRANGE", "LLEN", "LINDEX",
    "XRANGE", "XREVRANGE", "XLEN", "XINFO", "XPENDING",
    "SCAN", "PING", "INFO", "DBSIZE", "TIME",
))

#: SHA1s of the scripts `repeatable` vouched for.
_REPEATABLE_SCRIPTS: set[bytes] = set()


def repeatable(script: AsyncScript) -> AsyncScript:
    """Declare that running `script` twice with the same keys and arguments leaves Redis as
    running it once did, so a call whose connection died may be made again. Say why beside the
    script; the second run's answer may differ (e.g. "already done"), so its caller must take
    that answer as success too."""
    _REPEATABLE_SCRIPTS.add(script.sha.encode() if isinstance(script.sha, str) else script.sha)
    return script


def safe_to_repeat(command: tuple | list) -> bool:
    """A read, or a call of a `repeatable` script (by its SHA1; EVAL carries the source)."""
    if not command:
        return False
    name = command[0]
    name = (name.encode() if isinstance(name, str) else bytes(name)).upper()
    if name in READS:
        return True
    if name == b"EVALSHA" and len(command) > 1:
        sha = command[1]
        return (sha.encode() if isinstance(sha, str) else bytes(sha)) in _REPEATABLE_SCRIPTS
    return False


class ReconnectingRedis(Redis):
    """redis-py's client, with one more try, on a fresh connection, for a command that is safe
    to repeat and whose connection died under it."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return await super().execute_command(*args, **options)
        except RedisConnectionError as error:
            # The pool timing out is no dead connection: trying again would only wait twice.
            if isinstance(error.__cause__, TimeoutError) or not safe_to_repeat(args):
                raise
            # redis-py closed the dead connection; the pool reconnects whichever it hands out next.
            return await super().execute_command(*args, **options)


def connect(url: str, max_connections: int = 256, wait: float = 5.0) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30,
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
    return ReconnectingRedis(connection_pool=pool)
