"""From an `Incoming` to its replies: exactly once, in order per user, under WeChat's deadline.

For each message:
1. `admit`: one Lua call (ADMIT_NONCE) records the request nonce (replay guard: a nonce used
   before with another body is refused, and nothing else done), claims the message's dedup
   key, counts it against the user's rate limit and, for the first message of the user in
   this process, takes the user's lock and reads the session. (On a Redis Cluster the nonce,
   in another slot, is its own command in the same trip, and a nonce seen before costs a
   second trip to read what it holds.) A retry of a finished
   message gets the first answer again; a retry of a message still in progress waits for it
   until the deadline, then gets an empty ack (the first one delivers the answer, passively or
   through the API).
   The claim ("P" + the turn's token) is a lease of `dedup_lease_seconds`, renewed while the
   turn runs (only turns longer than a third of the lease pay for renewals). When the process
   dies mid-turn the lease lapses, and a retry of the message claims it and runs the turn. A
   turn runs only if its claim is still current when it takes the user's lock (checked in the
   same Lua call), so a message is never run twice, even by a live process whose lease lapsed.
2. The turn: the user's in-process line (FIFO, place taken on arrival), then the user's Redis
   lock (taken BEFORE the session is read, in the same Lua call that reads it), the
   conversation step, and one Lua call that saves the session, stores the answer for retries
   and releases the lock: a new message costs two round trips in all.
   Both trips go through `bot.redis_fast`: the commands of every turn in flight share one
   connection and one write per event-loop pass.
3. The deadline: if the turn is not done in `deadline_seconds`, the caller answers WeChat at
   once and the replies follow through the pusher when ready.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import metrics, redis_fast
from bot.catalog import CatalogNotReady
from bot.keys import Keys
from bot.logs import Incidents, new_id, user_ref
from bot.outbox import Pusher, pack
from bot.ratelimit import RateLimiter
from bot.redis_fast import Script, is_noscript
from bot.settings import Settings
from dialogs import Conversation, Incoming, Reply, Session
from dialogs.engine import current_task
from integrations.platform.client import PlatformUnavailable, answer_by as platform_answer_by
from integrations.wechat.errors import WeChatAPIError, WeChatError

log = logging.getLogger(__name__)

PENDING, LATE, DONE = "P", "L", "D"
_DONE = DONE.encode()
LIMITED = "limited"  # what _admit returns for a message over the user's rate limit

#: What a turn can meet that is not a bug, by kind: the person is told, and the log has one
#: warning per incident (bot.logs.Incidents). Anything else is logged as an error.
PASSING_TROUBLE = ((RedisError, "redis"), (CatalogNotReady, "catalog"), (PlatformUnavailable, "platform"), (TimeoutError, "slow turns"))
#: What a turn keeps for itself after the platform's last answer (the dialog's step, the commit,
#: the reply): platform calls must be done this long before WeChat's deadline. A turn that starts
#: with less than PLATFORM_AT_LEAST before that is late anyway and answers through the API: its
#: platform calls get until the turn's own timeout instead.
ANSWER_RESERVE_SECONDS = 0.25
PLATFORM_AT_LEAST_SECONDS = 0.5
#: WeChat errcodes that mean the request we built was wrong (a bug, an error), unlike its busy
#: system, quotas or a person out of reach (passing trouble): invalid message type, empty body,
#: empty content, content too long, malformed JSON.
OUR_FAULT = frozenset({40008, 44002, 44004, 45002, 47001})

# KEYS: dedup, rate counter, lock, session, trace, held. ARGV: the message's claim, token ('' =
# do not try the lock), the body's digest (ADMIT_NONCE's), how long the request's answer and
# nonce are kept (s: as long as its timestamp is accepted, see `receive`), then what is the same
# for every call (packed once: bot.redis_fast.Script `fixed`): lease ms, rate limit (0 = none),
# rate counter ttl s, the answer given over the limit, lock ttl ms.
# Returns {0, what the dedup key holds} for a message seen before; {3} for a new one over the
# user's rate limit (its retries find the polite answer in its dedup key); {1, session json or
# '', trace or '', held replies...} for a new one whose lock was taken; {4} for a new one whose
# turn must take the lock itself (not asked to, or held by another turn).
ADMIT = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[5]) then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
if ARGV[6] ~= '0' then
  local count = redis.call('INCR', KEYS[2])
  if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[7]) end
  if count > tonumber(ARGV[6]) then
    redis.call('SET', KEYS[1], ARGV[8], 'EX', ARGV[4])
    return {3}
  end
end
if ARGV[2] ~= '' and redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[9]) then
  local out = {1, redis.call('GET', KEYS[4]) or '', redis.call('GET', KEYS[5]) or ''}
  for _, text in ipairs(redis.call('LRANGE', KEYS[6], 0, 19)) do out[#out + 1] = text end
  return out
end
return {4}
"""

