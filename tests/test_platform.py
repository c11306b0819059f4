"""The platform client and its simulator agree, over real HTTP on loopback: every client call,
the booking rules, case verification, signed events, and failing fast when the platform fails;
then the journeys around a matter (一件事 bundles, 补正 uploads, the hall queue, e-licences) and the
proactive data (the enterprise desk, residents, 免申即享)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession, FormData, web
from pydantic import ValidationError

from integrations.platform.client import PlatformClient, PlatformError, PlatformUnavailable, answer_by
from integrations.platform.contract import generated_schemas, load
from integrations.platform.identifiers import credit_check_char, id_check_digit, valid_credit_code, valid_id_number
from integrations.platform.media import MAX_BYTES
from integrations.platform.models import (
    AppointmentRequest,
    AppointmentStatus,
    CaseFilter,
    CaseState,
    ErrorCode,
    LicenceStatus,
    TicketRequest,
    TicketStatus,
)
from integrations.platform.simulator import World, create_platform_simulator
from integrations.platform.simulator.app import DEV_CLIENT_TOKEN, WORLD
from integrations.platform.simulator.world import DEMO_CASE, DONE, TZ
from tests.support import wait_for

SECRET = "events-secret"


def person(n: int = 0) -> dict:
    first17 = f"51160219900101{n:03d}"
    return {"name": "张三", "id_number": first17 + id_check_digit(first17), "phone": f"1381234{n:04d}"}


@pytest.fixture(scope="module")
def world_template() -> World:
    return World.load()


@pytest.fixture
async def events(aiohttp_server):
    """A stand-in for the bot's /platform/events that checks signatures like the bot will."""
    received: list[dict] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        ts = request.headers["X-Ywtb-Timestamp"]
        expected = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers["X-Ywtb-Signature"]):
            return web.Response(status=403)
        received.append(await request.json())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/platform/events", receive)
    server = await aiohttp_server(app)
    server.received = received
    return server


@pytest.fixture
async def sim(aiohttp_server, events):
    app = create_platform_simulator(World.load(), events_url=str(events.make_url("/platform/events")), events_secret=SECRET)
    return await aiohttp_server(app)


@pytest.fixture
async def platform(sim):
    async with ClientSession() as http:
        yield PlatformClient(str(sim.make_url("")), http, timeout=1.0)


@pytest.fixture
def world(sim) -> World:
    return sim.app[WORLD]


def bookable(world: World):
    """A bookable matter, a hall serving it, and a day with at least two slots with room (the
    tests book two; which days have room changes with the day the test runs)."""
    for guide in sorted(world.guides.values(), key=lambda g: g.code):
        if not guide.bookable:
            continue
        for hall in world.halls.values():
            if not world.windows_serving(hall, guide.code):
                continue
            for day in world.bookable_days():
                free = [s for s in world.slots(guide.code, hall.id, day) if s.remaining >= 2]
                if len(free) >= 2:
                    return guide, hall, day, free
    raise AssertionError("the simulator data has nothing bookable")


# The contract ------------------------------------------------------------------------------


def test_contract_schemas_are_the_models():
    assert load()["components"]["schemas"] == generated_schemas(), "run: python -m integrations.platform.contract"


# Catalog, guides, halls --------------------------------------------------------------------


async def test_catalog_lists_every_district_matter_and_the_city_ones(platform, world):
    matters, version = await platform.all_matters()
    assert len(matters) == len({m.code for m in matters}) >= 1135
    assert version == world.version
    guided = [m for m in matters if m.has_guide]
    assert len(guided) >= 60


async def test_guide_tells_situational_materials(platform, world):
    guide = next(g for g in world.guides.values() if any(m.required == "situational" for m in g.materials))
    fetched = await platform.guide(guide.code)
    assert fetched == guide
    assert any(m.situations for m in fetched.materials)


async def test_unknown_matter_is_not_found(platform):
    with pytest.raises(PlatformError) as caught:
        await platform.guide("no-such-code")
    assert caught.value.code == ErrorCode.not_found and caught.value.status == 404


async def test_halls_and_bundles(platform):
    halls = await platform.halls()
    assert len(halls) >= 5 and all(h.windows and h.hours for h in halls)
    assert (await platform.hall(halls[0].id)).name == halls[0].name
    assert len(await platform.bundles()) >= 4


# Booking -----------------------------------------------------------------------------------


async def test_days_move_with_today_and_slots_show_capacity(platform, world):
    guide, hall, day, _ = bookable(world)
    days = await platform.booking_days(guide.code, hall.id)
    today = datetime.now(TZ).date()
    assert days and all(today < d <= today + timedelta(days=9) and d.weekday() < 5 for d, _ in days)
    slots = await platform.slots(guide.code, hall.id, day)
    assert all(0 <= s.remaining <= s.capacity for s in slots)


async def test_booking_twice_with_one_key_creates_one_appointment(platform, world):
    guide, hall, day, free = bookable(world)
    request = AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=person(1))
    key = uuid.uuid4().hex
    first = await platform.book(request, key)
    again = await platform.book(request, key)
    assert first == again and first.status == AppointmentStatus.booked
    assert first.applicant_name == "张*" and "*" in first.applicant_id_masked
    assert [a.id for a in await platform.appointments_of(person(1)["id_number"], person(1)["phone"])] == [first.id]


