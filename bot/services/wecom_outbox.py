"""App messages to staff in WeCom, within WeCom's rate: nothing sent beyond it, nothing lost.

WeCom takes at most 30 app messages a minute and 1000 an hour per member, and drops the rest
without a word (WeCom's answer is still "ok"). A citizen typing fast to their agent, or many
citizens asking for an agent at once, would go over it. So every message to a member is counted
in Redis (shared by all processes) before it is sent; one that would go over waits in the
member's queue instead, and once the rate allows it, everything waiting goes out joined into one
message (as many as fit WeCom's text limit), in the order it came.

Who sends what waits: the process that queued it, when the rate frees (a timer), and, should that
process die, the hand-off sweeper (`send_due`, bot.services.handoff). A member's queue is sent by
one process at a time (a short bot.stores.Lease). A message is counted from the moment it is sent
until WeCom answered it, the later of the two, so our count never lets one go before WeCom's own
count has.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from bot.stores import Lease
from bot.stores.scripts.wecom_outbox import ANSWERED, SEND_OR_QUEUE, SENT, TAKE
from integrations.wechat.errors import WeChatError

log = logging.getLogger(__name__)

QUEUE_TTL = 86400  # texts waiting longer than a day (WeCom unreachable all day) are dropped with the queue
LEASE_MS = 30_000  # a process sending a member's queue holds it this long at most (a WeCom call lasts 10 s at most)
RETRY_SECONDS = 5.0  # after WeCom failed to take a queued message

@dataclass(slots=True)
class Handed:
    """What became of a message to a member."""

    outcome: str  # sent | queued (goes out when the rate allows) | failed (WeCom refused or unreachable)
    wait_seconds: int = 0  # queued: about how long until it goes
    first: bool = False  # queued: nothing was waiting before it (the start of a burst)


class WeComOutbox:
    def __init__(self, redis: Any, keys: Any, settings: Any):
        self.redis, self.keys = redis, keys
        self.wecom: Any = None  # integrations.wechat.WeComClient, set when the app starts
        minute = settings.wecom_rate_minute_seconds
        self._rate = (settings.wecom_member_messages_per_minute, settings.wecom_member_messages_per_hour,
                      int(minute * 1000), int(minute * 60 * 1000))
        self._max_bytes = settings.wecom_text_max_bytes
        self._send_or_queue = redis.register_script(SEND_OR_QUEUE)
        self._take = redis.register_script(TAKE)
        self._sent = redis.register_script(SENT)
        self._answered = redis.register_script(ANSWERED)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._sending: set[asyncio.Task] = set()

    async def send(self, userid: str, text: str) -> Handed:
        """Send `text` to one member now, or queue it if WeCom's rate for them is spent."""
        if self.wecom is None:
            return Handed("failed")
        token = secrets.token_hex(8)
        now, wait, first = await self._send_or_queue(keys=[self.keys.wecom_sent(userid), self.keys.wecom_queue(userid)],
                                                     args=[*self._rate, token, text, QUEUE_TTL])
        if not now:
            await self._due(userid, int(wait))
            return Handed("queued", wait_seconds=max(1, round(int(wait) / 1000)), first=bool(first))
        try:
            await self.wecom.send_text([userid], text)
        except WeChatError as error:
            log.warning("WeCom message to a staff member failed: %s", type(error).__name__)
            return Handed("failed")
        await self._answered(keys=[self.keys.wecom_sent(userid)], args=[token])
        return Handed("sent")

    async def send_waiting(self, userid: str) -> None:
        """Send what waits for `userid`, as far as the rate allows now; come back when it allows more."""
        lease = Lease(self.redis, self.keys.wecom_flushing(userid), LEASE_MS / 1000)
        more = True
        while more:
            token = secrets.token_hex(8)
            if not await lease.claim(token):  # another process is at it, and comes back for the rest itself
                return
            try:
                more = await self._send_batch(userid, token)
            finally:
                await lease.release(token)

    async def _send_batch(self, userid: str, token: str) -> bool:
        """One joined message of what waits, if the rate allows it; True when more waits and may go now."""
        keys = [self.keys.wecom_sent(userid), self.keys.wecom_queue(userid)]
        got = await self._take(keys=keys, args=[*self._rate, token, self._max_bytes])
        verdict = int(got[0])
        if verdict == -2:
            await self.redis.zrem(self.keys.wecom_due(), userid)
            return False
        if verdict == 0:
            await self._due(userid, int(got[1]))
            return False
        count, text = int(got[1]), got[2].decode() if isinstance(got[2], bytes) else got[2]
        try:
            await self.wecom.send_text([userid], text)
        except WeChatError as error:
            log.warning("WeCom message (%d waiting texts) to a staff member failed: %s; trying again", count, type(error).__name__)
            await self._sent(keys=keys, args=[token, 0])
            await self._due(userid, int(RETRY_SECONDS * 1000))
            return False
        if not await self._sent(keys=keys, args=[token, count]):
            await self.redis.zrem(self.keys.wecom_due(), userid)
            return False
        return True

    async def send_due(self) -> None:
        """Every member whose waiting texts the rate allows now (the sweeper's backstop for a
        process that died with a timer set)."""
        now_ms = time.time() * 1000
        for raw in await self.redis.zrangebyscore(self.keys.wecom_due(), "-inf", now_ms, start=0, num=100):
            await self.send_waiting(raw.decode() if isinstance(raw, bytes) else raw)

    async def _due(self, userid: str, wait_ms: int) -> None:
        """Note when the rate allows `userid` more, and come back then."""
        await self.redis.zadd(self.keys.wecom_due(), {userid: time.time() * 1000 + wait_ms})
        timer = self._timers.pop(userid, None)
        if timer is not None:
            timer.cancel()
        self._timers[userid] = asyncio.get_running_loop().call_later(wait_ms / 1000, self._wake, userid)

    def _wake(self, userid: str) -> None:
        self._timers.pop(userid, None)
        task = asyncio.get_running_loop().create_task(self._send_waiting_logged(userid))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_waiting_logged(self, userid: str) -> None:
        try:
            await self.send_waiting(userid)
        except RedisError as error:  # the sweeper comes back for it
            log.warning("waiting WeCom messages not sent yet: %s", type(error).__name__)

    async def close(self) -> None:
        """Stop the timers (what waits stays in Redis for the next process's sweeper)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
