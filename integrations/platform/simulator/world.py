"""The simulated platform's state and rules: the catalog, guides, halls, a slot calendar that
moves with today's date, appointments under real booking rules, and cases over their lifecycle.

Pure Python over the wire models; the aiohttp app in this package is a thin layer over it."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from integrations.platform.identifiers import (
    credit_check_char,
    id_check_digit,
    mask_id_number,
    mask_name,
    mask_phone,
    valid_credit_code,
    valid_id_number,
)
from integrations.platform.models import (
    Appointment,
    AppointmentRequest,
    AppointmentStatus,
    Bundle,
    Case,
    CaseEvent,
    CaseEventType,
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
    MatterSummary,
    MatterType,
    Rating,
    RatingLevel,
    RatingRequest,
    Slot,
)

DATA = Path(__file__).resolve().parent.parent / "data"
TZ = ZoneInfo("Asia/Shanghai")
REGION = "511602"  # 广安区

# Booking rules (DOMAIN.md: common local rules).
MAX_DAYS_AHEAD = 5  # working days
SLOT_MINUTES = 30
CANCEL_CUTOFF = timedelta(hours=2)
NO_SHOW_LIMIT, CANCEL_LIMIT, BLOCK_DAYS = 2, 5, 30
LUNCH = (time(12, 0), time(13, 30))


class Refusal(Exception):
    """A request the platform refuses, with the contract's error code."""

    def __init__(self, code: ErrorCode, message: str, status: int = 422):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def now() -> datetime:
    return datetime.now(TZ)