async def test_booking_rules_each_have_their_own_code(platform, world):
    guide, hall, day, free = bookable(world)
    applicant = person(2)

    async def refused(**changes) -> ErrorCode:
        fields = dict(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=applicant) | changes
        with pytest.raises(PlatformError) as caught:
            await platform.book(AppointmentRequest(**fields), uuid.uuid4().hex)
        return caught.value.code

    await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=applicant), uuid.uuid4().hex)
    assert await refused(start=free[1].start) == ErrorCode.one_per_day
    assert await refused(date=datetime.now(TZ).date()) == ErrorCode.too_soon
    assert await refused(date=day + timedelta(days=30)) == ErrorCode.too_far_ahead
    assert await refused(applicant=person(3) | {"id_number": person(3)["id_number"][:17] + ("1" if person(3)["id_number"][17] != "1" else "2")}) == ErrorCode.invalid_id_number
    not_bookable = next(g for g in world.guides.values() if not g.bookable)
    assert await refused(matter_code=not_bookable.code, applicant=person(4)) == ErrorCode.matter_not_bookable
    other_hall = next((h for h in world.halls.values() if not world.windows_serving(h, guide.code)), None)
    if other_hall is not None:
        assert await refused(hall_id=other_hall.id, applicant=person(5)) == ErrorCode.hall_not_serving
    full = next((s for d in world.bookable_days() for s in world.slots(guide.code, hall.id, d) if s.remaining == 0), None)
    assert full is not None, "the calendar should have some full slots"
    assert await refused(date=full.date, start=full.start, applicant=person(6)) == ErrorCode.slot_full
    with pytest.raises(PlatformError) as conflict:
        request = AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=person(7))
        key = uuid.uuid4().hex
        await platform.book(request, key)
        await platform.book(request.model_copy(update={"start": free[1].start}), key)
    assert conflict.value.code == ErrorCode.idempotency_conflict


async def test_cancel_and_its_cutoff(platform, world):
    guide, hall, day, free = bookable(world)
    a = await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=person(8)), uuid.uuid4().hex)
    assert (await platform.cancel(a.id)).status == AppointmentStatus.cancelled
    with pytest.raises(PlatformError) as again:
        await platform.cancel(a.id)
    assert again.value.code == ErrorCode.not_cancellable
    soon = await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[1].start, applicant=person(9)), uuid.uuid4().hex)
    stored = world.appointments[soon.id].appointment
    in_an_hour = datetime.now(TZ) + timedelta(hours=1)
    stored.date, stored.start = in_an_hour.date(), in_an_hour.strftime("%H:%M")
    with pytest.raises(PlatformError) as late:
        await platform.cancel(soon.id)
    assert late.value.code == ErrorCode.cancel_cutoff


async def test_reschedule_keeps_the_old_appointment_until_the_new_one_holds(platform, world):
    guide, hall, day, free = bookable(world)
    a = await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=person(10)), uuid.uuid4().hex)
    full = next(s for d in world.bookable_days() for s in world.slots(guide.code, hall.id, d) if s.remaining == 0)
    with pytest.raises(PlatformError) as caught:
        await platform.reschedule(a.id, full.date, full.start)
    assert caught.value.code == ErrorCode.slot_full
    assert (await platform.appointment(a.id)).status == AppointmentStatus.booked
    moved = await platform.reschedule(a.id, day, free[1].start)
    assert moved.id != a.id and moved.start == free[1].start and moved.status == AppointmentStatus.booked
    assert (await platform.appointment(a.id)).status == AppointmentStatus.cancelled


async def test_two_no_shows_block_booking(platform, world, sim):
    guide, hall, day, free = bookable(world)
    applicant = person(11)
    async with ClientSession() as http:
        for n in range(2):
            a = await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[n].start, applicant=applicant | {"phone": f"1390000000{n}"}), uuid.uuid4().hex)
            world.appointments[a.id].appointment.date = day + timedelta(days=7 * (n + 1))  # free the day again
            async with http.post(sim.make_url(f"/_admin/appointments/{a.id}/no-show")) as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "no_show"
    with pytest.raises(PlatformError) as caught:
        await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=applicant), uuid.uuid4().hex)
    assert caught.value.code == ErrorCode.no_show_blocked


# Cases -------------------------------------------------------------------------------------


def test_seeded_cases_cover_every_state_for_citizens_and_enterprises(world_template):
    cases = [r.case for r in world_template.cases.values()]
    assert len(cases) >= 50
    assert {c.state for c in cases} == set(CaseState)
    assert {c.applicant_kind for c in cases} == {"citizen", "enterprise"}
    assert all(valid_credit_code(c.credit_code) for c in cases if c.credit_code)
    assert all(len(c.case_no) == 20 and c.case_no.isdigit() for c in cases)


async def test_case_needs_the_right_second_factor_and_never_says_whether_it_exists(platform, world):
    record = next(r for r in world.cases.values() if r.phone and r.id_number)
    case = await platform.case(record.case.case_no, phone_last4=record.phone[-4:])
    assert case.case_no == record.case.case_no and case.timeline
    assert (await platform.case(record.case.case_no, id_number=record.id_number)).case_no == case.case_no
    wrong = "0000" if record.phone[-4:] != "0000" else "1111"
    with pytest.raises(PlatformError) as wrong_factor:
        await platform.case(record.case.case_no, phone_last4=wrong)
    with pytest.raises(PlatformError) as missing:
        await platform.case("51160220990101990001", phone_last4=record.phone[-4:])
    assert wrong_factor.value.code == missing.value.code == ErrorCode.case_not_verified
    assert wrong_factor.value.message == missing.value.message


async def test_enterprise_cases_by_credit_code(platform, world):
    code = next(r.case.credit_code for r in world.cases.values() if r.case.credit_code)
    cases = await platform.enterprise_cases(code)
    assert cases and all(c.credit_code == code for c in cases)
    with pytest.raises(PlatformError) as caught:
        await platform.enterprise_cases(code[:17] + ("0" if code[17] != "0" else "1"))
    assert caught.value.code == ErrorCode.invalid_credit_code


async def test_admin_case_and_advance_push_signed_events(sim, events, platform):
    async with ClientSession() as http:
        async with http.post(sim.make_url("/_admin/cases"), json={"applicant": person(12)}) as resp:
            created = await resp.json()
        assert resp.status == 201 and created["phone_last4"] == person(12)["phone"][-4:]
        for state in ("accepted", "handed_over", "materials_requested", "approved", "ready_for_collection"):
            async with http.post(sim.make_url(f"/_admin/cases/{created['case_no']}/advance"), json={"to": state}) as resp:
                assert resp.status == 200, await resp.text()
    case = await platform.case(created["case_no"], phone_last4=created["phone_last4"])
    assert case.state == CaseState.ready_for_collection and case.result.collection
    assert [s.state for s in case.timeline][-5:] == [CaseState(s) for s in ("accepted", "handed_over", "materials_requested", "approved", "ready_for_collection")]

    deadline = time.monotonic() + 5
    while len(events.received) < 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert [e["type"] for e in events.received] == ["accepted", "handed_over", "materials_requested", "approved", "ready_for_collection"]
    assert len({e["id"] for e in events.received}) == 5
    handed = events.received[1]
    assert handed["from_department"] and handed["department"] != handed["from_department"]


