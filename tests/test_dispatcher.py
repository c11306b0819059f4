"""Exactly once, in order, within WeChat's 5 seconds: the guarantees of the message path."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from bot.templating import Renderer
from tests.support import Chat
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


async def test_a_live_turn_longer_than_its_lease_is_never_taken_over_by_retries(serve, redis, settings, peer, caplog):
    """The in-progress claim lapses after 0.9 s unless renewed: a live turn of 2.7 s keeps it,
    so retries to this process and to another one (WeChat's tries land anywhere) wait for its
    answer instead of running the message again, before and after the deadline."""
    timings = dict(dedup_lease_seconds=0.9, deadline_seconds=0.8)
    one = Chat(await serve(**timings), peer)
    two = Chat(await serve(**timings), peer)
    for bot in (one, two):  # a first request's one-off work (not a turn's) is done before the test
        assert await Chat(bot.client, peer, "oWarmUp00000000000000000001").say("你好")
    await put_session(redis, settings, one.user, "test_ledger", "recording")
    original = asyncio.create_task(one.post(peer.text(one.user, "slow2.7", msg_id=77)))
    retries = []
    for n in range(6):  # every 0.3 s, alternating between the two processes, while the turn runs
        await asyncio.sleep(0.3)
        retries.append(asyncio.create_task((two if n % 2 == 0 else one).post(peer.text(one.user, "slow2.7", msg_id=77))))
    answers = [await original, *await asyncio.gather(*retries)]
    assert all(a.status == 200 and a.body == "success" for a in answers)  # all past the deadline
    assert await wait_for(lambda: pushed(one.client, one.user)) == ["第1条:slow2.7"]
    again = await two.post(peer.text(one.user, "slow2.7", msg_id=77))  # after the answer
    assert again.body == "success"
    await asyncio.sleep(0.5)
    assert await pushed(one.client, one.user) == ["第1条:slow2.7"]  # given once
    assert (await get_session(redis, settings, one.user))["data"]["seen"] == ["slow2.7"]  # run once
    assert "claimed again" not in caplog.text  # the renewed lease never lapsed


async def test_slow_turn_answers_success_in_time_and_pushes_the_reply(serve, redis, settings, peer):
    chat = Chat(await serve(deadline_seconds=0.3), peer)
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    started = time.monotonic()
    answer = await chat.post(peer.text(chat.user, "slow1.0", msg_id=5))
    assert answer.status == 200 and answer.body == "success"
    assert time.monotonic() - started < 1.0  # not held until the turn finished
    assert await wait_for(lambda: pushed(chat.client, chat.user)) == ["第1条:slow1.0"]
    # WeChat's retry after a late answer gets an empty ack, not a second copy
    retry = await chat.post(peer.text(chat.user, "slow1.0", msg_id=5))
    assert retry.body == "success"
    assert await pushed(chat.client, chat.user) == ["第1条:slow1.0"]
    assert (await get_session(redis, settings, chat.user))["data"]["seen"] == ["slow1.0"]


async def test_a_late_answer_wechat_refuses_is_given_with_the_next_reply(serve, redis, settings, peer):
    client = await serve(deadline_seconds=0.2)
    chat = Chat(client, peer)
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    fault = {"endpoint": "/cgi-bin/message/custom/send", "errcode": 45015, "times": 5}
    (await client.post("/sim/wechat/_admin/faults", json=fault)).release()
    assert (await chat.post(peer.text(chat.user, "slow0.5"))).body == "success"

    async def held():
        return await redis.llen(f"{settings.key_prefix}held:{{{chat.user}}}")

    assert await wait_for(held)
    reply = await chat.say("再问一句")  # (not small talk such as 在吗, which dialogs.smalltalk answers itself)
    assert reply.startswith("您之前的消息，刚才没能及时回复，补上：") and "第1条:slow0.5" in reply and reply.endswith("第2条:再问一句")
    assert await held() == 0
    assert "第1条:slow0.5" not in await chat.say("好的")  # given once


async def test_turn_past_its_timeout_is_abandoned_with_an_apology(serve, redis, settings, peer):
    chat = Chat(await serve(deadline_seconds=0.2, turn_timeout_seconds=0.5), peer)
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    assert (await chat.post(peer.text(chat.user, "slow3"))).body == "success"
    assert "系统繁忙" in (await wait_for(lambda: pushed(chat.client, chat.user)))[0]
    # the lock was released and the session kept: the next message is served normally
    assert await chat.say("下一条") == "第1条:下一条"


async def test_a_turn_past_its_timeout_before_the_deadline_apologises_in_the_reply_itself(serve, redis, settings, peer):
    """The turn runs in the request's own task until WeChat's deadline: its timeout, when that
    comes first, cuts it short there, and the apology is the passive reply."""
    chat = Chat(await serve(deadline_seconds=2.0, turn_timeout_seconds=0.3), peer)
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    started = time.monotonic()
    assert "系统繁忙" in await chat.say("slow1.5")
    assert time.monotonic() - started < 1.0
    assert await chat.say("下一条") == "第1条:下一条"  # lock released, session kept
    assert await pushed(chat.client, chat.user) == []


async def test_a_time_limit_inside_a_step_stays_inside_it(chat, redis, settings):
    """asyncio.timeout() cancels the task it runs in, here the request's: the step must see its
    own TimeoutError and go on, and the person get the step's answer, not an apology."""
    await put_session(redis, settings, chat.user, "test_ledger", "recording")
    assert await chat.say("bounded2") == "等太久了，先不等了\n\n第1条:bounded2"
    assert (await get_session(redis, settings, chat.user))["data"]["seen"] == ["bounded2"]


async def test_long_answer_is_split_passive_first_then_pushed_within_wechats_limits(chat, redis, settings):
    await put_session(redis, settings, chat.user, "test_long", "talking")
    first = await chat.say("讲讲")
    assert len(first.encode()) <= settings.passive_reply_max_bytes and first.startswith("第0行")

    async def all_pushed():
        texts = await pushed(chat.client, chat.user)
        return texts if len(texts) == settings.max_messages_per_turn - 1 else None

    rest = await wait_for(all_pushed)
    assert rest and all(len(t.encode()) <= settings.passive_reply_max_bytes for t in rest)
    assert "第9行" in rest[0] and rest[-1].endswith("后面的部分省略了。回复「菜单」可以重新选择。）")


async def test_thousand_messages_from_hundred_users_are_applied_in_order(aiohttp_client, bot_server, app, redis, settings, plain_peer):
    """Each user sends a slow message, then nine more while it runs: every user's turns are
    applied one at a time, in the order the messages arrived, and every message is answered:
    passively, or through the API when the loaded test machine passes the deadline, or with
    the next answer when WeChat refuses more pushes."""
    client = await aiohttp_client(await bot_server(app, port=settings.port), connector=aiohttp.TCPConnector(limit=0))
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
        late = {f"第{n}条:{t}" for n, t in enumerate(expected, 1)} - pieces(answers)
        chat = Chat(client, plain_peer, user)
        given: set[str] = set()

        async def delivered():
            # a late answer is pushed, or, when WeChat will not take more pushes (45047), held
            # and given with the person's next answer
            if late <= given | pieces(await pushed(client, user)):
                return True
            given.update(pieces([await chat.say("还在吗")]))
            return late <= given | pieces(await pushed(client, user))

        assert await wait_for(delivered, timeout=10, every=0.5), f"{user} lost some of {late}"
        assert (await get_session(redis, settings, user))["data"]["seen"][:10] == expected, user


def pieces(messages: list[str | None]) -> set[str]:
    """The separate replies inside delivered messages (several can travel in one)."""
    return {piece for m in messages if m for piece in m.split("\n\n")}


async def test_two_dispatchers_on_one_redis_never_lose_an_update(serve, settings, redis, peer):
    """Two bot instances (separate in-process state, one Redis) share a user: the Redis lock
    serialises their turns, so every message is recorded exactly once."""
    one = Chat(await serve(), peer)
    two = Chat(await serve(), peer)
    await put_session(redis, settings, one.user, "test_ledger", "recording")
    texts = [f"x{i}" for i in range(40)]
    answers = await asyncio.gather(*((one if i % 2 else two).say(t) for i, t in enumerate(texts)))
    numbers = sorted(int(a.split("条")[0][1:]) for a in answers)
    assert numbers == list(range(1, 41))  # each turn saw all earlier ones
    assert sorted((await get_session(redis, settings, one.user))["data"]["seen"]) == sorted(texts)


async def test_redis_down_gets_a_polite_busy_answer_not_an_error(serve, peer):
    from redis.asyncio import Redis

    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    chat = Chat(await serve(dead, redis_url="redis://127.0.0.1:1/0"), peer)
    answer = await chat.post(peer.text(chat.user, "你好"))
    assert answer.status == 200 and "系统繁忙" in answer.text
    await dead.aclose()


# Passing trouble is a warning, once per incident, with its reason; an error is a bug --------------


def trouble(caplog) -> tuple[list[str], list[str]]:
    """(errors, the dispatcher's warnings) logged so far."""
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "bot.turn.dispatcher"]
    return errors, warnings


