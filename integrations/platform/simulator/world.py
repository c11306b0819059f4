"""The simulated platform's state and rules: the catalog, guides, bundles and halls, a slot
calendar that moves with today's date, appointments under real booking rules, cases over their
lifecycle (补正 uploads included), and the parts kept in their own modules: the hall queue
(queue.py), e-licences (licences.py), enterprises (enterprises.py) and residents and the benefits
granted to them (people.py).

Pure Python over the wire models; the aiohttp app in this package is a thin layer over it. The
world's clock (common.Clock) is its "now" everywhere, so the controls can move it."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from integrations.platform.identifiers import mask_id_number, mask_name, mask_phone, valid_credit_code, valid_id_number
from integrations.platform.media import MAX_BYTES, sniff
from integrations.platform.models import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    BenefitGrant,
    Bundle,
    BundleApplication,
    BundleCard,
    BundlePart,
    Case,
    CaseEvent,
    CaseEventType,
    CaseFilter,
    CaseResult,
    CaseState,
    CaseStep,
    Complaint,
    ComplaintRequest,
    Enterprise,
    EnterpriseVerification,
    ErrorCode,
    Guide,
    Hall,
    MaterialUpload,
    MatterSummary,
    MatterType,
    Rating,
    RatingLevel,
    RatingRequest,
    RequestedMaterial,
    Slot,
    Ticket,
    TicketRequest,
)
from integrations.platform.simulator.common import (
    DATA,
    REGION,
    TZ,
    Clock,
    Refusal,
    Service,
    read_data,
    working_days_after,
    working_days_between,
)
from integrations.platform.simulator.enterprises import EnterpriseRecord, credit_code_for, enterprise_name, industry_of, new_enterprise
from integrations.platform.simulator.licences import Licences
from integrations.platform.simulator.people import BenefitType, Residents, grant, load_benefits, person_for
from integrations.platform.simulator.queue import HallQueues, TicketRecord

__all__ = ["TZ", "Refusal", "World", "person_for", "credit_code_for", "enterprise_name", "industry_of", "working_days_after", "working_days_between"]

# Booking rules (DOMAIN.md: common local rules).
MAX_DAYS_AHEAD = 5  # working days
SLOT_MINUTES = 30
CANCEL_CUTOFF = timedelta(hours=2)
NO_SHOW_LIMIT, CANCEL_LIMIT, BLOCK_DAYS = 2, 5, 30
LUNCH = (time(12, 0), time(13, 30))

#: A case kept in 补正 with a fixed number and phone, for trying uploads (README, the contract's examples).
DEMO_CASE = {"case_no": "51160220261102470001", "matter_code": "511A0074300005-511602000000-000-115113016823646795-1-00", "name": "王芳",
             "phone": "13800138000", "id_number": "511602198803150022", "materials": ["经营者居民身份证（正反面）", "经营场所使用证明（租赁合同）"]}


@dataclass
class AppointmentRecord:
    appointment: Appointment
    id_number: str
    phone: str
    request_digest: str


@dataclass
class CaseRecord:
    case: Case
    phone: str = ""
    id_number: str = ""
    materials_asked: int = 0  # requested materials ever, for their ids


@dataclass
class VerificationRecord:
    verification: EnterpriseVerification
    code: str
    wrong: int = 0
    used: bool = False


@dataclass
class Feedback:
    """好差评 given on the platform, complaints about bad ones, and the texts sent to enterprise
    contacts (what a test reads to learn a verification code)."""

    ratings: dict[str, Rating] = field(default_factory=dict)
    complaints: dict[str, Complaint] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # idempotency key -> (request digest, id)
    verifications: dict[str, VerificationRecord] = field(default_factory=dict)
    texts: dict[str, list[dict]] = field(default_factory=dict)  # credit code -> texts sent to its contact


@dataclass
class Uploads:
    """Files received for requested materials (补正): what staff would open, and the keys that make a retry safe."""

    items: dict[str, dict] = field(default_factory=dict)  # upload id -> {"upload": MaterialUpload, "filename", "declared_type"}
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # idempotency key -> (request digest, upload id)


@dataclass
class BundleApplicationRecord:
    bundle_no: str
    bundle: Bundle
    case_nos: list[str]
    received_at: datetime


@dataclass
class World:
    summaries: dict[str, MatterSummary]
    guides: dict[str, Guide]
    bundles: dict[str, Bundle]
    halls: dict[str, Hall]
    cases: dict[str, CaseRecord] = field(default_factory=dict)
    appointments: dict[str, AppointmentRecord] = field(default_factory=dict)
    idempotency: dict[str, str] = field(default_factory=dict)
    no_shows: dict[str, list[date]] = field(default_factory=dict)
    cancellations: dict[str, list[date]] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)
    version: str = ""
    enterprises: dict[str, EnterpriseRecord] = field(default_factory=dict)
    feedback: Feedback = field(default_factory=Feedback)
    clock: Clock = field(default_factory=Clock)
    data: Path = DATA
    uploads: Uploads = field(default_factory=Uploads)
    bundle_applications: dict[str, BundleApplicationRecord] = field(default_factory=dict)
    benefit_grants: list[BenefitGrant] = field(default_factory=list)
    residents: Residents = field(init=False)
    licences: Licences = field(init=False)
    queues: HallQueues = field(init=False)
    benefits: dict[str, BenefitType] = field(init=False)

    def __post_init__(self) -> None:
        self.residents = Residents(self.clock)
        self.licences = Licences.load(self.clock, {code: s.name for code, s in self.summaries.items()}, self.data)
        self.queues = HallQueues(self.clock)
        self.benefits = load_benefits(self.data)

    def now(self) -> datetime:
        return self.clock.now()

    # Loading ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to a freshly loaded world, in place: whoever holds this object sees the reset."""
        self.__dict__.update(World.load().__dict__)

    @classmethod
    def load(cls, data: Path = DATA, seed: int = 20261128) -> World:
        catalog = json.loads((data / "catalog.json").read_text())
        guides = {g["code"]: Guide.model_validate(g) for g in read_data("guides.json", data)}
        halls = {h["id"]: Hall.model_validate(h) for h in read_data("halls.json", data)}
        bundles = {b["code"]: Bundle.model_validate(b) for b in read_data("bundles.json", data)}
        summaries: dict[str, MatterSummary] = {}
        for m in catalog["matters"]:
            code = m["implementation_code"]
            if code in summaries:  # the catalog lists a few matters twice
                continue
            summaries[code] = MatterSummary(code=code, name=m["name"], department=m["department"], type=MatterType(code=int(m["type_code"]), name=m["type"]))
        for g in guides.values():
            summaries[g.code] = MatterSummary(code=g.code, name=g.name, department=g.department, type=g.type)
        for code, s in summaries.items():
            guide = guides.get(code)
            s.has_guide = guide is not None
            s.bookable = bool(guide and guide.bookable)
        version = hashlib.sha256(json.dumps(sorted(summaries), ensure_ascii=False).encode()).hexdigest()[:12]
        world = cls(summaries, guides, bundles, halls, version=version, data=data)
        world.seed_cases(random.Random(seed))
        world.seed_people(random.Random(f"{seed}:people"))
        return world

    # Matters, bundles and halls -------------------------------------------------------------

    def guide(self, code: str) -> Guide:
        guide = self.guides.get(code)
        if guide is None:
            raise Refusal(ErrorCode.not_found, "这个事项没有办事指南" if code in self.summaries else "没有这个事项", 404)
        return guide

    def hall(self, hall_id: str) -> Hall:
        hall = self.halls.get(hall_id)
        if hall is None:
            raise Refusal(ErrorCode.not_found, "没有这个大厅", 404)
        return hall

    def windows_serving(self, hall: Hall, matter_code: str) -> int:
        return sum(1 for w in hall.windows if matter_code in w.matters)

    def bundle(self, code: str) -> Bundle:
        bundle = self.bundles.get(code)
        if bundle is None:
            raise Refusal(ErrorCode.not_found, "没有这个一件事", 404)
        return bundle

    def bundle_halls(self, bundle: Bundle) -> list[str]:
        """Halls where one visit covers every matter of the bundle."""
        return [h.id for h in self.halls.values() if all(self.windows_serving(h, code) for code in bundle.matters)]

    def bundle_card(self, code: str) -> BundleCard:
        bundle = self.bundle(code)
        guides = [self.guide(c) for c in bundle.matters]
        halls = self.bundle_halls(bundle)
        return BundleCard(
            **bundle.model_dump(),
            parts=[BundlePart(code=g.code, name=g.name, department=g.department, promised_days=g.promised_days, result=g.result) for g in guides],
            departments=list(dict.fromkeys(g.department for g in guides)),
            visits=min(1, max(g.visits for g in guides)), halls=halls, bookable=bool(halls),
        )

    def service(self, matter_code: str | None = None, bundle_code: str | None = None) -> Service:
        """What is being booked or queued for: a matter with a guide, or a bundle."""
        if bundle_code is not None:
            bundle = self.bundle(bundle_code)
            lead = self.guide(bundle.matters[0])
            return Service(key=bundle.code, name=bundle.name, matter_code=lead.code, department=lead.department, matters=tuple(bundle.matters),
                           bundle_code=bundle.code)
        guide = self.guide(matter_code or "")
        return Service(key=guide.code, name=guide.name, matter_code=guide.code, department=guide.department, matters=(guide.code,))

    # Slots ----------------------------------------------------------------------------------

    def bookable_days(self, today: date | None = None) -> list[date]:
        today = today or self.now().date()
        return [working_days_after(today, n) for n in range(1, MAX_DAYS_AHEAD + 1)]

    def slots(self, matter_code: str | None, hall_id: str, day: date, bundle_code: str | None = None) -> list[Slot]:
        service, hall = self._bookable(matter_code, hall_id, bundle_code)
        windows = min(self.windows_serving(hall, code) for code in service.matters)
        hours = [h for h in hall.hours if h.weekday == day.isoweekday()]
        result = []
        for h in hours:
            start = datetime.combine(day, time.fromisoformat(h.open))
            close = datetime.combine(day, time.fromisoformat(h.close))
            while start + timedelta(minutes=SLOT_MINUTES) <= close:
                begin = start.time()
                start += timedelta(minutes=SLOT_MINUTES)
                if LUNCH[0] <= begin < LUNCH[1]:
                    continue
                capacity = 2 * windows
                taken = self._prebooked(hall_id, service.key, day, begin, capacity) + self._booked(hall_id, service.key, day, begin.strftime("%H:%M"))
                result.append(Slot(hall_id=hall_id, matter_code=service.matter_code, bundle_code=service.bundle_code, date=day,
                                   start=begin.strftime("%H:%M"), end=start.time().strftime("%H:%M"), capacity=capacity, remaining=max(0, capacity - taken)))
        return result

    def _bookable(self, matter_code: str | None, hall_id: str, bundle_code: str | None = None) -> tuple[Service, Hall]:
        if bundle_code is None:
            guide = self.guides.get(matter_code or "")
            if guide is None or not guide.bookable:
                raise Refusal(ErrorCode.matter_not_bookable, "这个事项不需要或不支持预约")
        service = self.service(matter_code, bundle_code)
        hall = self.hall(hall_id)
        if not all(self.windows_serving(hall, code) for code in service.matters):
            raise Refusal(ErrorCode.hall_not_serving, "这个大厅不办理这个事项" if bundle_code is None else "这个大厅不能一次办完这件事的所有事项")
        return service, hall

    @staticmethod
    def _prebooked(hall_id: str, key: str, day: date, begin: time, capacity: int) -> int:
        """Bookings made by other people, deterministic per slot so the calendar looks lived-in."""
        digest = hashlib.sha256(f"{hall_id}|{key}|{day}|{begin}".encode()).digest()
        return min(capacity, digest[0] % (capacity + 2))

    def _booked(self, hall_id: str, key: str, day: date, start: str) -> int:
        return sum(
            1
            for r in self.appointments.values()
            if r.appointment.status == AppointmentStatus.booked and r.appointment.hall_id == hall_id
            and _booked_for(r.appointment) == key and r.appointment.date == day and r.appointment.start == start
        )

    # Appointments -------------------------------------------------------------------------

    def book(self, request: AppointmentRequest, idempotency_key: str) -> tuple[Appointment, bool]:
        """Returns (appointment, created). A repeated key with the same request returns the first."""
        digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        if idempotency_key in self.idempotency:
            record = self.appointments[self.idempotency[idempotency_key]]
            if record.request_digest != digest:
                raise Refusal(ErrorCode.idempotency_conflict, "同一个幂等键用于了不同的预约", 409)
            return record.appointment, False
        appointment = self._new_appointment(request, digest)
        self.idempotency[idempotency_key] = appointment.id
        return appointment, True

    def _new_appointment(self, request: AppointmentRequest, digest: str, replacing: str | None = None) -> Appointment:
        applicant = request.applicant
        if not valid_id_number(applicant.id_number):
            raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
        service, _ = self._bookable(request.matter_code, request.hall_id, request.bundle_code)
        self._check_day(request.date)
        self._check_blocked(applicant.id_number)
        for r in self.appointments.values():
            a = r.appointment
            if a.id != replacing and r.id_number == applicant.id_number and _booked_for(a) == service.key and a.date == request.date and a.status == AppointmentStatus.booked:
                raise Refusal(ErrorCode.one_per_day, "同一事项每人每天只能预约一次", 409)
        slot = next((s for s in self.slots(request.matter_code, request.hall_id, request.date, request.bundle_code) if s.start == request.start), None)
        if slot is None:
            raise Refusal(ErrorCode.slot_not_found, "没有这个时段")
        if slot.remaining <= 0:
            raise Refusal(ErrorCode.slot_full, "这个时段已约满", 409)
        appointment_id = "A" + secrets.token_hex(6).upper()
        number = f"{request.date:%m%d}{len(self.appointments) + 1:04d}"
        appointment = Appointment(
            id=appointment_id, number=number, matter_code=service.matter_code, matter_name=service.name, bundle_code=service.bundle_code,
            hall_id=request.hall_id, date=request.date, start=slot.start, end=slot.end, status=AppointmentStatus.booked,
            applicant_name=mask_name(applicant.name), applicant_id_masked=mask_id_number(applicant.id_number), created_at=self.now(),
        )
        self.appointments[appointment_id] = AppointmentRecord(appointment, applicant.id_number, applicant.phone, digest)
        return appointment

    def _check_day(self, day: date) -> None:
        today = self.now().date()
        if day <= today:
            raise Refusal(ErrorCode.too_soon, "最早可以预约明天")
        if day not in self.bookable_days(today):
            if day > self.bookable_days(today)[-1]:
                raise Refusal(ErrorCode.too_far_ahead, f"最多只能预约 {MAX_DAYS_AHEAD} 个工作日以内")
            raise Refusal(ErrorCode.slot_not_found, "这一天不办公")

    def _check_blocked(self, id_number: str) -> None:
        since = self.now().date() - timedelta(days=BLOCK_DAYS)
        recent_no_shows = [d for d in self.no_shows.get(id_number, []) if d >= since]
        recent_cancels = [d for d in self.cancellations.get(id_number, []) if d >= since]
        if len(recent_no_shows) >= NO_SHOW_LIMIT or len(recent_cancels) >= CANCEL_LIMIT:
            until = max(recent_no_shows + recent_cancels) + timedelta(days=BLOCK_DAYS)
            raise Refusal(ErrorCode.no_show_blocked, f"近 {BLOCK_DAYS} 天爽约或取消次数过多，{until:%m月%d日} 前暂停预约", 403)

    def appointment(self, appointment_id: str) -> AppointmentRecord:
        record = self.appointments.get(appointment_id)
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有这个预约", 404)
        return record

    def appointments_of(self, id_number: str, phone: str) -> list[Appointment]:
        return sorted(
            (r.appointment for r in self.appointments.values() if r.id_number == id_number.upper() and r.phone == phone),
            key=lambda a: (a.date, a.start),
        )

    def cancel(self, appointment_id: str) -> Appointment:
        record = self.appointment(appointment_id)
        a = record.appointment
        if a.status != AppointmentStatus.booked:
            raise Refusal(ErrorCode.not_cancellable, "这个预约已经不能取消了", 409)
        starts = datetime.combine(a.date, time.fromisoformat(a.start), TZ)
        if starts - self.now() < CANCEL_CUTOFF:
            raise Refusal(ErrorCode.cancel_cutoff, "距离预约时间不足 2 小时，不能取消了", 409)
        a.status = AppointmentStatus.cancelled
        self.cancellations.setdefault(record.id_number, []).append(self.now().date())
        return a

    def reschedule(self, appointment_id: str, day: date, start: str) -> Appointment:
        """Book the new time first; the old one is cancelled only when the new one holds."""
        record = self.appointment(appointment_id)
        old = record.appointment
        if old.status != AppointmentStatus.booked:
            raise Refusal(ErrorCode.not_cancellable, "这个预约已经不能改期了", 409)
        target = {"bundle_code": old.bundle_code} if old.bundle_code else {"matter_code": old.matter_code}
        request = AppointmentRequest(**target, hall_id=old.hall_id, date=day, start=start,
                                     applicant={"name": "改期", "id_number": record.id_number, "phone": record.phone})
        new = self._new_appointment(request, record.request_digest, replacing=old.id)
        new.applicant_name = old.applicant_name
        old.status = AppointmentStatus.cancelled
        return new

    def mark_no_show(self, appointment_id: str) -> Appointment:
        record = self.appointment(appointment_id)
        record.appointment.status = AppointmentStatus.no_show
        self.no_shows.setdefault(record.id_number, []).append(self.now().date())
        return record.appointment

    def no_show_event(self, appointment: Appointment) -> CaseEvent:
        """What the platform tells the bot about a missed appointment (no case: case_no is empty)."""
        guide, hall = self.guides.get(appointment.matter_code), self.halls.get(appointment.hall_id)
        when = f"{appointment.date.month}月{appointment.date.day}日 {appointment.start}-{appointment.end}"
        return CaseEvent(
            id=_event_id(), type=CaseEventType.appointment_no_show, case_no="", at=self.now(),
            matter_name=appointment.matter_name, department=guide.department if guide else "",
            note=f"{when} {hall.name}" if hall else when, appointment_id=appointment.id,
        )

    # The hall queue ---------------------------------------------------------------------------

    def take_ticket(self, request: TicketRequest, idempotency_key: str) -> tuple[Ticket, bool]:
        hall = self.hall(request.hall_id)
        appointment = self.appointment(request.appointment_id).appointment if request.appointment_id else None
        if appointment is not None:
            service = self.service(bundle_code=appointment.bundle_code) if appointment.bundle_code else self.service(appointment.matter_code)
        else:
            service = self.service(request.matter_code, request.bundle_code)
        return self.queues.take(hall, service, request, idempotency_key, appointment)

    def call_next(self, hall_id: str, window_id: str | None = None) -> tuple[Ticket | None, Ticket | None, CaseEvent | None]:
        """A window calls its next number: (called, served, the event telling the bot, if the called ticket is someone it may know)."""
        called, served = self.queues.call_next(self.hall(hall_id), window_id)
        return (self.queues.answer(called.ticket.id) if called else None, self.queues.answer(served.ticket.id) if served else None,
                self.queue_event(called) if called else None)

    def queue_event(self, record: TicketRecord) -> CaseEvent | None:
        if record.background:
            return None
        ticket = self.queues.answer(record.ticket.id)
        return CaseEvent(
            id=_event_id(), type=CaseEventType.queue_called, case_no="", at=self.now(), matter_name=ticket.matter_name,
            department=self.service(ticket.matter_code).department, note=f"请到{ticket.window_name}办理",
            appointment_id=ticket.appointment_id, ticket=ticket,
        )

    # Cases --------------------------------------------------------------------------------

    def case_for(self, case_no: str, phone_last4: str | None, id_number: str | None, credit_code: str | None = None) -> Case:
        """The case, if the second factor matches; the same refusal whether or not it exists.
        A credit code is a factor only for the enterprise's own cases (the bot proved the binding)."""
        record = self.cases.get(case_no.strip().upper())
        if record is not None:
            if phone_last4 and record.phone and record.phone[-4:] == phone_last4:
                return record.case
            if id_number and record.id_number and record.id_number == id_number.upper():
                return record.case
            if credit_code and record.case.credit_code and record.case.credit_code == credit_code.upper():
                return record.case
        raise Refusal(ErrorCode.case_not_verified, "办件编号或验证信息不正确", 404)

    def cases_of_enterprise(self, credit_code: str, state: CaseFilter | None = None) -> list[Case]:
        """Newest first, optionally only those in progress, awaiting materials, or done."""
        if not valid_credit_code(credit_code):
            raise Refusal(ErrorCode.invalid_credit_code, "统一社会信用代码校验不通过", 400)
        code = credit_code.upper()
        cases = (r.case for r in self.cases.values() if r.case.credit_code == code)
        if state is not None:
            cases = (c for c in cases if case_filter(c.state) == state)
        return sorted(cases, key=lambda c: c.received_at, reverse=True)

    def new_case(self, matter_code: str | None, *, name: str, phone: str = "", id_number: str = "", credit_code: str | None = None,
                 rng: random.Random | None = None, received: datetime | None = None, industry: str | None = None,
                 bundle_no: str | None = None, bundle_code: str | None = None, case_no: str | None = None) -> CaseRecord:
        rng = rng or random.Random()
        guide = self.guides.get(matter_code or "") or rng.choice(sorted(self.guides.values(), key=lambda g: g.code))
        received = received or self.now()
        day = received.date()
        dept = int(hashlib.sha256(guide.department.encode()).hexdigest(), 16) % 90 + 10
        while case_no is None or case_no in self.cases:
            serial = self.serials[f"{day}"] = self.serials.get(f"{day}", 0) + 1
            case_no = f"{REGION}{day:%Y%m%d}{dept:02d}{serial:04d}"
        case = Case(
            case_no=case_no, matter_code=guide.code, matter_name=guide.name, department=guide.department,
            applicant_kind="enterprise" if credit_code else "citizen", applicant_name=mask_name(name),
            credit_code=credit_code.upper() if credit_code else None, state=CaseState.received, received_at=received,
            promised_date=working_days_after(day, guide.promised_days) if guide.promised_days else day,
            statutory_date=working_days_after(day, guide.statutory_days) if guide.statutory_days else day,
            timeline=[CaseStep(state=CaseState.received, name="接件", department=guide.department, handler_role="综合窗口", at=received, note="材料已接收")],
            bundle_no=bundle_no, bundle_code=bundle_code,
        )
        record = CaseRecord(case, phone=phone, id_number=id_number.upper())
        self.cases[case_no] = record
        if credit_code and credit_code.upper() not in self.enterprises:
            self.register_enterprise(credit_code.upper(), name, phone, industry or industry_of(name))
        elif id_number and phone:
            self.residents.add(id_number, name, phone)
        return record

    def register_enterprise(self, credit_code: str, name: str, contact_phone: str, industry: str | None) -> EnterpriseRecord:
        """A newly known enterprise, with its registration record and the licences of its trade."""
        record = new_enterprise(credit_code, name, contact_phone, industry, self.clock.today())
        self.licences.seed_enterprise(credit_code, name, industry, record.profile.registered_on, len(self.enterprises))
        self.enterprises[credit_code] = record
        return record

    def enterprise(self, credit_code: str) -> EnterpriseRecord:
        if not valid_credit_code(credit_code):
            raise Refusal(ErrorCode.invalid_credit_code, "统一社会信用代码校验不通过", 400)
        record = self.enterprises.get(credit_code.upper())
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有查到这个企业的登记信息", 404)
        return record

    def advance(self, case_no: str, to: CaseState, *, department: str | None = None, note: str = "", materials: list[str] | None = None, at: datetime | None = None) -> CaseEvent | None:
        """Move a case; returns the event the platform announces for it (None for silent steps)."""
        record = self.cases.get(case_no)
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有这个办件", 404)
        case = record.case
        guide = self.guides.get(case.matter_code)
        at = at or self.now()
        previous_department = case.department
        step = _STEPS[to]
        if to == CaseState.handed_over:
            case.department = department or _next_department(case.department)
        case.state = to
        case.clock_paused = to in (CaseState.materials_requested, CaseState.special_procedure)
        case.paused_reason = {CaseState.materials_requested: "补正材料期间，办理时限暂停计算", CaseState.special_procedure: "特别程序期间，办理时限暂停计算"}.get(to, "")
        case.materials_requested = list(materials or (_default_materials(guide) if to == CaseState.materials_requested else []))
        case.requested_materials = []
        for name in case.materials_requested:
            record.materials_asked += 1
            case.requested_materials.append(RequestedMaterial(id=f"M{record.materials_asked}", name=name))
        if to in (CaseState.approved, CaseState.not_approved, CaseState.refused, CaseState.withdrawn):
            case.result = CaseResult(
                outcome=to.value if to != CaseState.withdrawn else "withdrawn",
                certificate=guide.result if guide and to == CaseState.approved else "",
                reason=note if to != CaseState.approved else "",
                collection=_collection(guide) if to == CaseState.approved else "",
            )
            if to == CaseState.approved and guide is not None:
                self._issue_licence(record, guide)
        case.timeline.append(CaseStep(state=to, name=step[0], department=case.department, handler_role=step[1], at=at, note=note or step[2]))
        event_type = _EVENTS.get(to)
        if event_type is None:
            return None
        licence = case.result if to == CaseState.approved else None
        return CaseEvent(
            id=_event_id(), type=event_type, case_no=case.case_no, at=at, matter_name=case.matter_name,
            department=case.department, from_department=previous_department if to == CaseState.handed_over else None,
            note=note or step[2], materials=case.materials_requested, credit_code=case.credit_code, bundle_no=case.bundle_no,
            licence_no=licence.licence_no if licence else None, licence_name=licence.licence_name if licence else None,
        )

    def _issue_licence(self, record: CaseRecord, guide: Guide) -> None:
        case = record.case
        holder = case.credit_code or record.id_number
        enterprise = self.enterprises.get(case.credit_code or "")
        issued = self.licences.issue_for_case(
            guide.result, matter_code=guide.code, case_no=case.case_no, holder=holder, holder_kind=case.applicant_kind,
            holder_name=enterprise.enterprise.name if enterprise else case.applicant_name,
        )
        if issued is not None:
            case.result.licence_id, case.result.licence_no, case.result.licence_name = issued.licence.id, issued.licence.licence_no, issued.licence.name

    def resume(self, case_no: str) -> CaseEvent | None:
        """Staff carry on with a case whose requested materials came (补正 done)."""
        case = self.cases[case_no].case if case_no in self.cases else None
        if case is None:
            raise Refusal(ErrorCode.not_found, "没有这个办件", 404)
        if case.state != CaseState.materials_requested:
            raise Refusal(ErrorCode.case_not_awaiting_materials, "这个办件不在补正阶段", 409)
        return self.advance(case_no, CaseState.processing, note="补正材料已齐全，恢复办理，办理时限继续计算")

    def deadline_warning(self, case_no: str) -> CaseEvent:
        case = self.cases[case_no].case
        days_left = working_days_between(self.now().date(), case.promised_date) if case.promised_date else None
        return CaseEvent(id=_event_id(), type=CaseEventType.deadline_warning, case_no=case_no, at=self.now(),
                         matter_name=case.matter_name, department=case.department, note="办件即将到期", credit_code=case.credit_code,
                         days_left=days_left, bundle_no=case.bundle_no)

    # 补正 uploads ----------------------------------------------------------------------------

    def upload_material(self, case_no: str, material_id: str, content: bytes, *, idempotency_key: str, phone_last4: str | None = None,
                        id_number: str | None = None, credit_code: str | None = None, filename: str = "", declared_type: str = "") -> tuple[MaterialUpload, bool]:
        """Returns (upload, created). The case must be verified and awaiting that material; the
        content must really be a JPEG, PNG or PDF (sniffed) of at most MAX_BYTES."""
        case = self.case_for(case_no, phone_last4, id_number, credit_code)
        digest = hashlib.sha256(content).hexdigest()
        request_digest = hashlib.sha256(f"{case.case_no}|{material_id}|{digest}".encode()).hexdigest()
        if idempotency_key in self.uploads.keys:
            seen, upload_id = self.uploads.keys[idempotency_key]
            if seen != request_digest:
                raise Refusal(ErrorCode.idempotency_conflict, "同一个幂等键用于了不同的上传", 409)
            return self.uploads.items[upload_id]["upload"], False
        if case.state != CaseState.materials_requested:
            raise Refusal(ErrorCode.case_not_awaiting_materials, "这个办件现在不需要补正材料", 409)
        material = next((m for m in case.requested_materials if m.id == material_id), None)
        if material is None:
            raise Refusal(ErrorCode.material_not_requested, "这份材料不在本次补正清单里")
        if len(content) > MAX_BYTES:
            raise Refusal(ErrorCode.media_too_large, f"文件超过 {MAX_BYTES // 1024 // 1024} MB", 413)
        media_type = sniff(content)
        if media_type is None:
            raise Refusal(ErrorCode.media_type_refused, "只收 JPG、PNG 图片或 PDF 文件", 415)
        at = self.now()
        material.status, material.received_at = "received", at
        upload = MaterialUpload(
            id="U" + secrets.token_hex(8).upper(), case_no=case.case_no, material_id=material.id, material_name=material.name,
            media_type=media_type, size=len(content), sha256=digest, received_at=at,
            remaining=[m for m in case.requested_materials if m.status != "received"],
        )
        material.upload_id = upload.id
        kind = "PDF 文件" if media_type == "application/pdf" else "照片"
        case.timeline.append(CaseStep(state=CaseState.materials_requested, name="收到补正材料", department=case.department, handler_role="综合窗口",
                                      at=at, note=f"已收到「{material.name}」（{kind}）"))
        self.uploads.items[upload.id] = {"upload": upload, "filename": filename[:120], "declared_type": declared_type[:100]}
        self.uploads.keys[idempotency_key] = (request_digest, upload.id)
        return upload, True

    # 一件事 applications -----------------------------------------------------------------------

    def apply_bundle(self, bundle_code: str, *, name: str, phone: str = "", id_number: str = "", credit_code: str | None = None,
                     industry: str | None = None, received: datetime | None = None) -> BundleApplicationRecord:
        """One application for a bundle: a case per matter, all carrying the same bundle number."""
        bundle = self.bundle(bundle_code)
        received = received or self.now()
        day = received.date()
        serial = self.serials[f"YJS{day}"] = self.serials.get(f"YJS{day}", 0) + 1
        bundle_no = f"YJS{REGION}{day:%Y%m%d}{serial:04d}"
        case_nos = [
            self.new_case(code, name=name, phone=phone, id_number=id_number, credit_code=credit_code, industry=industry, received=received,
                          bundle_no=bundle_no, bundle_code=bundle.code).case.case_no
            for code in bundle.matters
        ]
        record = self.bundle_applications[bundle_no] = BundleApplicationRecord(bundle_no, bundle, case_nos, received)
        return record

    def bundle_application(self, bundle_no: str, phone_last4: str | None, id_number: str | None) -> BundleApplication:
        """The bundle's cases, if the second factor matches the applicant; the same refusal otherwise."""
        record = self.bundle_applications.get(bundle_no.upper())
        if record is None:
            raise Refusal(ErrorCode.case_not_verified, "一件事申请编号或验证信息不正确", 404)
        try:
            cases = [self.case_for(no, phone_last4, id_number) for no in record.case_nos]
        except Refusal:
            raise Refusal(ErrorCode.case_not_verified, "一件事申请编号或验证信息不正确", 404) from None
        first = cases[0]
        return BundleApplication(
            bundle_no=record.bundle_no, bundle_code=record.bundle.code, bundle_name=record.bundle.name, applicant_kind=first.applicant_kind,
            applicant_name=first.applicant_name, received_at=record.received_at,
            promised_date=working_days_after(record.received_at.date(), record.bundle.promised_days),
            done=all(c.state in DONE for c in cases), cases=cases,
        )

    # Ratings and complaints ------------------------------------------------------------------

    def rate(self, case_no: str, request: RatingRequest, idempotency_key: str) -> tuple[Rating, bool]:
        """Returns (rating, created). A rater may rate a finished case once and re-rate it once."""
        digest = hashlib.sha256(f"{case_no}|{request.model_dump_json()}".encode()).hexdigest()
        known = self._replayed(idempotency_key, digest)
        if known:
            return self.feedback.ratings[known], False
        record = self.cases.get(case_no)
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有这个办件", 404)
        if record.case.state not in DONE:
            raise Refusal(ErrorCode.case_not_done, "办件还没有办结，暂不能评价")
        earlier = [r for r in self.feedback.ratings.values() if r.case_no == case_no and r.rater == request.rater]
        if len(earlier) >= 2:
            raise Refusal(ErrorCode.already_rated, "这件事已经评价过了（可以修改一次）", 409)
        rating = Rating(
            id="R" + secrets.token_hex(6).upper(), case_no=case_no, matter_name=record.case.matter_name, level=request.level,
            rater=request.rater, channel=request.channel, at=self.now(), follow_up_required=request.level in BAD_LEVELS,
            revision=len(earlier) + 1,
        )
        self.feedback.ratings[rating.id] = rating
        self.feedback.keys[idempotency_key] = (digest, rating.id)
        return rating, True

    def complain(self, case_no: str, request: ComplaintRequest, idempotency_key: str) -> tuple[Complaint, bool]:
        digest = hashlib.sha256(f"{case_no}|{request.model_dump_json()}".encode()).hexdigest()
        known = self._replayed(idempotency_key, digest)
        if known:
            return self.feedback.complaints[known], False
        rating = self.feedback.ratings.get(request.rating_id)
        if case_no not in self.cases or rating is None or rating.case_no != case_no:
            raise Refusal(ErrorCode.not_found, "没有这个办件的这条评价", 404)
        today = self.now().date()
        complaint = Complaint(
            id="C" + secrets.token_hex(6).upper(), case_no=case_no, rating_id=rating.id, text=request.text, at=self.now(),
            call_back_by=working_days_after(today, 1), resolve_by=working_days_after(today, 10),
        )
        self.feedback.complaints[complaint.id] = complaint
        self.feedback.keys[idempotency_key] = (digest, complaint.id)
        return complaint, True

    def _replayed(self, idempotency_key: str, digest: str) -> str | None:
        if idempotency_key not in self.feedback.keys:
            return None
        seen, known = self.feedback.keys[idempotency_key]
        if seen != digest:
            raise Refusal(ErrorCode.idempotency_conflict, "同一个幂等键用于了不同的请求", 409)
        return known

    # Enterprise verification ---------------------------------------------------------------

    def start_verification(self, credit_code: str) -> EnterpriseVerification:
        """Text a 6-digit code to the enterprise's registered contact."""
        record = self.enterprise(credit_code)
        code = record.enterprise.credit_code
        if not record.contact_phone:
            raise Refusal(ErrorCode.verification_failed, "这个企业没有登记联系人手机，请到窗口办理")
        since = self.now() - timedelta(hours=1)
        if sum(1 for t in self.feedback.texts.get(code, []) if t["at"] >= since) >= VERIFICATIONS_PER_HOUR:
            raise Refusal(ErrorCode.too_many_requests, "验证码发送太频繁，请稍后再试", 429)
        secret = f"{secrets.randbelow(10**6):06d}"
        verification = EnterpriseVerification(
            id="V" + secrets.token_hex(8).upper(), credit_code=code, contact_masked=mask_phone(record.contact_phone),
            expires_at=self.now() + VERIFICATION_TTL, attempts=VERIFICATION_ATTEMPTS,
        )
        self.feedback.verifications[verification.id] = VerificationRecord(verification, secret)
        self.feedback.texts.setdefault(code, []).append({
            "at": self.now(), "to": record.contact_phone, "code": secret, "verification_id": verification.id,
            "text": f"【一网通办】验证码 {secret}，用于绑定「{record.enterprise.name}」，10 分钟内有效。如非本人操作请忽略。",
        })
        return verification

    def check_verification(self, credit_code: str, verification_id: str, code: str) -> Enterprise:
        record = self.feedback.verifications.get(verification_id)
        if record is None or record.verification.credit_code != credit_code.upper():
            raise Refusal(ErrorCode.not_found, "没有这个验证", 404)
        if record.used or record.wrong >= record.verification.attempts or self.now() > record.verification.expires_at:
            raise Refusal(ErrorCode.verification_failed, "验证码已失效，请重新获取")
        if not secrets.compare_digest(record.code.encode(), code.encode()):
            record.wrong += 1
            raise Refusal(ErrorCode.verification_failed, "验证码不正确")
        record.used = True
        return self.enterprises[record.verification.credit_code].enterprise

    # 免申即享 ---------------------------------------------------------------------------------

    def grant_benefit(self, benefit_code: str, *, id_number: str | None = None, credit_code: str | None = None, amount: str | None = None) -> CaseEvent:
        """Grant a benefit to a resident or an enterprise; returns the event that tells the bot."""
        benefit = self.benefits.get(benefit_code)
        if benefit is None:
            raise Refusal(ErrorCode.not_found, "没有这项免申即享政策", 404)
        if (benefit.holder == "citizen") != (id_number is not None) or (id_number is None) == (credit_code is None):
            raise Refusal(ErrorCode.invalid_request, f"{benefit.name} is granted to a {benefit.holder}: give {'id_number' if benefit.holder == 'citizen' else 'credit_code'}", 400)
        if id_number is not None:
            resident = self.residents.resident(id_number)
            if resident is None:
                raise Refusal(ErrorCode.not_found, "人口库里没有这个人", 404)
            granted = grant(benefit, clock=self.clock, resident=resident, amount=amount)
        else:
            enterprise = self.enterprise(credit_code)
            granted = grant(benefit, clock=self.clock, enterprise_name=enterprise.enterprise.name, credit_code=enterprise.enterprise.credit_code, amount=amount)
        self.benefit_grants.append(granted)
        return CaseEvent(
            id=_event_id(), type=CaseEventType.benefit_granted, case_no="", at=granted.granted_at, matter_name=granted.name,
            department=granted.department, note=granted.content, credit_code=granted.credit_code, benefit=granted,
        )

    # Seeding ----------------------------------------------------------------------------------

    def seed_cases(self, rng: random.Random) -> None:
        """At least 50 cases spread over every lifecycle state, for citizens and enterprises."""
        guides = sorted(self.guides.values(), key=lambda g: g.code)
        if not guides:
            return
        paths = [
            [], [CaseState.accepted], [CaseState.refused], [CaseState.accepted, CaseState.materials_requested],
            [CaseState.accepted, CaseState.processing], [CaseState.accepted, CaseState.processing, CaseState.handed_over],
            [CaseState.accepted, CaseState.processing, CaseState.reviewing], [CaseState.accepted, CaseState.processing, CaseState.special_procedure],
            [CaseState.accepted, CaseState.processing, CaseState.reviewing, CaseState.approved],
            [CaseState.accepted, CaseState.processing, CaseState.reviewing, CaseState.not_approved],
            [CaseState.accepted, CaseState.processing, CaseState.reviewing, CaseState.approved, CaseState.ready_for_collection],
            [CaseState.accepted, CaseState.processing, CaseState.reviewing, CaseState.approved, CaseState.posted],
            [CaseState.accepted, CaseState.processing, CaseState.reviewing, CaseState.approved, CaseState.ready_for_collection, CaseState.collected],
            [CaseState.accepted, CaseState.withdrawn],
        ]
        today = self.now()
        for i in range(56):
            path = paths[i % len(paths)]
            enterprise = i % 3 == 2
            received = today - timedelta(days=len(path) * 2 + rng.randint(1, 4), hours=rng.randint(0, 6))
            person = person_for(rng)
            record = self.new_case(
                rng.choice(guides).code, name=enterprise_name(rng, i) if enterprise else person["name"], phone=person["phone"],
                id_number="" if enterprise else person["id_number"], credit_code=credit_code_for(rng) if enterprise else None,
                rng=rng, received=received,
            )
            for n, state in enumerate(path, 1):
                self.advance(record.case.case_no, state, at=received + timedelta(days=n * 2, hours=1))

    def seed_people(self, rng: random.Random) -> None:
        """Residents of every age with their certificates, a 补正 demo case, and 一件事 applications under way."""
        self.residents.seed(rng)
        for record in list(self.residents.records.values()):
            self.licences.seed_resident(rng, record.id_number, mask_name(record.name))
        demo = DEMO_CASE
        received = datetime(2026, 11, 2, 9, 30, tzinfo=TZ)
        case = self.new_case(demo["matter_code"], name=demo["name"], phone=demo["phone"], id_number=demo["id_number"], received=received,
                             case_no=demo["case_no"]).case
        self.advance(case.case_no, CaseState.accepted, at=received + timedelta(hours=2))
        self.advance(case.case_no, CaseState.materials_requested, materials=demo["materials"], at=received + timedelta(days=1))
        today = self.now()
        for i, bundle in enumerate(sorted(self.bundles.values(), key=lambda b: b.code)):
            person = person_for(rng)
            enterprise = bundle.code == "YJS-511602-001"  # 企业开办: the new enterprise applies
            application = self.apply_bundle(
                bundle.code, name=enterprise_name(rng, 0) if enterprise else person["name"], phone=person["phone"],
                id_number="" if enterprise else person["id_number"], credit_code=credit_code_for(rng) if enterprise else None,
                received=today - timedelta(days=3 + i, hours=2),
            )
            for n, case_no in enumerate(application.case_nos):
                for k, state in enumerate(_BUNDLE_PATHS[(i + n) % len(_BUNDLE_PATHS)], 1):
                    self.advance(case_no, state, at=application.received_at + timedelta(hours=4 * k))


