"""From an `Incoming` to its replies: exactly once, in order per user, under WeChat's deadline.

For each message:
1. `admit`: one pipelined round trip records the request nonce (replay guard) and claims the
   message's dedup key. A retry of a finished message gets the first answer again; a retry of a
   message still in progress waits for it until the deadline, then gets an empty ack (the first
   one delivers the answer, passively or through the API).
2. The turn: the user's in-process line (FIFO, place taken on arrival), then the user's Redis
   lock (taken BEFORE the session is read, in the same Lua call that reads it), the
   conversation step, and one Lua call that saves the session, stores the answer for retries
   and releases the lock.
3. The deadline: if the turn is not done in `deadline_seconds`, the caller answers WeChat at
   once and the replies follow through the pusher when ready.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.keys import Keys
from bot.logs import user_ref
from bot.outbox import Pusher, pack
from bot.settings import Settings
from dialogs import Conversation, Incoming, Reply, Session

log = logging.getLogger(__name__)

PENDING, LATE, DONE = "P", "L", "D"

# KEYS: lock, session, trace, held. ARGV: token, lock ttl ms.
# Returns {1, session json or '', trace or '', held replies...} when the lock is ours, {0} when
# it is taken.
ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local out = {1, redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[3]) or ''}
  for _, text in ipairs(redis.call('LRANGE', KEYS[4], 0, 19)) do out[#out + 1] = text end
  return out
end
return {0}
"""

# KEYS: lock, session, trace, dedup, held. ARGV: token, session json ('' forgets the session),
# session ttl, trace ('' = none), trace ttl, dedup value, dedup ttl, held replies delivered.
# Saves only while the lock is still ours: a turn that outlived its lock must not overwrite
# what a later turn saved. The answer is stored for retries either way.
COMMIT = """
local mine = redis.call('GET', KEYS[1]) == ARGV[1]
if mine then
  if ARGV[2] == '' then
    redis.call('DEL', KEYS[2], KEYS[3])
  else
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
    if ARGV[4] == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5]) end
  end
  if ARGV[8] ~= '0' then redis.call('LTRIM', KEYS[5], ARGV[8], -1) end
  redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[4], ARGV[6], 'EX', ARGV[7])
return mine and 1 or 0
"""

# KEYS: lock. ARGV: token.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Replayed(Exception):
    """The request's nonce was already used for a different body."""


@dataclass(slots=True)
class Outcome:
    """What the channel should answer now: passive `texts`, or an empty ack when None/empty."""

    texts: list[str]
    how: Literal["passive", "retry", "late", "ack"] = "passive"


class UserLines:
    """In-process FIFO per user: a place is taken on arrival, before any await, so one user's
    messages run in the order they reached this process. Lines are removed when empty."""

    def __init__(self) -> None:
        self._lines: dict[str, deque[asyncio.Future]] = {}

    def join(self, user: str) -> asyncio.Future:
        place = asyncio.get_running_loop().create_future()
        line = self._lines.setdefault(user, deque())
        line.append(place)
        if len(line) == 1:
            place.set_result(None)
        return place

    def leave(self, user: str, place: asyncio.Future) -> None:
        line = self._lines.get(user)
        if not line:
            return
        was_first = line[0] is place
        try:
            line.remove(place)
        except ValueError:
            return
        if not place.done():
            place.cancel()
        if not line:
            del self._lines[user]
        elif was_first and not line[0].done():
            line[0].set_result(None)

    def __len__(self) -> int:
        return len(self._lines)


