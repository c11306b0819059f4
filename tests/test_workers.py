"""Stopping the background workers: idle ones stop at once (a deploy or a test does not wait
out their poll intervals), and one with an item in hand finishes it first."""

from __future__ import annotations

import asyncio

from bot.app import WORKERS, create_app
from bot.keys import Keys
from bot.workers.runner import Workers
from bot.workers.scheduler import Scheduler


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_apps_idle_workers_stop_at_once_though_their_waits_are_long(make_settings, redis, bot_server):
    # Waits far longer than the stop may take: only a stop that wakes them passes.
    settings = make_settings(notify_block_ms=30_000, broadcast_poll_seconds=30.0, scheduler_poll_seconds=30.0, handoff_sweep_seconds=30.0)
    app = create_app(settings, redis)
    await bot_server(app, port=settings.port)
    workers = app[WORKERS]
    assert {w.name for w in workers.workers} >= {"notifier", "broadcasts", "handoff"}
    assert workers.tasks and not any(t.done() for t in workers.tasks)
    await asyncio.wait_for(workers.stop(grace=30), timeout=1.5)
    assert workers.tasks == []


async def test_a_worker_finishes_the_job_in_hand_before_stop_returns(redis, settings):
    clock = Clock()
    s = Scheduler(redis, Keys(settings.key_prefix), settings.model_copy(update=dict(scheduler_poll_seconds=30.0)), clock=clock)
    started, release, finished = asyncio.Event(), asyncio.Event(), []
    stopping: asyncio.Future | None = None

    async def remind(payload):
        started.set()
        await release.wait()
        finished.append((payload["n"], stopping.done()))

    s.handle("remind", remind)
    await s.schedule("j", clock.now - 1, "remind", {"n": 1})
    runner = Workers([s])
    runner.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    stopping = asyncio.ensure_future(runner.stop(grace=30))  # runs before the job goes on
    release.set()
    await asyncio.wait_for(stopping, timeout=5)
    assert finished == [(1, False)]  # the job ran to its end while stop() waited for it
    assert await s.due_at("j") is None  # done, not left to be taken over


async def test_a_worker_waiting_out_a_crash_backoff_stops_at_once():
    crashed = asyncio.Event()

    class Broken:
        name = "broken"

        async def run(self) -> None:
            crashed.set()
            raise RuntimeError("boom")

    runner = Workers([Broken()])
    runner.start()
    await asyncio.wait_for(crashed.wait(), timeout=5)
    await asyncio.wait_for(runner.stop(grace=30), timeout=1)
