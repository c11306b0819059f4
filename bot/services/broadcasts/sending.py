"""Sending: the worker that holds a broadcast's lease and walks its checkpointed chunks, as mass
sends or template messages, within WeChat's rate limits (a sliding window shared by every
process)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from datetime import datetime
from typing import Any

from bot import metrics
from bot.services.broadcasts.drafts import Status
from bot.services.broadcasts.workflow import Broadcasts
from bot.stores import Lease
from bot.templating import BEIJING, day
from bot.stores.scripts.broadcasts import FINISH_CHUNK, FORGET_PENDING, RATE, RECORD
from bot.workers.runner import nap
from integrations.wechat import (
    DailyQuotaExceeded, InvalidOpenID, MassQuotaExhausted, NotFollowing, SubscriptionRefused, WeChatAPIError, WeChatError,
    WeChatTimeout,
)

log = logging.getLogger(__name__)

class RateLimit:
    """At most `limit` calls in any `window` seconds across all processes (a Redis sliding log):
    no span of `window` seconds ever holds more, and a steady sender makes `limit` calls per
    `window` (the first `limit` at once, then each as the call `limit` before it leaves the log)."""

    def __init__(self, redis: Any, key: str, limit: int, window: float):
        self.key, self.limit, self.window_ms = key, limit, round(window * 1000)
        self._script = redis.register_script(RATE)

    async def wait(self) -> None:
        """Return once this call may be made (it is counted from now on)."""
        while True:
            wait_ms = await self._script(keys=[self.key], args=[self.limit, self.window_ms, secrets.token_hex(8)])
            if not wait_ms:
                return
            await asyncio.sleep(int(wait_ms) / 1000)


class BroadcastSender:
    """The worker: takes the lease of a broadcast that is sending and walks its chunks.

    Any number of processes may run it; one holds a broadcast at a time, and whoever comes next
    (after a pause, a crash, a restart) goes on from the last checkpoint."""

    name = "broadcasts"

    def __init__(self, broadcasts: Broadcasts, settings: Any):
        self.b, self.settings = broadcasts, settings
        self.redis, self.keys = broadcasts.redis, broadcasts.keys
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stopping = False
        self._stopped = asyncio.Event()  # wakes the waits between broadcasts: an idle sender stops at once
        self._record = self.redis.register_script(RECORD)
        self._finish_chunk = self.redis.register_script(FINISH_CHUNK)
        self._forget_pending = self.redis.register_script(FORGET_PENDING)
        # The same sliding window as WeChat's, a few calls under its limit (57 of about 60 by
        # default): WeChat counts a call when it lands, a moment after we counted it, and as a
        # sender makes one call at a time (the next is counted only after the last was answered),
        # each call of margin is at least one call's round trip of slack, whatever the delays.
        # Should WeChat still say 45011, the sender waits broadcast_rate_backoff_seconds.
        self.mass_rate = RateLimit(self.redis, self.keys.rate("wechat-mass"), settings.broadcast_mass_per_minute,
                                   settings.broadcast_mass_window_seconds)
        self.template_rate = RateLimit(self.redis, self.keys.rate("wechat-template"), settings.broadcast_template_per_second, 1)

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()

    async def run(self) -> None:
        while not self._stopping:
            worked = False
            for raw in await self.redis.zrange(self.keys.broadcasts_active(), 0, -1):
                if self._stopping:
                    break
                worked |= await self.send(_s(raw))
            if not worked:
                await nap(self._stopped, self.settings.broadcast_poll_seconds)

    async def send(self, bid: str) -> bool:
        """Send what is left of `bid` if nobody else is; True if this worker held it."""
        lease = Lease(self.redis, self.keys.broadcast_lease(bid), self.settings.broadcast_lease_seconds)
        owner = f"{self.me}:{secrets.token_hex(4)}"
        if not await lease.claim(owner):
            return False
        run = _Run(bid, owner)
        keeper = asyncio.create_task(self._keep(run, lease))
        try:
            await self._walk(run)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await lease.release(owner)
        return True

    async def _keep(self, run: _Run, lease: Lease) -> None:
        """Renew the lease and watch the status, so a pause or cancel stops us within a beat."""
        ttl_ms = lease.ms
        beat = min(ttl_ms / 3000, 0.2)
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(beat)
            if time.monotonic() - renewed >= ttl_ms / 3000:
                if not await lease.renew(run.owner):
                    run.halt = "lost lease"
                    return
                renewed = time.monotonic()
            if _s(await self.redis.hget(self.keys.broadcast(run.bid), "status")) != Status.sending.value:
                run.halt = run.halt or "status changed"

    async def _walk(self, run: _Run) -> None:
        b = await self.b.get(run.bid)
        if b["status"] != Status.sending.value:
            await self.redis.zrem(self.keys.broadcasts_active(), run.bid)
            return
        await self.b.audit.record(f"worker:{self.me}", "broadcast.sending", run.bid,
                                  detail={"from_chunk": b["chunks_done"] + 1, "chunks": b["chunks"]})
        raw = await self.redis.hmget(self.keys.broadcast(run.bid), "ref", "channel", "title", "body", "policy")
        run.ref, channel, run.policy = _s(raw[0]), _s(raw[1]), bool(raw[4])
        text = self.b.notice_text({"title": _s(raw[2]), "body": _s(raw[3])})
        run.title, run.body, run.text = _s(raw[2]), _s(raw[3]), text
        n = b["chunks_done"]
        while True:
            if self._stopping or run.halt:
                return
            n += 1
            if n > b["chunks"]:
                await self._finish(run)
                return
            entry = await self.redis.xrange(self.keys.broadcast_recipients(run.bid), min=f"{n}-1", max=f"{n}-1")
            openids = _s(entry[0][1][b"o"] if entry else "").split()
            job = None  # a mass send's msg_id: WeChat reports on it later
            if channel == "mass" and len(openids) >= 2:
                counts, job = await self._mass_chunk(run, n, openids)
            else:
                counts = await self._template_chunk(run, openids)
            if counts is None:  # halted, paused for quota, or WeChat unavailable: the chunk stays open
                if not run.halt and not self._stopping:
                    await nap(self._stopped, self.settings.broadcast_retry_seconds)
                return
            pairs = [x for k, v in counts.items() for x in (k, v)]
            bc = self.keys.broadcast(run.bid)
            moved = await self._finish_chunk(
                keys=[bc, self.keys.broadcast_lease(run.bid), self.keys.mass_job(job) if job else bc],
                args=[n, run.owner, run.bid, len(openids) if job else 0, self.b.keep_seconds, *pairs])
            if moved == -1:
                run.halt = "lost lease"
                return
            if moved == 0:  # the checkpoint is elsewhere than we thought: go on from where it is
                n = (await self.b.get(run.bid))["chunks_done"]
            else:
                for field, count in counts.items():
                    metrics.BROADCAST_MESSAGES.labels({"n:sent": "sent", "n:submitted": "submitted"}.get(field, "failed_permanent")).inc(count)
                self.b.count_reported(moved[1:])  # WeChat's report on the job came before its checkpoint
            await self.b.audit.record(f"worker:{self.me}", "broadcast.chunk", run.bid,
                                      outcome="ok" if moved else "already done", detail={"chunk": n, "recipients": len(openids), **counts})

    async def _mass_chunk(self, run: _Run, n: int, openids: list[str]) -> tuple[dict[str, int] | None, str | None]:
        """Hand one chunk to WeChat as a mass send: the counters to move and the job WeChat will
        report on; (None, None) leaves the chunk for a later pass."""
        clientmsgid = f"bc-{run.ref}-{n}"
        for attempt in range(self.settings.broadcast_attempts):
            if run.halt or self._stopping:
                return None, None
            await self.mass_rate.wait()
            try:
                result = await self.b.wechat.mass_send(openids, clientmsgid=clientmsgid, text=run.text)
            except MassQuotaExhausted:
                return {"n:failed:mass_quota": len(openids)}, None
            except WeChatError as exc:
                if not exc.retryable:
                    return {f"n:failed:error_{getattr(exc, 'errcode', 'unknown')}": len(openids)}, None
                log.warning("broadcast %s chunk %s: %s; trying again", run.bid, n, type(exc).__name__)
                await asyncio.sleep(self._backoff(exc, attempt))
                continue
            if result.duplicate:  # the first send's msg_id: its report is the one that counts
                log.info("broadcast %s chunk %s had already been sent (clientmsgid seen)", run.bid, n)
            return {"n:submitted": len(openids)}, str(result.msg_id)
        return None, None

    async def _template_chunk(self, run: _Run, openids: list[str]) -> dict[str, int] | None:
        out = self.keys.broadcast_outcomes(run.bid)
        known = await self.redis.hmget(out, openids) if openids else []
        pending, uncertain = [], []
        for openid, seen in zip(openids, known):
            seen = _s(seen) if seen is not None else None
            if seen is None:
                pending.append(openid)
            elif seen.startswith("pending:"):
                # A process died during this call. Within WeChat's client_msg_id window a repeat
                # is harmless; after it, we cannot know whether it arrived, and never send twice.
                fresh = time.time() - float(seen[len("pending:"):]) < self.settings.broadcast_dedup_seconds
                (pending if fresh else uncertain).append(openid)
        if uncertain:
            await self._record(keys=[out, self.keys.broadcast(run.bid)], args=[x for o in uncertain for x in (o, "failed:uncertain")])
        limit = asyncio.Semaphore(self.settings.broadcast_concurrency)
        unfinished = False

        async def one(openid: str) -> None:
            nonlocal unfinished
            async with limit:
                if run.halt or self._stopping or unfinished:
                    unfinished = True
                    return
                outcome = await self._template_one(run, openid, out)
                if outcome is None:
                    unfinished = True
                    return
                await self._record(keys=[out, self.keys.broadcast(run.bid)], args=[openid, outcome])
                metrics.BROADCAST_MESSAGES.labels("sent" if outcome == "sent" else "failed_permanent").inc()

        await asyncio.gather(*(one(o) for o in pending))
        return None if unfinished else {}

    async def _template_one(self, run: _Run, openid: str, out: str) -> str | None:
        """Send one template message; None leaves the recipient for a later pass.

        Just before the first call, the recipient is marked pending: if the process dies during
        the call, whoever goes on knows it may have arrived (see _template_chunk). A failure that
        surely sent nothing takes the mark away again."""
        if run.policy and not await self.b.may_receive(openid):
            return "failed:withdrawn"  # 退订政策 or 撤回授权 since the preview: asked now, not at preview
        data = {"first": run.title, "keyword1": run.title, "keyword2": day(datetime.now(BEIJING)), "remark": run.body}
        marked = ambiguous = False
        for attempt in range(self.settings.broadcast_attempts):
            if run.halt:
                break
            await self.template_rate.wait()
            if not marked:
                marked = bool(await self.redis.hsetnx(out, openid, f"pending:{time.time():.3f}"))
            try:
                await self.b.wechat.send_template(openid, self.settings.broadcast_template_id, data, client_msg_id=f"bc-{run.ref}")
                return "sent"
            except NotFollowing:
                return "failed:unfollowed"
            except InvalidOpenID:
                return "failed:invalid_user"
            except SubscriptionRefused:
                return "failed:refused"
            except DailyQuotaExceeded:
                await self._pause_for_quota(run)
                break
            except WeChatError as exc:
                if not exc.retryable:
                    return f"failed:error_{getattr(exc, 'errcode', 'unknown')}"
                ambiguous |= isinstance(exc, WeChatTimeout)
                await asyncio.sleep(self._backoff(exc, attempt))
        if marked and not ambiguous:
            await self._forget_pending(keys=[out], args=[openid])
        return None

    def _backoff(self, exc: Exception, attempt: int) -> float:
        if isinstance(exc, WeChatAPIError) and exc.errcode == 45011:
            return self.settings.broadcast_rate_backoff_seconds
        return min(self.settings.broadcast_retry_seconds * 2 ** attempt, 30.0)

    async def _pause_for_quota(self, run: _Run) -> None:
        # Only a run still sending may pause the broadcast. A refusal that comes back after this run
        # has stopped (paused already, or paused and resumed by staff since) is the old run's news:
        # pausing on it would stop the resumed broadcast, and whoever sends next finds out for itself.
        if run.halt:
            return
        run.halt = "quota"
        result = _s(await self.b._transition(keys=[self.keys.broadcast(run.bid), self.keys.broadcasts_active()],
                                             args=["sending", "paused", "rem", run.bid, "paused_reason", "daily_quota"]))
        if result.startswith("ok:"):
            await self.b.audit.record(f"worker:{self.me}", "broadcast.pause", run.bid, detail={"reason": "daily template quota reached"})

    async def _finish(self, run: _Run) -> None:
        """Done: the status and the report change together, so whoever sees `done` sees the report."""
        b = await self.b.get(run.bid)
        text, _ = self.b.report_text({**b, "status": Status.done.value})
        result = _s(await self.b._transition(keys=[self.keys.broadcast(run.bid), self.keys.broadcasts_active()],
                                             args=["sending", "done", "rem", run.bid, "finished_at", f"{time.time():.3f}", "report", text]))
        if result.startswith("ok:"):
            await self.b.audit.record(f"worker:{self.me}", "broadcast.done", run.bid,
                                      detail={"total": b["total"], "sent": b["sent"], "failed": b["failed"]})
            await self.b._report(run.bid, written=text)
            await self.b._retire(run.bid)


class _Run:
    __slots__ = ("bid", "owner", "halt", "ref", "title", "body", "text", "policy")

    def __init__(self, bid: str, owner: str):
        self.bid, self.owner, self.halt = bid, owner, ""
        self.ref = self.title = self.body = self.text = ""
        self.policy = False  # a policy (政策找人): each recipient's wish is checked again as it is sent


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
