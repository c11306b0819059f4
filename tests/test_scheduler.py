"""Work due at a time: kept in Redis, run once, taken over when a process dies, dropped when
cancelled. A clock each test controls decides what is due; the real Redis does the rest."""

from __future__ import annotations

import asyncio

from bot.keys import Keys
from bot.workers.scheduler import Scheduler
from bot.workers.runner import Workers


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def scheduler(redis, settings, clock: Clock, **overrides) -> Scheduler:
    s = Scheduler(redis, Keys(settings.key_prefix), settings.model_copy(update=overrides), clock=clock)
    return s


async def run_due(s: Scheduler) -> int:
    """One pass of the worker loop: claim what is due and run it."""
    jobs = await s.claim()
    for job in jobs:
        await s._run(*job)
    return len(jobs)


async def test_a_job_runs_when_due_and_only_once(redis, settings):
    clock, ran = Clock(), []
    s = scheduler(redis, settings, clock)

    async def remind(payload):
        ran.append(payload["n"])

    s.handle("remind", remind)
    assert await s.schedule("j1", clock.now + 60, "remind", {"n": 1})
    assert await run_due(s) == 0 and ran == []  # not yet

    clock.now += 61
    assert await run_due(s) == 1 and ran == [1]
    assert await run_due(s) == 0 and ran == [1]
    # Scheduling a job that already ran does nothing: a repeated booking confirmation, say.
    assert not await s.schedule("j1", clock.now - 1, "remind", {"n": 1})
    assert await run_due(s) == 0 and ran == [1]
    assert await s.due_at("j1") is None


async def test_cancel_drops_a_pending_job(redis, settings):
    clock, ran = Clock(), []
    s = scheduler(redis, settings, clock)
    s.handle("remind", lambda p: _append(ran, p))
    await s.schedule("keep", clock.now + 10, "remind", {"n": "keep"})
    await s.schedule("drop", clock.now + 10, "remind", {"n": "drop"})
    await s.cancel("drop")
    clock.now += 11
    await run_due(s)
    assert ran == ["keep"]
    assert not await redis.exists(Keys(settings.key_prefix).scheduled_job("drop"))


async def test_scheduling_again_replaces_the_time_and_payload(redis, settings):
    clock, ran = Clock(), []
    s = scheduler(redis, settings, clock)
    s.handle("remind", lambda p: _append(ran, p))
    await s.schedule("j", clock.now + 10, "remind", {"n": "old"})
    await s.schedule("j", clock.now + 100, "remind", {"n": "new"})
    clock.now += 50
    assert await run_due(s) == 0
    clock.now += 51
    await run_due(s)
    assert ran == ["new"]


async def test_a_crashed_claim_is_retaken_after_its_lease(redis, settings):
    clock, ran = Clock(), []
    crashed = scheduler(redis, settings, clock, scheduler_lease_seconds=30)
    other = scheduler(redis, settings, clock, scheduler_lease_seconds=30)
    other.handle("remind", lambda p: _append(ran, p))
    await crashed.schedule("j", clock.now, "remind", {"n": 1})

    claimed = await crashed.claim()  # ... and the process dies before running it
    assert [job[0] for job in claimed] == ["j"]
    assert await run_due(other) == 0  # leased: nobody else takes it yet

    clock.now += 31
    assert await run_due(other) == 1 and ran == [1]
    # The dead process's late finish (if it ever came back) changes nothing.
    await crashed._done("j", claimed[0][4], "ran")
    clock.now += 100
    assert await run_due(other) == 0 and ran == [1]


async def test_a_failing_job_is_retried_then_dropped(redis, settings):
    clock, calls = Clock(), []
    s = scheduler(redis, settings, clock, scheduler_max_attempts=3, scheduler_retry_seconds=10)

    async def flaky(payload):
        calls.append(clock.now)
        raise RuntimeError("wechat busy")

    s.handle("remind", flaky)
    await s.schedule("j", clock.now, "remind", {})
    await run_due(s)
    assert len(calls) == 1
    assert await run_due(s) == 0  # backing off
    for _ in range(2):
        clock.now += 30
        await run_due(s)
    assert len(calls) == 3
    clock.now += 1000
    assert await run_due(s) == 0 and len(calls) == 3  # given up, not retried forever
    assert await s.due_at("j") is None


async def test_retry_after_of_the_failure_is_respected(redis, settings):
    clock, calls = Clock(), []
    s = scheduler(redis, settings, clock)

    class Busy(Exception):
        retry_after = 120.0

    async def handler(payload):
        calls.append(1)
        if len(calls) == 1:
            raise Busy()

    s.handle("remind", handler)
    await s.schedule("j", clock.now, "remind", {})
    await run_due(s)
    assert await s.due_at("j") == clock.now + 120.0
    clock.now += 121
    await run_due(s)
    assert len(calls) == 2 and await s.due_at("j") is None


async def test_many_workers_share_the_jobs_and_run_each_once(redis, settings):
    clock = Clock()
    counts: dict[int, int] = {}

    async def handler(payload):
        await asyncio.sleep(0)
        counts[payload["n"]] = counts.get(payload["n"], 0) + 1

    workers = [scheduler(redis, settings, clock, scheduler_batch=3) for _ in range(4)]
    for w in workers:
        w.handle("remind", handler)
    for n in range(40):
        await workers[0].schedule(f"j{n}", clock.now - n, "remind", {"n": n})

    async def drain(w):
        while await run_due(w):
            pass

    await asyncio.gather(*(drain(w) for w in workers))
    assert counts == {n: 1 for n in range(40)}


async def test_the_worker_loop_runs_due_jobs_and_stops_when_asked(redis, settings):
    clock = Clock()
    done = asyncio.Event()
    s = scheduler(redis, settings, clock, scheduler_poll_seconds=0.05)

    async def handler(payload):
        done.set()

    s.handle("remind", handler)
    runner = Workers([s])
    runner.start()
    try:
        await s.schedule("j", clock.now + 5, "remind", {})
        clock.now += 6
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        await runner.stop(grace=2)
    assert await s.due_at("j") is None


async def _append(ran: list, payload: dict) -> None:
    ran.append(payload["n"])