def working_days_after(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days from start (exclusive) to end (inclusive); negative when end is past."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for i in range(1, (end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)


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


@dataclass
class EnterpriseRecord:
    enterprise: Enterprise
    contact_phone: str


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

    # Loading ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to a freshly loaded world, in place: whoever holds this object sees the reset."""
        self.__dict__.update(World.load().__dict__)

    @classmethod
    def load(cls, data: Path = DATA, seed: int = 20261128) -> World:
        catalog = json.loads((data / "catalog.json").read_text())
        guides = {g["code"]: Guide.model_validate(g) for g in _read(data / "guides.json")}
        halls = {h["id"]: Hall.model_validate(h) for h in _read(data / "halls.json")}
        bundles = {b["code"]: Bundle.model_validate(b) for b in _read(data / "bundles.json")}
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
        world = cls(summaries, guides, bundles, halls, version=version)
        world.seed_cases(random.Random(seed))
        return world

    # Matters and halls --------------------------------------------------------------------

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

    # Slots ----------------------------------------------------------------------------------

    def bookable_days(self, today: date | None = None) -> list[date]:
        today = today or now().date()
        return [working_days_after(today, n) for n in range(1, MAX_DAYS_AHEAD + 1)]

    def slots(self, matter_code: str, hall_id: str, day: date) -> list[Slot]:
        guide, hall = self._bookable(matter_code, hall_id)
        windows = self.windows_serving(hall, matter_code)
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
                taken = self._prebooked(hall_id, matter_code, day, begin, capacity) + self._booked(hall_id, matter_code, day, begin.strftime("%H:%M"))
                result.append(Slot(hall_id=hall_id, matter_code=guide.code, date=day, start=begin.strftime("%H:%M"), end=start.time().strftime("%H:%M"), capacity=capacity, remaining=max(0, capacity - taken)))
        return result

    def _bookable(self, matter_code: str, hall_id: str) -> tuple[Guide, Hall]:
        guide = self.guides.get(matter_code)
        if guide is None or not guide.bookable:
            raise Refusal(ErrorCode.matter_not_bookable, "这个事项不需要或不支持预约")
        hall = self.hall(hall_id)
        if not self.windows_serving(hall, matter_code):
            raise Refusal(ErrorCode.hall_not_serving, "这个大厅不办理这个事项")
        return guide, hall

    @staticmethod
    def _prebooked(hall_id: str, matter_code: str, day: date, begin: time, capacity: int) -> int:
        """Bookings made by other people, deterministic per slot so the calendar looks lived-in."""
        digest = hashlib.sha256(f"{hall_id}|{matter_code}|{day}|{begin}".encode()).digest()
        return min(capacity, digest[0] % (capacity + 2))

    def _booked(self, hall_id: str, matter_code: str, day: date, start: str) -> int:
        return sum(
            1
            for r in self.appointments.values()
            if r.appointment.status == AppointmentStatus.booked and r.appointment.hall_id == hall_id
            and r.appointment.matter_code == matter_code and r.appointment.date == day and r.appointment.start == start
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
        guide, _ = self._bookable(request.matter_code, request.hall_id)
        self._check_day(request.date)
        self._check_blocked(applicant.id_number)
        for r in self.appointments.values():
            a = r.appointment
            if a.id != replacing and r.id_number == applicant.id_number and a.matter_code == request.matter_code and a.date == request.date and a.status == AppointmentStatus.booked:
                raise Refusal(ErrorCode.one_per_day, "同一事项每人每天只能预约一次", 409)
        slot = next((s for s in self.slots(request.matter_code, request.hall_id, request.date) if s.start == request.start), None)
        if slot is None:
            raise Refusal(ErrorCode.slot_not_found, "没有这个时段")
        if slot.remaining <= 0:
            raise Refusal(ErrorCode.slot_full, "这个时段已约满", 409)
        appointment_id = "A" + secrets.token_hex(6).upper()
        number = f"{request.date:%m%d}{len(self.appointments) + 1:04d}"
        appointment = Appointment(
            id=appointment_id, number=number, matter_code=guide.code, matter_name=guide.name, hall_id=request.hall_id,
            date=request.date, start=slot.start, end=slot.end, status=AppointmentStatus.booked,
            applicant_name=mask_name(applicant.name), applicant_id_masked=mask_id_number(applicant.id_number), created_at=now(),
        )
        self.appointments[appointment_id] = AppointmentRecord(appointment, applicant.id_number, applicant.phone, digest)
        return appointment

    def _check_day(self, day: date) -> None:
        today = now().date()
        if day <= today:
            raise Refusal(ErrorCode.too_soon, "最早可以预约明天")
        if day not in self.bookable_days(today):
            if day > self.bookable_days(today)[-1]:
                raise Refusal(ErrorCode.too_far_ahead, f"最多只能预约 {MAX_DAYS_AHEAD} 个工作日以内")
            raise Refusal(ErrorCode.slot_not_found, "这一天不办公")

    def _check_blocked(self, id_number: str) -> None:
        since = now().date() - timedelta(days=BLOCK_DAYS)
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
        if starts - now() < CANCEL_CUTOFF:
            raise Refusal(ErrorCode.cancel_cutoff, "距离预约时间不足 2 小时，不能取消了", 409)
        a.status = AppointmentStatus.cancelled
        self.cancellations.setdefault(record.id_number, []).append(now().date())
        return a

    def reschedule(self, appointment_id: str, day: date, start: str) -> Appointment:
        """Book the new time first; the old one is cancelled only when the new one holds."""
        record = self.appointment(appointment_id)
        old = record.appointment
        if old.status != AppointmentStatus.booked:
            raise Refusal(ErrorCode.not_cancellable, "这个预约已经不能改期了", 409)
        request = AppointmentRequest(matter_code=old.matter_code, hall_id=old.hall_id, date=day, start=start,
                                     applicant={"name": "改期", "id_number": record.id_number, "phone": record.phone})
        new = self._new_appointment(request, record.request_digest, replacing=old.id)
        new.applicant_name = old.applicant_name
        old.status = AppointmentStatus.cancelled
        return new

    def mark_no_show(self, appointment_id: str) -> Appointment:
        record = self.appointment(appointment_id)
        record.appointment.status = AppointmentStatus.no_show
        self.no_shows.setdefault(record.id_number, []).append(now().date())
        return record.appointment

    def no_show_event(self, appointment: Appointment) -> CaseEvent:
        """What the platform tells the bot about a missed appointment (no case: case_no is empty)."""
        guide, hall = self.guides.get(appointment.matter_code), self.halls.get(appointment.hall_id)
        when = f"{appointment.date.month}月{appointment.date.day}日 {appointment.start}-{appointment.end}"
        return CaseEvent(
            id="evt_" + secrets.token_hex(8), type=CaseEventType.appointment_no_show, case_no="", at=now(),
            matter_name=appointment.matter_name, department=guide.department if guide else "",
            note=f"{when} {hall.name}" if hall else when, appointment_id=appointment.id,
        )

    # Cases --------------------------------------------------------------------------------

    def case_for(self, case_no: str, phone_last4: str | None, id_number: str | None) -> Case:
        """The case, if the second factor matches; the same refusal whether or not it exists."""
        record = self.cases.get(case_no.strip().upper())
        if record is not None:
            if phone_last4 and record.phone and record.phone[-4:] == phone_last4:
                return record.case
            if id_number and record.id_number and record.id_number == id_number.upper():
                return record.case
        raise Refusal(ErrorCode.case_not_verified, "办件编号或验证信息不正确", 404)

    def cases_of_enterprise(self, credit_code: str) -> list[Case]:
        if not valid_credit_code(credit_code):
            raise Refusal(ErrorCode.invalid_credit_code, "统一社会信用代码校验不通过", 400)
        code = credit_code.upper()
        return sorted((r.case for r in self.cases.values() if r.case.credit_code == code), key=lambda c: c.received_at, reverse=True)

    def new_case(self, matter_code: str | None, *, name: str, phone: str = "", id_number: str = "", credit_code: str | None = None, rng: random.Random | None = None, received: datetime | None = None, industry: str | None = None) -> CaseRecord:
        rng = rng or random.Random()
        guide = self.guides.get(matter_code or "") or rng.choice(sorted(self.guides.values(), key=lambda g: g.code))
        received = received or now()
        day = received.date()
        serial = self.serials[f"{day}"] = self.serials.get(f"{day}", 0) + 1
        dept = int(hashlib.sha256(guide.department.encode()).hexdigest(), 16) % 90 + 10
        case_no = f"{REGION}{day:%Y%m%d}{dept:02d}{serial:04d}"
        case = Case(
            case_no=case_no, matter_code=guide.code, matter_name=guide.name, department=guide.department,
            applicant_kind="enterprise" if credit_code else "citizen", applicant_name=mask_name(name),
            credit_code=credit_code.upper() if credit_code else None, state=CaseState.received, received_at=received,
            promised_date=working_days_after(day, guide.promised_days) if guide.promised_days else day,
            statutory_date=working_days_after(day, guide.statutory_days) if guide.statutory_days else day,
            timeline=[CaseStep(state=CaseState.received, name="接件", department=guide.department, handler_role="综合窗口", at=received, note="材料已接收")],
        )
        record = CaseRecord(case, phone=phone, id_number=id_number.upper())
        self.cases[case_no] = record
        if credit_code and credit_code.upper() not in self.enterprises:
            enterprise = Enterprise(credit_code=credit_code.upper(), name=name, industry=industry or industry_of(name))
            self.enterprises[credit_code.upper()] = EnterpriseRecord(enterprise, phone)
        return record

    def advance(self, case_no: str, to: CaseState, *, department: str | None = None, note: str = "", materials: list[str] | None = None, at: datetime | None = None) -> CaseEvent | None:
        """Move a case; returns the event the platform announces for it (None for silent steps)."""
        record = self.cases.get(case_no)
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有这个办件", 404)
        case = record.case
        guide = self.guides.get(case.matter_code)
        at = at or now()
        previous_department = case.department
        step = _STEPS[to]
        if to == CaseState.handed_over:
            case.department = department or _next_department(case.department)
        case.state = to
        case.clock_paused = to in (CaseState.materials_requested, CaseState.special_procedure)
        case.paused_reason = {CaseState.materials_requested: "补正材料期间，办理时限暂停计算", CaseState.special_procedure: "特别程序期间，办理时限暂停计算"}.get(to, "")
        case.materials_requested = list(materials or (_default_materials(guide) if to == CaseState.materials_requested else []))
        if to in (CaseState.approved, CaseState.not_approved, CaseState.refused, CaseState.withdrawn):
            case.result = CaseResult(
                outcome=to.value if to != CaseState.withdrawn else "withdrawn",
                certificate=guide.result if guide and to == CaseState.approved else "",
                reason=note if to != CaseState.approved else "",
                collection=_collection(guide) if to == CaseState.approved else "",
            )
        case.timeline.append(CaseStep(state=to, name=step[0], department=case.department, handler_role=step[1], at=at, note=note or step[2]))
        event_type = _EVENTS.get(to)
        if event_type is None:
            return None
        return CaseEvent(
            id="evt_" + secrets.token_hex(8), type=event_type, case_no=case.case_no, at=at, matter_name=case.matter_name,
            department=case.department, from_department=previous_department if to == CaseState.handed_over else None,
            note=note or step[2], materials=case.materials_requested, credit_code=case.credit_code,
        )

    def deadline_warning(self, case_no: str) -> CaseEvent:
        case = self.cases[case_no].case
        days_left = working_days_between(now().date(), case.promised_date) if case.promised_date else None
        return CaseEvent(id="evt_" + secrets.token_hex(8), type=CaseEventType.deadline_warning, case_no=case_no, at=now(),
                         matter_name=case.matter_name, department=case.department, note="办件即将到期", credit_code=case.credit_code, days_left=days_left)

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
            rater=request.rater, channel=request.channel, at=now(), follow_up_required=request.level in BAD_LEVELS,
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
        today = now().date()
        complaint = Complaint(
            id="C" + secrets.token_hex(6).upper(), case_no=case_no, rating_id=rating.id, text=request.text, at=now(),
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
        if not valid_credit_code(credit_code):
            raise Refusal(ErrorCode.invalid_credit_code, "统一社会信用代码校验不通过", 400)
        code = credit_code.upper()
        record = self.enterprises.get(code)
        if record is None:
            raise Refusal(ErrorCode.not_found, "没有查到这个企业的登记信息", 404)
        if not record.contact_phone:
            raise Refusal(ErrorCode.verification_failed, "这个企业没有登记联系人手机，请到窗口办理")
        since = now() - timedelta(hours=1)
        if sum(1 for t in self.feedback.texts.get(code, []) if t["at"] >= since) >= VERIFICATIONS_PER_HOUR:
            raise Refusal(ErrorCode.too_many_requests, "验证码发送太频繁，请稍后再试", 429)
        secret = f"{secrets.randbelow(10**6):06d}"
        verification = EnterpriseVerification(
            id="V" + secrets.token_hex(8).upper(), credit_code=code, contact_masked=mask_phone(record.contact_phone),
            expires_at=now() + VERIFICATION_TTL, attempts=VERIFICATION_ATTEMPTS,
        )
        self.feedback.verifications[verification.id] = VerificationRecord(verification, secret)
        self.feedback.texts.setdefault(code, []).append({
            "at": now(), "to": record.contact_phone, "code": secret, "verification_id": verification.id,
            "text": f"【一网通办】验证码 {secret}，用于绑定「{record.enterprise.name}」，10 分钟内有效。如非本人操作请忽略。",
        })
        return verification

    def check_verification(self, credit_code: str, verification_id: str, code: str) -> Enterprise:
        record = self.feedback.verifications.get(verification_id)
        if record is None or record.verification.credit_code != credit_code.upper():
            raise Refusal(ErrorCode.not_found, "没有这个验证", 404)
        if record.used or record.wrong >= record.verification.attempts or now() > record.verification.expires_at:
            raise Refusal(ErrorCode.verification_failed, "验证码已失效，请重新获取")
        if not secrets.compare_digest(record.code, code):
            record.wrong += 1
            raise Refusal(ErrorCode.verification_failed, "验证码不正确")
        record.used = True
        return self.enterprises[record.verification.credit_code].enterprise

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
        today = now()
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
BAD_LEVELS = frozenset({RatingLevel.dissatisfied, RatingLevel.very_dissatisfied})
VERIFICATION_TTL = timedelta(minutes=10)
VERIFICATION_ATTEMPTS = 5
VERIFICATIONS_PER_HOUR = 10
_HANDOVER = ["区行政审批局", "区市场监管局", "区自然资源局", "区住建局", "区卫健局", "区人社局"]


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


# Realistic people ---------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
_FIRMS = ["广安市", "广安区", "四川"]
_TRADES = [("川味", "餐饮管理有限公司"), ("邻水", "建筑工程有限公司"), ("渠江", "商贸有限公司"), ("华蓥山", "农业开发有限公司"), ("思源", "科技有限公司"), ("协兴", "物流有限公司")]


def person_for(rng: random.Random) -> dict:
    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    first17 = f"{REGION}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return {
        "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
        "phone": f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}",
        "id_number": first17 + id_check_digit(first17),
    }


def credit_code_for(rng: random.Random) -> str:
    from integrations.platform.identifiers import CREDIT_ALPHABET

    body = "91" + REGION + "".join(rng.choice(CREDIT_ALPHABET) for _ in range(9))
    return body + credit_check_char(body)


#: 行业门类 (GB/T 4754) registered for an enterprise, from the trade in its name; None when the name says none.
_INDUSTRIES = {"餐饮": "住宿和餐饮业", "建筑": "建筑业", "商贸": "批发和零售业", "农业": "农、林、牧、渔业",
               "科技": "信息传输、软件和信息技术服务业", "物流": "交通运输、仓储和邮政业"}


def industry_of(name: str) -> str | None:
    return next((industry for word, industry in _INDUSTRIES.items() if word in name), None)


def enterprise_name(rng: random.Random, i: int) -> str:
    prefix, suffix = _TRADES[i % len(_TRADES)]
    return f"{rng.choice(_FIRMS)}{prefix}{suffix}"


def _read(path: Path) -> list:
    return json.loads(path.read_text()) if path.exists() else []