# Failing fast -----------------------------------------------------------------------------


async def faults(sim, **spec) -> None:
    async with ClientSession() as http:
        async with http.post(sim.make_url("/_admin/faults"), json=spec) as resp:
            assert resp.status == 200


async def test_slow_platform_fails_fast_at_the_client_timeout(platform, sim):
    await faults(sim, latency=5)
    started = time.monotonic()
    with pytest.raises(PlatformUnavailable):
        await platform.halls()
    assert time.monotonic() - started < 4.5  # (1 + 2 retries) x 1 s timeout, not 3 x 5 s


async def test_a_call_gives_up_in_time_for_its_callers_deadline(platform, sim):
    """`answer_by` (a turn's deadline) cuts the attempt and its retries to the time left, and
    no attempt starts without time for it: the caller hears "unavailable" in time to say so."""
    await faults(sim, latency=5)
    loop = asyncio.get_running_loop()
    outcomes = []
    platform.observe = lambda operation, seconds, outcome: outcomes.append(outcome)
    token = answer_by.set(loop.time() + 0.4)
    try:
        started = loop.time()
        with pytest.raises(PlatformUnavailable):
            await platform.halls()
        assert loop.time() - started < 0.4 + 0.3  # not the client's 1 s timeout, nor its 2 retries
        assert outcomes[0] == "unavailable" and outcomes[-1] == "out_of_time"
        answer_by.set(loop.time() - 1)  # past already: not even tried
        outcomes.clear()
        with pytest.raises(PlatformUnavailable, match="no time left"):
            await platform.halls()
        assert outcomes == ["out_of_time"]
    finally:
        answer_by.reset(token)


async def test_failing_platform_opens_the_breaker_then_recovers(platform, sim):
    await faults(sim, status=503)
    for _ in range(2):
        with pytest.raises(PlatformUnavailable):
            await platform.halls()  # 3 tries each: the breaker opens after 5 failures
    await faults(sim)  # the platform is back, but the breaker is still open
    with pytest.raises(PlatformUnavailable, match="circuit open"):
        await platform.halls()
    platform.breaker.opened_at -= platform.breaker.cooldown  # the cooldown has passed
    assert await platform.halls()


async def test_garbage_answers_are_unavailable_not_crashes(platform, sim):
    await faults(sim, garbage=True, times=3)
    with pytest.raises(PlatformUnavailable, match="contract"):
        await platform.matter("x")


async def test_writes_without_an_idempotency_key_are_not_retried(platform, world, sim):
    guide, hall, day, free = bookable(world)
    a = await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=person(13)), uuid.uuid4().hex)
    await faults(sim, status=503, times=1)
    with pytest.raises(PlatformUnavailable):
        await platform.cancel(a.id)
    assert (await platform.appointment(a.id)).status == AppointmentStatus.booked  # one try, no retry


def test_identifier_check_digits():
    assert valid_id_number("11010519491231002X") and not valid_id_number("110105194912310021")
    assert valid_credit_code("91350100M000100Y43") and not valid_credit_code("91350100M000100Y42")


# Helpers for the journeys ---------------------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(200)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00" + bytes(64)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


async def admin(sim, method: str, path: str, **kwargs) -> tuple[int, dict]:
    async with ClientSession() as http:
        async with http.request(method, sim.make_url(path), **kwargs) as resp:
            return resp.status, await resp.json()


def documented(operation_path: str, method: str, status: int) -> bool:
    return str(status) in load()["paths"][operation_path][method]["responses"]


async def events_of(events, kind: str, count: int = 1) -> list[dict]:
    async def arrived():
        found = [e for e in events.received if e["type"] == kind]
        return found if len(found) >= count else None

    return await wait_for(arrived) or []


async def case_awaiting(sim, applicant: dict, materials: list[str]) -> dict:
    """A new case of the applicant's, accepted, now awaiting `materials` (补正)."""
    status, created = await admin(sim, "POST", "/_admin/cases", json={"applicant": applicant})
    assert status == 201
    for state, extra in (("accepted", {}), ("materials_requested", {"materials": materials})):
        status, _ = await admin(sim, "POST", f"/_admin/cases/{created['case_no']}/advance", json={"to": state} | extra)
        assert status == 200
    return created


async def post_upload(sim, case_no: str, content: bytes, *, content_type: str = "image/jpeg", key: str | None = None, **fields) -> tuple[int, dict]:
    """An upload as any client could send it, past the bot's client's own checks."""
    form = FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", content, filename="photo.jpg", content_type=content_type)
    return await admin(sim, "POST", f"/cases/{case_no}/materials", data=form, headers={"Idempotency-Key": key or uuid.uuid4().hex})


# 一件事 bundles ----------------------------------------------------------------------------------


async def test_every_bundle_card_names_its_matters_departments_and_a_hall_for_all_of_it(platform, world):
    bundles = await platform.bundles()
    assert len(bundles) >= 8
    for bundle in bundles:
        card = await platform.bundle(bundle.code)
        assert [p.code for p in card.parts] == bundle.matters and all(p.name and p.department and p.result for p in card.parts)
        assert card.departments == list(dict.fromkeys(p.department for p in card.parts))
        assert card.promised_days == bundle.promised_days > 0 and card.bookable and card.halls
        for hall_id in card.halls:
            served = {code for w in (await platform.hall(hall_id)).windows for code in w.matters}
            assert set(bundle.matters) <= served, (bundle.name, hall_id)
    with pytest.raises(PlatformError) as caught:
        await platform.bundle("YJS-000000-999")
    assert caught.value.code == ErrorCode.not_found


