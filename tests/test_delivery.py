"""One notice to one person: sent once per key, refused ones recorded, temporary failures retried
with backoff and then given up, over the real WeChat simulator and Redis."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.web.appkeys import DELIVERY
from bot.services.delivery import Outcome, TemporaryFailure, template_text

ALICE = "oAlice00000000000000000001"
BOB = "oBob0000000000000000000001"
TEMPLATE = "notify/accepted.j2"
CONTEXT = {"event": {"matter_name": "居民身份证办理", "case_no": "51160220261128100001", "department": "区公安分局", "note": ""},
           "via": "case", "at": "2026-11-28T09:00:00+08:00"}
TEMPLATE_SEND = "/cgi-bin/message/template/send"


@pytest.fixture
async def bot(redis, serve):  # redis first: its cleanup runs after the bot has stopped
    """A bot with quick retries; its delivery service, and its simulated WeChat."""

    async def start(**overrides):
        client = await serve(**{"notify_retry_seconds": 0.01, "notify_lease_seconds": 2.0, "notify_block_ms": 200, **overrides})
        await client.post("/sim/wechat/_admin/followers", json={"openids": [ALICE, BOB]})
        return client, client.server.app[DELIVERY]

    return start


async def received(client, user: str) -> list[dict]:
    resp = await client.get("/sim/wechat/_admin/messages", params={"openid": user})
    return (await resp.json())["messages"]


async def texts(client, user: str) -> list[str]:
    return [template_text(m["content"]["data"]) if m["kind"] == "template" else m["content"] for m in await received(client, user)]


async def calls(client, path: str = TEMPLATE_SEND) -> int:
    return (await (await client.get("/sim/wechat/_admin/stats")).json())["calls"].get(path, 0)


async def fault(client, **spec) -> None:
    resp = await client.post("/sim/wechat/_admin/faults", json={"endpoint": TEMPLATE_SEND, **spec})
    assert resp.status == 200, await resp.text()


async def record(redis, settings, user: str, key: str) -> dict[str, str]:
    raw = await redis.hgetall(f"{settings.key_prefix}dlv:{{{user}}}:{key}")
    return {k.decode(): v.decode() for k, v in raw.items()}


async def test_a_notice_goes_out_once_per_key_as_a_template_message(bot, redis, settings):
    client, delivery = await bot()
    assert await delivery.send(ALICE, "evt_1:a", TEMPLATE, CONTEXT, case_no="51160220261128100001") == Outcome.sent
    assert await delivery.send(ALICE, "evt_1:a", TEMPLATE, CONTEXT, case_no="51160220261128100001") == Outcome.duplicate
    [message] = await received(client, ALICE)
    assert message["kind"] == "template" and message["content"]["template_id"] == "ywtb-case-progress"
    assert message["content"]["data"]["keyword1"]["value"] == "51160220261128100001"
    assert template_text(message["content"]["data"]).startswith("【办件已受理】居民身份证办理\n您的办件 51160220261128100001")
    assert (await record(redis, settings, ALICE, "evt_1:a"))["state"] == "sent"
    assert [r["state"] for r in await delivery.of_case("51160220261128100001")] == ["sent"]


async def test_a_notice_about_no_case_names_its_matter_in_every_field(bot):
    """A missed appointment has no case number: its template message names the matter, never a
    placeholder, and shows the time in the one format people read everywhere."""
    client, delivery = await bot()
    context = {"event": {"matter_name": "居民身份证办理", "note": ""}}
    assert await delivery.send(ALICE, "evt_ns:a", "notify/no_show.j2", context, kind="no_show") == Outcome.sent
    [message] = await received(client, ALICE)
    data = message["content"]["data"]
    assert data["keyword1"]["value"] == "居民身份证办理"
    assert "月" in data["keyword2"]["value"] and "日" in data["keyword2"]["value"]
    assert not any(field["value"] in ("", "—", "-") for field in data.values())


async def test_a_process_that_died_after_wechat_took_the_message_does_not_cause_a_second_one(bot, redis, settings):
    client, delivery = await bot()
    assert await delivery.send(ALICE, "evt_2:a", TEMPLATE, CONTEXT) == Outcome.sent
    # As if the process was killed before it could write "sent": the record still says sending.
    await redis.hset(f"{settings.key_prefix}dlv:{{{ALICE}}}:evt_2:a", "state", "sending")
    assert await delivery.send(ALICE, "evt_2:a", TEMPLATE, CONTEXT) == Outcome.sent
    assert len(await received(client, ALICE)) == 1  # same client_msg_id: WeChat sent nothing new
    assert await calls(client) == 2


async def test_someone_who_unfollowed_is_recorded_unreachable_and_never_tried_again(bot, redis, settings):
    client, delivery = await bot()
    await client.post("/sim/wechat/_admin/unfollow", json={"openids": [BOB]})
    assert await delivery.send(BOB, "evt_3:b", TEMPLATE, CONTEXT, case_no="C3") == Outcome.unreachable
    assert await delivery.send(BOB, "evt_3:b", TEMPLATE, CONTEXT, case_no="C3") == Outcome.unreachable
    assert await calls(client) == 1
    found = await record(redis, settings, BOB, "evt_3:b")
    assert (found["state"], found["errcode"], found["attempts"]) == ("unreachable", "43004", "1")


async def test_an_exhausted_daily_quota_is_permanent_for_the_notice(bot, redis, settings):
    client, delivery = await bot()
    await fault(client, errcode=45009, times=1)
    assert await delivery.send(ALICE, "evt_4:a", TEMPLATE, CONTEXT) == Outcome.unreachable
    assert (await record(redis, settings, ALICE, "evt_4:a"))["errcode"] == "45009"
    assert await received(client, ALICE) == []


async def test_a_busy_wechat_is_retried_with_growing_backoff_then_the_notice_arrives(bot, redis, settings):
    client, delivery = await bot(notify_retry_seconds=1.0)
    await fault(client, errcode=-1, times=1)
    await fault(client, status=502, times=1)
    waits = []
    for _ in range(2):
        with pytest.raises(TemporaryFailure) as failure:
            await delivery.send(ALICE, "evt_5:a", TEMPLATE, CONTEXT)
        waits.append(failure.value.retry_after)
    assert 0.8 <= waits[0] <= 1.2 and 1.6 <= waits[1] <= 2.4
    assert await delivery.send(ALICE, "evt_5:a", TEMPLATE, CONTEXT) == Outcome.sent
    found = await record(redis, settings, ALICE, "evt_5:a")
    assert (found["state"], found["attempts"]) == ("sent", "3")
    assert len(await received(client, ALICE)) == 1


async def test_a_notice_that_keeps_failing_is_given_up_after_the_last_attempt(bot, redis, settings):
    client, delivery = await bot(notify_max_attempts=3)
    await fault(client, errcode=-1, times=10)
    for _ in range(2):
        with pytest.raises(TemporaryFailure):
            await delivery.send(ALICE, "evt_6:a", TEMPLATE, CONTEXT)
    assert await delivery.send(ALICE, "evt_6:a", TEMPLATE, CONTEXT) == Outcome.unreachable
    assert await delivery.send(ALICE, "evt_6:a", TEMPLATE, CONTEXT) == Outcome.unreachable
    assert await calls(client) == 3
    assert (await record(redis, settings, ALICE, "evt_6:a"))["state"] == "failed"


async def test_two_processes_sending_the_same_notice_at_once_send_it_once(bot, redis, settings):
    client, delivery = await bot()
    await fault(client, delay=0.5, times=1)
    first = asyncio.ensure_future(delivery.send(ALICE, "evt_7:a", TEMPLATE, CONTEXT))
    await asyncio.sleep(0.1)
    with pytest.raises(TemporaryFailure) as failure:
        await delivery.send(ALICE, "evt_7:a", TEMPLATE, CONTEXT)
    assert "another process" in str(failure.value) and failure.value.retry_after <= 2.0
    assert await first == Outcome.sent
    assert await delivery.send(ALICE, "evt_7:a", TEMPLATE, CONTEXT) == Outcome.duplicate
    assert len(await received(client, ALICE)) == 1


async def test_inside_the_48_hour_window_a_customer_service_message_is_used_when_configured(bot, redis, settings):
    client, delivery = await bot(notify_service_messages=True)
    await client.post("/sim/wechat/_admin/interactions", json={"openid": ALICE})
    assert await delivery.send(ALICE, "evt_8:a", TEMPLATE, CONTEXT) == Outcome.sent
    assert await delivery.send(BOB, "evt_8:b", TEMPLATE, CONTEXT) == Outcome.sent  # never wrote: template
    [to_alice], [to_bob] = await received(client, ALICE), await received(client, BOB)
    assert to_alice["kind"] == "custom" and to_alice["content"].startswith("【办件已受理】")
    assert to_bob["kind"] == "template"
    assert (await record(redis, settings, ALICE, "evt_8:a"))["channel"] == "custom"
    assert (await record(redis, settings, BOB, "evt_8:b"))["channel"] == "template"


async def test_a_notice_logged_names_its_person_only_by_reference(bot, caplog):
    """A notice's key carries the person's id (f"{event}:{openid}"); logged whole, an id of a
    form the log filter does not know stayed readable (notice evt_…:b02 to u_…)."""
    client, delivery = await bot()
    odd = "b02-citizen"
    await client.post("/sim/wechat/_admin/followers", json={"openids": [odd]})
    caplog.set_level(logging.INFO, logger="bot.services.delivery")
    assert await delivery.send(odd, f"evt_9:{odd}", TEMPLATE, CONTEXT, case_no="51160220261128100009") == Outcome.sent
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.services.delivery"]
    assert lines and not any(odd in line for line in lines), lines
