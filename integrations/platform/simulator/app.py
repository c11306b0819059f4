"""The platform simulator: an aiohttp app speaking openapi.yaml, mounted at /sim/platform in
embedded mode and runnable on its own (`python -m integrations.platform.simulator`).

It validates requests against the contract's models, answers the documented errors, and pushes
signed events to the bot, like the real platform. The routes under /_admin are its controls for
tests and demos (README: "Simulator controls"); they are not part of the contract."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from aiohttp import BodyPartReader, ClientError, ClientSession, ClientTimeout, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field, ValidationError, model_validator

from integrations.platform.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_event
from integrations.platform.identifiers import valid_credit_code, valid_id_number
from integrations.platform.media import MAX_BYTES
from integrations.platform.models import (
    AppointmentRequest,
    BundleLookup,
    CaseEvent,
    CaseFilter,
    CasePage,
    CaseState,
    ComplaintRequest,
    Error,
    ErrorCode,
    GuidePage,
    LicenceLookup,
    LicencePage,
    LicenceStatus,
    MatterPage,
    RatingRequest,
    RescheduleRequest,
    ResidentLookup,
    ResidentPage,
    TicketRequest,
    VerificationCheck,
)
from integrations.platform.simulator.enterprises import annual_report as report
from integrations.platform.simulator.licences import render_page
from integrations.platform.simulator.world import Refusal, World

log = logging.getLogger(__name__)

WORLD = web.AppKey("world", World)
STATE = web.AppKey("sim_state", "SimulatorState")
#: The bot's credential for people data (resident lookups) when none is configured: a dev value, never a production one.
DEV_CLIENT_TOKEN = "sim-platform-token"
FORM_FIELD_BYTES = 256  # a text field of the upload form is never longer


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
    client_token: str = DEV_CLIENT_TOKEN
    public_url: str = ""  # where people open licence pages; empty = the address the request came to
    faults: Faults = field(default_factory=Faults)
    emitted: list[dict] = field(default_factory=list)
    tasks: set = field(default_factory=set)
    last: asyncio.Task | None = None  # the newest delivery; the next one waits for it
    pacer: asyncio.Task | None = None  # calls queue numbers while a pace is set


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


class UploadForm(BaseModel):
    """The text fields of a 补正 upload (multipart/form-data; the file is the `file` part)."""

    material_id: str = Field(min_length=1, max_length=32)
    phone_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    id_number: str | None = Field(default=None, pattern=r"^\d{17}[\dXx]$")
    credit_code: str | None = Field(default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")

    @model_validator(mode="after")
    def _one_factor(self) -> UploadForm:
        if not (self.phone_last4 or self.id_number or self.credit_code):
            raise ValueError("phone_last4, id_number or credit_code is required")
        return self


class NewBundleApplication(NewCase):
    bundle_code: str = Field(min_length=1)


class ClockSpec(BaseModel):
    at: datetime | None = Field(default=None, description="jump to this moment (time keeps flowing from there)")
    advance_minutes: int | None = Field(default=None, ge=-525600, le=525600)
    real: bool = False

    @model_validator(mode="after")
    def _one(self) -> ClockSpec:
        if sum((self.at is not None, self.advance_minutes is not None, self.real)) != 1:
            raise ValueError("give exactly one of at, advance_minutes and real")
        return self


class CallSpec(BaseModel):
    window_id: str | None = None


class PaceSpec(BaseModel):
    seconds: float = Field(ge=0, le=3600, description="between calls in each hall; 0 stops")


class LicenceChange(BaseModel):
    valid_until: date | None
    status: LicenceStatus | None = None


class ReportChange(BaseModel):
    filed: bool
    filed_on: date | None = None


class NewResident(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    id_number: str = Field(pattern=r"^\d{17}[\dXx]$")
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    household_region_code: str | None = Field(default=None, pattern=r"^\d{6}$")


class BenefitSpec(BaseModel):
    benefit_code: str = Field(min_length=1)
    id_number: str | None = Field(default=None, pattern=r"^\d{17}[\dXx]$")
    credit_code: str | None = Field(default=None, pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")
    amount: str | None = Field(default=None, min_length=1, max_length=40)


class FaultSpec(BaseModel):
    latency: float = Field(default=0.0, ge=0, le=30)
    status: int = Field(default=0, ge=0, le=599)
    garbage: bool = False
    times: int = Field(default=0, ge=0)


# The app ------------------------------------------------------------------------------------


def create_platform_simulator(world: World | None = None, events_url: str = "", events_secret: str = "", client_token: str = DEV_CLIENT_TOKEN,
                              public_url: str = "") -> web.Application:
    """`client_token` is the bot's credential for people data; `public_url` is the origin people
    reach the simulator at (for licence pages), when it differs from the one the bot calls."""
    app = web.Application(middlewares=[_errors, _faults])
    app[WORLD] = world or World.load()
    app[STATE] = SimulatorState(events_url, events_secret, client_token, public_url.rstrip("/"))
    r = app.router
    r.add_get("/matters", list_matters)
    r.add_get("/matters/{code}", get_matter)
    r.add_get("/matters/{code}/guide", get_guide)
    r.add_get("/guides", list_guides)
    r.add_get("/bundles", list_bundles)
    r.add_get("/bundles/{code}", get_bundle)
    r.add_post("/bundle-applications/lookup", lookup_bundle_application)
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
    r.add_post("/cases/{case_no}/materials", upload_material)
    r.add_get("/enterprises/{credit_code}", get_enterprise)
    r.add_get("/enterprises/{credit_code}/cases", enterprise_cases)
    r.add_get("/enterprises/{credit_code}/licences", enterprise_licences)
    r.add_get("/enterprises/{credit_code}/annual-reports/{year}", annual_report)
    r.add_post("/cases/{case_no}/ratings", rate_case)
    r.add_post("/cases/{case_no}/complaints", complain_about_case)
    r.add_post("/enterprises/{credit_code}/verifications", start_enterprise_verification)
    r.add_post("/enterprises/{credit_code}/verifications/{verification_id}/check", check_enterprise_verification)
    r.add_post("/queue/tickets", take_ticket)
    r.add_get("/queue/tickets/{ticket_id}", get_ticket)
    r.add_post("/licences/lookup", lookup_licences)
    r.add_get("/licences/{licence_id}/view", view_licence, name="licence_view")
    r.add_post("/residents/lookup", lookup_residents)
    r.add_post("/_admin/cases", admin_new_case)
    r.add_post("/_admin/cases/{case_no}/advance", admin_advance)
    r.add_post("/_admin/cases/{case_no}/resume", admin_resume)
    r.add_get("/_admin/cases/{case_no}/uploads", admin_uploads)
    r.add_post("/_admin/cases/{case_no}/deadline-warning", admin_deadline_warning)
    r.add_post("/_admin/bundle-applications", admin_new_bundle_application)
    r.add_post("/_admin/appointments/{appointment_id}/no-show", admin_no_show)
    r.add_get("/_admin/cases/{case_no}/ratings", admin_ratings)
    r.add_get("/_admin/enterprises", admin_enterprises)
    r.add_get("/_admin/enterprises/{credit_code}/texts", admin_enterprise_texts)
    r.add_post("/_admin/enterprises/{credit_code}/annual-reports/{year}", admin_annual_report)
    r.add_post("/_admin/licences/{licence_id}", admin_licence)
    r.add_get("/_admin/halls/{hall_id}/checkin-code", admin_checkin_code)
    r.add_get("/_admin/halls/{hall_id}/queue", admin_hall_queue)
    r.add_post("/_admin/halls/{hall_id}/call-next", admin_call_next)
    r.add_post("/_admin/queue/pace", admin_queue_pace)
    r.add_post("/_admin/queue/tickets/{ticket_id}/missed", admin_ticket_missed)
    r.add_get("/_admin/residents", admin_residents)
    r.add_post("/_admin/residents", admin_new_resident)
    r.add_get("/_admin/benefits", admin_benefit_types)
    r.add_post("/_admin/benefits", admin_grant_benefit)
    r.add_get("/_admin/clock", admin_clock)
    r.add_post("/_admin/clock", admin_set_clock)
    r.add_post("/_admin/reset", admin_reset)
    r.add_post("/_admin/faults", admin_faults)
    r.add_get("/_admin/events", admin_events)

    async def settle(app: web.Application) -> None:
        await _stop_pacer(app[STATE])
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


async def get_bundle(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].bundle_card(request.match_info["code"]))


async def list_halls(request: web.Request) -> web.Response:
    return _json({"items": list(request.app[WORLD].halls.values())})


async def get_hall(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].hall(request.match_info["hall_id"]))


# Booking ------------------------------------------------------------------------------------


def _booking_target(request: web.Request) -> tuple[str | None, str | None]:
    """(matter_code, bundle_code): a slot is looked up for exactly one of them."""
    matter, bundle = request.query.get("matter_code") or None, request.query.get("bundle_code") or None
    if (matter is None) == (bundle is None):
        raise Refusal(ErrorCode.invalid_request, "query parameter matter_code or bundle_code (one of them) is required", 400)
    return matter, bundle


async def booking_days(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    (matter, bundle), hall = _booking_target(request), _required(request, "hall_id")
    days = []
    for day in world.bookable_days():
        slots = world.slots(matter, hall, day, bundle)
        if slots:
            days.append({"date": day, "remaining": sum(s.remaining for s in slots)})
    return _json({"items": days})


async def booking_slots(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    matter, bundle = _booking_target(request)
    day = _date(_required(request, "date"))
    return _json({"items": world.slots(matter, _required(request, "hall_id"), day, bundle)})


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
    raw_state = request.query.get("state")
    try:
        state = CaseFilter(raw_state) if raw_state is not None else None
    except ValueError:
        raise Refusal(ErrorCode.invalid_request, "state must be in_progress, needs_materials or done", 400) from None
    offset = _int(request, "offset", 0, 0, 1_000_000)
    limit = _int(request, "limit", 100, 1, 100)
    items = request.app[WORLD].cases_of_enterprise(request.match_info["credit_code"], state)
    following = offset + limit if offset + limit < len(items) else None
    return _json(CasePage(items=items[offset:offset + limit], total=len(items), next_offset=following))


async def upload_material(request: web.Request) -> web.Response:
    """补正: one file for one requested material, as multipart/form-data. The size limit is
    enforced while reading, before anything else is judged; the type by the content itself."""
    key = _idempotency_key(request)
    if request.content_length is not None and request.content_length > MAX_BYTES + 64 * 1024:
        raise Refusal(ErrorCode.media_too_large, f"文件超过 {MAX_BYTES // 1024 // 1024} MB", 413)
    if request.content_type != "multipart/form-data":
        raise Refusal(ErrorCode.invalid_request, "the body must be multipart/form-data", 400)
    fields: dict[str, str] = {}
    content, filename, declared = None, "", ""
    try:
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                raise Refusal(ErrorCode.invalid_request, "nested multipart bodies are not accepted", 400)
            if part.name == "file":
                content = await _read_part(part, MAX_BYTES, ErrorCode.media_too_large)
                filename, declared = part.filename or "", part.headers.get(hdrs.CONTENT_TYPE, "")
            elif part.name in UploadForm.model_fields:
                fields[part.name] = (await _read_part(part, FORM_FIELD_BYTES, ErrorCode.invalid_request)).decode("utf-8", "replace")
            else:
                await part.release()
    except (HttpProcessingError, ValueError, RuntimeError) as exc:  # what aiohttp raises for a malformed multipart body
        raise Refusal(ErrorCode.invalid_request, f"malformed multipart body: {type(exc).__name__}", 400) from None
    form = UploadForm.model_validate(fields)
    if content is None:
        raise Refusal(ErrorCode.invalid_request, "the file part is required", 400)
    upload, created = request.app[WORLD].upload_material(
        request.match_info["case_no"], form.material_id, content, idempotency_key=key, phone_last4=form.phone_last4, id_number=form.id_number,
        credit_code=form.credit_code, filename=filename, declared_type=declared,
    )
    return _json(upload, 201 if created else 200)


async def _read_part(part: BodyPartReader, limit: int, too_long: ErrorCode) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            if too_long == ErrorCode.media_too_large:
                raise Refusal(too_long, f"文件超过 {MAX_BYTES // 1024 // 1024} MB", 413)
            raise Refusal(too_long, f"form field {part.name} is too long", 400)
        chunks.append(chunk)
    return b"".join(chunks)


async def lookup_bundle_application(request: web.Request) -> web.Response:
    body = await _body(request, BundleLookup)
    return _json(request.app[WORLD].bundle_application(body.bundle_no, body.phone_last4, body.id_number))


# The hall queue ---------------------------------------------------------------------------------


async def take_ticket(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await _body(request, TicketRequest)
    ticket, created = request.app[WORLD].take_ticket(body, key)
    return _json(ticket, 201 if created else 200)


async def get_ticket(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].queues.answer(request.match_info["ticket_id"]))


# E-licences, enterprises, residents ---------------------------------------------------------------


def _licence_base(request: web.Request) -> str:
    """The simulator's address for licence pages, prefix included when mounted under the bot."""
    path = str(request.app.router["licence_view"].url_for(licence_id="-")).removesuffix("/licences/-/view")
    return (request.app[STATE].public_url or str(request.url.origin())) + path


