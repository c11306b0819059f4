"""The platform simulator: an aiohttp app speaking openapi.yaml, mounted at /sim/platform in
embedded mode and runnable on its own (`python -m integrations.platform.simulator`).

It validates requests against the contract's models, answers the documented errors, and pushes
signed case events to the bot, like the real platform."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from pydantic import BaseModel, Field, ValidationError

from integrations.platform.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_event
from integrations.platform.identifiers import valid_credit_code, valid_id_number
from integrations.platform.models import (
    AppointmentRequest,
    CaseEvent,
    CasePage,
    CaseState,
    ComplaintRequest,
    Error,
    ErrorCode,
    GuidePage,
    MatterPage,
    RatingRequest,
    RescheduleRequest,
    VerificationCheck,
)
from integrations.platform.simulator.world import Refusal, World

log = logging.getLogger(__name__)

WORLD = web.AppKey("world", World)
STATE = web.AppKey("sim_state", "SimulatorState")



@dataclass
class Faults:
    latency: float = 0.0
    status: int = 0  # answer this HTTP status instead of the real answer
    garbage: bool = False  # answer 200 with a body that is not the contract's
    times: int = 0  # how many requests the fault applies to; 0 = until cleared


@dataclass
class SimulatorState:
    events_url: str
    events_secret: str
    faults: Faults = field(default_factory=Faults)
    emitted: list[dict] = field(default_factory=list)
    tasks: set = field(default_factory=set)
    last: asyncio.Task | None = None  # the newest delivery; the next one waits for it


# Request bodies of the contract that have no model elsewhere ---------------------------------


class CaseLookup(BaseModel):
    case_no: str = Field(min_length=1, max_length=64)
    phone_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    id_number: str | None = Field(default=None, pattern=r"^\d{17}[\dXx]$")


class AppointmentLookup(BaseModel):
    id_number: str = Field(pattern=r"^\d{17}[\dXx]$")
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")


class CitizenApplicant(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    id_number: str = Field(pattern=r"^\d{17}[\dXx]$")


class EnterpriseApplicant(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    credit_code: str = Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")
    phone: str = Field(default="", pattern=r"^(1[3-9]\d{9})?$")
    industry: str | None = Field(default=None, min_length=1, max_length=30, description="registered 行业门类; from the name when absent")


class NewCase(BaseModel):
    applicant: CitizenApplicant | None = None
    enterprise: EnterpriseApplicant | None = None
    matter_code: str | None = None


class Advance(BaseModel):
    to: CaseState
    department: str | None = None
    note: str = ""
    materials: list[str] | None = None


class FaultSpec(BaseModel):
    latency: float = Field(default=0.0, ge=0, le=30)
    status: int = Field(default=0, ge=0, le=599)
    garbage: bool = False
    times: int = Field(default=0, ge=0)


# The app ------------------------------------------------------------------------------------


def create_platform_simulator(world: World | None = None, events_url: str = "", events_secret: str = "") -> web.Application:
    app = web.Application(middlewares=[_errors, _faults])
    app[WORLD] = world or World.load()
    app[STATE] = SimulatorState(events_url, events_secret)
    r = app.router
    r.add_get("/matters", list_matters)
    r.add_get("/matters/{code}", get_matter)
    r.add_get("/matters/{code}/guide", get_guide)
    r.add_get("/guides", list_guides)
    r.add_get("/bundles", list_bundles)
    r.add_get("/halls", list_halls)
    r.add_get("/halls/{hall_id}", get_hall)
    r.add_get("/booking/days", booking_days)
    r.add_get("/booking/slots", booking_slots)
    r.add_post("/appointments", create_appointment)
    r.add_post("/applicants/appointments", lookup_appointments)
    r.add_get("/appointments/{appointment_id}", get_appointment)
    r.add_post("/appointments/{appointment_id}/cancel", cancel_appointment)
    r.add_post("/appointments/{appointment_id}/reschedule", reschedule_appointment)
    r.add_post("/cases/lookup", lookup_case)
    r.add_get("/enterprises/{credit_code}/cases", enterprise_cases)
    r.add_post("/cases/{case_no}/ratings", rate_case)
    r.add_post("/cases/{case_no}/complaints", complain_about_case)
    r.add_post("/enterprises/{credit_code}/verifications", start_enterprise_verification)
    r.add_post("/enterprises/{credit_code}/verifications/{verification_id}/check", check_enterprise_verification)
    r.add_post("/_admin/cases", admin_new_case)
    r.add_post("/_admin/cases/{case_no}/advance", admin_advance)
    r.add_post("/_admin/cases/{case_no}/deadline-warning", admin_deadline_warning)
    r.add_post("/_admin/appointments/{appointment_id}/no-show", admin_no_show)
    r.add_get("/_admin/cases/{case_no}/ratings", admin_ratings)
    r.add_get("/_admin/enterprises/{credit_code}/texts", admin_enterprise_texts)
    r.add_post("/_admin/reset", admin_reset)
    r.add_post("/_admin/faults", admin_faults)
    r.add_get("/_admin/events", admin_events)

    async def settle(app: web.Application) -> None:
        tasks = app[STATE].tasks
        if tasks:
            await asyncio.wait(set(tasks), timeout=5)

    app.on_shutdown.append(settle)
    return app


def _json(model_or_data, status: int = 200) -> web.Response:
    if isinstance(model_or_data, BaseModel):
        body = model_or_data.model_dump_json()
    else:
        body = json.dumps(model_or_data, ensure_ascii=False, default=_default)
    return web.Response(text=body, status=status, content_type="application/json")


def _default(value):
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _error(code: ErrorCode, message: str, status: int) -> web.Response:
    return _json(Error(code=code, message=message), status)


@web.middleware
async def _errors(request: web.Request, handler):
    try:
        return await handler(request)
    except Refusal as exc:
        return _error(exc.code, exc.message, exc.status)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(ErrorCode.invalid_request, f"{where}: {first.get('msg', 'invalid')}"[:200], 400)
    except web.HTTPNotFound:
        return _error(ErrorCode.not_found, "没有这个接口", 404)
    except web.HTTPMethodNotAllowed as exc:
        response = _error(ErrorCode.invalid_request, "不支持这个请求方法", 405)
        response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    except web.HTTPRequestEntityTooLarge:
        return _error(ErrorCode.invalid_request, "请求体太大", 413)


@web.middleware
async def _faults(request: web.Request, handler):
    faults = request.app[STATE].faults
    if request.path.rsplit("/_admin", 1)[0] != request.path or not (faults.latency or faults.status or faults.garbage):
        return await handler(request)
    if faults.times:
        faults.times -= 1
        if faults.times == 0:
            request.app[STATE].faults = Faults()
    if faults.latency:
        await asyncio.sleep(faults.latency)
    if faults.status:
        return _json(Error(code=ErrorCode.unavailable, message="模拟故障", retry_after=1), faults.status)
    if faults.garbage:
        return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
    return await handler(request)


async def _body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    raw = await request.read()
    return model.model_validate_json(raw or b"{}")


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise Refusal(ErrorCode.invalid_request, f"{name} must be an integer from {low} to {high}", 400)
    return int(raw)


def _required(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not value:
        raise Refusal(ErrorCode.invalid_request, f"query parameter {name} is required", 400)
    return value


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Refusal(ErrorCode.invalid_request, "date must be YYYY-MM-DD", 400) from None


# Matters, bundles, halls ----------------------------------------------------------------------


async def list_matters(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    offset = _int(request, "offset", 0, 0, 1_000_000)
    limit = _int(request, "limit", 100, 1, 500)
    codes = sorted(world.summaries)
    items = [world.summaries[c] for c in codes[offset:offset + limit]]
    following = offset + limit if offset + limit < len(codes) else None
    return _json(MatterPage(items=items, total=len(codes), next_offset=following, version=world.version))


async def get_matter(request: web.Request) -> web.Response:
    matter = request.app[WORLD].summaries.get(request.match_info["code"])
    if matter is None:
        raise Refusal(ErrorCode.not_found, "没有这个事项", 404)
    return _json(matter)


async def list_guides(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    offset = _int(request, "offset", 0, 0, 1_000_000)
    limit = _int(request, "limit", 100, 1, 200)
    codes = sorted(world.guides)
    following = offset + limit if offset + limit < len(codes) else None
    return _json(GuidePage(items=[world.guides[c] for c in codes[offset:offset + limit]], total=len(codes), next_offset=following, version=world.version))


async def get_guide(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].guide(request.match_info["code"]))


async def list_bundles(request: web.Request) -> web.Response:
    return _json({"items": list(request.app[WORLD].bundles.values())})


async def list_halls(request: web.Request) -> web.Response:
    return _json({"items": list(request.app[WORLD].halls.values())})


async def get_hall(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].hall(request.match_info["hall_id"]))


# Booking ------------------------------------------------------------------------------------


async def booking_days(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    matter, hall = _required(request, "matter_code"), _required(request, "hall_id")
    days = []
    for day in world.bookable_days():
        slots = world.slots(matter, hall, day)
        if slots:
            days.append({"date": day, "remaining": sum(s.remaining for s in slots)})
    return _json({"items": days})


async def booking_slots(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    day = _date(_required(request, "date"))
    return _json({"items": world.slots(_required(request, "matter_code"), _required(request, "hall_id"), day)})


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not 8 <= len(key) <= 128:
        raise Refusal(ErrorCode.invalid_request, "Idempotency-Key header (8-128 characters) is required", 400)
    return key


async def create_appointment(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await _body(request, AppointmentRequest)
    appointment, created = request.app[WORLD].book(body, key)
    return _json(appointment, 201 if created else 200)


async def lookup_appointments(request: web.Request) -> web.Response:
    body = await _body(request, AppointmentLookup)
    if not valid_id_number(body.id_number):
        raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
    return _json({"items": request.app[WORLD].appointments_of(body.id_number, body.phone)})


async def get_appointment(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].appointment(request.match_info["appointment_id"]).appointment)


async def cancel_appointment(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].cancel(request.match_info["appointment_id"]))


async def reschedule_appointment(request: web.Request) -> web.Response:
    _idempotency_key(request)
    body = await _body(request, RescheduleRequest)
    return _json(request.app[WORLD].reschedule(request.match_info["appointment_id"], body.date, body.start))


# Cases --------------------------------------------------------------------------------------


async def lookup_case(request: web.Request) -> web.Response:
    body = await _body(request, CaseLookup)
    if not (body.phone_last4 or body.id_number):
        raise Refusal(ErrorCode.invalid_request, "phone_last4 or id_number is required", 400)
    return _json(request.app[WORLD].case_for(body.case_no, body.phone_last4, body.id_number))


async def enterprise_cases(request: web.Request) -> web.Response:
    items = request.app[WORLD].cases_of_enterprise(request.match_info["credit_code"])
    return _json(CasePage(items=items, total=len(items)))


async def rate_case(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await _body(request, RatingRequest)
    rating, created = request.app[WORLD].rate(request.match_info["case_no"], body, key)
    return _json(rating, 201 if created else 200)


async def complain_about_case(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await _body(request, ComplaintRequest)
    complaint, created = request.app[WORLD].complain(request.match_info["case_no"], body, key)
    return _json(complaint, 201 if created else 200)


# Enterprise binding ---------------------------------------------------------------------------


async def start_enterprise_verification(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].start_verification(request.match_info["credit_code"]), 201)


async def check_enterprise_verification(request: web.Request) -> web.Response:
    body = await _body(request, VerificationCheck)
    m = request.match_info
    return _json(request.app[WORLD].check_verification(m["credit_code"], m["verification_id"], body.code))


# Controls for tests and demos ------------------------------------------------------------------


async def admin_ratings(request: web.Request) -> web.Response:
    """The ratings and complaints the platform received for a case (what staff would see)."""
    feedback, case_no = request.app[WORLD].feedback, request.match_info["case_no"]
    return _json({
        "ratings": [r for r in feedback.ratings.values() if r.case_no == case_no],
        "complaints": [c for c in feedback.complaints.values() if c.case_no == case_no],
    })


async def admin_enterprise_texts(request: web.Request) -> web.Response:
    """The texts sent to an enterprise's registered contact phone (its verification codes), oldest first."""
    return _json({"items": request.app[WORLD].feedback.texts.get(request.match_info["credit_code"].upper(), [])})




