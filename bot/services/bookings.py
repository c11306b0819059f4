"""Booking support outside the dialog: appointments booked in chat and who booked them,
remembered applicants (only with consent, encrypted at rest, shown masked), and the reminders
the scheduler sends the day before and shortly before the slot.

Cancelling and moving check, at that moment, that the appointment is the person's (`owns`).

Redis layout (bot.keys): `appt:owner:<id>` -> openid (the no-show notifier asks `owner_of`);
`appt:user:{openid}` ZSET appointment id -> slot start; `appt:who:{openid}` the remembered
applicant, sealed with AES-GCM (key: `booking_data_key`) and bound to that openid.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.logs import user_ref
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import Appointment, AppointmentRequest, AppointmentStatus, Error, ErrorCode

log = logging.getLogger(__name__)

REMINDER = "booking_reminder"  # the scheduler job kind
KEEP_AFTER_SLOT = timedelta(days=30)  # owner and index entries outlive the slot for no-show notices


class Sealer:
    """Encrypts small personal records at rest, each bound to its owner (AES-GCM, the openid as
    associated data), so a record copied to another user's key does not open."""

    def __init__(self, key: str):
        self.aead = AESGCM(base64.urlsafe_b64decode(key.encode()))

    def seal(self, owner: str, data: dict[str, Any]) -> str:
        nonce = os.urandom(12)
        body = self.aead.encrypt(nonce, json.dumps(data, ensure_ascii=False).encode(), owner.encode())
        return base64.urlsafe_b64encode(nonce + body).decode()

    def open(self, owner: str, token: str | bytes | None) -> dict[str, Any] | None:
        """The record, or None when there is none or it does not open (another key, another owner)."""
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token if isinstance(token, bytes) else token.encode())
            data = json.loads(self.aead.decrypt(raw[:12], raw[12:], owner.encode()))
        except (InvalidTag, ValueError, binascii.Error):
            return None
        return data if isinstance(data, dict) else None


class CancelledTooOften(PlatformError):
    """This account cancelled too many appointments for this applicant to book for them again
    now (Bookings.book): told like the platform's pause, in the account's own words."""

    def __init__(self, cancelled: int, window: int):
        super().__init__(Error(code=ErrorCode.no_show_blocked, message=""), 403)
        self.cancelled, self.window = cancelled, window


