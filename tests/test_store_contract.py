"""One contract for every conversation store: the in-memory one dialog tests use, Redis, and a
Redis Cluster. What a person would notice if a store broke a promise is named in each test."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from redis.asyncio.cluster import RedisCluster

from bot.keys import Keys
from bot.stores.client import connect
from bot.stores import KEEP, MemoryConversationStore, MessageRef, Nonce, RedisConversationStore, StorePolicy, Tally
from dialogs.engine import Session
from tests.support import wait_for

USER = "oStoreUser000000000000001"


def policy(**overrides) -> StorePolicy:
    values = dict(claim_seconds=3.0, lock_seconds=15.0, session_seconds=1800, trace_seconds=86400, answer_seconds=300,
                  nonce_seconds=600, timestamp_window=300, held_seconds=3600, rate_limit=0, rate_window=60,
                  over_limit=("慢一点",))
    values.update(overrides)
    return StorePolicy(**values)


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis", "cluster"])
async def make_store(request, key_prefix):
    """`make_store(**policy)` -> (store, lapse): `await lapse(store, seconds)` lets that much time
    pass for what the store keeps (a fake clock in memory; on Redis, waits until the claim it is
    given is gone)."""
    made, clients = [], []

    async def make(**overrides):
        if request.param == "memory":
            clock = Clock()
            store = MemoryConversationStore(policy(**overrides), clock=clock)
        else:
            if request.param == "redis":
                client = connect(request.getfixturevalue("redis_url"))
            else:
                client = RedisCluster(host="127.0.0.1", port=request.getfixturevalue("cluster_nodes")[0])
                await client.initialize()
            clients.append(client)
            store = RedisConversationStore(client, Keys(key_prefix), policy(**overrides))
            clock = None
        made.append(store)
        return store, clock

    yield make
    for store in made:
        await store.aclose()
    for client in clients:
        keys = [k async for k in client.scan_iter(match=f"{key_prefix}*")]
        for key in keys:
            await client.delete(key)
        await client.aclose()


async def lapse_claim(store, clock, message: MessageRef, seconds: float) -> None:
    """Let a claim of `seconds` lapse: the fake clock moves; Redis expires it by itself."""
    if clock is not None:
        clock.now += seconds + 0.01
        return
    assert await wait_for(lambda: _gone(store, message), timeout=seconds + 5)


async def _gone(store, message):
    return (await store.answer(message)).state == "none"


def msg(n: int = 1, user: str = USER) -> MessageRef:
    return MessageRef(user, f"m:{n}")


async def test_a_new_message_takes_the_lock_and_reads_the_saved_session(make_store):
    store, _ = await make_store()
    first = await store.admit(msg(1), "Pa", lock="a")
    assert first.verdict == "new" and first.snapshot is not None and first.snapshot.session is None
    assert await store.commit(msg(1), "a", Session("booking", "ask_name", {"matter": "护照"}), ["请问您的姓名？"])

    second = await store.admit(msg(2), "Pb", lock="b")
    assert second.snapshot.session.dialog == "booking"
    assert second.snapshot.session.data == {"matter": "护照"}


async def test_a_retry_finds_the_first_answer_never_a_second_turn(make_store):
    store, _ = await make_store()
    await store.admit(msg(1), "Pa", lock="a")
    retry = await store.admit(msg(1), "Pz", lock="z")
    assert retry.verdict == "seen" and retry.answer.state == "pending" and retry.answer.claim == "Pa"

    await store.commit(msg(1), "a", None, ["您好", "请选择"])
    again = await store.admit(msg(1), "Py", lock="y")
    assert again.verdict == "seen" and again.answer.texts == ("您好", "请选择")


async def test_a_nonce_with_another_body_is_a_replay_the_same_body_a_redelivery(make_store):
    store, _ = await make_store()
    nonce = Nonce(timestamp=int(time.time()), nonce="n1", digest="body-a")
    assert (await store.admit(msg(1), "Pa", lock="a", nonce=nonce)).verdict == "new"
    forged = await store.admit(msg(2), "Pb", lock="b", nonce=Nonce(nonce.timestamp, "n1", "body-b"))
    assert forged.verdict == "replayed"
    assert (await store.answer(msg(2))).state == "none"  # the forged message left nothing behind
    again = await store.admit(msg(1), "Pc", lock="c", nonce=nonce)
    assert again.verdict == "seen"


async def test_an_answer_lasts_as_long_as_its_signed_request_can_be_replayed(make_store):
    """A request signed up to the window ahead stays acceptable until its timestamp is the
    window behind: its answer must be there for a replay all that time, not just the usual
    answer lifetime, or the replay would run the turn again."""
    store, clock = await make_store(answer_seconds=1, nonce_seconds=1)
    now = clock.now if clock is not None else time.time()
    plain, signed = msg(1), MessageRef(USER, "m:2", signed_at=int(now) + 290)
    nonce = Nonce(timestamp=signed.signed_at, nonce="ahead1", digest="body-a")
    for n, (message, sent_with) in enumerate(((plain, None), (signed, nonce))):
        await store.admit(message, f"P{n}", lock=f"l{n}", nonce=sent_with)
        assert await store.commit(message, f"l{n}", None, ["好的"])
    if clock is not None:
        clock.now += 2
    assert await wait_for(lambda: _gone(store, plain), timeout=10)  # the usual lifetime is over
    again = await store.admit(signed, "Pz", lock="z", nonce=nonce)
    assert again.verdict == "seen" and again.answer.texts == ("好的",)
    forged = await store.admit(msg(3), "Py", lock="y", nonce=Nonce(nonce.timestamp, "ahead1", "body-b"))
    assert forged.verdict == "replayed"


async def test_a_nonce_remembered_alone_is_spent_for_messages_too_and_its_retry_is_no_replay(make_store):
    """WeChat's mass-send report is no person's message: its nonce is checked on its own, against
    the same record as a message's, so neither can reuse the other's signed query string."""
    store, _ = await make_store()
    report = Nonce(timestamp=int(time.time()), nonce="r1", digest="report")
    assert await store.remember_nonce(report)
    assert await store.remember_nonce(report)  # WeChat posting the same report again
    assert not await store.remember_nonce(Nonce(report.timestamp, "r1", "made-up figures"))
    forged = await store.admit(msg(1), "Pa", lock="a", nonce=Nonce(report.timestamp, "r1", "a message"))
    assert forged.verdict == "replayed"
    message = Nonce(report.timestamp, "m1", "a message")
    assert (await store.admit(msg(2), "Pb", lock="b", nonce=message)).verdict == "new"
    assert not await store.remember_nonce(Nonce(message.timestamp, "m1", "report"))


async def test_over_the_rate_limit_a_message_gets_the_polite_answer_and_so_do_its_retries(make_store):
    store, _ = await make_store(rate_limit=2)
    for n in (1, 2):
        admitted = await store.admit(msg(n), f"P{n}", lock=f"l{n}")
        assert admitted.verdict == "new"
        await store.commit(msg(n), f"l{n}", None, ["好的"])
    assert (await store.admit(msg(3), "P3", lock="l3")).verdict == "limited"
    retry = await store.admit(msg(3), "P3b", lock="l3b")
    assert retry.verdict == "seen" and retry.answer.texts == ("慢一点",)
    other = await store.admit(msg(1, user="oSomebodyElse00000000001"), "Px", lock="x")
    assert other.verdict == "new"


async def test_one_persons_turns_run_one_at_a_time_in_order(make_store):
    store, _ = await make_store()
    first = await store.admit(msg(1), "Pa", lock="a")
    second = await store.admit(msg(2), "Pb", lock="b")
    assert first.snapshot is not None and second.verdict == "new" and second.snapshot is None

    waiting = asyncio.ensure_future(store.acquire(msg(2), "b", "Pb"))
    await asyncio.sleep(0)  # the second turn is now waiting for the lock
    assert not waiting.done()
    await store.commit(msg(1), "a", Session("booking", "ask_id", {"name": "张三"}), ["请输入身份证号"])
    snapshot = await asyncio.wait_for(waiting, timeout=5)
    assert snapshot.session.data == {"name": "张三"}  # it reads what the first turn saved


async def test_a_turn_that_lost_its_lock_does_not_overwrite_a_later_one(make_store):
    store, _ = await make_store()
    await store.admit(msg(1), "Pa", lock="a")
    await store.release(USER, "a")  # as if it lapsed while the turn ran
    await store.admit(msg(2), "Pb", lock="b")
    await store.commit(msg(2), "b", Session("matters", "card", {"code": "B"}), ["新的"])

    assert not await store.commit(msg(1), "a", Session("matters", "card", {"code": "A"}), ["旧的"])
    snapshot = (await store.admit(msg(3), "Pc", lock="c")).snapshot
    assert snapshot.session.data == {"code": "B"}
    assert (await store.answer(msg(1))).texts == ("旧的",)  # its retries still get its answer


async def test_a_claim_taken_over_stops_the_old_turn_and_a_lapsed_one_can_be_reclaimed(make_store):
    store, clock = await make_store(claim_seconds=0.3)
    await store.admit(msg(1), "Pa")
    await lapse_claim(store, clock, msg(1), 0.3)
    assert await store.reclaim(msg(1), "Pretry")
    assert not await store.reclaim(msg(1), "Pthird")
    assert await store.acquire(msg(1), "a", "Pa") is None  # the first delivery must not run it
    assert await store.acquire(msg(1), "r", "Pretry") is not None


async def test_a_claim_is_renewed_only_by_its_owner(make_store):
    store, clock = await make_store(claim_seconds=0.5)
    await store.admit(msg(1), "Pa")
    assert await store.renew(msg(1), "Pa")
    assert not await store.renew(msg(1), "Pother")


async def test_an_answer_sent_late_is_not_given_again(make_store):
    store, _ = await make_store()
    await store.admit(msg(1), "Pa", lock="a")
    await store.commit(msg(1), "a", None, ["迟到的回答"])
    await store.answered_late(msg(1))
    assert (await store.admit(msg(1), "Pb")).answer.state == "late"


async def test_held_replies_come_with_the_next_turn_and_then_are_gone(make_store):
    store, _ = await make_store()
    await store.hold(USER, ["您预约的号码是 A012"])
    snapshot = (await store.admit(msg(1), "Pa", lock="a")).snapshot
    assert snapshot.held == ("您预约的号码是 A012",)
    await store.commit(msg(1), "a", None, ["您预约的号码是 A012", "好的"], held_given=1)
    assert (await store.admit(msg(2), "Pb", lock="b")).snapshot.held == ()


async def test_a_change_outside_a_turn_waits_for_the_turn_and_sees_what_it_saved(make_store):
    store, _ = await make_store()
    await store.admit(msg(1), "Pa", lock="a")

    async def end_handoff(session):
        assert session is not None and session.dialog == "handoff"
        return Session()

    change = asyncio.ensure_future(store.change(USER, end_handoff))
    await asyncio.sleep(0)
    assert not change.done()
    await store.commit(msg(1), "a", Session("handoff", "connected", {"number": 3}), ["已转人工"])
    assert await asyncio.wait_for(change, timeout=5) == "saved"
    snapshot = (await store.admit(msg(2), "Pb", lock="b")).snapshot
    assert snapshot.session.dialog == "menu"


async def test_a_change_can_leave_the_session_or_forget_it(make_store):
    store, _ = await make_store()
    await store.admit(msg(1), "Pa", lock="a")
    await store.commit(msg(1), "a", Session("booking", "ask_name", {"x": 1}), ["?"])

    async def keep(session):
        return KEEP

    async def forget(session):
        return None

    assert await store.change(USER, keep) == "kept"
    assert (await store.admit(msg(2), "Pb", lock="b")).snapshot.session.data == {"x": 1}
    await store.release(USER, "b")
    assert await store.change(USER, forget) == "saved"
    assert (await store.admit(msg(3), "Pc", lock="c")).snapshot.session is None


async def test_a_conversation_that_timed_out_is_noticed_once(make_store):
    store, clock = await make_store(session_seconds=1)
    await store.admit(msg(1), "Pa", lock="a")
    await store.commit(msg(1), "a", Session("booking", "ask_name", {}), ["请问姓名"])
    if clock is not None:
        clock.now += 2
    else:
        assert await wait_for(lambda: _session_gone(store, msg(9)), timeout=6)
    snapshot = (await store.admit(msg(2), "Pb", lock="b")).snapshot
    assert snapshot.session is None and snapshot.expired
    await store.commit(msg(2), "b", Session(), ["已超时"])
    assert not (await store.admit(msg(3), "Pc", lock="c")).snapshot.expired


async def _session_gone(store, probe: MessageRef) -> bool:
    """True once the session lapsed (read under a throwaway lock, then released)."""
    admitted = await store.admit(MessageRef(probe.user, f"probe:{secrets.token_hex(4)}"), "Pp", lock="probe")
    if admitted.snapshot is None:
        return False
    await store.release(probe.user, "probe")
    return admitted.snapshot.session is None


async def test_a_profile_outlives_the_conversation_and_changes_only_when_given(make_store):
    """A person who chose English (or elder mode) keeps it after their session ends."""
    store, _ = await make_store()
    await store.admit(msg(1), "Pa", lock="a")
    await store.commit(msg(1), "a", Session(), ["OK"], profile={"lang": "en"})
    await store.admit(msg(2), "Pb", lock="b")
    await store.commit(msg(2), "b", None, ["Bye"])  # the session forgotten, the profile not given
    snapshot = (await store.admit(msg(3), "Pc", lock="c")).snapshot
    assert snapshot.session is None and snapshot.profile == {"lang": "en"}


async def test_what_a_turn_counted_is_kept_with_its_commit_bounded_to_the_most_asked(make_store, key_prefix):
    """Operators read what became of searches (python -m bot search-misses): the counts a turn
    made arrive with its commit, even one that lost its lock, and a tally keeps only its most
    frequent members."""
    store, _ = await make_store()
    key = f"{key_prefix}search:none:20261203"
    ask = lambda member: Tally(key, member, 3600, 2)  # noqa: E731
    await store.admit(msg(1), "Pa", lock="a")
    assert await store.commit(msg(1), "a", None, ["没找到"], tallies=[ask("开烟花店"), ask("开烟花店")])
    await store.admit(msg(2), "Pb", lock="b")
    assert not await store.commit(msg(2), "stale", None, ["没找到"], tallies=[ask("养狗")])
    await store.add_tallies([ask("养狗"), ask("刻章")])
    assert await store.tally(key) == {"开烟花店": 2, "养狗": 2}
