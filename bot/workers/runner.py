"""Background workers: loops that take work from Redis (reminders, notifications, broadcasts)
and send it out. `serve` runs them beside the webhook (unless `run_workers` is off) and
`python -m bot worker` runs them alone; any number of processes may run them at once, because
every piece of work is claimed in Redis, never held only in memory.

A worker is an object with a `name` and an `async run()` that loops until cancelled. It must be
safe to cancel at any await: work it claimed but did not finish is taken over by another worker
(or by itself after a restart) through the claim's lease, never lost and never done twice.

Stopping is immediate when there is nothing in hand: a worker's `stop()` wakes every wait it
makes between items (`nap` races the wait against its stop event), so an idle worker returns at
once, and a busy one returns as soon as the item in hand is finished.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Protocol

from redis.exceptions import RedisError

from bot.logs import Incidents

log = logging.getLogger(__name__)


async def nap(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `stopping` is set meanwhile; True if it was."""
    try:
        async with asyncio.timeout(seconds):
            await stopping.wait()
    except TimeoutError:
        pass
    return stopping.is_set()


class Worker(Protocol):
    name: str

    async def run(self) -> None: ...


class Workers:
    """Runs each worker as a task and restarts it, with backoff, if it crashes."""

    def __init__(self, workers: list[Worker]):
        self.workers = list(workers)
        self.tasks: list[asyncio.Task] = []
        self.incidents = Incidents(log)
        self._stopping = asyncio.Event()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping.clear()
        self.tasks = [loop.create_task(self._supervise(w), name=f"worker:{w.name}") for w in self.workers]

    async def _supervise(self, worker: Worker) -> None:
        delay = 0.5
        while True:
            try:
                await worker.run()
                return
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:  # passing trouble: a warning per incident, not a crash
                self.incidents.report(worker.name, "worker %s stopped by %r; restarting it with backoff", worker.name, exc)
            except Exception:
                log.exception("worker %s crashed; restarting in %.1f s", worker.name, delay)
            if await nap(self._stopping, delay + random.uniform(0, delay / 2)):
                return  # stopped during the backoff: there is nothing in hand to finish
            delay = min(delay * 2, 30.0)

    async def stop(self, grace: float = 5.0) -> None:
        """Ask each worker to stop; workers finish the item in hand within `grace` seconds
        (idle ones return at once), and are cancelled after it."""
        self._stopping.set()
        for worker in self.workers:
            stop = getattr(worker, "stop", None)
            if stop is not None:
                stop()
        if self.tasks:
            done, pending = await asyncio.wait(self.tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []
