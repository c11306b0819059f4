"""Async client of the platform contract (openapi.yaml).

Every call has a timeout, cut to what is left before the caller's `answer_by` (a conversation
turn sets it to WeChat's deadline: a slow platform is given up on in time for the dialog to say
so in its reply). Idempotent calls (reads, and writes carrying an Idempotency-Key) are retried a
bounded number of times with backoff, while time is left; others never. A circuit breaker opens
after consecutive failures so that, during an outage, calls fail at once instead of each waiting
out its timeout while a person waits in the chat."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass
from contextvars import ContextVar
from datetime import date
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import ClientError, ClientSession, ClientTimeout, MultipartWriter
from pydantic import BaseModel, TypeAdapter, ValidationError

from integrations.platform.media import refusal as media_refusal
from integrations.platform.models import (
    AnnualReport,
    Appointment,
    AppointmentRequest,
    Bundle,
    BundleApplication,
    BundleCard,
    BundleLookup,
    Case,
    CaseFilter,
    CasePage,
    Complaint,
    ComplaintRequest,
    Enterprise,
    EnterpriseProfile,
    EnterpriseVerification,
    Error,
    ErrorCode,
    Guide,
    GuidePage,
    Hall,
    Licence,
    LicenceLookup,
    LicencePage,
    MaterialUpload,
    MatterPage,
    MatterSummary,
    Rating,
    RatingLevel,
    RatingRequest,
    RescheduleRequest,
    Resident,
    ResidentLookup,
    ResidentPage,
    Slot,
    Ticket,
    TicketRequest,
    VerificationCheck,
)

M = TypeVar("M")

#: The running loop's time by which the caller must have its answer, or None (no deadline but
#: the client's timeout). Set per task or context; bot.turn.dispatcher sets it for each turn.
answer_by: ContextVar[float | None] = ContextVar("platform_answer_by", default=None)

#: An attempt is not started with less time than this before `answer_by`: it could not succeed.
MIN_ATTEMPT_SECONDS = 0.1


class PlatformError(Exception):
    """The platform answered with one of the contract's errors: something to explain to a person."""

    def __init__(self, error: Error, status: int):
        super().__init__(f"{error.code.value}: {error.message}")
        self.code: ErrorCode = error.code
        self.message = error.message
        self.status = status


class PlatformUnavailable(Exception):
    """The platform is slow, down, answering garbage, or the breaker is open: try again later."""


class CircuitBreaker:
    """Closed -> open after `threshold` consecutive failures -> half-open after `cooldown` s,
    when one trial call decides whether to close again."""

    def __init__(self, threshold: int = 5, cooldown: float = 15.0):
        self.threshold, self.cooldown = threshold, cooldown
        self.failures = 0
        self.opened_at: float | None = None

    def check(self) -> None:
        if self.opened_at is None:
            return
        if time.monotonic() - self.opened_at < self.cooldown:
            raise PlatformUnavailable("platform circuit open")
        self.opened_at = time.monotonic()  # half-open: let this one call through, hold the rest

    def success(self) -> None:
        self.failures, self.opened_at = 0, None

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()

    @property
    def open(self) -> bool:
        return self.opened_at is not None and time.monotonic() - self.opened_at < self.cooldown


_LIST_ITEMS = {Bundle: TypeAdapter(list[Bundle]), Hall: TypeAdapter(list[Hall]), Slot: TypeAdapter(list[Slot]), Appointment: TypeAdapter(list[Appointment])}


@dataclass(frozen=True)
class FormBody:
    """A multipart/form-data body, encoded once so that a retry sends the very same bytes."""

    data: bytes
    content_type: str


class PlatformClient:
    def __init__(self, base_url: str, session: ClientSession, *, timeout: float = 3.0, retries: int = 2, breaker: CircuitBreaker | None = None,
                 observe: Callable[[str, float, str], None] | None = None, token: str = ""):
        self.base_url = base_url.rstrip("/")
        self.observe = observe  # (operation, seconds, outcome) after each attempt: for metrics
        self.session = session
        self.timeout = ClientTimeout(total=timeout)
        self.retries = retries
        self.breaker = breaker or CircuitBreaker()
        self.token = token  # the bot's platform token (PlatformToken): people data needs it

    # Matters ----------------------------------------------------------------------------

    async def matters_page(self, offset: int = 0, limit: int = 500) -> MatterPage:
        return await self._call("GET", "/matters", MatterPage, params={"offset": offset, "limit": limit})

    async def all_matters(self) -> tuple[list[MatterSummary], str]:
        """Every matter the platform lists, page by page, and the catalog version."""
        items: list[MatterSummary] = []
        page = await self.matters_page()
        items.extend(page.items)
        while page.next_offset is not None:
            page = await self.matters_page(page.next_offset)
            items.extend(page.items)
        return items, page.version

    async def all_guides(self) -> list[Guide]:
        """Every full guide, page by page: what a catalog sync needs, in a few calls."""
        guides: list[Guide] = []
        offset: int | None = 0
        while offset is not None:
            page = await self._call("GET", "/guides", GuidePage, params={"offset": offset, "limit": 200})
            guides.extend(page.items)
            offset = page.next_offset
        return guides

    async def matter(self, code: str) -> MatterSummary:
        return await self._call("GET", f"/matters/{code}", MatterSummary)

    async def guide(self, code: str) -> Guide:
        return await self._call("GET", f"/matters/{code}/guide", Guide)

    async def bundles(self) -> list[Bundle]:
        return await self._items("GET", "/bundles", Bundle)

    async def bundle(self, code: str) -> BundleCard:
        """A bundle card: its matters, departments, promised time and the halls that serve it all."""
        return await self._call("GET", f"/bundles/{code}", BundleCard)

    # Halls and booking --------------------------------------------------------------------

    async def halls(self) -> list[Hall]:
        return await self._items("GET", "/halls", Hall)

    async def hall(self, hall_id: str) -> Hall:
        return await self._call("GET", f"/halls/{hall_id}", Hall)

    async def booking_days(self, matter_code: str, hall_id: str) -> list[tuple[date, int]]:
        data = await self._call("GET", "/booking/days", None, params={"matter_code": matter_code, "hall_id": hall_id})
        return [(date.fromisoformat(d["date"]), int(d["remaining"])) for d in data["items"]]

    async def slots(self, matter_code: str, hall_id: str, day: date) -> list[Slot]:
        return await self._items("GET", "/booking/slots", Slot, params={"matter_code": matter_code, "hall_id": hall_id, "date": day.isoformat()})

    async def bundle_booking_days(self, bundle_code: str, hall_id: str) -> list[tuple[date, int]]:
        data = await self._call("GET", "/booking/days", None, params={"bundle_code": bundle_code, "hall_id": hall_id})
        return [(date.fromisoformat(d["date"]), int(d["remaining"])) for d in data["items"]]

    async def bundle_slots(self, bundle_code: str, hall_id: str, day: date) -> list[Slot]:
        return await self._items("GET", "/booking/slots", Slot, params={"bundle_code": bundle_code, "hall_id": hall_id, "date": day.isoformat()})

    async def book(self, request: AppointmentRequest, idempotency_key: str) -> Appointment:
        """Create an appointment; the same key always yields the same one (safe to retry)."""
        return await self._call("POST", "/appointments", Appointment, body=request, idempotency_key=idempotency_key)

    async def appointment(self, appointment_id: str) -> Appointment:
        return await self._call("GET", f"/appointments/{appointment_id}", Appointment)

    async def appointments_of(self, id_number: str, phone: str) -> list[Appointment]:
        # A read, sent as POST only to keep the ID number out of URLs and access logs.
        return await self._items("POST", "/applicants/appointments", Appointment, body={"id_number": id_number, "phone": phone}, idempotent=True)

    async def cancel(self, appointment_id: str) -> Appointment:
        return await self._call("POST", f"/appointments/{appointment_id}/cancel", Appointment, idempotent=False)

    async def reschedule(self, appointment_id: str, day: date, start: str, idempotency_key: str | None = None) -> Appointment:
        return await self._call("POST", f"/appointments/{appointment_id}/reschedule", Appointment,
                                body=RescheduleRequest(date=day, start=start), idempotency_key=idempotency_key or uuid.uuid4().hex)

    # Cases --------------------------------------------------------------------------------

    async def case(self, case_no: str, *, phone_last4: str | None = None, id_number: str | None = None) -> Case:
        body = {"case_no": case_no, "phone_last4": phone_last4, "id_number": id_number}
        return await self._call("POST", "/cases/lookup", Case, body=body, idempotent=True)

    async def enterprise_cases(self, credit_code: str) -> list[Case]:
        return (await self._call("GET", f"/enterprises/{credit_code}/cases", CasePage)).items

    async def enterprise_cases_page(self, credit_code: str, state: CaseFilter | None = None, *, offset: int = 0, limit: int = 20) -> CasePage:
        """One page of an enterprise's cases, newest first; `state` keeps those in progress, awaiting materials or done."""
        params = {"offset": offset, "limit": limit} | ({"state": state.value} if state is not None else {})
        return await self._call("GET", f"/enterprises/{credit_code}/cases", CasePage, params=params)

    async def bundle_application(self, bundle_no: str, *, phone_last4: str | None = None, id_number: str | None = None) -> BundleApplication:
        """A 一件事 application and its cases, by its number and a second factor."""
        body = BundleLookup(bundle_no=bundle_no, phone_last4=phone_last4, id_number=id_number)
        return await self._call("POST", "/bundle-applications/lookup", BundleApplication, body=body, idempotent=True)

    async def upload_material(self, case_no: str, material_id: str, content: bytes, *, filename: str, content_type: str, idempotency_key: str,
                              phone_last4: str | None = None, id_number: str | None = None, credit_code: str | None = None) -> MaterialUpload:
        """补正: send one file for one requested material. A file the platform would refuse (too large,
        not a JPEG, PNG or PDF) is refused here, as the platform would, without being sent."""
        refused = media_refusal(content)
        if refused is not None:
            message = "文件超过 10 MB" if refused == ErrorCode.media_too_large else "只收 JPG、PNG 图片或 PDF 文件"
            raise PlatformError(Error(code=refused, message=message), 413 if refused == ErrorCode.media_too_large else 415)
        fields = {"material_id": material_id, "phone_last4": phone_last4, "id_number": id_number, "credit_code": credit_code}
        body = await _form({k: v for k, v in fields.items() if v}, content, filename, content_type)
        return await self._call("POST", f"/cases/{case_no}/materials", MaterialUpload, body=body, idempotency_key=idempotency_key)

    # The hall queue ----------------------------------------------------------------------------

    async def take_ticket(self, request: TicketRequest, idempotency_key: str) -> Ticket:
        """取号 at a hall today; the same key (or the same appointment) always yields the same ticket."""
        return await self._call("POST", "/queue/tickets", Ticket, body=request, idempotency_key=idempotency_key)

    async def ticket(self, ticket_id: str) -> Ticket:
        return await self._call("GET", f"/queue/tickets/{ticket_id}", Ticket)

    # E-licences, enterprises and residents -----------------------------------------------------

    async def licences_of(self, id_number: str, phone_last4: str) -> list[Licence]:
        """A person's e-licences, after the platform checks the phone's last 4 digits against the ID number."""
        body = LicenceLookup(id_number=id_number, phone_last4=phone_last4)
        return (await self._call("POST", "/licences/lookup", LicencePage, body=body, idempotent=True)).items

    async def enterprise(self, credit_code: str) -> EnterpriseProfile:
        return await self._call("GET", f"/enterprises/{credit_code}", EnterpriseProfile)

    async def enterprise_licences(self, credit_code: str) -> list[Licence]:
        return (await self._call("GET", f"/enterprises/{credit_code}/licences", LicencePage)).items

    async def annual_report(self, credit_code: str, year: int) -> AnnualReport:
        return await self._call("GET", f"/enterprises/{credit_code}/annual-reports/{year}", AnnualReport)

    async def residents(self, id_numbers: list[str]) -> list[Resident]:
        """What the platform knows of these people (at most 100 a call); unknown ones are left out."""
        body = ResidentLookup(id_numbers=id_numbers)
        return (await self._call("POST", "/residents/lookup", ResidentPage, body=body, idempotent=True)).items

    async def resident(self, id_number: str) -> Resident | None:
        found = await self.residents([id_number])
        return found[0] if found else None

    # Ratings and enterprise binding ----------------------------------------------------------

    async def rate_case(self, case_no: str, level: RatingLevel, rater: str, idempotency_key: str) -> Rating:
        """好差评; the same key always yields the same rating (safe to retry)."""
        return await self._call("POST", f"/cases/{case_no}/ratings", Rating, body=RatingRequest(level=level, rater=rater), idempotency_key=idempotency_key)

    async def complain(self, case_no: str, rating_id: str, text: str, idempotency_key: str) -> Complaint:
        return await self._call("POST", f"/cases/{case_no}/complaints", Complaint, body=ComplaintRequest(rating_id=rating_id, text=text),
                                idempotency_key=idempotency_key)

    async def start_enterprise_verification(self, credit_code: str) -> EnterpriseVerification:
        """Have the platform text a code to the enterprise's registered contact (not retried: each try sends one)."""
        return await self._call("POST", f"/enterprises/{credit_code}/verifications", EnterpriseVerification, idempotent=False)

    async def check_enterprise_verification(self, credit_code: str, verification_id: str, code: str) -> Enterprise:
        return await self._call("POST", f"/enterprises/{credit_code}/verifications/{verification_id}/check", Enterprise,
                                body=VerificationCheck(code=code), idempotent=False)

    # The one way out ----------------------------------------------------------------------

    async def _items(self, method: str, path: str, model: type, **kwargs) -> list:
        data = await self._call(method, path, None, **kwargs)
        try:
            return _LIST_ITEMS[model].validate_python(data["items"])
        except (ValidationError, KeyError, TypeError) as exc:
            raise PlatformUnavailable(f"{path}: answer does not match the contract") from exc

    async def _call(self, method: str, path: str, model: type[M] | None, *, params: dict | None = None, body: Any = None,
                    idempotency_key: str | None = None, idempotent: bool | None = None) -> M:
        if idempotent is None:
            idempotent = method == "GET" or idempotency_key is not None
        payload, headers = self._encoded(body)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        attempts = 1 + (self.retries if idempotent else 0)
        last: Exception | None = None
        operation = f"{method} /{path.strip('/').split('/', 1)[0]}"
        due = answer_by.get()
        for attempt in range(attempts):
            timeout = self.timeout
            if due is not None:
                left = due - asyncio.get_running_loop().time()
                if left < MIN_ATTEMPT_SECONDS:  # the caller must answer now: this call has failed
                    self._observed(operation, None, "out_of_time")
                    raise PlatformUnavailable(f"{method} {path}: no time left before the caller's deadline") from last
                if left < timeout.total:
                    timeout = ClientTimeout(total=left)
            try:
                self.breaker.check()
            except PlatformUnavailable:
                self._observed(operation, None, "circuit_open")
                raise
            started = time.monotonic()
            try:
                async with self.session.request(method, self.base_url + path, params=params, data=payload, headers=headers, timeout=timeout) as resp:
                    raw = await resp.read()
                    status = resp.status
            except (ClientError, TimeoutError) as exc:
                last = exc
            else:
                if status < 500:
                    try:
                        result = _decode(path, status, raw, model)
                    except PlatformError:
                        self.breaker.success()  # the platform works; it said no
                        self._observed(operation, started, "refused")
                        raise
                    except PlatformUnavailable as exc:
                        last = exc
                    else:
                        self.breaker.success()
                        self._observed(operation, started, "ok")
                        return result
                else:
                    last = PlatformUnavailable(f"{path}: HTTP {status}")
            self._observed(operation, started, "unavailable")
            self.breaker.failure()
            if attempt + 1 < attempts:
                await asyncio.sleep(0.05 * 2**attempt + random.uniform(0, 0.05))
        raise PlatformUnavailable(f"{method} {path} failed: {last!r}") from last

    def _encoded(self, body: Any) -> tuple[bytes | None, dict[str, str]]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if body is None:
            return None, headers
        if isinstance(body, FormBody):
            return body.data, headers | {"Content-Type": body.content_type}
        payload = body.model_dump_json().encode() if isinstance(body, BaseModel) else _dumps(body)
        return payload, headers | {"Content-Type": "application/json"}

    def _observed(self, operation: str, started: float | None, outcome: str) -> None:
        """Report an attempt (None `started`: none was made: circuit_open, out_of_time)."""
        if self.observe is not None:
            self.observe(operation, 0.0 if started is None else time.monotonic() - started, outcome)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


async def _form(fields: dict[str, str], content: bytes, filename: str, content_type: str) -> FormBody:
    with MultipartWriter("form-data") as writer:
        for name, value in fields.items():
            writer.append(value).set_content_disposition("form-data", name=name)
        writer.append(content, {"Content-Type": content_type}).set_content_disposition("form-data", name="file", filename=filename or "file")
        data = await writer.as_bytes()
    return FormBody(data, writer.headers["Content-Type"])


def _decode(path: str, status: int, raw: bytes, model):
    try:
        if status >= 400:
            raise PlatformError(Error.model_validate_json(raw), status)
        if model is None:
            return json.loads(raw)
        return model.model_validate_json(raw)
    except (ValidationError, ValueError) as exc:
        raise PlatformUnavailable(f"{path}: answer does not match the contract (HTTP {status})") from exc
