"""The platform client and its simulator agree, over real HTTP on loopback: every client call,
the booking rules, case verification, signed events, and failing fast when the platform fails."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from datetime import date, datetime, timedelta

import pytest
from aiohttp import ClientSession, web

from integrations.platform.client import PlatformClient, PlatformError, PlatformUnavailable, answer_by
from integrations.platform.contract import generated_schemas, load
from integrations.platform.identifiers import id_check_digit, valid_credit_code, valid_id_number
from integrations.platform.models import AppointmentRequest, AppointmentStatus, CaseState, ErrorCode
from integrations.platform.simulator import World, create_platform_simulator
from integrations.platform.simulator.app import STATE, WORLD
from integrations.platform.simulator.world import TZ

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
    """A bookable matter, a hall serving it, and a day and slot with room."""
    for guide in sorted(world.guides.values(), key=lambda g: g.code):
        if not guide.bookable:
            continue
        for hall in world.halls.values():
            if not world.windows_serving(hall, guide.code):
                continue
            for day in world.bookable_days():
                free = [s for s in world.slots(guide.code, hall.id, day) if s.remaining >= 2]
                if free:
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
