"""The hall queue (取号/叫号) of the simulated platform.

Each hall has one queue a day. A person proves they are at the hall (the check-in code on the
hall's screens, or a location within CHECKIN_RADIUS_M) and gets a number: an appointment made for
today becomes a priority Y-number, a walk-in gets the letter of the first window that serves its
matter. Each window calls the next number it can serve, priority first, then in the order taken.
The queue is never empty when the first person arrives: other people are already waiting, as in a
real hall. Numbers are called by the simulator's controls (one window at a time) or, when a pace
is set, by the simulator itself."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from integrations.platform.models import Appointment, AppointmentStatus, ErrorCode, Hall, Ticket, TicketRequest, TicketStatus
from integrations.platform.simulator.common import Clock, Refusal, Service

CHECKIN_RADIUS_M = 500
SERVICE_MINUTES = 8  # a window's average time per person, for the estimated wait
LATE_GRACE = timedelta(minutes=30)  # an appointment keeps its priority until this long after its slot ends
EARTH_RADIUS_M = 6_371_000


@dataclass
class TicketRecord:
    ticket: Ticket  # ahead and estimated_minutes are filled in when answered
    matters: frozenset[str]
    seq: int
    appointment: Appointment | None = None
    background: bool = False  # another person in the hall: nobody the bot knows

    def key(self) -> tuple[int, int]:
        return (0 if self.ticket.priority else 1, self.seq)


@dataclass
class HallDay:
    """One hall's queue on one day."""

    hall: Hall
    day: date
    tickets: list[TicketRecord] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)  # number prefix -> last number given
    at_window: dict[str, str] = field(default_factory=dict)  # window id -> the ticket it called last
    turn: int = 0  # the window whose turn it is when the simulator paces the calls

    def letter(self, matters: frozenset[str]) -> str:
        index = next((i for i, w in enumerate(self.hall.windows) if matters & set(w.matters)), 0)
        return chr(ord("A") + index)

    def number(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]:03d}"

    @staticmethod
    def serves(window_matters: set[str], record: TicketRecord) -> bool:
        return bool(window_matters & record.matters)

    def waiting(self) -> list[TicketRecord]:
        return sorted((r for r in self.tickets if r.ticket.status == TicketStatus.waiting), key=TicketRecord.key)