async def test_the_guides_not_loaded_while_the_platform_is_down_is_one_warning_not_an_error(serve, peer, caplog):
    caplog.set_level(logging.INFO)
    client = await serve(platform_url="http://127.0.0.1:9")  # nothing listens there: the catalog never loads
    for n in range(3):
        answer = await Chat(client, peer, f"oTrouble{n:019d}").say("身份证丢了怎么办")
        assert "办事指南正在更新" in answer
    errors, warnings = trouble(caplog)
    assert errors == []
    assert len(warnings) == 1 and "catalog" in warnings[0], warnings


async def test_redis_down_is_one_warning_for_the_outage_not_one_per_message(serve, peer, caplog):
    from redis.asyncio import Redis

    caplog.set_level(logging.INFO)
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    client = await serve(dead, redis_url="redis://127.0.0.1:1/0")
    for n in range(3):
        answer = await Chat(client, peer, f"oTrouble{n:019d}").post(peer.text(f"oTrouble{n:019d}", "你好"))
        assert answer.status == 200 and "系统繁忙" in answer.text
    errors, warnings = trouble(caplog)
    assert errors == []
    assert len(warnings) == 1 and "redis" in warnings[0].lower() and "Connection" in warnings[0], warnings
    await dead.aclose()


async def test_wechat_refusing_a_late_reply_for_its_own_reasons_is_a_warning_with_the_errcode(serve, redis, settings, peer, caplog):
    caplog.set_level(logging.INFO)
    client = await serve(deadline_seconds=0.2)
    fault = {"endpoint": "/cgi-bin/message/custom/send", "errcode": -1, "times": 10}  # WeChat's "system busy"
    (await client.post("/sim/wechat/_admin/faults", json=fault)).release()
    users = [f"oTrouble{n:019d}" for n in range(2)]
    for user in users:
        await put_session(redis, settings, user, "test_ledger", "recording")
        assert (await Chat(client, peer, user).post(peer.text(user, "slow0.4"))).body == "success"

    async def held():
        return all([await redis.llen(f"{settings.key_prefix}held:{{{user}}}") for user in users])

    assert await wait_for(held)  # kept for their next message, as before
    errors, warnings = trouble(caplog)
    assert errors == []
    assert len(warnings) == 1 and "-1" in warnings[0], warnings


# A slow platform within WeChat's deadline ---------------------------------------------------------


async def test_a_platform_slower_than_the_deadline_gets_a_polite_passive_answer_in_time(serve, peer):
    """The turn gives up on the platform in time to answer within WeChat's deadline itself:
    the dialog's own "try again later", passively, not `success` and a push seconds later."""
    from tests.test_progress import new_case

    client = await serve(deadline_seconds=1.5, platform_timeout_seconds=3.0)
    chat = Chat(client, peer)
    case_no = await new_case(client)
    assert "手机号的后 4 位" in await chat.say(case_no)
    faults = {"latency": 10}  # every platform call from here on takes 10 s
    (await client.post("/sim/platform/_admin/faults", json=faults)).release()
    started = time.monotonic()
    answer = await chat.post(peer.text(chat.user, "5678"))
    took = time.monotonic() - started
    assert answer.status == 200 and answer.text.startswith(Renderer()("progress/busy.j2")), answer.text
    assert took < 1.5 + 0.5, took
    assert await pushed(client, chat.user) == []  # nothing follows: the answer was the passive one
