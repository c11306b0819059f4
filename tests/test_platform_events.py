"""Case events from the platform reach the bot's queue once, and only when genuinely signed."""

from __future__ import annotations

import asyncio
import json
import time

from integrations.platform.events import sign_event
from tests.support import wait_for

SECRET = "events-s3cret"  # tests/conftest.py's platform_events_secret


def event(**changes) -> dict:
    body = {"id": "evt_1", "type": "accepted", "case_no": "51160220261128100001", "at": "2026-11-28T09:00:00+08:00",
            "matter_name": "居民身份证办理（包括临时）", "department": "区公安分局"}
    return body | changes


async def post(client, body: bytes, *, secret: str = SECRET, timestamp: int | None = None, headers: dict | None = None):
    ts = str(timestamp or int(time.time()))
    sent = {"Content-Type": "application/json", "X-Ywtb-Timestamp": ts, "X-Ywtb-Signature": sign_event(secret, ts, body)}
    resp = await client.post("/platform/events", data=body, headers=headers if headers is not None else sent)
    return resp.status, await resp.json()


async def queued(redis, settings) -> list[dict]:
    entries = await redis.xrange(f"{settings.key_prefix}events")
    return [json.loads(fields[b"event"]) for _, fields in entries]


async def test_a_signed_event_is_queued_once_however_often_it_is_sent(client, redis, settings):
    body = json.dumps(event(), ensure_ascii=False).encode()
    assert await post(client, body) == (202, {"accepted": True, "duplicate": False})
    assert await post(client, body) == (200, {"accepted": True, "duplicate": True})
    assert [e["id"] for e in await queued(redis, settings)] == ["evt_1"]


async def test_forged_stale_or_unsigned_events_are_refused_and_not_queued(client, redis, settings):
    body = json.dumps(event(id="evt_forged"), ensure_ascii=False).encode()
    assert (await post(client, body, secret="guess"))[0] == 403
    assert (await post(client, body, timestamp=int(time.time()) - 3600))[0] == 403
    assert (await post(client, body, headers={"Content-Type": "application/json"}))[0] == 403
    assert await queued(redis, settings) == []


async def test_malformed_events_get_a_clear_400(client, redis, settings):
    for body in (b"not json", json.dumps(event(type="exploded")).encode(), json.dumps(event(id="../../etc")).encode(), b"{}"):
        status, answer = await post(client, body)
        assert status == 400 and answer["error"].startswith("malformed event"), (body, answer)
    assert await queued(redis, settings) == []


async def test_the_simulators_case_moves_arrive_signed_in_the_queue(client, redis, settings):
    created = await (await client.post("/sim/platform/_admin/cases", json={"applicant": {"name": "李四", "phone": "13800001234", "id_number": "11010519491231002X"}})).json()
    for state in ("accepted", "handed_over", "materials_requested"):
        assert (await client.post(f"/sim/platform/_admin/cases/{created['case_no']}/advance", json={"to": state})).status == 200

    async def three():
        events = await queued(redis, settings)
        return events if len(events) == 3 else None

    events = await wait_for(three)
    assert [e["type"] for e in events] == ["accepted", "handed_over", "materials_requested"]
    assert all(e["case_no"] == created["case_no"] for e in events)
    log = (await (await client.get("/sim/platform/_admin/events")).json())["items"]
    assert [item["delivered"] for item in log] == [True, True, True]


async def test_redis_down_asks_the_platform_to_retry(serve):
    from bot.stores.client import connect

    dead = connect("redis://127.0.0.1:1/0", wait=0.5)
    client = await serve(dead)
    status, answer = await post(client, json.dumps(event(id="evt_later")).encode())
    assert status == 503 and answer["accepted"] is False
    await dead.aclose()


async def test_a_called_queue_number_and_a_granted_benefit_arrive_signed_in_the_queue(client, redis, settings):
    """The events that are not about a case (queue_called, benefit_granted) pass the bot's receiver too."""
    sim = "/sim/platform"
    halls = (await (await client.get(f"{sim}/halls")).json())["items"]
    hall = halls[0]
    matter = hall["windows"][0]["matters"][0]
    assert (await client.post(f"{sim}/_admin/clock", json={"at": "2026-12-07T10:00:00+08:00"})).status == 200  # a Monday, in hours
    screen = await (await client.get(f"{sim}/_admin/halls/{hall['id']}/checkin-code")).json()
    taken = await client.post(f"{sim}/queue/tickets", json={"hall_id": hall["id"], "matter_code": matter, "checkin_code": screen["code"]},
                              headers={"Idempotency-Key": "walk-in-0001"})
    ticket = await taken.json()
    assert taken.status == 201, ticket
    while ticket["status"] == "waiting":
        call = await client.post(f"{sim}/_admin/halls/{hall['id']}/call-next", json={"window_id": hall["windows"][0]["id"]})
        assert call.status == 200
        ticket = await (await client.get(f"{sim}/queue/tickets/{ticket['id']}")).json()
    elders = (await (await client.get(f"{sim}/_admin/residents", params={"min_age": 80})).json())["items"]
    granted = await client.post(f"{sim}/_admin/benefits", json={"benefit_code": "GLJT", "id_number": elders[0]["id_number"]})
    assert granted.status == 201
    await client.post(f"{sim}/_admin/clock", json={"real": True})

    async def two():
        events = await queued(redis, settings)
        return events if len(events) == 2 else None

    events = await wait_for(two)
    assert [e["type"] for e in events] == ["queue_called", "benefit_granted"]
    assert events[0]["ticket"]["number"] == ticket["number"] and events[0]["ticket"]["window_name"]
    assert events[1]["benefit"]["id_number"] == elders[0]["id_number"]


async def test_a_signature_header_that_is_not_text_is_refused_not_a_500(client, redis, settings):
    body = json.dumps(event(id="evt_bytes"), ensure_ascii=False).encode()
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"POST /platform/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 b"X-Ywtb-Timestamp: " + str(int(time.time())).encode() + b"\r\nX-Ywtb-Signature: sha256=\xff\xfe\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
    assert await queued(redis, settings) == []
