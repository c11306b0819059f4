"""The one way the bot connects to Redis: a bounded, blocking pool, so a burst of messages waits
briefly for a connection instead of failing with "Too many connections"."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def connect(url: str, max_connections: int = 256, wait: float = 5.0) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30,
    )
    return Redis(connection_pool=pool)