async def admin_new_case(request: web.Request) -> web.Response:
    body = await _body(request, NewCase)
    world = request.app[WORLD]
    if body.matter_code and body.matter_code not in world.guides:
        raise Refusal(ErrorCode.not_found, "没有这个事项的办事指南", 404)
    if body.applicant:
        if not valid_id_number(body.applicant.id_number):
            raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
        record = world.new_case(body.matter_code, name=body.applicant.name, phone=body.applicant.phone, id_number=body.applicant.id_number)
    elif body.enterprise:
        if not valid_credit_code(body.enterprise.credit_code):
            raise Refusal(ErrorCode.invalid_credit_code, "统一社会信用代码校验不通过", 400)
        record = world.new_case(body.matter_code, name=body.enterprise.name, phone=body.enterprise.phone, credit_code=body.enterprise.credit_code,
                                industry=body.enterprise.industry)
    else:
        raise Refusal(ErrorCode.invalid_request, "applicant or enterprise is required", 400)
    return _json({"case_no": record.case.case_no, "phone_last4": record.phone[-4:] if record.phone else None, "case": record.case}, 201)


async def admin_advance(request: web.Request) -> web.Response:
    body = await _body(request, Advance)
    event = request.app[WORLD].advance(request.match_info["case_no"], body.to, department=body.department, note=body.note, materials=body.materials)
    if event is not None:
        _emit(request.app, event)
    case = request.app[WORLD].cases[request.match_info["case_no"]].case
    return _json({"case": case, "event": event})


