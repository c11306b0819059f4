"""Who a broadcast goes to: the members of an audience, streamed (WeChat's follower or tag pages,
SSCAN of a subscriber set, SCAN of enterprise bindings, the people a policy's rules find), and the count at preview, which writes
them into the broadcast's recipients stream one chunk per entry, without repeats."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from bot.services.broadcasts.drafts import Audience

class Audiences:
    """Who is in an audience, streamed; and the subscriber sets that only this feature reads."""

    def __init__(self, redis: Any, keys: Any, wechat: Any = None, matcher: Any = None):
        self.redis, self.keys, self.wechat = redis, keys, wechat
        self.matcher = matcher  # bot.services.broadcasts.policies.PolicyMatcher: who a policy is for

    async def subscribe(self, openid: str, *, matter_code: str | None = None, department: str | None = None) -> None:
        """Someone asks to hear about a matter's or a department's notices (noted under them too,
        so that 取消通知 can stop them all)."""
        await self._follow(openid, matter_code, department, on=True)

    async def unsubscribe(self, openid: str, *, matter_code: str | None = None, department: str | None = None) -> None:
        await self._follow(openid, matter_code, department, on=False)

    async def _follow(self, openid: str, matter_code: str | None, department: str | None, *, on: bool) -> None:
        followed, targets = self.keys.notices_followed(openid), []
        if matter_code:
            targets.append((self.keys.matter_subscribers(matter_code), f"m:{matter_code}"))
        if department:
            targets.append((self.keys.department_subscribers(department), f"d:{department}"))
        async with self.redis.pipeline(transaction=False) as pipe:
            for audience, entry in targets:
                if on:
                    pipe.sadd(audience, openid).sadd(followed, entry)
                else:
                    pipe.srem(audience, openid).srem(followed, entry)
            await pipe.execute()

    async def followed_matters(self, openid: str) -> int:
        """How many matters this person follows the notices of."""
        return sum(1 for m in await self.redis.smembers(self.keys.notices_followed(openid)) if (m.decode() if isinstance(m, bytes) else m).startswith("m:"))

    async def unsubscribe_all(self, openid: str) -> int:
        """Stop every matter's and department's notices this person follows; how many there were."""
        followed = [m.decode() if isinstance(m, bytes) else m for m in await self.redis.smembers(self.keys.notices_followed(openid))]
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry in followed:
                kind, _, name = entry.partition(":")
                pipe.srem(self.keys.matter_subscribers(name) if kind == "m" else self.keys.department_subscribers(name), openid)
            pipe.delete(self.keys.notices_followed(openid))
            await pipe.execute()
        return sum(entry.startswith("m:") for entry in followed)

    async def note_industry(self, credit_code: str, industry: str) -> None:
        """File a bound enterprise under its industry (the binding flow calls this)."""
        await self.redis.sadd(self.keys.enterprises_by_industry(industry), credit_code)

    async def members(self, audience: Audience) -> AsyncIterator[str]:
        """Every openid of the audience; duplicates are possible (a person bound to two enterprises)."""
        if audience.kind == "all":
            async for openid in self.wechat.followers():
                yield openid
        elif audience.kind == "tag":
            async for openid in self.wechat.tag_members(audience.tag_id):
                yield openid
        elif audience.kind == "policy":
            if self.matcher is None:
                raise RuntimeError("policy audiences need a PolicyMatcher")
            async for openid in self.matcher.members(audience.rules or []):
                yield openid
        elif audience.kind in ("matter", "department"):
            key = (self.keys.matter_subscribers(audience.matter_code) if audience.kind == "matter"
                   else self.keys.department_subscribers(audience.department))
            async for openid in self.redis.sscan_iter(key, count=1000):
                yield _s(openid)
        else:
            async for code in self._enterprises(audience):
                async for openid in self.redis.sscan_iter(self.keys.enterprise_binders(code), count=1000):
                    yield _s(openid)

    async def _enterprises(self, audience: Audience) -> AsyncIterator[str]:
        if audience.industry:
            async for code in self.redis.sscan_iter(self.keys.enterprises_by_industry(audience.industry), count=1000):
                code = _s(code)
                if not audience.district or code[2:8].startswith(audience.district):
                    yield code
            return
        base = self.keys.enterprise_binders("")
        pattern = _glob_escape(base) + "??" + audience.district + "*"
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            yield _s(key)[len(base):]

    async def resolve(self, bid: str, audience: Audience, size: int) -> tuple[int, int, list[str]]:
        """Stream the audience into broadcast `bid`'s recipients stream, `size` to a chunk (one
        entry each), without repeats: the exact count, the chunks and a masked sample."""
        stream, seen = self.keys.broadcast_recipients(bid), self.keys.broadcast_seen(bid)
        await self.redis.delete(stream, seen)
        total, chunks = 0, 0
        buffer: list[str] = []
        candidates: list[str] = []
        sample: list[str] = []

        async def take(final: bool) -> None:
            nonlocal candidates, buffer, total, chunks
            if candidates:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for openid in candidates:
                        pipe.sadd(seen, openid)
                    fresh = [o for o, new in zip(candidates, await pipe.execute()) if new]
                candidates = []
                total += len(fresh)
                sample.extend(fresh[:max(3 - len(sample), 0)])
                buffer.extend(fresh)
            while len(buffer) >= size or (final and buffer):
                chunk, buffer = buffer[:size], buffer[size:]
                chunks += 1
                await self.redis.xadd(stream, {"o": " ".join(chunk)}, id=f"{chunks}-1")

        async for openid in self.members(audience):
            candidates.append(openid)
            if len(candidates) >= 1000:
                await take(False)
        await take(True)
        await self.redis.delete(seen)
        return total, chunks, [_mask_openid(o) for o in sample]


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _mask_openid(openid: str) -> str:
    return openid[:6] + "***" + hashlib.sha256(openid.encode()).hexdigest()[:4] if len(openid) > 8 else "***"


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