# ADMIT with the request's nonce checked first, for a single Redis server (on a Cluster the
# nonce's key lives in another slot: it is SET in the same trip as a command of its own).
# KEYS: as ADMIT's, then the nonce. ARGV: as ADMIT's.
# Returns {5} for a nonce already used with another body (a replay: nothing else is done),
# else as ADMIT (the same body again is WeChat re-delivering: the dedup key answers it).
ADMIT_NONCE = """
if not redis.call('SET', KEYS[7], ARGV[3], 'NX', 'EX', ARGV[4]) and redis.call('GET', KEYS[7]) ~= ARGV[3] then
  return {5}
end
""" + ADMIT

# KEYS: lock, session, trace, held, dedup. ARGV: token, lock ttl ms, the message's claim, lease ms.
# Returns {1, session json or '', trace or '', held replies...} when the lock is ours, {0} when
# it is taken, {2} when the message's claim is no longer this turn's (answered, or claimed by a
# retry after this turn's lease lapsed): the turn must not run. A lapsed claim nobody took is
# taken back.
ACQUIRE = """
local claim = redis.call('GET', KEYS[5])
if claim == false then
  redis.call('SET', KEYS[5], ARGV[3], 'PX', ARGV[4])
elseif claim ~= ARGV[3] then
  return {2}
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local out = {1, redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[3]) or ''}
  for _, text in ipairs(redis.call('LRANGE', KEYS[4], 0, 19)) do out[#out + 1] = text end
  return out
end
return {0}
"""

# KEYS: lock, session, trace, dedup, held. ARGV: token, session json ('' forgets the session),
# trace ('' = none), dedup value, held replies delivered, the dedup value's ttl s (as ADMIT's),
# then (fixed) session ttl s, trace ttl s.
# Saves only while the lock is still ours: a turn that outlived its lock must not overwrite
# what a later turn saved. The answer is stored for retries either way.
COMMIT = """
local mine = redis.call('GET', KEYS[1]) == ARGV[1]
if mine then
  if ARGV[2] == '' then
    redis.call('DEL', KEYS[2], KEYS[3])
  else
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[7])
    if ARGV[3] == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[8]) end
  end
  if ARGV[5] ~= '0' then redis.call('LTRIM', KEYS[5], ARGV[5], -1) end
  redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[4], ARGV[4], 'EX', ARGV[6])
return mine and 1 or 0
"""

# KEYS: dedup. ARGV: the turn's claim, lease ms. Renews the claim only while it is still this turn's.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
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
    how: Literal["passive", "retry", "late", "ack", "busy", "limited"] = "passive"

    def __post_init__(self) -> None:
        metrics.note_outcome(self.how)


class _Front:
    """The place of a message that found its user's line empty: first already, nothing to wait
    for (most messages: a future each cost more than the rest of taking a place)."""

    __slots__ = ()

    def done(self) -> bool:
        return True

    def cancel(self) -> bool:
        return False

    def __await__(self):
        return iter(())