async def admin_deadline_warning(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    if request.match_info["case_no"] not in world.cases:
        raise Refusal(ErrorCode.not_found, "没有这个办件", 404)
    event = world.deadline_warning(request.match_info["case_no"])
    _emit(request.app, event)
    return _json({"event": event})


async def admin_no_show(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    appointment = world.mark_no_show(request.match_info["appointment_id"])
    _emit(request.app, world.no_show_event(appointment))
    return _json(appointment)


async def admin_reset(request: web.Request) -> web.Response:
    request.app[WORLD].reset()
    state = request.app[STATE]
    state.faults, state.emitted = Faults(), []
    return _json({"reset": True})


async def admin_faults(request: web.Request) -> web.Response:
    spec = await _body(request, FaultSpec)
    request.app[STATE].faults = Faults(**spec.model_dump())
    return _json(spec)


async def admin_events(request: web.Request) -> web.Response:
    return _json({"items": request.app[STATE].emitted})


# Pushing events to the bot --------------------------------------------------------------------


def _emit(app: web.Application, event: CaseEvent) -> None:
    state = app[STATE]
    record = {"event": event.model_dump(mode="json"), "delivered": False, "attempts": 0, "status": None}
    state.emitted.append(record)
    del state.emitted[:-1000]
    if not state.events_url:
        return
    task = state.last = asyncio.get_running_loop().create_task(_deliver(state, record, event.model_dump_json().encode(), after=state.last))
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _deliver(state: SimulatorState, record: dict, body: bytes, after: asyncio.Task | None = None) -> None:
    """Deliver like a real platform would: in order, signed, retried with backoff, given up after 5 tries."""
    if after is not None:
        await asyncio.wait([after])  # one queue: a later event never overtakes an earlier one
    async with ClientSession(timeout=ClientTimeout(total=5)) as http:
        for attempt in range(5):
            record["attempts"] = attempt + 1
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign_event(state.events_secret, timestamp, body)}
            try:
                async with http.post(state.events_url, data=body, headers=headers) as resp:
                    record["status"] = resp.status
                    if resp.status < 300:
                        record["delivered"] = True
                        return
                    if 400 <= resp.status < 500 and resp.status not in (408, 429):
                        return  # the bot refused it; a retry would be refused again
            except (ClientError, TimeoutError) as exc:
                record["status"] = type(exc).__name__
            await asyncio.sleep(0.2 * 2**attempt)
