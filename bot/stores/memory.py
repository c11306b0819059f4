"""The conversation store in one process's memory, for dialog tests and the in-memory harness.

It keeps the same promises as the Redis store (tests/test_store_contract.py runs one contract
against both): a claim per message, a lock per person taken before their session is read,
sessions saved only under the lock, answers kept for retries, lifetimes that lapse. Time is a
clock you can hand in, so a test can let a claim or a session lapse without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from bot.logs import new_id
from bot.stores.conversation import KEEP, NOTHING, Admission, Answer, MessageRef, Nonce, SessionChange, Snapshot, StorePolicy, Tally
from dialogs.engine import Session


@dataclass(slots=True)
class _Entry:
    value: object
    expires: float


class MemoryConversationStore:
    """`ConversationStore` in a dict. Not shared between processes: for tests and tools only."""

    def __init__(self, policy: StorePolicy, clock: Callable[[], float] = time.time):
        self.policy, self.clock = policy, clock
        self._data: dict[tuple, _Entry] = {}
        self._released: dict[str, asyncio.Event] = {}

    async def aclose(self) -> None:
        self._data.clear()

    # Storage with lifetimes ------------------------------------------------------------------

    def _get(self, key: tuple):
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            del self._data[key]
            return None
        return entry.value

    def _set(self, key: tuple, value, seconds: float, *, only_new: bool = False) -> bool:
        if only_new and self._get(key) is not None:
            return False
        self._data[key] = _Entry(value, self.clock() + seconds)
        return True

    def _delete(self, key: tuple) -> None:
        self._data.pop(key, None)

    # A message's arrival -------------------------------------------------------------------

    async def remember_nonce(self, nonce: Nonce) -> bool:
        key = ("nonce", nonce.timestamp, nonce.nonce)
        return self._set(key, nonce.digest, self.policy.nonce_ttl(nonce, self.clock()), only_new=True) or self._get(key) == nonce.digest

    async def admit(self, message: MessageRef, claim: str, *, lock: str | None = None, nonce: Nonce | None = None) -> Admission:
        p, now = self.policy, self.clock()
        if nonce is not None and not await self.remember_nonce(nonce):
            return Admission("replayed")
        record = ("record", message.user, message.key)
        if not self._set(record, Answer("pending", claim=claim), p.claim_seconds, only_new=True):
            return Admission("seen", answer=self._get(record) or NOTHING)
        if p.rate_limit:
            counter = ("rate", message.user, int(now) // max(1, p.rate_window))
            count = (self._get(counter) or 0) + 1
            self._set(counter, count, p.rate_window * 2)
            if count > p.rate_limit:
                self._set(record, Answer("done", tuple(p.over_limit)), p.answer_ttl(message, now))
                return Admission("limited")
        if lock and self._take(message.user, lock):
            return Admission("new", snapshot=self._read(message.user))
        return Admission("new")

    async def acquire(self, message: MessageRef, lock: str, claim: str) -> Snapshot | None:
        record = ("record", message.user, message.key)
        while True:
            current = self._get(record)
            if current is None:
                self._set(record, Answer("pending", claim=claim), self.policy.claim_seconds)
            elif current.claim != claim:
                return None
            if self._take(message.user, lock):
                return self._read(message.user)
            await self._wait_for_release(message.user)

    # The end of a turn ----------------------------------------------------------------------

    async def commit(self, message: MessageRef, lock: str, session: Session | None, answer: Sequence[str], held_given: int = 0,
                     profile: dict | None = None, tallies: Sequence[Tally] = ()) -> bool:
        saved = self._save(message.user, lock, session, held_given, profile)
        self._set(("record", message.user, message.key), Answer("done", tuple(answer)), self.policy.answer_ttl(message, self.clock()))
        await self.add_tallies(tallies)
        return saved

    async def add_tallies(self, tallies: Sequence[Tally]) -> None:
        for t in tallies:
            counts = dict(self._get(("tally", t.key)) or {})
            counts[t.member] = counts.get(t.member, 0) + 1
            if len(counts) > t.cap:  # the rarest go first, as ZREMRANGEBYRANK drops them
                counts = dict(sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))[-t.cap:])
            self._set(("tally", t.key), counts, t.ttl)

    async def tally(self, key: str) -> dict[str, int]:
        return dict(self._get(("tally", key)) or {})

    async def abandon(self, message: MessageRef, lock: str | None, answer: Sequence[str]) -> None:
        self._set(("record", message.user, message.key), Answer("done", tuple(answer)), self.policy.answer_ttl(message, self.clock()))
        if lock:
            await self.release(message.user, lock)

    async def release(self, user: str, lock: str) -> None:
        if self._get(("lock", user)) == lock:
            self._delete(("lock", user))
            self._wake(user)

    # Retries and late answers ---------------------------------------------------------------

    async def answer(self, message: MessageRef) -> Answer:
        return self._get(("record", message.user, message.key)) or NOTHING

    async def reclaim(self, message: MessageRef, claim: str) -> bool:
        return self._set(("record", message.user, message.key), Answer("pending", claim=claim), self.policy.claim_seconds, only_new=True)

    async def renew(self, message: MessageRef, claim: str) -> bool:
        record = ("record", message.user, message.key)
        current = self._get(record)
        if current is None or current.claim != claim:
            return False
        return self._set(record, current, self.policy.claim_seconds)

    async def answered_late(self, message: MessageRef) -> None:
        record = ("record", message.user, message.key)
        if self._get(record) is not None:
            self._set(record, Answer("late"), self.policy.answer_ttl(message, self.clock()))

    async def hold(self, user: str, texts: Sequence[str]) -> None:
        held = [*(self._get(("held", user)) or ()), *texts][-20:]
        self._set(("held", user), held, self.policy.held_seconds)

    # Outside a turn ---------------------------------------------------------------------------

    async def change(self, user: str, edit: SessionChange) -> str:
        token = "C" + new_id()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.lock_seconds
        while not self._take(user, token):
            if loop.time() > deadline:
                return "busy"
            await self._wait_for_release(user, deadline - loop.time())
        try:
            new = await edit(self._get(("session", user)))
        except BaseException:
            await self.release(user, token)
            raise
        if new is KEEP:
            await self.release(user, token)
            return "kept"
        self._save(user, token, new, 0)
        return "saved"

    # Helpers --------------------------------------------------------------------------------

    def _take(self, user: str, token: str) -> bool:
        return self._set(("lock", user), token, self.policy.lock_seconds, only_new=True)

    def _read(self, user: str) -> Snapshot:
        session = self._get(("session", user))
        expired = session is None and self._get(("trace", user)) is not None
        profile = self._get(("profile", user)) or {}
        return Snapshot(_copy(session), expired=expired, held=tuple(self._get(("held", user)) or ()),
                        profile=orjson.loads(orjson.dumps(profile)))

    def _save(self, user: str, lock: str, session: Session | None, held_given: int, profile: dict | None = None) -> bool:
        if self._get(("lock", user)) != lock:
            return False
        p = self.policy
        if session is None:
            self._delete(("session", user))
            self._delete(("trace", user))
        else:
            self._set(("session", user), _copy(session), p.session_seconds)
            if session.at_rest:
                self._delete(("trace", user))
            else:
                self._set(("trace", user), session.dialog, p.trace_seconds)
        if profile is not None:
            self._set(("profile", user), orjson.loads(orjson.dumps(profile)), p.profile_seconds)
        if held_given:
            rest = (self._get(("held", user)) or [])[held_given:]
            self._set(("held", user), rest, p.held_seconds) if rest else self._delete(("held", user))
        self._delete(("lock", user))
        self._wake(user)
        return True

    def _wake(self, user: str) -> None:
        event = self._released.pop(user, None)
        if event is not None:
            event.set()

    async def _wait_for_release(self, user: str, at_most: float | None = None) -> None:
        """Until the person's lock is released, or could have lapsed."""
        entry = self._data.get(("lock", user))
        left = max(0.0, entry.expires - self.clock()) if entry is not None else 0.0
        if at_most is not None:
            left = min(left, at_most)
        event = self._released.setdefault(user, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout=left or 0.001)
        except TimeoutError:
            pass


def _copy(session: Session | None) -> Session | None:
    """What Redis would give back: a session that shares nothing with the one saved."""
    if session is None:
        return None
    return Session.from_json(orjson.loads(orjson.dumps(session.to_json(), option=orjson.OPT_NON_STR_KEYS)))