async def test_one_appointment_books_a_whole_bundle_at_one_hall(sim, platform, world):
    card = await platform.bundle("YJS-511602-003")  # 出生一件事: six matters, three departments
    hall = card.halls[0]
    days = await platform.bundle_booking_days(card.code, hall)
    day = next(d for d, remaining in days if remaining > 0)
    slot = next(s for s in await platform.bundle_slots(card.code, hall, day) if s.remaining > 0)
    assert slot.bundle_code == card.code and slot.matter_code == card.matters[0]
    applicant = person(20)
    booked = await platform.book(AppointmentRequest(bundle_code=card.code, hall_id=hall, date=day, start=slot.start, applicant=applicant), uuid.uuid4().hex)
    assert booked.bundle_code == card.code and booked.matter_name == card.name and booked.status == AppointmentStatus.booked
    assert [a.id for a in await platform.appointments_of(applicant["id_number"], applicant["phone"])] == [booked.id]
    with pytest.raises(PlatformError) as twice:
        later = next(s for s in await platform.bundle_slots(card.code, hall, day) if s.remaining > 0 and s.start != slot.start)
        await platform.book(AppointmentRequest(bundle_code=card.code, hall_id=hall, date=day, start=later.start, applicant=applicant), uuid.uuid4().hex)
    assert twice.value.code == ErrorCode.one_per_day
    partial = next(h for h in world.halls.values() if h.id not in card.halls and any(world.windows_serving(h, m) for m in card.matters))
    with pytest.raises(PlatformError) as not_all:
        await platform.bundle_slots(card.code, partial.id, day)
    assert not_all.value.code == ErrorCode.hall_not_serving
    with pytest.raises(ValidationError):
        AppointmentRequest(matter_code=card.matters[0], bundle_code=card.code, hall_id=hall, date=day, start=slot.start, applicant=applicant)
    status, answer = await admin(sim, "POST", "/appointments", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "matter_code": card.matters[0], "bundle_code": card.code, "hall_id": hall, "date": day.isoformat(), "start": slot.start, "applicant": person(21)})
    assert status == 400 and answer["code"] == "INVALID_REQUEST"


async def test_a_bundle_application_is_one_case_per_matter_under_one_number(sim, events, platform):
    applicant = person(22)
    status, created = await admin(sim, "POST", "/_admin/bundle-applications", json={"bundle_code": "YJS-511602-008", "applicant": applicant})
    assert status == 201 and created["bundle_no"].startswith("YJS") and len(created["case_nos"]) == 3
    application = await platform.bundle_application(created["bundle_no"], phone_last4=applicant["phone"][-4:])
    assert application.bundle_name == "失业一件事" and application.done is False
    assert [c.case_no for c in application.cases] == created["case_nos"]
    assert {c.bundle_no for c in application.cases} == {created["bundle_no"]}
    assert (await platform.bundle_application(created["bundle_no"], id_number=applicant["id_number"])).bundle_no == created["bundle_no"]
    with pytest.raises(PlatformError) as wrong:
        await platform.bundle_application(created["bundle_no"], phone_last4="0000" if applicant["phone"][-4:] != "0000" else "1111")
    with pytest.raises(PlatformError) as missing:
        await platform.bundle_application("YJS511602209901010001", phone_last4=applicant["phone"][-4:])
    assert wrong.value.code == missing.value.code == ErrorCode.case_not_verified and wrong.value.message == missing.value.message
    for case_no in created["case_nos"]:
        for state in ("accepted", "approved"):
            assert (await admin(sim, "POST", f"/_admin/cases/{case_no}/advance", json={"to": state}))[0] == 200
    steps = await events_of(events, "approved", 3)
    assert {e["case_no"] for e in steps} == set(created["case_nos"])
    assert all(e["bundle_no"] == created["bundle_no"] for e in events.received)
    assert (await platform.bundle_application(created["bundle_no"], phone_last4=applicant["phone"][-4:])).done


# 补正 uploads ------------------------------------------------------------------------------------


async def test_a_photo_is_counted_against_the_requested_material_and_shows_on_the_timeline(sim, platform):
    applicant = person(30)
    created = await case_awaiting(sim, applicant, ["申请人居民身份证（正反面）", "租赁合同"])
    case = await platform.case(created["case_no"], phone_last4=created["phone_last4"])
    ids = {m.name: m.id for m in case.requested_materials}
    assert [m.status for m in case.requested_materials] == ["requested", "requested"]
    key = uuid.uuid4().hex
    first = await platform.upload_material(created["case_no"], ids["租赁合同"], JPEG, filename="合同.jpg", content_type="image/jpeg",
                                           idempotency_key=key, phone_last4=created["phone_last4"])
    assert first.material_name == "租赁合同" and first.media_type == "image/jpeg" and first.size == len(JPEG)
    assert [m.name for m in first.remaining] == ["申请人居民身份证（正反面）"]
    again = await platform.upload_material(created["case_no"], ids["租赁合同"], JPEG, filename="合同.jpg", content_type="image/jpeg",
                                           idempotency_key=key, phone_last4=created["phone_last4"])
    assert again == first
    # a PNG sent as "PDF" is counted as what it is
    second = await platform.upload_material(created["case_no"], ids["申请人居民身份证（正反面）"], PNG, filename="id.pdf", content_type="application/pdf",
                                            idempotency_key=uuid.uuid4().hex, id_number=applicant["id_number"])
    assert second.media_type == "image/png" and second.remaining == []
    case = await platform.case(created["case_no"], phone_last4=created["phone_last4"])
    assert [m.status for m in case.requested_materials] == ["received", "received"] and case.state == CaseState.materials_requested
    notes = [s.note for s in case.timeline if s.name == "收到补正材料"]
    assert notes == ["已收到「租赁合同」（照片）", "已收到「申请人居民身份证（正反面）」（照片）"]
    status, uploads = await admin(sim, "GET", f"/_admin/cases/{created['case_no']}/uploads")
    assert status == 200 and [u["upload"]["sha256"] for u in uploads["items"]] == [hashlib.sha256(JPEG).hexdigest(), hashlib.sha256(PNG).hexdigest()]
    status, resumed = await admin(sim, "POST", f"/_admin/cases/{created['case_no']}/resume")
    assert status == 200 and resumed["case"]["state"] == "processing" and resumed["case"]["clock_paused"] is False


