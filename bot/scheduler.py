"""Work due at a time (appointment reminders, rating reminders), kept in Redis so any process
can do it, a restart loses none, and none is done twice.

STUB with the fixed interface; [Booking] fills it in (a sorted set of due jobs, claimed
atomically with a lease by a Lua script, a done marker so a job runs once).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Scheduler:
    name = "scheduler"

    def __init__(self, redis: Any, keys: Any, settings: Any = None):
        self.redis, self.keys, self.settings = redis, keys, settings
        self.handlers: dict[str, Handler] = {}

    def handle(self, kind: str, handler: Handler) -> None:
        """Run `handler(payload)` for due jobs of `kind`. Raising retries the job later."""
        self.handlers[kind] = handler

    async def schedule(self, job_id: str, due: float, kind: str, payload: dict[str, Any]) -> None:
        """Run job `job_id` at unix time `due` (replacing any job with that id)."""
        raise NotImplementedError

    async def cancel(self, job_id: str) -> None:
        """Drop a job that has not run (a cancelled or moved appointment's reminders)."""
        raise NotImplementedError

    async def run(self) -> None:
        """The worker loop (bot.workers): claim due jobs and run their handlers."""
        raise NotImplementedError

    def stop(self) -> None:
        pass