class Dispatcher:
    def __init__(self, redis: Redis, keys: Keys, conversation: Conversation, settings: Settings, pusher: Pusher | None):
        self.redis = redis
        self.keys = keys
        self.conversation = conversation
        self.settings = settings
        self.pusher = pusher
        self.lines = UserLines()
        self.background: set[asyncio.Task] = set()
        self._acquire = redis.register_script(ACQUIRE)
        self._commit = redis.register_script(COMMIT)
        self._release = redis.register_script(RELEASE)
        self._limit = settings.passive_reply_max_bytes
        self._most = settings.max_messages_per_turn
        self._cut_note = conversation.services.render("common/truncated.j2")
        self._held_intro = conversation.services.render("common/held.j2")
        self._lock_ms = int(settings.lock_ttl_seconds * 1000)

    # The entry point --------------------------------------------------------------------

    async def receive(self, incoming: Incoming, nonce_key: str | None = None, body_digest: str = "") -> Outcome:
        """Handle one delivery of a message. Raises `Replayed`; never raises for Redis trouble
        (the person is told the system is busy)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.deadline_seconds
        place = self.lines.join(incoming.user)
        try:
            dedup_key = self.keys.dedup(incoming.user, message_key(incoming))
            try:
                first = await self._admit(nonce_key, body_digest, dedup_key)
            except RedisError as exc:
                log.warning("redis unavailable on admit: %s", exc)
                self.lines.leave(incoming.user, place)
                return Outcome(self._busy())
            if first is not None:
                self.lines.leave(incoming.user, place)
                return await self._answer_retry(dedup_key, first, deadline)
        except BaseException:
            self.lines.leave(incoming.user, place)
            raise

        job = loop.create_task(self._turn(incoming, place, dedup_key))
        try:
            replies = await asyncio.wait_for(asyncio.shield(job), max(0.0, deadline - loop.time()))
        except TimeoutError:
            self._spawn(self._deliver_late(job, incoming, dedup_key))
            return Outcome([], "late")
        texts = self._pack(replies)
        if len(texts) > 1:  # the rest of a long answer follows through the API
            self._spawn(self._push(incoming, texts[1:]))
        return Outcome(texts[:1])

    # Steps ------------------------------------------------------------------------------

    async def _admit(self, nonce_key: str | None, digest: str, dedup_key: str) -> str | None:
        """Returns None for a new message, else what the first delivery left in its dedup key."""
        ttl = self.settings.dedup_ttl_seconds
        async with self.redis.pipeline(transaction=False) as pipe:
            if nonce_key:
                pipe.set(nonce_key, digest, nx=True, ex=self.settings.timestamp_window_seconds * 2)
                pipe.get(nonce_key)
            pipe.set(dedup_key, PENDING, nx=True, ex=ttl)
            pipe.get(dedup_key)
            result = await pipe.execute()
        if nonce_key:
            nonce_new, nonce_digest, claimed, existing = result
            if not nonce_new and nonce_digest != digest.encode():
                if claimed:  # do not leave a forged message's claim behind
                    await self.redis.delete(dedup_key)
                raise Replayed()
        else:
            claimed, existing = result
        return None if claimed else (existing or b"").decode()

    async def _answer_retry(self, dedup_key: str, state: str, deadline: float) -> Outcome:
        loop = asyncio.get_running_loop()
        delay = 0.02
        while state == PENDING and loop.time() + delay < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
            try:
                state = ((await self.redis.get(dedup_key)) or b"").decode()
            except RedisError:
                break
        if state.startswith(DONE):
            replies = [Reply(t) for t in json.loads(state[1:])]
            return Outcome(self._pack(replies)[:1], "retry")
        return Outcome([], "ack")

    async def _turn(self, incoming: Incoming, place: asyncio.Future, dedup_key: str) -> list[Reply]:
        user = incoming.user
        token = secrets.token_hex(8)
        locked = False
        try:
            async with asyncio.timeout(self.settings.turn_timeout_seconds):
                await place
                raw, trace, held = await self._lock(user, token)
                locked = True
                session, expired = self._load(raw, trace)
                new, replies = await self.conversation.step(session, incoming, expired=expired)
            if held:  # answers we could not push earlier come first, now that we can reply
                earlier = [Reply(t.decode()) for t in held]
                if not earlier[0].text.startswith(self._held_intro):  # held twice: introduced once
                    earlier.insert(0, Reply(self._held_intro))
                replies = [*earlier, *replies]
            await self._save(user, token, new, dedup_key, replies, len(held))
            locked = False
            return replies
        except Exception as exc:  # the person hears an apology; the cause goes to the log
            if isinstance(exc, (TimeoutError, RedisError)):
                log.warning("turn for %s abandoned: %r", user_ref(user), exc)
            else:
                log.exception("turn for %s failed", user_ref(user))
            replies = [Reply(self._busy()[0])]
            await self._give_up(user, token if locked else None, dedup_key, replies)
            return replies
        finally:
            self.lines.leave(user, place)

    async def _lock(self, user: str, token: str) -> tuple[bytes, bytes, list[bytes]]:
        keys = [self.keys.lock(user), self.keys.session(user), self.keys.session_trace(user), self.keys.held(user)]
        delay = 0.005
        while True:
            got = await self._acquire(keys=keys, args=[token, self._lock_ms])
            if got[0] == 1:
                return got[1], got[2], got[3:]
            await asyncio.sleep(delay)  # another process is serving this user
            delay = min(delay * 2, 0.1)

    def _load(self, raw: bytes, trace: bytes) -> tuple[Session | None, bool]:
        if raw:
            try:
                return Session.from_json(json.loads(raw)), False
            except (ValueError, TypeError):
                log.warning("unreadable session replaced")
                return None, False
        return None, bool(trace)

    async def _save(self, user: str, token: str, session: Session | None, dedup_key: str, replies: list[Reply], held: int) -> None:
        s = self.settings
        if session is None:
            body, trace = "", ""
        else:
            body = json.dumps(session.to_json(), ensure_ascii=False, separators=(",", ":"))
            trace = "" if session.at_rest else session.dialog
        mine = await self._commit(
            keys=[self.keys.lock(user), self.keys.session(user), self.keys.session_trace(user), dedup_key, self.keys.held(user)],
            args=[token, body, s.session_ttl_seconds, trace, s.session_notice_ttl_seconds, _answer_record(replies), s.dedup_ttl_seconds, held],
        )
        if not mine:
            log.warning("turn for %s outlived its lock; session not saved", user_ref(user))

    async def _give_up(self, user: str, token: str | None, dedup_key: str, replies: list[Reply]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if token:
                    await self._release(keys=[self.keys.lock(user)], args=[token], client=pipe)
                pipe.set(dedup_key, _answer_record(replies), ex=self.settings.dedup_ttl_seconds)
                await pipe.execute()
        except RedisError as exc:
            log.warning("could not record a failed turn: %s", exc)

    async def _deliver_late(self, job: asyncio.Task, incoming: Incoming, dedup_key: str) -> None:
        replies = await job  # _turn never raises
        try:
            await self.redis.set(dedup_key, LATE, xx=True, ex=self.settings.dedup_ttl_seconds)
        except RedisError as exc:
            log.warning("could not mark a late answer: %s", exc)
        texts = self._pack(replies)
        if texts:
            await self._push(incoming, texts)

    async def _push(self, incoming: Incoming, texts: list[str]) -> None:
        """Push texts; whatever cannot reach the person now is held for their next message."""
        try:
            undelivered = await self.pusher.push(incoming, texts)
        except Exception:
            log.exception("pushing to %s failed; holding the replies", user_ref(incoming.user))
            undelivered = texts
        if undelivered:
            key = self.keys.held(incoming.user)
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.rpush(key, *undelivered).ltrim(key, -20, -1).expire(key, self.settings.held_ttl_seconds)
                    await pipe.execute()
            except RedisError as exc:
                log.error("lost %d undeliverable replies for %s: %s", len(undelivered), user_ref(incoming.user), exc)

    # Helpers ----------------------------------------------------------------------------

    def _pack(self, replies: list[Reply]) -> list[str]:
        return pack(replies, self._limit, self._most, self._cut_note)

    def _busy(self) -> list[str]:
        return [self.conversation.services.render("common/busy.j2")]

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background delivery failed", exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for late deliveries in flight (on shutdown)."""
        if self.background:
            await asyncio.wait(set(self.background), timeout=timeout)


def _answer_record(replies: list[Reply]) -> str:
    """What a message's dedup key holds once answered, for WeChat's retries."""
    return DONE + json.dumps([r.text for r in replies], ensure_ascii=False)


def message_key(incoming: Incoming) -> str:
    """WeChat's dedup identity: MsgId for messages, CreateTime + event + key for events."""
    if incoming.msg_id:
        return f"m:{incoming.msg_id}"
    return f"e:{incoming.created}:{incoming.kind}:{incoming.text[:64]}"