class Bookings:
    def __init__(self, redis: Any, keys: Any, platform: Any = None, scheduler: Any = None, settings: Any = None, delivery: Any = None):
        self.redis, self.keys, self.platform, self.scheduler, self.settings = redis, keys, platform, scheduler, settings
        self.delivery = delivery
        self.tz = ZoneInfo(getattr(settings, "booking_timezone", "Asia/Shanghai"))
        key = settings.booking_data_key.get_secret_value() if settings is not None else ""
        if not key:  # dev without var/dev-secrets.json (tests): remembered data lasts this process
            log.warning("booking_data_key is not set; remembered applicants will not survive a restart")
            key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.sealer = Sealer(key)
        self._digest_key = hashlib.sha256(b"applicant:" + key.encode()).digest()
        self.remember_seconds = int(getattr(settings, "booking_remember_days", 180) * 86400)
        self.list_limit = getattr(settings, "booking_list_limit", 10)

    def now(self) -> float:
        return self.scheduler.clock() if self.scheduler is not None else datetime.now().timestamp()

    def starts_at(self, appointment: Appointment) -> datetime:
        return datetime.combine(appointment.date, time.fromisoformat(appointment.start), self.tz)

    # Who booked what ------------------------------------------------------------------------

    async def owner_of(self, appointment_id: str) -> str | None:
        """The openid that booked this appointment in chat, if any (for no-show notices)."""
        raw = await self.redis.get(self.keys.appointment_owner(appointment_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    # Missed appointments (the platform pauses online booking after too many) ------------------

    def _no_show_rule(self) -> tuple[int, int, int]:
        s = self.settings
        return (getattr(s, "booking_no_show_limit", 2), getattr(s, "booking_no_show_window_days", 30),
                getattr(s, "booking_no_show_block_days", 30))

    async def note_no_show(self, user: str, appointment_id: str, at: float) -> dict[str, Any]:
        """Count a missed appointment (once per appointment, so a repeated notice counts the same):
        how many in the window (`count`), the rule (`limit`, `window`) and, once booking is
        paused, until which day (`until`, else None). What the no-show notice tells."""
        limit, window, block = self._no_show_rule()
        key = self.keys.user_no_shows(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {appointment_id: at}, nx=True)
            pipe.zremrangebyscore(key, "-inf", self.now() - window * 86400)
            pipe.expire(key, (window + block) * 86400)
            await pipe.execute()
        return {"count": await self.redis.zcount(key, at - window * 86400, at), "limit": limit, "window": window, "block": block,
                "until": await self.blocked_until(user)}

    async def blocked_until(self, user: str) -> date | None:
        """The day online booking opens again for this person, if it is paused now (the
        platform's rule, from the missed appointments we told them about)."""
        limit, window, block = self._no_show_rule()
        now = self.now()
        missed = [score for _, score in await self.redis.zrangebyscore(self.keys.user_no_shows(user), now - window * 86400, "+inf", withscores=True)]
        if len(missed) < limit:
            return None
        until = datetime.fromtimestamp(max(missed), self.tz).date() + timedelta(days=block)
        return until if until > datetime.fromtimestamp(now, self.tz).date() else None

    async def book(self, user: str, request: AppointmentRequest, idempotency_key: str, hall: Any) -> Appointment:
        """Book on the platform; the same key always gives the same appointment, so a repeated
        confirmation (double tap, WeChat retry, a crash before the reply) books once.

        Refused (CancelledTooOften) when this account has cancelled `booking_cancels_per_applicant`
        appointments for this ID number within the window: the platform pauses an ID number's
        booking after five, and the number is typed, not proven, so a stranger booking and
        cancelling under someone's number would otherwise get that person's booking paused."""
        applicant = self._applicant_digest(request.applicant.id_number)
        cancelled = await self._cancels(user, applicant)
        if cancelled >= self.cancels_per_applicant:
            log.warning("a booking by %s after %d cancellations for one applicant was refused", user_ref(user), cancelled)
            raise CancelledTooOften(cancelled, self._no_show_rule()[1])
        appointment = await self.platform.book(request, idempotency_key)
        await self.record(user, appointment, hall, applicant)
        return appointment

    @property
    def cancels_per_applicant(self) -> int:
        return getattr(self.settings, "booking_cancels_per_applicant", 4)

    def _window_seconds(self) -> int:
        return self._no_show_rule()[1] * 86400

    def _applicant_digest(self, id_number: str) -> str:
        return hmac.new(self._digest_key, id_number.upper().encode(), hashlib.sha256).hexdigest()[:32]

    async def _cancels(self, user: str, applicant: str) -> int:
        return await self.redis.zcount(self.keys.user_cancels(user, applicant), self.now() - self._window_seconds(), "+inf")

    async def _note_cancel(self, user: str, appointment_id: str) -> None:
        """Count a cancellation against the applicant it was booked for (`book`)."""
        raw = await self.redis.get(self.keys.appointment_applicant(appointment_id))
        if raw is None:
            return
        key = self.keys.user_cancels(user, raw.decode() if isinstance(raw, bytes) else raw)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {appointment_id: self.now()})
            pipe.zremrangebyscore(key, "-inf", self.now() - self._window_seconds())
            pipe.expire(key, self._window_seconds())
            await pipe.execute()

    async def record(self, user: str, appointment: Appointment, hall: Any, applicant: str | bytes | None = None) -> None:
        """Remember who booked it (and, given, the digest of whom it is for) and schedule its
        reminders (safe to repeat)."""
        starts = self.starts_at(appointment)
        keep = max(int((starts + KEEP_AFTER_SLOT).timestamp() - self.now()), 60)
        index = self.keys.user_appointments(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.appointment_owner(appointment.id), user, ex=keep)
            pipe.zadd(index, {appointment.id: starts.timestamp()})
            pipe.zremrangebyscore(index, "-inf", self.now() - KEEP_AFTER_SLOT.total_seconds())
            pipe.expire(index, keep + int(KEEP_AFTER_SLOT.total_seconds()))
            if applicant is not None:  # a later cancellation of it counts for that person (`book`)
                pipe.set(self.keys.appointment_applicant(appointment.id), applicant, ex=self._window_seconds() * 2)
            await pipe.execute()
        await self.schedule_reminders(user, appointment, hall)

    async def upcoming(self, user: str) -> list[Appointment]:
        """The appointments this person booked in chat that have not started, soonest first.

        Only those: the platform would also list what it holds under an ID number and phone, but
        both are typed, not proven, and whoever knows them would see (and could cancel) another
        person's appointments. An appointment booked on the website or at a hall stays there."""
        ids = [_s(i) for i in await self.redis.zrangebyscore(self.keys.user_appointments(user), self.now(), "+inf", start=0, num=self.list_limit * 2)]
        found: dict[str, Appointment] = {}
        gone: list[str] = []
        results = await asyncio.gather(*(self.platform.appointment(i) for i in ids), return_exceptions=True)
        for appointment_id, result in zip(ids, results):
            if isinstance(result, PlatformUnavailable):
                raise result
            if isinstance(result, PlatformError):
                gone.append(appointment_id)
            elif isinstance(result, Exception):
                raise result
            else:
                found[result.id] = result
        if gone:
            await self.redis.zrem(self.keys.user_appointments(user), *gone)
        now = self.now()
        items = [a for a in found.values() if a.status == AppointmentStatus.booked and self.starts_at(a).timestamp() > now]
        return sorted(items, key=lambda a: (a.date, a.start))[: self.list_limit]

    async def has_upcoming(self, user: str) -> bool:
        """Whether this person booked anything in chat that has not started (one Redis call: the
        conversation asks before it reads 改到周三 at rest as being about an appointment)."""
        return await self.redis.zcount(self.keys.user_appointments(user), self.now(), "+inf") > 0

    async def owns(self, user: str, appointment_id: str) -> bool:
        """Whether this person booked this appointment in chat (what `upcoming` shows them)."""
        return await self.redis.zscore(self.keys.user_appointments(user), appointment_id) is not None

    async def _check_owner(self, user: str, appointment_id: str) -> None:
        """Changes are checked at the moment they are made, whatever the session listed earlier."""
        if not await self.owns(user, appointment_id):
            log.warning("a change by %s to an appointment not theirs was refused", user_ref(user))
            raise PlatformError(Error(code=ErrorCode.not_found, message="没有找到这个预约"), 404)

    async def cancel(self, user: str, appointment_id: str) -> Appointment:
        await self._check_owner(user, appointment_id)
        appointment = await self.platform.cancel(appointment_id)
        await self._note_cancel(user, appointment_id)
        await self.drop_reminders(appointment_id)
        await self.redis.zrem(self.keys.user_appointments(user), appointment_id)
        return appointment

    async def move(self, user: str, appointment_id: str, day: date, start: str, idempotency_key: str, hall: Any) -> Appointment:
        """The platform books the new time before it cancels the old one; then the old
        reminders go and the new ones come."""
        await self._check_owner(user, appointment_id)
        moved = await self.platform.reschedule(appointment_id, day, start, idempotency_key)
        applicant = await self.redis.get(self.keys.appointment_applicant(appointment_id))  # the same person's, moved
        await self.drop_reminders(appointment_id)
        await self.redis.zrem(self.keys.user_appointments(user), appointment_id)
        await self.record(user, moved, hall, applicant)
        return moved

    # Remembered applicants ----------------------------------------------------------------------

    def seal(self, user: str, data: dict[str, Any]) -> str:
        """For personal data that must sit in the session meanwhile (the applicant being typed)."""
        return self.sealer.seal(user, data)

    def unseal(self, user: str, token: str | None) -> dict[str, Any] | None:
        return self.sealer.open(user, token)

    async def remember(self, user: str, applicant: dict[str, str]) -> None:
        await self.redis.set(self.keys.applicant(user), self.sealer.seal(user, applicant), ex=self.remember_seconds)

    async def remembered(self, user: str) -> dict[str, str] | None:
        """The applicant this person asked us to remember; using it keeps it another while."""
        raw = await self.redis.getex(self.keys.applicant(user), ex=self.remember_seconds)
        return self.sealer.open(user, raw)

    async def forget(self, user: str) -> None:
        await self.redis.delete(self.keys.applicant(user))

    # Reminders ----------------------------------------------------------------------------------

    def reminder_times(self, appointment: Appointment) -> dict[str, datetime]:
        """When to remind: the day before at the configured hour, and shortly before the slot."""
        starts = self.starts_at(appointment)
        times: dict[str, datetime] = {}
        hour = self.settings.booking_remind_day_before_hour
        if 0 <= hour <= 23:
            times["day"] = datetime.combine(appointment.date - timedelta(days=1), time(hour), self.tz)
        minutes = self.settings.booking_remind_minutes_before
        if minutes > 0:
            times["soon"] = starts - timedelta(minutes=minutes)
        return times

    async def schedule_reminders(self, user: str, appointment: Appointment, hall: Any) -> None:
        """Reminders still ahead are scheduled; one whose time has passed (booked late) is not:
        the booking's own reply told them everything just now."""
        now = self.now()
        context = {
            "user": user, "appointment": appointment.id, "number": appointment.number, "matter_name": appointment.matter_name,
            "day": appointment.date.isoformat(), "start": appointment.start, "end": appointment.end,
            "hall_name": getattr(hall, "name", ""), "hall_address": getattr(hall, "address", ""), "hall_phone": getattr(hall, "phone", ""),
            "minutes": self.settings.booking_remind_minutes_before,
        }
        for which, due in self.reminder_times(appointment).items():
            if due.timestamp() > now:
                await self.scheduler.schedule(reminder_id(appointment.id, which), due.timestamp(), REMINDER, {**context, "which": which})

    async def drop_reminders(self, appointment_id: str) -> None:
        for which in ("day", "soon"):
            await self.scheduler.cancel(reminder_id(appointment_id, which))

    async def remind(self, job: dict[str, Any]) -> None:
        """The scheduler's handler: one reminder, unless the appointment is no longer on."""
        try:
            current = await self.platform.appointment(job["appointment"])
        except PlatformError:
            log.info("reminder for %s dropped: the platform does not know it", job["appointment"])
            return
        except PlatformUnavailable:
            current = None  # remind from what we kept: a reminder beats none
        if current is not None and current.status != AppointmentStatus.booked:
            return
        outcome = await self.delivery.send(job["user"], reminder_id(job["appointment"], job["which"]), "booking/reminder.j2", job, kind="reminder")
        log.info("reminder %s for %s: %s", job["which"], user_ref(job["user"]), getattr(outcome, "value", outcome))


def reminder_id(appointment_id: str, which: str) -> str:
    return f"remind:{appointment_id}:{which}"


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