class UserLines:
    """In-process FIFO per user: a place is taken on arrival, before any await, so one user's
    messages run in the order they reached this process. Lines are removed when empty; a line
    of one is just its place."""

    def __init__(self) -> None:
        self._lines: dict[str, object] = {}  # a user's only place, or a deque of places

    def join(self, user: str) -> asyncio.Future | _Front:
        line = self._lines.get(user)
        if line is None:
            place = self._lines[user] = _Front()
            return place
        place = asyncio.get_running_loop().create_future()
        if line.__class__ is deque:
            line.append(place)
        else:
            self._lines[user] = deque((line, place))
        return place

    def leave(self, user: str, place) -> None:
        line = self._lines.get(user)
        if line is None:
            return
        if line is place:
            del self._lines[user]
            return
        if line.__class__ is not deque:
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
        self.fast = redis_fast.for_client(redis)  # admit and commit: one shared, auto-pipelined connection
        self.limiter = RateLimiter(self.fast, keys, settings)
        self.clock = _Clock(self)
        self.incidents = Incidents(log)
        self._release = redis.register_script(RELEASE)
        self._renew = redis.register_script(RENEW)
        self._limit = settings.passive_reply_max_bytes
        self._most = settings.max_messages_per_turn
        self._cut_note = conversation.services.render("common/truncated.j2")
        self._held_intro = conversation.services.render("common/held.j2")
        self._lock_ms = int(settings.lock_ttl_seconds * 1000)
        self._lease_ms = int(settings.dedup_lease_seconds * 1000)
        self._renew_every = settings.dedup_lease_seconds / 3
        self._user_keys: dict[str, tuple[str, str, str, str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # the one this dispatcher's turns run on
        self._slow_down = conversation.services.render("reliability/slow_down.j2")
        self._keep = settings.dedup_ttl_seconds  # the least time an answer is kept for retries
        # The scripts' arguments that are the same for every call, packed once (see ADMIT, COMMIT).
        admit_fixed = (self._lease_ms, self.limiter.per_user or 0, self.limiter.window * 2, _answer_record([Reply(self._slow_down)]),
                       self._lock_ms)
        self._admit_script, self._acquire = Script(ADMIT, admit_fixed), Script(ACQUIRE)
        self._commit = Script(COMMIT, (settings.session_ttl_seconds, settings.session_notice_ttl_seconds))
        # One server: the nonce is checked inside the admit script (one command, not two).
        self._admit_nonce = Script(ADMIT_NONCE, admit_fixed) if isinstance(self.fast, redis_fast.AutoPipeline) else None

    async def aclose(self) -> None:
        await self.fast.aclose()

    # The entry point --------------------------------------------------------------------

    async def receive(self, incoming: Incoming, nonce_key: str | None = None, body_digest: str = "", acceptable_for: int = 0) -> Outcome:
        """Handle one delivery of a message. Raises `Replayed`; never raises for Redis trouble
        (the person is told the system is busy). `acceptable_for`: how many seconds from now the
        channel would still accept this very request (its timestamp's window, up to twice the
        window for one dated ahead): its answer and its nonce are kept at least that long, so a
        replay is never run again (at least `dedup_ttl_seconds` either way)."""
        keep = acceptable_for if acceptable_for > self._keep else self._keep
        loop = self._loop
        if loop is None:  # (asking asyncio costs a getpid() system call on Python 3.11)
            loop = self._loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.deadline_seconds
        place = self.lines.join(incoming.user)
        token = new_id()
        claim = PENDING + token
        try:
            dedup_key = self.keys.dedup(incoming.user, message_key(incoming))
            try:
                # First in this process's line for the user: the admit trip also tries the lock.
                user, try_lock = incoming.user, token if place.done() else None
                if nonce_key and self._admit_nonce is not None:  # one server: one script call, awaited here
                    keys, args = (dedup_key, *self._admit_keys(user), nonce_key), (claim, try_lock or "", body_digest, keep)
                    got = await self.fast.call_script(self._admit_nonce, keys, args)
                    if got.__class__ is not list:
                        got = await self._fixed(self._admit_nonce(keys, args), got)
                    first, grabbed = self._admitted(got)
                else:
                    first, grabbed = await self._admit(nonce_key, body_digest, dedup_key, keep, user, try_lock, claim)
            except RedisError as exc:
                metrics.REDIS_ERRORS.labels("admit").inc()
                self.incidents.report("redis", "redis unavailable on admit, people are told 系统繁忙: %r", exc)
                self.lines.leave(incoming.user, place)
                return Outcome(self._busy(), "busy")
            if first is not None:
                self.lines.leave(incoming.user, place)
                if first == LIMITED:
                    return Outcome([self._slow_down], "limited")
                metrics.DEDUP_HITS.inc()
                outcome = await self._answer_retry(dedup_key, first, deadline, claim)
                if outcome is not None:
                    return outcome
                # the first delivery's lease lapsed (its process died): this one runs the turn
                log.warning("message from %s claimed again: its first delivery's turn was abandoned", user_ref(incoming.user))
                place, grabbed = self.lines.join(incoming.user), None
        except BaseException:
            self.lines.leave(incoming.user, place)
            raise

        watch = _Watch(deadline, loop.time() + self.settings.turn_timeout_seconds, dedup_key, PENDING + token, self._renew_every, loop)
        self.clock.add(watch)
        # The turn runs in this request's task; at the deadline it moves to a task of its own.
        replies = await _Inline(self._turn(incoming, place, dedup_key, keep, token, grabbed, watch), watch)
        if watch.job is not None:  # the deadline: the turn goes on, and its answer follows through the API
            metrics.DEADLINE_OVERRUNS.inc()
            self._spawn(self._deliver_late(watch.job, incoming, dedup_key, keep))
            return Outcome([], "late")
        if replies is None:  # claimed again elsewhere while this turn waited: that one answers
            return await self._answer_retry(dedup_key, PENDING, deadline)
        texts = self._pack(replies)
        if len(texts) > 1:  # the rest of a long answer follows through the API
            self._spawn(self._push(incoming, texts[1:]))
        return Outcome(texts[:1])

    # Steps ------------------------------------------------------------------------------

    async def _admit(self, nonce_key: str | None, digest: str, dedup_key: str, keep: int, user: str = "", token: str | None = None,
                     claim: str = PENDING) -> tuple[str | None, tuple | None]:
        """ADMIT where the nonce cannot be checked inside it (a Redis Cluster: the nonce's key is
        in another slot; or no nonce), as `_admitted` returns it. With a `token`, the same round
        trip tries the user's lock. `claim` is what the dedup key holds while this delivery's
        turn runs (a lease); `keep`, how long the answer and the nonce are kept (s)."""
        admit = self._admit_script((dedup_key, *self._admit_keys(user)), (claim, token or "", "", keep))
        if nonce_key:  # its own command in the same trip
            nonce_new, got = await self.fast.run(("SET", nonce_key, digest, "NX", "EX", keep), admit)
            if isinstance(nonce_new, Exception):
                raise nonce_new
        else:
            nonce_new, got = True, await self.fast.call(admit)
        if got.__class__ is not list:
            got = await self._fixed(admit, got)
        status = got[0]
        if not nonce_new:  # a nonce seen before: the same body is WeChat re-delivering, another is a replay
            try:
                seen = await self.redis.get(nonce_key)
            except BaseException:
                if status == 1:
                    await self._unlock(user, token)
                raise
            if seen != digest.encode():
                if status == 1:
                    await self._unlock(user, token)
                if status != 0:  # do not leave a forged message's claim behind
                    await self.redis.delete(dedup_key)
                raise Replayed()
        return self._admitted(got)

    def _admit_keys(self, user: str) -> tuple[str, ...]:
        """ADMIT's keys after the dedup key: the user's rate counter, lock, session, trace, held."""
        return self.keys.rate_user(user, self.limiter.slot()), *self._lock_keys(user)

    @staticmethod
    def _admitted(got: list) -> tuple[str | None, tuple | None]:
        """What ADMIT answered: (None, lock) for a new message whose lock was taken (lock: the
        session, its trace and the held replies it read), (None, None) for a new one whose turn
        must take the lock itself, (LIMITED, None) for a new one over the user's rate limit,
        else (what the first delivery left in its dedup key, None). Raises Replayed."""
        status = got[0]
        if status == 1:
            return None, (got[1], got[2], got[3:])
        if status == 0:
            return got[1].decode(), None
        if status == 3:
            metrics.RATE_LIMITED.labels("user").inc()
            return LIMITED, None
        if status == 5:
            raise Replayed()
        return None, None

    async def _answer_retry(self, dedup_key: str, state: str, deadline: float, claim: str | None = None) -> Outcome | None:
        """Waits (until the deadline) for the answer of a message in progress. With a `claim`:
        when the message's claim has lapsed (its process died mid-turn), claims it and returns
        None, and the caller runs the turn."""
        loop = asyncio.get_running_loop()
        delay = 0.02
        while True:
            try:
                if not state and claim:  # nobody holds the message and nobody answered it
                    if await self.redis.set(dedup_key, claim, nx=True, px=self._lease_ms):
                        return None
                    state = ((await self.redis.get(dedup_key)) or b"").decode()
                if not state.startswith(PENDING) or loop.time() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
                state = ((await self.redis.get(dedup_key)) or b"").decode()
            except RedisError:
                break
        if state.startswith(DONE):
            replies = [Reply(t) for t in json.loads(state[1:])]
            return Outcome(self._pack(replies)[:1], "retry")
        return Outcome([], "ack")

    async def _turn(self, incoming: Incoming, place: asyncio.Future, dedup_key: str, keep: int, token: str, grabbed: tuple | None,
                    watch: _Watch) -> list[Reply] | None:
        """The replies; None when the message's claim was lost before the turn could start
        (another delivery claimed it after this one's lease lapsed, and answers it). The clock
        cancels the turn when it outlives `turn_timeout_seconds` before its step is done."""
        user = incoming.user
        locked = grabbed is not None
        started = watch.loop.time()
        try:
            try:
                if grabbed is not None:  # taken in the admit trip
                    raw, trace, held = grabbed
                else:
                    await place
                    got = await self._lock(user, token, dedup_key)
                    if got is None:
                        log.warning("turn for %s not run: its message was claimed by another delivery", user_ref(user))
                        return None
                    raw, trace, held = got
                    locked = True
                session, expired = self._load(raw, trace)
                platform_answer_by.set(_platform_due(watch))  # this turn's own context (_Inline's)
                new, replies = await self.conversation.step(session, incoming, expired=expired)
                watch.stepping = False  # from here on the turn only saves: never cut short
            except asyncio.CancelledError:
                if not watch.timed_out:
                    raise
                asyncio.current_task().uncancel()
                raise TimeoutError(f"turn took over {self.settings.turn_timeout_seconds} s") from None
            if held:  # answers we could not push earlier come first, now that we can reply
                earlier = [Reply(t.decode()) for t in held]
                if not earlier[0].text.startswith(self._held_intro):  # held twice: introduced once
                    earlier.insert(0, Reply(self._held_intro))
                replies = [*earlier, *replies]
            keys, args = self._commit_args(user, token, new, dedup_key, keep, replies, len(held))  # (awaited here: one frame less)
            mine = await self.fast.call_script(self._commit, keys, args)
            if mine.__class__ is not int:
                mine = await self._fixed(self._commit(keys, args), mine)
            if not mine:
                log.warning("turn for %s outlived its lock; session not saved", user_ref(user))
            locked = False
            return replies
        except Exception as exc:  # the person hears an apology; the cause goes to the log
            if isinstance(exc, RedisError):
                metrics.REDIS_ERRORS.labels("turn").inc()
            kind = next((kind for cls, kind in PASSING_TROUBLE if isinstance(exc, cls)), None)
            if kind is not None:
                self.incidents.report(kind, "%s trouble: a turn was cut short and the person told so: %r", kind, exc)
            else:
                log.exception("turn for %s failed", user_ref(user))
            if isinstance(exc, CatalogNotReady):  # start-up: the guides are still being fetched
                replies = [Reply(self.conversation.services.render("common/loading.j2"))]
            else:
                replies = [Reply(self._busy()[0])]
            await self._give_up(user, token if locked else None, dedup_key, keep, replies)
            return replies
        finally:
            watch.stepping, watch.finished = False, True
            self.lines.leave(user, place)
            metrics.TURN_SECONDS.observe(watch.loop.time() - started)

    def _lock_keys(self, user: str) -> tuple[str, str, str, str]:
        """The user's lock, session, session trace and held replies (the keys' formats are
        bot.keys'), formatted once for a message's admit and commit (a small cache: the users
        with turns in flight)."""
        keys = self._user_keys.get(user)
        if keys is None:
            if len(self._user_keys) >= 4096:
                self._user_keys.clear()
            k = self.keys
            keys = self._user_keys[user] = (k.lock(user), k.session(user), k.session_trace(user), k.held(user))
        return keys

    async def _unlock(self, user: str, token: str) -> None:
        try:
            await self._release(keys=[self.keys.lock(user)], args=[token])
        except RedisError as exc:  # it expires with its TTL
            self.incidents.report("redis", "could not release a lock: %r", exc)

    async def _lock(self, user: str, token: str, dedup_key: str) -> tuple[bytes, bytes, list[bytes]] | None:
        """The user's lock and what ACQUIRE read; None when the message's claim is no longer ours."""
        keys, args = [*self._lock_keys(user), dedup_key], [token, self._lock_ms, PENDING + token, self._lease_ms]
        delay = 0.005
        while True:
            got = await self.fast.call(self._acquire(keys, args))
            if got.__class__ is not list:
                got = await self._fixed(self._acquire(keys, args), got)
            if got[0] == 1:
                return got[1], got[2], got[3:]
            if got[0] == 2:
                return None
            await asyncio.sleep(delay)  # another process is serving this user
            delay = min(delay * 2, 0.1)

    def _load(self, raw: bytes, trace: bytes) -> tuple[Session | None, bool]:
        if raw:
            try:
                return Session.from_json(orjson.loads(raw)), False
            except (ValueError, TypeError):
                log.warning("unreadable session replaced")
                return None, False
        return None, bool(trace)

    def _commit_args(self, user: str, token: str, session: Session | None, dedup_key: str, keep: int, replies: list[Reply], held: int) -> tuple[tuple, tuple]:
        """COMMIT's keys and arguments: save the session (or forget it), store the answer for
        retries, drop the held replies given, release the lock."""
        if session is None:
            body, trace = "", ""
        else:
            body = _json(session.to_json())
            trace = "" if session.at_rest else session.dialog
        lock, key, trace_key, held_key = self._lock_keys(user)
        return (lock, key, trace_key, dedup_key, held_key), (token, body, trace, _answer_record(replies), held, keep)

    async def _fixed(self, command: tuple, reply):
        """A reply from `fast.call` that was not what the script returns: a NOSCRIPT is run
        again with EVAL; any other error raises."""
        if is_noscript(reply):
            reply = await self.fast.redo(command, reply)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _give_up(self, user: str, token: str | None, dedup_key: str, keep: int, replies: list[Reply]) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if token:
                    await self._release(keys=[self.keys.lock(user)], args=[token], client=pipe)
                pipe.set(dedup_key, _answer_record(replies), ex=keep)
                await pipe.execute()
        except RedisError as exc:
            self.incidents.report("redis", "could not record a failed turn: %r", exc)

    async def _deliver_late(self, job: asyncio.Task, incoming: Incoming, dedup_key: str, keep: int) -> None:
        replies = await job  # _turn never raises
        if replies is None:  # claimed by another delivery, which answers it
            return
        try:
            await self.redis.set(dedup_key, LATE, xx=True, ex=keep)
        except RedisError as exc:
            self.incidents.report("redis", "could not mark a late answer: %r", exc)
        texts = self._pack(replies)
        if texts:
            await self._push(incoming, texts)

    async def _push(self, incoming: Incoming, texts: list[str]) -> None:
        """Push texts; whatever cannot reach the person now is held for their next message."""
        try:
            undelivered = await self.pusher.push(incoming, texts)
        except WeChatError as exc:
            if isinstance(exc, WeChatAPIError) and exc.errcode in OUR_FAULT:
                log.error("WeChat refused a reply to %s as malformed (%s); holding the replies", user_ref(incoming.user), exc)
            else:
                self.incidents.report("wechat", "WeChat did not take late replies, held for the person's next message: %s: %s",
                                      type(exc).__name__, exc)
            undelivered = texts
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


class _Watch:
    """What the clock keeps an eye on for one turn in flight: WeChat's deadline (it wakes the
    request, which moves the turn to a task of its own), the message's claim (renewed every
    third of its lease while the turn runs) and the turn's timeout (it cancels the turn while it
    is still stepping)."""

    __slots__ = ("deadline", "timeout_at", "key", "claim", "renew_at", "every", "task", "job", "waiter", "stepping", "timed_out",
                 "renewing", "loop", "finished")

    def __init__(self, deadline: float, timeout_at: float, key: str, claim: str, every: float, loop: asyncio.AbstractEventLoop):
        self.deadline, self.timeout_at, self.key, self.claim, self.every = deadline, timeout_at, key, claim, every
        self.renew_at = loop.time() + every
        self.loop = loop
        self.task = current_task(loop)  # the request's, which runs the turn until the deadline
        self.job: asyncio.Task | None = None  # the turn's own task, once the deadline has passed
        self.waiter: asyncio.Future | None = None  # what the request waits on while the turn waits
        self.stepping, self.timed_out, self.finished = True, False, False
        self.renewing: asyncio.Task | None = None

    def wake(self, _=None) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def cancel(self) -> None:
        """The turn's timeout: cancel the task that runs it (_Inline passes that on to the turn)."""
        self.timed_out = True
        (self.job or self.task).cancel()


class _Inline:
    """`await _Inline(turn, watch)`: runs the coroutine `turn` in the calling task (no task of
    its own: creating and scheduling one cost more than the rest of an echo's dispatch), until
    it returns, or until WeChat's deadline passes while it waits. Then the turn is handed,
    mid-await, to a task of its own (`watch.job`), and the caller gets None and answers now.

    While the turn waits on a future, the caller's task waits on `watch.waiter`, which that
    future's completion, the deadline and the timeout all wake. Cancelling the caller's task
    cancels the turn where it waits, as if the turn were that task's own coroutine (it is)."""

    __slots__ = ("turn", "watch")

    def __init__(self, turn, watch: _Watch):
        self.turn, self.watch = turn, watch

    def __await__(self):
        turn, watch = self.turn, self.watch
        loop = watch.loop
        # The turn's own context, as a task of its own would have: a copy of the request's, kept
        # when the turn moves to its task (a context variable set before must reset after).
        context = contextvars.copy_context()
        run = context.run
        exc: BaseException | None = None
        while True:
            try:
                awaited = run(turn.send, None) if exc is None else run(turn.throw, exc)
            except StopIteration as done:
                return done.value
            exc = None
            if awaited is None:  # a bare yield (asyncio.sleep(0)): let others run, then go on
                try:
                    yield None
                except BaseException as thrown:  # noqa: BLE001  (this task's cancellation: the turn's)
                    exc = thrown
                continue
            cancelled = False
            while not awaited.done():
                if loop.time() >= watch.deadline:
                    watch.job = loop.create_task(_resume(turn, awaited), context=context)
                    return None
                waiter = watch.waiter = loop.create_future()
                awaited.add_done_callback(watch.wake)
                try:
                    yield from waiter  # woken by `awaited` or the deadline
                except asyncio.CancelledError as thrown:  # this task was cancelled, so is the turn: as
                    # Task.cancel() would, cancel what it waits on (the clock's timeout, an
                    # asyncio.timeout() in the turn)
                    if cancelled or not awaited.cancel():  # done already: the turn hears it at once
                        exc = thrown
                        break
                    cancelled = True
                finally:
                    watch.waiter = None


async def _resume(turn, awaited):
    """The rest of a turn handed over by `_Inline`, in a task of its own."""
    return await _Rest(turn, awaited)


class _Rest:
    __slots__ = ("turn", "awaited")

    def __init__(self, turn, awaited):
        self.turn, self.awaited = turn, awaited

    def __await__(self):
        turn, awaited = self.turn, self.awaited
        while True:
            exc = None
            try:
                yield awaited  # this task waits on what the turn was waiting on
            except BaseException as thrown:  # noqa: BLE001  (a cancellation: passed on to the turn)
                exc = thrown
            try:
                awaited = turn.send(None) if exc is None else turn.throw(exc)
            except StopIteration as done:
                return done.value


class _Clock:
    """One ticker for every turn in flight instead of three timers per turn (a deadline, a
    lease renewal, a timeout): checked every `TICK` seconds, and only while turns run."""

    TICK = 0.05

    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher
        self.watching: set[_Watch] = set()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, watch: _Watch) -> None:
        self.watching.add(watch)
        if self.timer is None:
            self.timer = watch.loop.call_later(self.TICK, self._tick, watch.loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        done = []
        for w in self.watching:
            if w.finished:
                done.append(w)
                continue
            if now >= w.deadline:
                w.wake()
            if w.stepping and now >= w.timeout_at and not w.timed_out:
                w.cancel()
            if now >= w.renew_at and w.renewing is None:
                w.renew_at = now + w.every
                w.renewing = loop.create_task(self._renew(w))
        for w in done:
            self.watching.discard(w)
        self.timer = loop.call_later(self.TICK, self._tick, loop) if self.watching else None

    async def _renew(self, w: _Watch) -> None:
        d = self.dispatcher
        try:
            if not await d._renew(keys=[w.key], args=[w.claim, d._lease_ms]):
                w.renew_at = float("inf")  # answered, or claimed by another delivery: nothing left to keep
        except RedisError as exc:  # the next renewal may get through before the lease lapses
            d.incidents.report("redis", "could not renew a message's claim: %r", exc)
        finally:
            w.renewing = None


def _platform_due(watch: _Watch) -> float:
    """When the platform must have answered this turn's calls (integrations.platform.client's
    `answer_by`): in time for the passive reply, or, for a turn starting too late for one, before
    the turn's own timeout."""
    due = watch.deadline - ANSWER_RESERVE_SECONDS
    if due - watch.loop.time() < PLATFORM_AT_LEAST_SECONDS:
        due = watch.timeout_at - ANSWER_RESERVE_SECONDS
    return due


def _answer_record(replies: list[Reply]) -> bytes:
    """What a message's dedup key holds once answered, for WeChat's retries."""
    return _DONE + _json([r.text for r in replies])


def _json(value) -> bytes:
    """Compact UTF-8 JSON: orjson (a few times faster than json on every message), json for
    what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def message_key(incoming: Incoming) -> str:
    """WeChat's dedup identity: MsgId for messages, CreateTime + event + key for events."""
    if incoming.msg_id:
        return f"m:{incoming.msg_id}"
    return f"e:{incoming.created}:{incoming.kind}:{incoming.text[:64]}"
