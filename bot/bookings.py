"""Booking support outside the dialog: remembered applicants (only with consent, encrypted at
rest, shown masked), appointment ownership, and reminders through the scheduler.
STUB; [Booking] fills it in."""

from __future__ import annotations

from typing import Any


class Bookings:
    def __init__(self, redis: Any, keys: Any, platform: Any = None, scheduler: Any = None, settings: Any = None):
        self.redis, self.keys, self.platform, self.scheduler, self.settings = redis, keys, platform, scheduler, settings

    async def owner_of(self, appointment_id: str) -> str | None:
        """The openid that booked this appointment in chat, if any (for no-show notices)."""
        raw = await self.redis.get(self.keys.appointment_owner(appointment_id))
        return raw.decode() if isinstance(raw, bytes) else raw
