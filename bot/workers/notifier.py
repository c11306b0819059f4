"""Case notifications: the platform's events, from the Redis stream to the people who follow them.

Every bot process runs a Notifier (bot.workers.runner); together they form one consumer group on the
events stream (`Keys.events`), so each event is read by one of them. For an event the notifier
finds who should hear about it (the case's subscribers and the enterprise's binders, or the
person who booked a missed appointment), renders the notice from templates/notify/, and hands
it to bot.services.delivery, which sends it once per (event, person) and records the outcome. The event
is acknowledged only when every recipient's delivery is final.

Order: the steps of a case reach each person in the order the platform announced them. The
receiver (bot.web.events) files every entry under its case (`Keys.event_order`); a notifier
sends an event only when it heads that list, that is when every earlier event of the case has
reached everyone (each delivery final: sent, refused or given up). An event that must wait stays
pending in the group and the worker goes on with other cases; whoever finishes the event before
it takes it over at once (XCLAIM) and sends it next.

Crashes: an event a worker read but did not acknowledge stays pending in the group. A worker
busy with a fan-out renews its claim every third of `notify_claim_idle_ms` (a few seconds);
once a claim has not been renewed for that long, its worker is gone and another worker takes the
event over (XAUTOCLAIM) and runs the fan-out again, where the delivery records skip everyone
already served, so the later events of the case wait seconds, not minutes. Should a live but
stalled worker lose its event this way, both finish it: a notice is sent once whoever sends
it, and an event counts as done only when all its deliveries are final, so order holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.keys import order_subject
from bot.logs import request_id, user_ref
from bot.services.delivery import Delivery, Outcome, TemporaryFailure
from bot.stores.client import repeatable
from bot.stores.scripts.notifier import FINISH, MAY_SEND
from bot.workers.runner import nap
from dialogs.understand.answers import AFTER_A_DEATH
from integrations.platform.models import CaseEvent, CaseEventType

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")

#: The notice each kind of event gets.
TEMPLATES = {
    CaseEventType.accepted: "notify/accepted.j2",
    CaseEventType.refused: "notify/refused.j2",
    CaseEventType.materials_requested: "notify/materials_requested.j2",
    CaseEventType.handed_over: "notify/handed_over.j2",
    CaseEventType.special_procedure: "notify/special_procedure.j2",
    CaseEventType.approved: "notify/approved.j2",
    CaseEventType.not_approved: "notify/not_approved.j2",
    CaseEventType.ready_for_collection: "notify/ready_for_collection.j2",
    CaseEventType.posted: "notify/posted.j2",
    CaseEventType.deadline_warning: "notify/deadline_warning.j2",
    CaseEventType.appointment_no_show: "notify/no_show.j2",
    CaseEventType.benefit_granted: "notify/benefit_granted.j2",
    CaseEventType.queue_called: "notify/queue_called.j2",
}
#: The delivery kind (WeChat template, metrics) of events that are not about a case's progress.
KINDS = {CaseEventType.appointment_no_show: "no_show", CaseEventType.benefit_granted: "benefit"}

#: Events that finish a case: the notice is followed by an invitation to rate the service (好差评).
DONE = frozenset({CaseEventType.approved, CaseEventType.not_approved, CaseEventType.refused})
#: Events after which the case's result is out: a deadline warning coming later is stale.
RESULT_OUT = DONE | {CaseEventType.ready_for_collection, CaseEventType.posted}
FINISHED_DAYS = 180  # how long a finished case is remembered as such

#: Consumers that left nothing pending and were idle this long are removed from the group.
FORGET_CONSUMERS_MS = 24 * 3600 * 1000
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)

class Notifier:
    name = "notifier"

    def __init__(self, redis: Any, keys: Any, settings: Any, delivery: Delivery, subscriptions: Any, ratings: Any = None, bookings: Any = None,
                 consents: Any = None):
        self.redis, self.keys, self.settings = redis, keys, settings
        self.consents = consents  # bot.services.consent.Consents: who verified an ID number and consents (免申即享)
        self.delivery, self.subscriptions, self.ratings, self.bookings = delivery, subscriptions, ratings, bookings
        self.stream, self.group = keys.events(), settings.notify_group
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._stopping, self._joined = False, False
        self._stopped = asyncio.Event()  # wakes the waits between events: an idle notifier stops at once
        self._reading: asyncio.Future | None = None
        self._cursor = "0-0"
        self._may_send = repeatable(redis.register_script(MAY_SEND))
        self._finish = repeatable(redis.register_script(FINISH))

    def stop(self) -> None:
        """Finish the event in hand, then return from run()."""
        self._stopping = True
        self._stopped.set()
        if self._reading is not None:
            self._reading.cancel()

    async def run(self) -> None:
        if self._stopping:
            return
        # The stream is created only on the first start: a restart after a crash must not bring
        # back a stream that was deleted on purpose.
        outage = 0.0
        while not self._stopping:
            try:
                self._joined = self._joined or await self._join_group(create_stream=True)
                try:
                    entries = await self._take_over() or await self._read()
                except ResponseError as error:
                    if not str(error).startswith(("NOGROUP", "UNBLOCKED")):
                        raise
                    # The stream was deleted (by an operator, or a test cleaning up): join it again
                    # once events arrive, without creating it ourselves.
                    if not await self._join_group(create_stream=False):
                        await nap(self._stopped, self.settings.notify_block_ms / 1000)
                    continue
                await self._send(entries)
                outage = 0.0
            except (ConnectionError, TimeoutError, OSError) + _REDIS_DOWN as error:
                # Redis restarting or unreachable: what was read and not acknowledged stays
                # pending and is taken over when it is back. Warn once per outage, not per retry.
                if not outage:
                    log.warning("notifier: Redis unavailable (%s); waiting for it", type(error).__name__)
                outage = min(max(outage * 2, 0.2), 5.0)
                await nap(self._stopped, outage)

    async def _join_group(self, create_stream: bool) -> bool:
        """Create the group (reading from the stream's start) unless it exists; False if there is no stream."""
        if not create_stream and not await self.redis.exists(self.stream):
            return False
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=create_stream)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        for consumer in await self.redis.xinfo_consumers(self.stream, self.group):
            name = consumer["name"]
            if consumer["pending"] == 0 and consumer["idle"] > FORGET_CONSUMERS_MS:
                await self.redis.xgroup_delconsumer(self.stream, self.group, name)
        return True

    async def _take_over(self) -> list[tuple[bytes, dict]]:
        """Events another worker read and never acknowledged (it died), idle long enough."""
        answer = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, self.settings.notify_claim_idle_ms, start_id=self._cursor, count=self.settings.notify_batch,
        )
        cursor, entries = answer[0], answer[1]
        self._cursor = cursor.decode() if isinstance(cursor, bytes) else cursor
        taken = [(entry_id, fields) for entry_id, fields in entries if entry_id is not None]
        if taken:
            log.info("took over %d unfinished event(s)", len(taken))
        return taken

    async def _read(self) -> list[tuple[bytes, dict]]:
        """New events; stop() cuts the wait short (entries read but not seen stay pending, and are taken over)."""
        if self._stopping:  # stop() came during the take-over: no new wait to cut short
            return []
        self._reading = asyncio.ensure_future(self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.settings.notify_batch, block=self.settings.notify_block_ms,
        ))
        try:
            answer = await self._reading
        except asyncio.CancelledError:
            if self._stopping and not asyncio.current_task().cancelling():
                return []
            raise
        finally:
            self._reading = None
        return [entry for _, entries in answer or [] for entry in entries]

    async def _send(self, entries: list[tuple[bytes, dict]]) -> None:
        """Each entry, and after it the later entries of its case that were waiting for it."""
        seen: set[bytes] = set()
        for entry_id, fields in entries:
            while entry_id is not None and entry_id not in seen:
                if self._stopping:
                    return  # unacknowledged: taken over once idle, by us or another worker
                seen.add(entry_id)
                following = await self.handle(entry_id, fields)
                entry_id, fields = await self._take(following) if following else (None, None)

    async def _take(self, entry_id: bytes) -> tuple[bytes | None, dict | None]:
        """The entry, claimed for this worker now; (None, None) if nobody has read it yet (it
        will be read in its turn) or it is gone."""
        for taken, fields in await self.redis.xclaim(self.stream, self.group, self.consumer, 0, [entry_id]):
            if taken is not None and fields:
                return taken, fields
        return None, None

    async def handle(self, entry_id: bytes, fields: dict) -> bytes | None:
        """Notify everyone about one event, then acknowledge it; unless an earlier event of its
        case is unfinished: then it stays pending, for whoever finishes that one. Returns the
        next entry of the case once this one is done (its sender goes on with it)."""
        rid = fields.get(b"rid") or b""
        request_id.set(rid.decode(errors="replace") if rid else "evt-" + (entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)))  # logs tie back to the request that brought it
        try:
            event = CaseEvent.model_validate_json(fields[b"event"])
        except (KeyError, TypeError, ValidationError):
            log.error("event entry %s is not a case event; dropped", entry_id)
            await self.redis.xack(self.stream, self.group, entry_id)
            return None
        order = self.keys.event_order(order_subject(event))
        place = await self._may_send(keys=[order, self.stream], args=[entry_id])
        if not place:
            log.debug("event %s (%s) waits for an earlier event of its case", event.id, event.type.value)
            return None
        renew = asyncio.get_running_loop().create_task(self._keep_claim(entry_id))
        try:
            await self.fan_out(event)
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        following = await self._finish(keys=[self.stream, order], args=[self.group, entry_id])
        return following if place == 2 and following else None

    async def _keep_claim(self, entry_id: bytes) -> None:
        """Reset the entry's idle time now and then, so no other worker takes over a live fan-out."""
        every = self.settings.notify_claim_idle_ms / 3000
        while True:
            await asyncio.sleep(every)
            try:
                await self.redis.xclaim(self.stream, self.group, self.consumer, 0, [entry_id], justid=True)
            except RedisError as error:
                log.warning("could not renew the claim on event entry %s: %s", entry_id, type(error).__name__)

    async def recipients(self, event: CaseEvent) -> dict[str, str]:
        """openid -> why they hear about it ("case", "enterprise", "bundle", "appointment", "ticket")."""
        if event.type == CaseEventType.appointment_no_show:
            owner = await self.bookings.owner_of(event.appointment_id) if self.bookings and event.appointment_id else None
            return {owner: "appointment"} if owner else {}
        if event.type == CaseEventType.benefit_granted:
            # 免申即享 for an enterprise reaches its binders; one for a resident reaches whoever
            # verified that ID number with the bot and still consents (bot.services.consent).
            code = event.benefit.credit_code if event.benefit is not None else event.credit_code
            if not code:
                id_number = event.benefit.id_number if event.benefit is not None else None
                people = await self.consents.people_with_id(id_number) if id_number and self.consents is not None else []
                if not people:
                    log.info("event %s: a benefit granted to a resident nobody here verified with consent", event.id)
                return dict.fromkeys(people, "resident")
            return await self.subscriptions.recipients("", code)
        if event.type == CaseEventType.queue_called:
            # Whoever took the ticket in chat (bot.services.queue), else whoever booked its appointment.
            owner = await self.redis.get(self.keys.ticket_owner(event.ticket.id)) if event.ticket else None
            if owner:
                return {owner.decode() if isinstance(owner, bytes) else owner: "ticket"}
            owner = await self.bookings.owner_of(event.appointment_id) if self.bookings and event.appointment_id else None
            return {owner: "appointment"} if owner else {}
        found = await self.subscriptions.recipients(event.case_no, event.credit_code)
        if event.bundle_no:
            # Subscribers of the whole 一件事 application hear each step of each of its cases,
            # once: someone who also follows the case itself is one recipient.
            for user in await self.subscriptions.recipients(event.bundle_no, None):
                found.setdefault(user, "bundle")
        return found

    async def _invite(self, user: str, event: CaseEvent) -> None:
        """好差评: a finished case's notice is followed by an invitation to rate (bot.services.ratings)."""
        if self.ratings is None:
            return
        try:
            await self.ratings.invite(user, event.case_no, event.matter_name, event.credit_code)
        except Exception:
            log.exception("rating invitation for case %s to %s failed", event.case_no, user_ref(user))

    async def fan_out(self, event: CaseEvent) -> dict[str, Outcome]:
        template = TEMPLATES.get(event.type)
        if template is None:
            log.error("event %s: no notice for events of type %s; nobody told", event.id, event.type.value)
            return {}
        if event.type in RESULT_OUT and event.case_no:
            await self.redis.set(self.keys.case_finished(event.case_no), event.type.value, ex=FINISHED_DAYS * 86400)
        elif event.type == CaseEventType.deadline_warning and event.case_no and await self.redis.exists(self.keys.case_finished(event.case_no)):
            # Events of a case are sent in order, so the result went out before this warning:
            # it would ask people to hurry over a case that is done.
            log.info("event %s: deadline warning for a finished case; nobody told", event.id)
            return {}
        recipients = await self.recipients(event)
        extra: dict[str, dict[str, Any]] = {}
        if event.type == CaseEventType.appointment_no_show and self.bookings is not None and event.appointment_id:
            for user in recipients:  # counted once per appointment, so a second try counts the same
                extra[user] = await self.bookings.note_no_show(user, event.appointment_id, event.at.timestamp())
        keys = {user: f"{event.id}:{user}" for user in recipients}
        finished = await self.delivery.finished(list(keys.items()))
        todo = [user for user in recipients if (user, keys[user]) not in finished]
        if event.type in DONE:
            # Invitations are idempotent: one that a crash cut off after the notice went out is made now.
            for (user, _), state in finished.items():
                if state == "sent" and recipients.get(user) != "bundle":
                    await self._invite(user, event)
        if not todo:
            return {}
        log.info("event %s (%s): %d recipient(s), %d already served", event.id, event.type.value, len(recipients), len(recipients) - len(todo))
        slots = asyncio.Semaphore(self.settings.notify_concurrency)
        sombre = AFTER_A_DEATH.search(event.matter_name or "") is not None  # plain, never 好消息

        async def one(user: str) -> Outcome:
            context = {"event": event, "via": recipients[user], "at": event.at, "sombre": sombre, **extra.get(user, {})}
            while True:
                try:
                    async with slots:
                        outcome = await self.delivery.send(
                            user, keys[user], template, context, case_no=event.case_no or None,
                            kind=KINDS.get(event.type, "notice"),
                        )
                    break
                except TemporaryFailure as failure:
                    await asyncio.sleep(failure.retry_after)
            # A rating is given per case by whoever verified it; a bundle's follower is not invited.
            if event.type in DONE and outcome != Outcome.unreachable and recipients[user] != "bundle":
                await self._invite(user, event)
            return outcome

        async with asyncio.TaskGroup() as group:
            tasks = {user: group.create_task(one(user)) for user in todo}
        return {user: task.result() for user, task in tasks.items()}