async def lookup_licences(request: web.Request) -> web.Response:
    body = await _body(request, LicenceLookup)
    world = request.app[WORLD]
    if not valid_id_number(body.id_number):
        raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
    person = world.residents.verified(body.id_number, body.phone_last4)
    base = _licence_base(request)
    return _json(LicencePage(items=[world.licences.answer(r, base) for r in world.licences.of(person.id_number)]))


async def view_licence(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    record = world.licences.viewed(request.match_info["licence_id"], request.query.get("expires", ""), request.query.get("sig", ""))
    licence = world.licences.answer(record, _licence_base(request))
    return web.Response(text=render_page(licence, world.now()), content_type="text/html", headers={"Cache-Control": "no-store"})


async def get_enterprise(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].enterprise(request.match_info["credit_code"]).profile)


async def enterprise_licences(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    record = world.enterprise(request.match_info["credit_code"])
    base = _licence_base(request)
    return _json(LicencePage(items=[world.licences.answer(r, base) for r in world.licences.of(record.enterprise.credit_code)]))


async def annual_report(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    return _json(report(world.enterprise(request.match_info["credit_code"]), _year(request), world.clock.today()))


def _year(request: web.Request) -> int:
    raw = request.match_info["year"]
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        raise Refusal(ErrorCode.invalid_request, "year must be four digits", 400)
    return int(raw)


async def lookup_residents(request: web.Request) -> web.Response:
    """People data: only for the bot, with its platform token."""
    token = request.app[STATE].client_token
    given = request.headers.get(hdrs.AUTHORIZATION, "")
    if not token or not given.isascii() or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = _error(ErrorCode.unauthorized, "需要有效的平台访问令牌", 401)
        response.headers[hdrs.WWW_AUTHENTICATE] = 'Bearer realm="ywtb-platform"'
        return response
    body = await _body(request, ResidentLookup)
    world = request.app[WORLD]
    for id_number in body.id_numbers:
        if not valid_id_number(id_number):
            raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
    found = (world.residents.resident(n) for n in dict.fromkeys(n.upper() for n in body.id_numbers))
    return _json(ResidentPage(items=[r for r in found if r is not None]))


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


async def admin_resume(request: web.Request) -> web.Response:
    """Staff carry on with a case after 补正 (whether or not every requested material came)."""
    world = request.app[WORLD]
    event = world.resume(request.match_info["case_no"])
    if event is not None:
        _emit(request.app, event)
    return _json({"case": world.cases[request.match_info["case_no"]].case})


async def admin_uploads(request: web.Request) -> web.Response:
    """What arrived for a case's 补正, as staff would see it."""
    world, case_no = request.app[WORLD], request.match_info["case_no"]
    if case_no not in world.cases:
        raise Refusal(ErrorCode.not_found, "没有这个办件", 404)
    items = [u for u in world.uploads.items.values() if u["upload"].case_no == case_no]
    return _json({"items": items, "requested_materials": world.cases[case_no].case.requested_materials})


async def admin_new_bundle_application(request: web.Request) -> web.Response:
    body = await _body(request, NewBundleApplication)
    world = request.app[WORLD]
    if body.applicant:
        if not valid_id_number(body.applicant.id_number):
            raise Refusal(ErrorCode.invalid_id_number, "身份证号码校验不通过")
        record = world.apply_bundle(body.bundle_code, name=body.applicant.name, phone=body.applicant.phone, id_number=body.applicant.id_number)
        phone = body.applicant.phone
    elif body.enterprise:
        if not valid_credit_code(body.enterprise.credit_code):
            raise Refusal(ErrorCode.invalid_credit_code, "统一社会信用代码校验不通过", 400)
        record = world.apply_bundle(body.bundle_code, name=body.enterprise.name, phone=body.enterprise.phone,
                                    credit_code=body.enterprise.credit_code, industry=body.enterprise.industry)
        phone = body.enterprise.phone
    else:
        raise Refusal(ErrorCode.invalid_request, "applicant or enterprise is required", 400)
    return _json({"bundle_no": record.bundle_no, "phone_last4": phone[-4:] if phone else None, "case_nos": record.case_nos}, 201)


async def admin_enterprises(request: web.Request) -> web.Response:
    """Every enterprise the platform knows, with its contact and licences (for picking one in a test or demo)."""
    world = request.app[WORLD]
    base = _licence_base(request)
    return _json({"items": [
        {"profile": e.profile, "contact_phone": e.contact_phone, "licences": [world.licences.answer(r, base) for r in world.licences.of(code)]}
        for code, e in world.enterprises.items()
    ]})


async def admin_annual_report(request: web.Request) -> web.Response:
    body = await _body(request, ReportChange)
    world = request.app[WORLD]
    record = world.enterprise(request.match_info["credit_code"])
    year = _year(request)
    report(record, year, world.clock.today())  # refuses a year the enterprise cannot report on
    record.reports[year] = (body.filed_on or world.clock.today()) if body.filed else None
    return _json(report(record, year, world.clock.today()))


async def admin_licence(request: web.Request) -> web.Response:
    """Set a licence's expiry (and optionally revoke or cancel it), e.g. to 30 days from the simulator's today."""
    body = await _body(request, LicenceChange)
    world = request.app[WORLD]
    record = world.licences.set_expiry(request.match_info["licence_id"], body.valid_until, body.status)
    return _json(world.licences.answer(record, _licence_base(request)))


async def admin_checkin_code(request: web.Request) -> web.Response:
    """The check-in code the hall's screens show today (what a person would read at the hall)."""
    world = request.app[WORLD]
    hall = world.hall(request.match_info["hall_id"])
    today = world.clock.today()
    return _json({"hall_id": hall.id, "date": today, "code": world.queues.checkin_code(hall.id, today), "lat": hall.lat, "lng": hall.lng})


async def admin_hall_queue(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    hall = world.hall(request.match_info["hall_id"])
    queue = world.queues.days.get((hall.id, world.clock.today()))
    return _json({"items": [world.queues.answer(r.ticket.id) for r in queue.tickets] if queue else []})


async def admin_call_next(request: web.Request) -> web.Response:
    """A window (or, without window_id, the one with the most urgent person waiting) calls its next number."""
    body = await _body(request, CallSpec)
    called, served, event = request.app[WORLD].call_next(request.match_info["hall_id"], body.window_id)
    if event is not None:
        _emit(request.app, event)
    return _json({"called": called, "served": served, "event": event})


async def admin_queue_pace(request: web.Request) -> web.Response:
    """Let the simulator call numbers by itself: every `seconds`, one window in each busy hall calls."""
    body = await _body(request, PaceSpec)
    state, world = request.app[STATE], request.app[WORLD]
    await _stop_pacer(state)
    world.queues.pace = body.seconds
    if body.seconds:
        state.pacer = asyncio.get_running_loop().create_task(_pace(request.app))
    return _json({"seconds": body.seconds})


async def _pace(app: web.Application) -> None:
    world = app[WORLD]
    while world.queues.pace:
        await asyncio.sleep(world.queues.pace)
        for record in world.queues.tick():
            event = world.queue_event(record)
            if event is not None:
                _emit(app, event)


async def _stop_pacer(state: SimulatorState) -> None:
    if state.pacer is not None:
        state.pacer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.pacer
        state.pacer = None


async def admin_ticket_missed(request: web.Request) -> web.Response:
    return _json(request.app[WORLD].queues.mark_missed(request.match_info["ticket_id"]))


async def admin_residents(request: web.Request) -> web.Response:
    """Residents with their ID numbers and phones (a test's way to pick people), filtered by age."""
    world = request.app[WORLD]
    low, high = _int(request, "min_age", 0, 0, 150), _int(request, "max_age", 150, 0, 150)
    items = []
    for record in world.residents.records.values():
        resident = world.residents.resident(record.id_number)
        if low <= resident.age <= high:
            items.append(resident.model_dump(mode="json") | {"phone": record.phone, "full_name": record.name})
    return _json({"items": items})


async def admin_new_resident(request: web.Request) -> web.Response:
    body = await _body(request, NewResident)
    world = request.app[WORLD]
    world.residents.add(body.id_number, body.name, body.phone, body.household_region_code)
    return _json(world.residents.resident(body.id_number), 201)


async def admin_benefit_types(request: web.Request) -> web.Response:
    return _json({"items": [{"code": b.code, "name": b.name, "holder": b.holder, "department": b.department} for b in request.app[WORLD].benefits.values()]})


async def admin_grant_benefit(request: web.Request) -> web.Response:
    """免申即享: the platform grants a benefit by itself and tells the bot (benefit_granted)."""
    body = await _body(request, BenefitSpec)
    event = request.app[WORLD].grant_benefit(body.benefit_code, id_number=body.id_number, credit_code=body.credit_code, amount=body.amount)
    _emit(request.app, event)
    return _json({"event": event}, 201)


async def admin_clock(request: web.Request) -> web.Response:
    clock = request.app[WORLD].clock
    return _json({"now": clock.now().isoformat(), "offset_seconds": int(clock.offset.total_seconds())})


async def admin_set_clock(request: web.Request) -> web.Response:
    """Move the platform's now (booking days, hall hours, licence expiry, events' times); real=true undoes it."""
    body = await _body(request, ClockSpec)
    clock = request.app[WORLD].clock
    if body.real:
        clock.offset = timedelta(0)
    elif body.at is not None:
        if body.at.tzinfo is None:
            raise Refusal(ErrorCode.invalid_request, "at needs a UTC offset, e.g. 2026-12-07T10:00:00+08:00", 400)
        clock.set(body.at)
    else:
        clock.offset += timedelta(minutes=body.advance_minutes)
    return await admin_clock(request)


async def admin_reset(request: web.Request) -> web.Response:
    request.app[WORLD].reset()
    state = request.app[STATE]
    await _stop_pacer(state)
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