@dataclass
class HallQueues:
    clock: Clock
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    days: dict[tuple[str, date], HallDay] = field(default_factory=dict)
    index: dict[str, tuple[str, date]] = field(default_factory=dict)  # ticket id -> its hall day
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # idempotency key -> (request digest, ticket id)
    pace: float = 0.0  # seconds between automatic calls; 0 = only the controls call

    # Being at the hall -------------------------------------------------------------------------

    def checkin_code(self, hall_id: str, day: date) -> str:
        """The 6-digit code a hall's screens show today (签到码)."""
        digest = hmac.new(self.secret, f"{hall_id}|{day}".encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(digest[:4], 'big') % 10**6:06d}"

    def _check_presence(self, hall: Hall, request: TicketRequest, day: date) -> None:
        if request.checkin_code is not None:
            if not hmac.compare_digest(request.checkin_code.encode(), self.checkin_code(hall.id, day).encode()):
                raise Refusal(ErrorCode.checkin_code_wrong, "签到码不对，请核对大厅屏幕上今天的签到码")
            return
        point = request.location
        if distance_m(point.lat, point.lng, hall.lat, hall.lng) > CHECKIN_RADIUS_M:
            raise Refusal(ErrorCode.not_at_hall, f"您离「{hall.name}」还有点远，到大厅后再取号吧")

    def _check_open(self, hall: Hall, now: datetime) -> None:
        for h in hall.hours:
            if h.weekday == now.isoweekday() and time.fromisoformat(h.open) <= now.time() < time.fromisoformat(h.close):
                return
        raise Refusal(ErrorCode.hall_closed, f"现在不是「{hall.name}」的办公时间（{hall.hours_text}）")

    # Taking a number ------------------------------------------------------------------------

    def take(self, hall: Hall, service: Service, request: TicketRequest, idempotency_key: str, appointment: Appointment | None = None) -> tuple[Ticket, bool]:
        """Returns (ticket, created). An appointment has one ticket: asking again returns it."""
        digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        if idempotency_key in self.keys:
            seen, ticket_id = self.keys[idempotency_key]
            if seen != digest:
                raise Refusal(ErrorCode.idempotency_conflict, "同一个幂等键用于了不同的取号请求", 409)
            return self.answer(ticket_id), False
        now = self.clock.now()
        if appointment is not None:
            if appointment.status != AppointmentStatus.booked:
                raise Refusal(ErrorCode.appointment_not_active, "这个预约已取消、已过号或已办理，不能再取号", 409)
            if appointment.hall_id != hall.id:
                raise Refusal(ErrorCode.wrong_hall, "您的预约不在这个大厅，请到预约的大厅取号")
            if appointment.date != now.date():
                raise Refusal(ErrorCode.not_appointment_day, f"您预约的是 {appointment.date.month}月{appointment.date.day}日，请当天到大厅取号")
        self._check_open(hall, now)
        self._check_presence(hall, request, now.date())
        queue = self._queue(hall, now.date())
        if appointment is not None:
            taken = next((r for r in queue.tickets if r.appointment is not None and r.appointment.id == appointment.id), None)
            if taken is not None:
                self.keys[idempotency_key] = (digest, taken.ticket.id)
                return self.answer(taken.ticket.id), False
        matters = frozenset(service.matters)
        if not all(any(code in w.matters for w in hall.windows) for code in matters):
            raise Refusal(ErrorCode.hall_not_serving, "这个大厅不办理这个事项")
        priority = appointment is not None and now <= datetime.combine(appointment.date, time.fromisoformat(appointment.end), now.tzinfo) + LATE_GRACE
        record = self._add(queue, service, matters, prefix="Y" if priority else queue.letter(matters), priority=priority, appointment=appointment, at=now)
        self.keys[idempotency_key] = (digest, record.ticket.id)
        return self.answer(record.ticket.id), True

    def _add(self, queue: HallDay, service: Service, matters: frozenset[str], *, prefix: str, priority: bool, at: datetime,
             appointment: Appointment | None = None, background: bool = False) -> TicketRecord:
        ticket = Ticket(
            id="T" + secrets.token_hex(8).upper(), number=queue.number(prefix), day=queue.day, hall_id=queue.hall.id, hall_name=queue.hall.name,
            matter_code=service.matter_code, matter_name=service.name, bundle_code=service.bundle_code,
            appointment_id=appointment.id if appointment else None, priority=priority, status=TicketStatus.waiting, ahead=0, taken_at=at,
        )
        record = TicketRecord(ticket, matters, len(queue.tickets), appointment, background)
        queue.tickets.append(record)
        self.index[ticket.id] = (queue.hall.id, queue.day)
        return record

    def _queue(self, hall: Hall, day: date) -> HallDay:
        queue = self.days.get((hall.id, day))
        if queue is None:
            queue = self.days[(hall.id, day)] = HallDay(hall, day)
            self._seed(queue)
        return queue

    def _seed(self, queue: HallDay) -> None:
        """Numbers already served and people already waiting when the first person arrives."""
        digest = hashlib.sha256(f"{queue.hall.id}|{queue.day}".encode()).digest()
        for i, window in enumerate(queue.hall.windows):
            queue.counters[chr(ord("A") + i)] = 10 + digest[i] % 30
            matter = window.matters[digest[i + 8] % len(window.matters)]
            others = Service(key=matter, name="", matter_code=matter, department="", matters=(matter,))
            for _ in range(1 + digest[i + 16] % 4):
                self._add(queue, others, frozenset(others.matters), prefix=chr(ord("A") + i), priority=False,
                          at=self.clock.now(), background=True)

    # Reading a ticket -----------------------------------------------------------------------

    def record(self, ticket_id: str) -> tuple[HallDay, TicketRecord]:
        where = self.index.get(ticket_id)
        if where is None:
            raise Refusal(ErrorCode.not_found, "没有这个排队号", 404)
        queue = self.days[where]
        return queue, next(r for r in queue.tickets if r.ticket.id == ticket_id)

    def answer(self, ticket_id: str) -> Ticket:
        queue, record = self.record(ticket_id)
        ticket = record.ticket
        if queue.day < self.clock.today() and ticket.status in (TicketStatus.waiting, TicketStatus.called):
            ticket.status = TicketStatus.missed
        if ticket.status != TicketStatus.waiting:
            return ticket.model_copy(update={"ahead": 0, "estimated_minutes": None})
        windows = [set(w.matters) for w in queue.hall.windows if queue.serves(set(w.matters), record)]
        ahead = sum(
            1 for other in queue.waiting()
            if other.key() < record.key() and any(queue.serves(w, other) for w in windows)
        )
        return ticket.model_copy(update={"ahead": ahead, "estimated_minutes": math.ceil(ahead / max(1, len(windows))) * SERVICE_MINUTES})

    # Calling numbers -------------------------------------------------------------------------

    def call_next(self, hall: Hall, window_id: str | None = None) -> tuple[TicketRecord | None, TicketRecord | None]:
        """A window finishes the person it called and calls the next one it serves.
        Returns (called, served); without a window id, the window with the most urgent caller calls."""
        queue = self._queue(hall, self.clock.today())
        windows = {w.id: set(w.matters) for w in hall.windows}
        if window_id is not None and window_id not in windows:
            raise Refusal(ErrorCode.not_found, "这个大厅没有这个窗口", 404)
        waiting = queue.waiting()
        if window_id is None:
            firsts = [(next((r for r in waiting if queue.serves(m, r)), None), wid) for wid, m in windows.items()]
            best = min(((r.key(), wid) for r, wid in firsts if r is not None), default=None)
            if best is None:
                return None, None
            window_id = best[1]
        served = self._finish(queue, window_id)
        called = next((r for r in waiting if queue.serves(windows[window_id], r)), None)
        if called is not None:
            window = next(w for w in hall.windows if w.id == window_id)
            called.ticket.status = TicketStatus.called
            called.ticket.window_id, called.ticket.window_name, called.ticket.called_at = window.id, window.name, self.clock.now()
            queue.at_window[window_id] = called.ticket.id
        return called, served

    def _finish(self, queue: HallDay, window_id: str) -> TicketRecord | None:
        previous = queue.at_window.pop(window_id, None)
        record = next((r for r in queue.tickets if r.ticket.id == previous), None)
        if record is None or record.ticket.status != TicketStatus.called:
            return None
        record.ticket.status = TicketStatus.served
        if record.appointment is not None:
            record.appointment.status = AppointmentStatus.completed
        return record

    def mark_missed(self, ticket_id: str) -> Ticket:
        queue, record = self.record(ticket_id)
        if record.ticket.status in (TicketStatus.waiting, TicketStatus.called):
            record.ticket.status = TicketStatus.missed
            if queue.at_window.get(record.ticket.window_id or "") == ticket_id:
                del queue.at_window[record.ticket.window_id]
        return self.answer(ticket_id)

    def tick(self) -> list[TicketRecord]:
        """One paced step: in every hall with people waiting today, the next window in turn calls."""
        called = []
        for (_, day), queue in list(self.days.items()):
            if day != self.clock.today() or not queue.waiting():
                continue
            for _ in range(len(queue.hall.windows)):
                window = queue.hall.windows[queue.turn % len(queue.hall.windows)]
                queue.turn += 1
                if any(queue.serves(set(window.matters), r) for r in queue.waiting()):
                    record, _ = self.call_next(queue.hall, window.id)
                    called.append(record)
                    break
        return called


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine): plenty for "is this person at the hall"."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
