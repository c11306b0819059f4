"""A lease: a Redis key one owner holds for a while, renewed while it works, released when done.

Used wherever one of many processes must be the only one doing something, and another must take
over when it dies: a message's claim while its turn runs (the store runs the same scripts in its
pipeline), the sender of a broadcast and its preview, a hand-off agent's hold on a citizen, the
flush of a WeCom outbox, the send of one notice (bot.services.delivery). Claim is SET NX PX;
renew and release are compare-and-set on the owner, so a holder whose lease lapsed (and was taken
over) can never extend or delete the new holder's.

Not everything that expires is a lease: the scheduler's claim on due jobs is a visibility timeout
on its queue (a batch of jobs claimed in one call, each due again when its time runs out), and
the WeChat token client, in integrations/, which may not import bot, uses redis-py's `Lock`.

Why not redis-py's `Lock`: it keeps its token in the object that acquired it, while here the
owner is a value several objects and processes know (a broadcast's lease is renewed by its sender
task and checked by the chunk script; a message's claim is checked by its retries).
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.stores.client import repeatable

# KEYS: key. ARGV: owner, ms.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: key. ARGV: owner.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """The lease on `key`, `seconds` long. redis-py's registered scripts reload themselves after
    a Redis restart (NOSCRIPT), so callers never see one."""

    __slots__ = ("redis", "key", "ms", "_renew", "_release")

    def __init__(self, redis: Redis, key: str, seconds: float):
        self.redis, self.key, self.ms = redis, key, int(seconds * 1000)
        self._renew = redis.register_script(RENEW)
        # Safe to repeat after a dropped connection: the lease is deleted once, and another
        # owner's is never touched.
        self._release = repeatable(redis.register_script(RELEASE))

    async def claim(self, owner: str) -> bool:
        """Take the lease if nobody holds it."""
        return bool(await self.redis.set(self.key, owner, nx=True, px=self.ms))

    async def renew(self, owner: str) -> bool:
        """Extend it, only while `owner` still holds it."""
        return bool(await self._renew(keys=[self.key], args=[owner, self.ms]))

    async def release(self, owner: str) -> bool:
        """Let it go, only while `owner` still holds it."""
        return bool(await self._release(keys=[self.key], args=[owner]))

    async def holder(self) -> str | None:
        value = await self.redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