async def test_bad_uploads_get_their_documented_refusals(sim, platform, world):
    applicant = person(31)
    created = await case_awaiting(sim, applicant, ["营业执照副本"])
    case_no, last4 = created["case_no"], created["phone_last4"]
    material = (await platform.case(case_no, phone_last4=last4)).requested_materials[0].id
    path = "/cases/{case_no}/materials"

    async def refused(content: bytes, **fields) -> tuple[int, str]:
        status, answer = await post_upload(sim, case_no, content, **({"material_id": material, "phone_last4": last4} | fields))
        assert documented(path, "post", status), status
        return status, answer["code"]

    assert await refused(b"GIF89a not one of ours") == (415, "MEDIA_TYPE_REFUSED")
    assert await refused(b"<html>hello</html>", content_type="image/jpeg") == (415, "MEDIA_TYPE_REFUSED")
    assert await refused(b"\xff\xd8\xff" + bytes(MAX_BYTES)) == (413, "MEDIA_TOO_LARGE")
    assert await refused(JPEG, material_id="M999") == (422, "MATERIAL_NOT_REQUESTED")
    assert await refused(JPEG, phone_last4="0000" if last4 != "0000" else "1111") == (404, "CASE_NOT_VERIFIED")
    assert (await post_upload(sim, case_no, JPEG, material_id=material))[0] == 400  # no factor at all
    other = next(r for r in world.cases.values() if r.phone and r.case.state == CaseState.accepted)
    status, answer = await post_upload(sim, other.case.case_no, JPEG, material_id="M1", phone_last4=other.phone[-4:])
    assert (status, answer["code"]) == (409, "CASE_NOT_AWAITING_MATERIALS")
    key = uuid.uuid4().hex
    assert (await post_upload(sim, case_no, JPEG, key=key, material_id=material, phone_last4=last4))[0] == 201
    assert (await post_upload(sim, case_no, PDF, key=key, material_id=material, phone_last4=last4))[1]["code"] == "IDEMPOTENCY_CONFLICT"
    async with ClientSession() as http:
        async with http.post(sim.make_url(f"/cases/{case_no}/materials"), data=b"{}", headers={"Idempotency-Key": uuid.uuid4().hex,
                                                                                             "Content-Type": "application/json"}) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "INVALID_REQUEST"
    # the bot's client refuses what the platform would, without sending it
    before = len(world.uploads.items)
    with pytest.raises(PlatformError) as too_big:
        await platform.upload_material(case_no, material, b"\xff\xd8\xff" + bytes(MAX_BYTES), filename="x.jpg", content_type="image/jpeg",
                                       idempotency_key=uuid.uuid4().hex, phone_last4=last4)
    with pytest.raises(PlatformError) as not_media:
        await platform.upload_material(case_no, material, b"MZ\x90\x00", filename="x.jpg", content_type="image/jpeg",
                                       idempotency_key=uuid.uuid4().hex, phone_last4=last4)
    assert (too_big.value.code, not_media.value.code) == (ErrorCode.media_too_large, ErrorCode.media_type_refused)
    assert len(world.uploads.items) == before


async def test_an_upload_that_met_a_failing_platform_is_retried_and_counted_once(sim, platform, world):
    created = await case_awaiting(sim, person(32), ["户口簿本人页"])
    material = (await platform.case(created["case_no"], phone_last4=created["phone_last4"])).requested_materials[0].id
    await faults(sim, status=503, times=1)
    upload = await platform.upload_material(created["case_no"], material, PDF, filename="户口簿.pdf", content_type="application/pdf",
                                            idempotency_key=uuid.uuid4().hex, phone_last4=created["phone_last4"])
    assert upload.media_type == "application/pdf" and upload.sha256 == hashlib.sha256(PDF).hexdigest()
    assert [u["upload"].id for u in world.uploads.items.values() if u["upload"].case_no == created["case_no"]] == [upload.id]


async def test_the_demo_case_awaits_materials_with_the_documented_factor(platform):
    case = await platform.case(DEMO_CASE["case_no"], phone_last4=DEMO_CASE["phone"][-4:])
    assert case.state == CaseState.materials_requested and [m.id for m in case.requested_materials] == ["M1", "M2"]
    example = load()["paths"]["/cases/{case_no}/materials"]["post"]
    assert example["parameters"][0]["example"] == DEMO_CASE["case_no"]
    assert example["requestBody"]["content"]["multipart/form-data"]["example"]["phone_last4"] == DEMO_CASE["phone"][-4:]


# The hall queue ----------------------------------------------------------------------------------


async def booked_today(platform, world, n: int):
    """An appointment, with the simulator's clock moved to five minutes into its slot."""
    guide, hall, day, free = bookable(world)
    appointment = await platform.book(AppointmentRequest(matter_code=guide.code, hall_id=hall.id, date=day, start=free[0].start, applicant=person(n)), uuid.uuid4().hex)
    world.clock.set(datetime.combine(day, datetime.strptime(appointment.start, "%H:%M").time(), TZ) + timedelta(minutes=5))
    return appointment, hall


