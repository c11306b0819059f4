"""Replies that cannot go back as a passive reply: late ones, and the tail of long ones.

Until the WeChat API client lands ([Outside systems]), the pusher records what it would send in
Redis, where tests and the console read it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Protocol

from redis.asyncio import Redis

from bot.keys import Keys
from bot.logs import user_ref
from dialogs.engine import Incoming, Reply

log = logging.getLogger(__name__)


class Pusher(Protocol):
    async def push(self, incoming: Incoming, texts: list[str]) -> None:
        """Send texts to the user of `incoming` through the platform's messaging API."""


class RecordingPusher:
    """Keeps what would be pushed, newest last, for a day: observable by tests and the console."""

    def __init__(self, redis: Redis, keys: Keys, keep: int = 200, ttl: int = 86400):
        self.redis, self.keys, self.keep, self.ttl = redis, keys, keep, ttl

    async def push(self, incoming: Incoming, texts: list[str]) -> None:
        key = self.keys.pushed(incoming.user)
        now = time.time()
        entries = [json.dumps({"kind": "custom", "text": t, "at": now, "msg_id": incoming.msg_id}, ensure_ascii=False) for t in texts]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *entries).ltrim(key, -self.keep, -1).expire(key, self.ttl)
            await pipe.execute()
        log.info("pushed %d message(s) to %s", len(texts), user_ref(incoming.user))

    async def pushed(self, user: str) -> list[dict]:
        return [json.loads(raw) for raw in await self.redis.lrange(self.keys.pushed(user), 0, -1)]


def pack(replies: list[Reply], limit: int) -> list[str]:
    """Join replies into as few messages as fit `limit` UTF-8 bytes each (WeChat's passive cap)."""
    messages: list[str] = []
    current = ""
    for reply in replies:
        for piece in _split(reply.text, limit):
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined.encode()) <= limit:
                current = joined
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _split(text: str, limit: int) -> list[str]:
    """Cut a text at line ends into pieces of at most `limit` bytes; cut inside a line only if it must."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        for part in _cut(line, limit):
            joined = f"{current}\n{part}" if current else part
            if len(joined.encode()) <= limit:
                current = joined
            else:
                pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return [p for p in pieces if p.strip()]


def _cut(line: str, limit: int) -> list[str]:
    parts, start, size = [], 0, 0
    for i, ch in enumerate(line):
        width = len(ch.encode())
        if size + width > limit:
            parts.append(line[start:i])
            start, size = i, 0
        size += width
    parts.append(line[start:])
    return parts
