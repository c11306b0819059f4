"""The hall queue (取号) as the bot keeps it: who took which ticket in chat, so that 排到哪了 finds
the person's ticket and the platform's `queue_called` event reaches them ("请到 X 窗口").

The platform owns the queue (integrations/platform: POST /queue/tickets, GET /queue/tickets/{id});
a ticket id is unguessable and whoever holds it may read the ticket, so it is kept here per person,
never shown. Both keys live a day and a half: a queue lasts one day."""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import Appointment, AppointmentStatus, Ticket, TicketRequest

KEEP_SECONDS = 36 * 3600
#: An appointment still counts for 取号 this long after its slot started (late arrivals; the
#: platform decides whether it keeps its priority).
LATE_SECONDS = 6 * 3600


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class HallQueue:
    def __init__(self, redis: Any, keys: Any, platform: Any, bookings: Any = None):
        self.redis, self.keys, self.platform, self.bookings = redis, keys, platform, bookings

    async def take(self, user: str, request: TicketRequest, idempotency_key: str) -> Ticket:
        """取号 at the platform; the ticket is remembered as this person's."""
        ticket = await self.platform.take_ticket(request, idempotency_key)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.ticket_owner(ticket.id), user, ex=KEEP_SECONDS)
            pipe.set(self.keys.user_ticket(user), ticket.id, ex=KEEP_SECONDS)
            await pipe.execute()
        return ticket

    async def current(self, user: str) -> Ticket | None:
        """The person's latest ticket as the platform sees it now (None: none, or gone)."""
        ticket_id = await self.redis.get(self.keys.user_ticket(user))
        if not ticket_id:
            return None
        try:
            return await self.platform.ticket(_s(ticket_id))
        except PlatformError:
            return None

    async def owner_of(self, ticket_id: str) -> str | None:
        raw = await self.redis.get(self.keys.ticket_owner(ticket_id))
        return _s(raw) if raw else None

    async def appointments_for_today(self, user: str) -> list[Appointment]:
        """This person's booked appointments from a few hours ago on, soonest first: the one of
        today (the platform's today decides, when the ticket is taken) is among the first."""
        if self.bookings is None:
            return []
        since = self.bookings.now() - LATE_SECONDS
        ids = [_s(i) for i in await self.redis.zrangebyscore(self.keys.user_appointments(user), since, "+inf", start=0, num=10)]
        found = await asyncio.gather(*(self.platform.appointment(i) for i in ids), return_exceptions=True)
        for result in found:
            if isinstance(result, PlatformUnavailable):
                raise result
        booked = [a for a in found if isinstance(a, Appointment) and a.status == AppointmentStatus.booked]
        return sorted(booked, key=lambda a: datetime.combine(a.date, time.fromisoformat(a.start), ZoneInfo("Asia/Shanghai")))