async def test_an_appointment_today_becomes_a_priority_number_called_to_a_window(sim, events, platform, world):
    appointment, hall = await booked_today(platform, world, 40)
    status, screen = await admin(sim, "GET", f"/_admin/halls/{hall.id}/checkin-code")
    assert status == 200 and len(screen["code"]) == 6
    request = TicketRequest(hall_id=hall.id, appointment_id=appointment.id, checkin_code=screen["code"])
    ticket = await platform.take_ticket(request, uuid.uuid4().hex)
    assert ticket.priority and ticket.number.startswith("Y") and ticket.status == TicketStatus.waiting and ticket.ahead == 0
    assert ticket.matter_code == appointment.matter_code and ticket.appointment_id == appointment.id
    assert (await platform.take_ticket(request, uuid.uuid4().hex)).id == ticket.id  # one number per appointment
    status, call = await admin(sim, "POST", f"/_admin/halls/{hall.id}/call-next", json={})
    assert status == 200 and call["called"]["id"] == ticket.id
    called = await platform.ticket(ticket.id)
    window = next(w for w in hall.windows if w.id == called.window_id)
    assert called.status == TicketStatus.called and appointment.matter_code in window.matters and called.window_name == window.name
    pushed = (await events_of(events, "queue_called"))[0]
    assert pushed["ticket"]["number"] == ticket.number and pushed["ticket"]["window_name"] == window.name
    assert pushed["appointment_id"] == appointment.id and pushed["case_no"] == ""
    status, call = await admin(sim, "POST", f"/_admin/halls/{hall.id}/call-next", json={"window_id": window.id})
    assert call["served"]["id"] == ticket.id and (await platform.ticket(ticket.id)).status == TicketStatus.served
    assert (await platform.appointment(appointment.id)).status == AppointmentStatus.completed


async def test_a_walk_in_waits_behind_the_people_already_there_and_sees_the_queue_move(sim, events, platform, world):
    guide, hall, day, _ = bookable(world)
    world.clock.set(datetime.combine(day, datetime.strptime("10:00", "%H:%M").time(), TZ))
    ticket = await platform.take_ticket(TicketRequest(hall_id=hall.id, matter_code=guide.code, location={"lat": hall.lat + 0.001, "lng": hall.lng}),
                                        uuid.uuid4().hex)
    assert not ticket.priority and ticket.number[0].isalpha() and ticket.number[0] != "Y"
    assert ticket.ahead >= 1 and ticket.estimated_minutes > 0
    window = next(w for w in hall.windows if guide.code in w.matters)
    seen = [ticket.ahead]
    while (current := await platform.ticket(ticket.id)).status == TicketStatus.waiting:
        assert current.ahead <= seen[-1]
        seen.append(current.ahead)
        assert (await admin(sim, "POST", f"/_admin/halls/{hall.id}/call-next", json={"window_id": window.id}))[0] == 200
    assert current.status == TicketStatus.called and current.window_id == window.id and seen[-1] == 0
    pushed = await events_of(events, "queue_called")
    assert [e["ticket"]["id"] for e in pushed] == [ticket.id] and pushed[0]["appointment_id"] is None  # nobody else's number is pushed


async def test_taking_a_number_is_refused_unless_at_the_right_hall_on_the_day_in_hours(sim, platform, world):
    appointment, hall = await booked_today(platform, world, 41)
    code = world.queues.checkin_code(hall.id, world.clock.today())

    async def refused(**fields) -> ErrorCode:
        with pytest.raises(PlatformError) as caught:
            await platform.take_ticket(TicketRequest(**{"hall_id": hall.id, "appointment_id": appointment.id, "checkin_code": code} | fields), uuid.uuid4().hex)
        return caught.value.code

    assert await refused(checkin_code="000000" if code != "000000" else "111111") == ErrorCode.checkin_code_wrong
    assert await refused(checkin_code=None, location={"lat": hall.lat + 0.05, "lng": hall.lng}) == ErrorCode.not_at_hall
    other_hall = next(h for h in world.halls.values() if h.id != hall.id)
    assert await refused(hall_id=other_hall.id) == ErrorCode.wrong_hall
    assert await refused(appointment_id="A000000000000") == ErrorCode.not_found
    unserved = next(g for g in world.guides.values() if not world.windows_serving(hall, g.code))
    assert await refused(appointment_id=None, matter_code=unserved.code) == ErrorCode.hall_not_serving
    world.clock.set(world.clock.now() - timedelta(days=1))
    assert await refused() == ErrorCode.not_appointment_day
    world.clock.set(datetime.combine(appointment.date, datetime.strptime("22:00", "%H:%M").time(), TZ))
    assert await refused(checkin_code=world.queues.checkin_code(hall.id, appointment.date)) == ErrorCode.hall_closed
    world.clock.set(datetime.combine(appointment.date, datetime.strptime(appointment.start, "%H:%M").time(), TZ))
    world.appointments[appointment.id].appointment.status = AppointmentStatus.cancelled
    assert await refused() == ErrorCode.appointment_not_active


async def test_at_a_set_pace_the_simulator_calls_numbers_by_itself(sim, platform, world):
    guide, hall, day, _ = bookable(world)
    status, clock = await admin(sim, "POST", "/_admin/clock", json={"at": f"{day}T10:00:00+08:00"})
    assert status == 200 and clock["now"].startswith(f"{day}T10:00")
    ticket = await platform.take_ticket(TicketRequest(hall_id=hall.id, matter_code=guide.code, checkin_code=world.queues.checkin_code(hall.id, day)),
                                        uuid.uuid4().hex)
    assert (await admin(sim, "POST", "/_admin/queue/pace", json={"seconds": 0.02}))[0] == 200

    async def called():
        return (await platform.ticket(ticket.id)).status != TicketStatus.waiting

    assert await wait_for(called, timeout=20)
    assert (await admin(sim, "POST", "/_admin/queue/pace", json={"seconds": 0}))[1] == {"seconds": 0}
    assert (await admin(sim, "POST", "/_admin/clock", json={"real": True}))[1]["offset_seconds"] == 0


# E-licences -------------------------------------------------------------------------------------


