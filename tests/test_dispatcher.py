"""Exactly once, in order, within WeChat's 5 seconds: the guarantees of the message path."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot.app import create_app
from tests.conftest import Chat
from tests.support import get_session, pushed, put_session, wait_for


async def test_retry_of_a_finished_message_gets_the_same_reply_and_runs_once(chat, redis, settings):
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    first = await chat.say("甲", msg_id=42)
    again = await chat.say("甲", msg_id=42)
    assert first == again == "第1条:甲"
    assert (await get_session(redis, settings, chat.user))["data"]["seen"] == ["甲"]


async def test_retry_while_the_first_is_running_does_not_start_it_again(chat, redis, settings):
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    original = asyncio.create_task(chat.say("slow0.5", msg_id=7))
    await asyncio.sleep(0.1)
    retry = await chat.say("slow0.5", msg_id=7)
    assert await original == "第1条:slow0.5"
    assert retry == "第1条:slow0.5"  # it waited for the first one's answer
    assert (await get_session(redis, settings, chat.user))["data"]["seen"] == ["slow0.5"]


async def test_many_simultaneous_deliveries_of_one_message_run_once(chat, redis, settings):
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    answers = await asyncio.gather(*(chat.say("同一条", msg_id=99) for _ in range(8)))
    assert set(answers) == {"第1条:同一条"}
    assert (await get_session(redis, settings, chat.user))["data"]["seen"] == ["同一条"]


async def test_slow_turn_answers_success_in_time_and_pushes_the_reply(aiohttp_client, make_settings, redis, peer):
    settings = make_settings(deadline_seconds=0.3)
    chat = Chat(await aiohttp_client(create_app(settings, redis)), peer)
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    started = time.monotonic()
    answer = await chat.post(peer.text(chat.user, "slow1.0", msg_id=5))
    assert answer.status == 200 and answer.body == "success"
    assert time.monotonic() - started < 1.0  # not held until the turn finished
    assert await wait_for(lambda: pushed(redis, settings, chat.user)) == ["第1条:slow1.0"]
    # WeChat's retry after a late answer gets an empty ack, not a second copy
    retry = await chat.post(peer.text(chat.user, "slow1.0", msg_id=5))
    assert retry.body == "success"
    assert await pushed(redis, settings, chat.user) == ["第1条:slow1.0"]
    assert (await get_session(redis, settings, chat.user))["data"]["seen"] == ["slow1.0"]


async def test_turn_past_its_timeout_is_abandoned_with_an_apology(aiohttp_client, make_settings, redis, peer):
    settings = make_settings(deadline_seconds=0.2, turn_timeout_seconds=0.5)
    chat = Chat(await aiohttp_client(create_app(settings, redis)), peer)
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    assert (await chat.post(peer.text(chat.user, "slow3"))).body == "success"
    assert "系统繁忙" in (await wait_for(lambda: pushed(redis, settings, chat.user)))[0]
    # the lock was released and the session kept: the next message is served normally
    assert await chat.say("下一条") == "第1条:下一条"


async def test_long_answer_is_split_passive_first_then_pushed(chat, redis, settings):
    await put_session(redis, settings, chat.user, "test_long", "talking")
    first = await chat.say("讲讲")
    assert len(first.encode()) <= settings.passive_reply_max_bytes and first.startswith("第0行")
    rest = await wait_for(lambda: pushed(redis, settings, chat.user))
    assert rest and all(len(t.encode()) <= settings.passive_reply_max_bytes for t in rest)
    assert "第59行" in rest[-1]


async def test_thousand_messages_from_hundred_users_are_applied_in_order(aiohttp_client, app, redis, settings, plain_peer):
    """Each user sends a slow message, then nine more while it runs: every user's turns are
    applied one at a time, in the order the messages arrived, and every message is answered
    (passively, or through the API when the loaded test machine passes the deadline)."""
    client = await aiohttp_client(app, connector=aiohttp.TCPConnector(limit=0))
    users = [f"oOrder{i:04d}" for i in range(100)]
    for user in users:
        await put_session(redis, settings, user, "test_ledger", "recording")
    expected = ["slow0.3"] + [f"m{i}" for i in range(1, 10)]

    async def converse(user: str) -> list[str | None]:
        chat = Chat(client, plain_peer, user)
        sends = []
        for text in expected:
            sends.append(asyncio.create_task(chat.say(text)))
            await asyncio.sleep(0.01)  # each message leaves after the previous one
        return await asyncio.gather(*sends)

    passive = await asyncio.gather(*(converse(u) for u in users))
    for user, answers in zip(users, passive):
        assert (await get_session(redis, settings, user))["data"]["seen"] == expected, user
        wanted = {f"第{n}条:{t}" for n, t in enumerate(expected, 1)}
        late = wanted - {a for a in answers if a}

        async def all_late_arrived():
            return late <= set(await pushed(redis, settings, user))

        assert await wait_for(all_late_arrived, timeout=10), f"{user} lost {late}"


async def test_two_dispatchers_on_one_redis_never_lose_an_update(aiohttp_client, settings, redis, peer):
    """Two bot instances (separate in-process state, one Redis) share a user: the Redis lock
    serialises their turns, so every message is recorded exactly once."""
    one = Chat(await aiohttp_client(create_app(settings, redis)), peer)
    two = Chat(await aiohttp_client(create_app(settings, redis)), peer)
    await put_session(redis, settings, one.user, "test_ledger", "recording")
    texts = [f"x{i}" for i in range(40)]
    answers = await asyncio.gather(*((one if i % 2 else two).say(t) for i, t in enumerate(texts)))
    numbers = sorted(int(a.split("条")[0][1:]) for a in answers)
    assert numbers == list(range(1, 41))  # each turn saw all earlier ones
    assert sorted((await get_session(redis, settings, one.user))["data"]["seen"]) == sorted(texts)


async def test_redis_down_gets_a_polite_busy_answer_not_an_error(aiohttp_client, make_settings, peer):
    from redis.asyncio import Redis

    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    chat = Chat(await aiohttp_client(create_app(settings, dead)), peer)
    answer = await chat.post(peer.text(chat.user, "你好"))
    assert answer.status == 200 and "系统繁忙" in answer.text
    await dead.aclose()