# Lifecycle vocabulary ----------------------------------------------------------------------

_STEPS: dict[CaseState, tuple[str, str, str]] = {
    CaseState.received: ("接件", "综合窗口", "材料已接收"),
    CaseState.accepted: ("受理", "窗口受理人员", "材料齐全，予以受理"),
    CaseState.refused: ("不予受理", "窗口受理人员", "不属于本部门职权范围"),
    CaseState.materials_requested: ("补正材料", "窗口受理人员", "请补齐材料后继续办理"),
    CaseState.processing: ("承办", "承办科室", "正在审查"),
    CaseState.handed_over: ("转办", "承办科室", "转交相关部门办理"),
    CaseState.reviewing: ("审核", "分管领导", "正在审核"),
    CaseState.special_procedure: ("特别程序", "承办科室", "需要现场核查"),
    CaseState.approved: ("办结", "分管领导", "准予许可"),
    CaseState.not_approved: ("办结", "分管领导", "不符合条件，不予批准"),
    CaseState.ready_for_collection: ("待领取", "综合窗口", "证照已制作完成，可以领取"),
    CaseState.posted: ("已寄出", "综合窗口", "证照已通过 EMS 寄出"),
    CaseState.collected: ("已领取", "综合窗口", "申请人已领取"),
    CaseState.withdrawn: ("撤件", "窗口受理人员", "申请人撤回申请"),
}
_EVENTS = {
    CaseState.accepted: CaseEventType.accepted, CaseState.refused: CaseEventType.refused,
    CaseState.materials_requested: CaseEventType.materials_requested, CaseState.handed_over: CaseEventType.handed_over,
    CaseState.special_procedure: CaseEventType.special_procedure, CaseState.approved: CaseEventType.approved,
    CaseState.not_approved: CaseEventType.not_approved, CaseState.ready_for_collection: CaseEventType.ready_for_collection,
    CaseState.posted: CaseEventType.posted,
}
DONE = frozenset({
    CaseState.refused, CaseState.approved, CaseState.not_approved, CaseState.ready_for_collection, CaseState.posted,
    CaseState.collected, CaseState.withdrawn,
})
#: How far the seeded bundle applications' cases have got: some done, some moving, one awaiting materials.
_BUNDLE_PATHS = [
    [CaseState.accepted, CaseState.processing, CaseState.approved], [CaseState.accepted], [CaseState.accepted, CaseState.processing],
    [CaseState.accepted, CaseState.materials_requested], [],
]
BAD_LEVELS = frozenset({RatingLevel.dissatisfied, RatingLevel.very_dissatisfied})
VERIFICATION_TTL = timedelta(minutes=10)
VERIFICATION_ATTEMPTS = 5
VERIFICATIONS_PER_HOUR = 10
_HANDOVER = ["区行政审批局", "区市场监管局", "区自然资源局", "区住建局", "区卫健局", "区人社局"]


def case_filter(state: CaseState) -> CaseFilter:
    """Which group of an enterprise desk a case in `state` belongs to."""
    if state == CaseState.materials_requested:
        return CaseFilter.needs_materials
    return CaseFilter.done if state in DONE else CaseFilter.in_progress


def _booked_for(appointment: Appointment) -> str:
    return appointment.bundle_code or appointment.matter_code


def _event_id() -> str:
    return "evt_" + secrets.token_hex(8)


def _next_department(current: str) -> str:
    options = [d for d in _HANDOVER if d != current]
    return options[int(hashlib.sha256(current.encode()).hexdigest(), 16) % len(options)]


def _default_materials(guide: Guide | None) -> list[str]:
    if guide and guide.materials:
        return [guide.materials[-1].name]
    return ["申请人身份证明复印件"]


def _collection(guide: Guide | None) -> str:
    if guide and "post" in guide.delivery:
        return "可到大厅综合窗口领取，也可申请免费邮寄"
    return "请携带身份证到受理大厅综合窗口领取"