async def test_an_approved_case_issues_an_e_licence_that_the_person_can_list_and_show(sim, events, platform, world):
    guide = next(g for g in sorted(world.guides.values(), key=lambda g: g.code)
                 if (kind := world.licences.type_for_result(g.result)) is not None and kind.holder == "citizen" and kind.renewal is None)
    applicant = person(50)
    status, created = await admin(sim, "POST", "/_admin/cases", json={"applicant": applicant, "matter_code": guide.code})
    for state in ("accepted", "processing", "reviewing", "approved"):
        assert (await admin(sim, "POST", f"/_admin/cases/{created['case_no']}/advance", json={"to": state}))[0] == 200
    approved = (await events_of(events, "approved"))[0]
    case = await platform.case(created["case_no"], phone_last4=created["phone_last4"])
    assert approved["licence_no"] == case.result.licence_no and approved["licence_name"] == case.result.licence_name
    licences = await platform.licences_of(applicant["id_number"], applicant["phone"][-4:])
    mine = next(item for item in licences if item.id == case.result.licence_id)
    assert mine.licence_no == case.result.licence_no and mine.case_no == created["case_no"] and mine.issuer
    assert mine.status == LicenceStatus.valid and mine.issued_on == world.clock.today() and mine.holder_name == "张*"
    async with ClientSession() as http:
        async with http.get(mine.view_url) as page:
            assert page.status == 200 and page.content_type == "text/html" and mine.licence_no in await page.text()
        async with http.get(mine.view_url.replace("sig=", "sig=0")) as forged:
            assert forged.status == 404 and (await forged.json())["code"] == "NOT_FOUND"
    with pytest.raises(PlatformError) as wrong:
        await platform.licences_of(applicant["id_number"], "0000" if applicant["phone"][-4:] != "0000" else "1111")
    assert wrong.value.code == ErrorCode.identity_not_verified


async def test_the_renewal_matter_extends_the_licence_it_renews(sim, platform, world):
    code, held = next((c, r) for c in world.enterprises for r in world.licences.of(c) if r.licence.name == "食品经营许可证")
    renewal = held.licence.renewal_matter_code
    before = held.licence.valid_until
    name = world.enterprises[code].enterprise.name
    status, created = await admin(sim, "POST", "/_admin/cases", json={"enterprise": {"name": name, "credit_code": code}, "matter_code": renewal})
    for state in ("accepted", "approved"):
        await admin(sim, "POST", f"/_admin/cases/{created['case_no']}/advance", json={"to": state})
    licences = await platform.enterprise_licences(code)
    renewed = next(item for item in licences if item.id == held.licence.id)
    assert renewed.valid_until == before.replace(year=before.year + 5) and renewed.case_no == created["case_no"]
    assert world.cases[created["case_no"]].case.result.licence_id == held.licence.id
    assert sum(1 for item in licences if item.name == "食品经营许可证") == 1


# The enterprise desk ------------------------------------------------------------------------------


async def test_the_enterprise_desk_lists_cases_by_state_newest_first_in_pages(sim, platform, world):
    code = next(iter(world.enterprises))
    name = world.enterprises[code].enterprise.name
    for to in ("materials_requested", "approved", None):
        status, created = await admin(sim, "POST", "/_admin/cases", json={"enterprise": {"name": name, "credit_code": code}})
        if to:
            await admin(sim, "POST", f"/_admin/cases/{created['case_no']}/advance", json={"to": to})
    everything = await platform.enterprise_cases(code)
    assert len(everything) >= 4 and [c.received_at for c in everything] == sorted((c.received_at for c in everything), reverse=True)
    grouped = {state: (await platform.enterprise_cases_page(code, state, limit=100)).items for state in CaseFilter}
    assert all(c.state == CaseState.materials_requested for c in grouped[CaseFilter.needs_materials]) and grouped[CaseFilter.needs_materials]
    assert all(c.state in DONE for c in grouped[CaseFilter.done]) and grouped[CaseFilter.done]
    assert all(c.state not in DONE and c.state != CaseState.materials_requested for c in grouped[CaseFilter.in_progress])
    assert sum(len(items) for items in grouped.values()) == len(everything)
    pages, offset = [], 0
    while offset is not None:
        page = await platform.enterprise_cases_page(code, offset=offset, limit=2)
        assert page.total == len(everything) and len(page.items) <= 2
        pages.extend(page.items)
        offset = page.next_offset
    assert [c.case_no for c in pages] == [c.case_no for c in everything]
    status, answer = await admin(sim, "GET", f"/enterprises/{code}/cases", params={"state": "lost"})
    assert status == 400 and answer["code"] == "INVALID_REQUEST"


async def test_enterprises_have_a_profile_and_licences_lapsing_within_each_reminder_horizon(sim, platform, world):
    horizons = {7: 0, 30: 0, 60: 0}
    for code in list(world.enterprises)[:12]:
        profile = await platform.enterprise(code)
        assert profile.credit_code == code and profile.district and profile.registered_on < world.clock.today() and "*" in profile.legal_representative
        for licence in await platform.enterprise_licences(code):
            assert licence.holder_kind == "enterprise" and licence.issuer and licence.valid_from <= (licence.valid_until or date.max)
            if licence.valid_until is not None and licence.days_left >= 0:
                assert licence.renewal_matter_code is None or licence.renewal_matter_code in world.summaries
                for limit in horizons:
                    if licence.days_left <= limit and licence.days_left > {7: 0, 30: 7, 60: 30}[limit]:
                        horizons[limit] += 1
    assert all(horizons.values()), horizons
    unknown = "91511602MA0000000" + credit_check_char("91511602MA0000000")
    for wrong, expected in ((unknown, ErrorCode.not_found), (unknown[:17] + ("0" if unknown[17] != "0" else "1"), ErrorCode.invalid_credit_code)):
        with pytest.raises(PlatformError) as caught:
            await platform.enterprise(wrong)
        assert caught.value.code == expected
    licence = (await platform.enterprise_licences(next(iter(world.enterprises))))[0]
    status, changed = await admin(sim, "POST", f"/_admin/licences/{licence.id}", json={"valid_until": (world.clock.today() + timedelta(days=30)).isoformat()})
    assert status == 200 and changed["days_left"] == 30
    status, changed = await admin(sim, "POST", f"/_admin/licences/{licence.id}", json={"valid_until": (world.clock.today() - timedelta(days=1)).isoformat()})
    assert changed["status"] == "expired"


