"""Work due at a time (appointment reminders, rating reminders), kept in Redis so any process
can do it, a restart loses none, and none is done twice.

Layout (bot.keys, one hash tag so a cluster keeps them together):
- `sched:{jobs}:due`       ZSET job id -> when it is due (unix seconds)
- `sched:{jobs}:job:<id>`  HASH kind, payload (JSON), attempts, claim (the token of the run)
- `sched:{jobs}:done:<id>` set once the job ran; kept `scheduler_done_ttl_seconds`

A worker claims due jobs with one Lua call: each claimed job's score moves forward by the lease,
so a process that dies mid-job leaves it due again once the lease runs out, and another process
(or this one, restarted) retakes it. Finishing checks the claim token, removes the job and sets
the done marker, which every later claim or schedule of that id respects. A handler may still
run twice if a lease runs out while it works (a very slow send); the handlers we have are
idempotent themselves (bot.services.delivery sends once per key), so that costs nothing.

```python
scheduler.handle("booking_reminder", remind)            # at start-up, in every process
await scheduler.schedule("remind:A1:day", due, "booking_reminder", {"appointment": "A1"})
await scheduler.cancel("remind:A1:day")                 # the appointment was cancelled
```
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from typing import Any, Awaitable, Callable

from redis.exceptions import RedisError

from bot.stores.scripts.scheduler import CLAIM, FINISH, RETRY, SCHEDULE

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]

class Scheduler:
    """A worker (bot.workers.runner) and the interface features schedule their jobs with."""

    name = "scheduler"

    def __init__(self, redis: Any, keys: Any, settings: Any = None, clock: Callable[[], float] = time.time):
        self.redis, self.keys, self.settings = redis, keys, settings
        #: The time jobs are due against; a test may move it forward.
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self.poll = getattr(settings, "scheduler_poll_seconds", 1.0)
        self.lease = getattr(settings, "scheduler_lease_seconds", 60.0)
        self.batch = getattr(settings, "scheduler_batch", 20)
        self.retry_seconds = getattr(settings, "scheduler_retry_seconds", 5.0)
        self.max_attempts = getattr(settings, "scheduler_max_attempts", 8)
        self.done_ttl = int(getattr(settings, "scheduler_done_ttl_seconds", 30 * 86400))
        self._schedule = redis.register_script(SCHEDULE)
        self._claim = redis.register_script(CLAIM)
        self._finish = redis.register_script(FINISH)
        self._retry = redis.register_script(RETRY)
        self._stopping = asyncio.Event()

    # What features use --------------------------------------------------------------------

    def handle(self, kind: str, handler: Handler) -> None:
        """Run `handler(payload)` for due jobs of `kind`. Raising retries the job later (after
        the exception's `retry_after` seconds, if it has one, else with backoff)."""
        self.handlers[kind] = handler

    async def schedule(self, job_id: str, due: float, kind: str, payload: dict[str, Any]) -> bool:
        """Run job `job_id` at unix time `due`, replacing any pending job with that id. Returns
        False (and schedules nothing) when a job with this id already ran."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        done = await self._schedule(keys=self._keys(job_id), args=[job_id, repr(float(due)), kind, body])
        return bool(done)

    async def cancel(self, job_id: str) -> None:
        """Drop a job that has not run (a cancelled or moved appointment's reminders)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.scheduled(), job_id)
            pipe.delete(self.keys.scheduled_job(job_id))
            await pipe.execute()

    async def due_at(self, job_id: str) -> float | None:
        """When a pending job is due (or, while it runs, when its lease ends); None if not pending."""
        return await self.redis.zscore(self.keys.scheduled(), job_id)

    # The worker ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim due jobs and run their handlers until `stop()`."""
        while not self._stopping.is_set():
            try:
                jobs = await self.claim()
            except RedisError as exc:
                log.warning("scheduler cannot reach redis: %s", type(exc).__name__)
                jobs = []
            for job in jobs:
                await self._run(*job)
            if len(jobs) < self.batch:
                try:
                    await asyncio.wait_for(self._stopping.wait(), self.poll)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping.set()

    async def claim(self) -> list[tuple[str, str, str, int, str]]:
        """Due jobs, leased to this caller: (id, kind, payload json, attempts, claim token)."""
        token = secrets.token_hex(8)
        raw = await self._claim(
            keys=[self.keys.scheduled()],
            args=[repr(self.clock()), self.lease, self.batch, self.keys.scheduled_job(), self.keys.scheduled_done(), token],
        )
        items = [_s(v) for v in raw]
        return [(items[i], items[i + 1], items[i + 2], int(items[i + 3]), token) for i in range(0, len(items), 4)]

    async def _run(self, job_id: str, kind: str, payload: str, attempts: int, token: str) -> None:
        handler = self.handlers.get(kind)
        if handler is None:  # a process that knows this kind will take it
            log.warning("no handler for scheduled job kind %r here; leaving %s to another process", kind, job_id)
            await self._again(job_id, token, self.clock() + self.lease)
            return
        try:
            await handler(json.loads(payload))
        except asyncio.CancelledError:
            raise  # the lease hands it to the next process
        except Exception as exc:
            if attempts >= self.max_attempts:
                log.error("scheduled job %s failed %d times; dropped: %r", job_id, attempts, exc)
                await self._done(job_id, token, "failed")
                return
            wait = getattr(exc, "retry_after", None) or self.retry_seconds * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
            log.warning("scheduled job %s failed (attempt %d), retrying in %.1f s: %r", job_id, attempts, wait, exc)
            await self._again(job_id, token, self.clock() + wait)
            return
        await self._done(job_id, token, "ran")

    async def _done(self, job_id: str, token: str, outcome: str) -> None:
        try:
            await self._finish(keys=self._keys(job_id), args=[job_id, token, self.done_ttl, outcome])
        except RedisError as exc:  # the lease runs out and the job runs again; handlers are idempotent
            log.warning("scheduled job %s not marked done: %s", job_id, type(exc).__name__)

    async def _again(self, job_id: str, token: str, when: float) -> None:
        try:
            await self._retry(keys=self._keys(job_id)[:2], args=[job_id, token, repr(when)])
        except RedisError as exc:
            log.warning("scheduled job %s not put back: %s", job_id, type(exc).__name__)

    def _keys(self, job_id: str) -> list[str]:
        return [self.keys.scheduled(), self.keys.scheduled_job(job_id), self.keys.scheduled_done(job_id)]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