async def test_the_yearly_report_follows_its_filing_window(sim, platform, world):
    code = next(c for c, e in world.enterprises.items() if e.profile.registered_on.year <= 2022)
    assert (await admin(sim, "POST", f"/_admin/enterprises/{code}/annual-reports/2023", json={"filed": False}))[0] == 200
    world.clock.set(datetime(2024, 3, 1, 10, tzinfo=TZ))
    report = await platform.annual_report(code, 2023)
    assert (report.status.value, report.opens_on, report.due_on) == ("pending", date(2024, 1, 1), date(2024, 6, 30))
    world.clock.set(datetime(2024, 7, 1, 10, tzinfo=TZ))
    assert (await platform.annual_report(code, 2023)).status.value == "overdue"
    assert (await platform.annual_report(code, 2024)).status.value == "not_due"
    status, filed = await admin(sim, "POST", f"/_admin/enterprises/{code}/annual-reports/2023", json={"filed": True, "filed_on": "2024-07-01"})  # filed late (补报)
    assert filed["status"] == "filed" and (await platform.annual_report(code, 2023)).filed_on == date(2024, 7, 1)
    with pytest.raises(PlatformError) as before:
        await platform.annual_report(code, 2001)
    assert before.value.code == ErrorCode.not_found


# Residents (政策找人) and 免申即享 -------------------------------------------------------------------


async def test_residents_need_the_bot_token_and_tell_age_and_household_district(sim, platform, world):
    status, elders = await admin(sim, "GET", "/_admin/residents", params={"min_age": 80})
    assert status == 200 and len(elders["items"]) >= 5
    ids = [r["id_number"] for r in elders["items"]][:5]
    with pytest.raises(PlatformError) as refused:
        await platform.residents(ids)
    assert refused.value.code == ErrorCode.unauthorized and refused.value.status == 401
    async with ClientSession() as http:
        trusted = PlatformClient(platform.base_url, http, timeout=1.0, token=DEV_CLIENT_TOKEN)
        unknown = "110105194912310021"[:17] + id_check_digit("11010519491231002")
        found = await trusted.residents(ids + [unknown])
        assert [r.id_number for r in found] == ids and all(r.age >= 80 for r in found)
        assert all(r.birth_date == date(int(r.id_number[6:10]), int(r.id_number[10:12]), int(r.id_number[12:14])) for r in found)
        assert all(r.household_district and len(r.household_region_code) == 6 and "*" in r.name for r in found)
        assert await trusted.resident(unknown) is None
        young = person(60)
        status, added = await admin(sim, "POST", "/_admin/residents", json=young | {"household_region_code": "511623"})
        assert status == 201
        assert (await trusted.resident(young["id_number"])).household_district == "邻水县"
        with pytest.raises(PlatformError) as bad:
            await trusted.residents([young["id_number"][:17] + ("0" if young["id_number"][17] != "0" else "1")])
        assert bad.value.code == ErrorCode.invalid_id_number


async def test_a_benefit_granted_without_application_is_announced_signed(sim, events, world):
    status, elders = await admin(sim, "GET", "/_admin/residents", params={"min_age": 90, "max_age": 99})
    elder = elders["items"][0]
    status, granted = await admin(sim, "POST", "/_admin/benefits", json={"benefit_code": "GLJT", "id_number": elder["id_number"]})
    assert status == 201
    event = (await events_of(events, "benefit_granted"))[0]
    benefit = event["benefit"]
    assert event["case_no"] == "" and benefit["id_number"] == elder["id_number"] and benefit["name"] == "高龄津贴"
    assert benefit["amount"] == "100元/月" and benefit["how_to_query"] and benefit["how_to_object"] and benefit["period"]
    code = next(iter(world.enterprises))
    status, _ = await admin(sim, "POST", "/_admin/benefits", json={"benefit_code": "WGFH", "credit_code": code, "amount": "12680元"})
    assert status == 201
    enterprise_event = (await events_of(events, "benefit_granted", 2))[1]
    assert enterprise_event["credit_code"] == code and "12680元" in enterprise_event["benefit"]["content"]
    status, wrong = await admin(sim, "POST", "/_admin/benefits", json={"benefit_code": "GLJT", "credit_code": code})
    assert status == 400 and wrong["code"] == "INVALID_REQUEST"


async def test_digits_from_other_scripts_are_refused_politely_never_a_500(sim, world):
    """The contract's \\d accepts any Unicode digit (e.g. ٠١٢٣); comparing such text with a secret must not crash."""
    arabic = "٠١٢٣٤٥٦٧٨٩"
    hall = next(iter(world.halls.values()))
    person_ = next(r for r in world.residents.records.values())
    code = next(iter(world.enterprises))
    status, verification = await admin(sim, "POST", f"/enterprises/{code}/verifications")
    licence = next(iter(world.licences.records))
    answers = [
        await admin(sim, "POST", "/queue/tickets", headers={"Idempotency-Key": uuid.uuid4().hex},
                    json={"hall_id": hall.id, "matter_code": hall.windows[0].matters[0], "checkin_code": arabic[:6]}),
        await admin(sim, "POST", "/licences/lookup", json={"id_number": person_.id_number, "phone_last4": arabic[:4]}),
        await admin(sim, "POST", f"/enterprises/{code}/verifications/{verification['id']}/check", json={"code": arabic[:6]}),
        await admin(sim, "GET", f"/licences/{licence}/view", params={"expires": "9999999999", "sig": "é" * 32}),
    ]
    for status, answer in answers:
        assert 400 <= status < 500 and answer["code"], (status, answer)


async def test_a_token_header_that_is_not_text_is_unauthorized_not_a_500(sim):
    body = b'{"id_numbers": ["11010519491231002X"]}'
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    writer.write(b"POST /residents/lookup HTTP/1.1\r\nHost: platform\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"Authorization: Bearer \xff\xfe\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_no_enterprise_holds_a_persons_licence(world):
    """A seeded enterprise case for 婚姻登记 issued the enterprise a 结婚证 (and a 往来台湾通行证),
    which every binder then saw among the company's licences."""
    types = json.loads((Path(__file__).resolve().parents[1] / "integrations/platform/data/licence_types.json").read_text("utf-8"))
    persons = {t["name"] for t in types if t["holder"] == "citizen"}
    held = [r.licence.name for r in world.licences.records.values() if r.holder in world.enterprises]
    assert held and not persons.intersection(held), persons.intersection(held)
