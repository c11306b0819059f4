"""The conversation store on Redis: every script a turn runs, the shared pipelined connection,
and the reload of a script Redis has forgotten, in one place.

A new message costs two round trips: `admit` (one script: the nonce, the message's claim, the
rate count, the person's lock and their state) and `commit` (one script: the session, the held
replies given, the lock, the answer). Both go through `bot.stores.pipeline`, where the commands of
every turn in flight share one connection and one write per event-loop pass; a Redis Cluster
client goes through redis-py instead, and there the nonce (in another slot) is a command of its
own in the same trip.

Keys (bot.keys): `sess:{user}`, `sess:{user}:trace`, `lock:{user}`, `held:{user}`,
`dedup:{user}:<message>`, `rl:u:{user}:<window>`, `nonce:<timestamp>:<nonce>`. A person's keys
share a hash tag, so each script touches one Cluster slot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence

import orjson
from redis.asyncio import Redis

from bot.stores import pipeline as redis_fast
from bot.keys import Keys
from bot.logs import new_id
from bot.stores.pipeline import Script
from bot.stores.lease import RELEASE, RENEW
from bot.stores.conversation import KEEP, NOTHING, Admission, Answer, MessageRef, Nonce, SessionChange, Snapshot, StorePolicy, Tally
from dialogs.engine import Session

log = logging.getLogger(__name__)

PENDING, LATE, DONE = "P", "L", "D"
HELD_READ = 20  # held replies read with a session: more than any answer can carry

# The person's lock taken and their state read: the common part of ADMIT and ACQUIRE.
# KEYS[lock], KEYS[lock+1..4]: session, trace, held, profile. Returns {1, session, trace,
# profile, held...} or nil when another holds the lock.
_LOCK_AND_READ = """
local function lock_and_read(lock, token, ttl_ms)
  if redis.call('SET', KEYS[lock], token, 'NX', 'PX', ttl_ms) then
    local out = {1, redis.call('GET', KEYS[lock + 1]) or '', redis.call('GET', KEYS[lock + 2]) or '', redis.call('GET', KEYS[lock + 4]) or ''}
    for _, text in ipairs(redis.call('LRANGE', KEYS[lock + 3], 0, %d)) do out[#out + 1] = text end
    return out
  end
  return nil
end
""" % (HELD_READ - 1)

# KEYS: dedup, rate counter, lock, session, trace, held, profile. ARGV: claim, lock token ('' = do not try),
# claim ms, rate limit (0 = none), rate counter ttl s, over-limit answer, answer ttl s, lock ms.
# Returns {0, record} for a message seen before; {3} for a new one over the rate limit (its
# retries find the over-limit answer in its record); {1, session, trace, held...} for a new one
# whose lock was taken (see _LOCK_AND_READ); {4} for a new one whose turn must take the lock itself.
ADMIT = _LOCK_AND_READ + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
if ARGV[4] ~= '0' then
  local count = redis.call('INCR', KEYS[2])
  if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
  if count > tonumber(ARGV[4]) then
    redis.call('SET', KEYS[1], ARGV[6], 'EX', ARGV[7])
    return {3}
  end
end
if ARGV[2] ~= '' then
  local out = lock_and_read(3, ARGV[2], ARGV[8])
  if out then return out end
end
return {4}
"""

# ADMIT with the request's nonce checked first (one server; on a Cluster the nonce lives in
# another slot). KEYS: ADMIT's, then the nonce. ARGV: ADMIT's, then the body digest, nonce ttl s.
# Returns {5} for a nonce used before with another body (nothing else is done).
ADMIT_NONCE = _LOCK_AND_READ + """
if not redis.call('SET', KEYS[8], ARGV[9], 'NX', 'EX', ARGV[10]) and redis.call('GET', KEYS[8]) ~= ARGV[9] then
  return {5}
end
""" + ADMIT[len(_LOCK_AND_READ):]

# KEYS: lock, session, trace, held, profile, dedup. ARGV: lock token, lock ms, claim, claim ms.
# Returns {1, session, trace, held...} when the lock is ours, {0} while another holds it, {2}
# when the message's claim is no longer this turn's. A lapsed claim nobody took is taken back.
ACQUIRE = _LOCK_AND_READ + """
local claim = redis.call('GET', KEYS[6])
if claim == false then
  redis.call('SET', KEYS[6], ARGV[3], 'PX', ARGV[4])
elseif claim ~= ARGV[3] then
  return {2}
end
return lock_and_read(1, ARGV[1], ARGV[2]) or {0}
"""

# Save the session while the lock is still ours, then release it. KEYS: lock, session, trace,
# held, profile. ARGV: token, session json ('' forgets it), trace ('' = none), held given,
# session ttl s, trace ttl s, profile json ('' = unchanged), profile ttl s. Returns 1 when
# saved, 0 when the lock was no longer ours.
_SAVE = """
local function save()
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  if ARGV[2] == '' then
    redis.call('DEL', KEYS[2], KEYS[3])
  else
    redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[5])
    if ARGV[3] == '' then redis.call('DEL', KEYS[3]) else redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[6]) end
  end
  if ARGV[4] ~= '0' then redis.call('LTRIM', KEYS[4], ARGV[4], -1) end
  if ARGV[7] ~= '' then redis.call('SET', KEYS[5], ARGV[7], 'EX', ARGV[8]) end
  redis.call('DEL', KEYS[1])
  return 1
end
"""
SAVE = _SAVE + "return save()"

# SAVE, and the answer stored for retries either way. KEYS: SAVE's, then dedup. ARGV: SAVE's,
# then the answer record, its ttl s.
COMMIT = _SAVE + """
local saved = save()
redis.call('SET', KEYS[6], ARGV[9], 'EX', ARGV[10])
return saved
"""

_SCRIPTS = {name: Script(source) for name, source in
            (("admit", ADMIT), ("admit_nonce", ADMIT_NONCE), ("acquire", ACQUIRE), ("save", SAVE), ("commit", COMMIT),
             ("release", RELEASE), ("renew", RENEW))}


class RedisConversationStore:
    """`ConversationStore` on one Redis server or a Redis Cluster (through `redis`, a redis-py client)."""

    def __init__(self, redis: Redis, keys: Keys, policy: StorePolicy):
        self.redis, self.keys, self.policy = redis, keys, policy
        self.batch = redis_fast.for_client(redis)
        self._one_server = isinstance(self.batch, redis_fast.AutoPipeline)
        self._over_limit = record(DONE, policy.over_limit)
        self._claim_ms = int(policy.claim_seconds * 1000)
        self._lock_ms = int(policy.lock_seconds * 1000)

    async def aclose(self) -> None:
        await self.batch.aclose()

    # A message's arrival -------------------------------------------------------------------

    async def admit(self, message: MessageRef, claim: str, *, lock: str | None = None, nonce: Nonce | None = None) -> Admission:
        p, user, now = self.policy, message.user, time.time()
        keys = (self.keys.dedup(user, message.key), self.keys.rate_user(user, int(now) // max(1, p.rate_window)), *self._person(user))
        args = (claim, lock or "", self._claim_ms, p.rate_limit, p.rate_window * 2, self._over_limit, p.answer_ttl(message, now), self._lock_ms)
        if nonce is None:
            got = await self._script("admit", keys, args)
        elif self._one_server:
            got = await self._script("admit_nonce", (*keys, self._nonce_key(nonce)), (*args, nonce.digest, p.nonce_ttl(nonce, now)))
        else:
            got = await self._admit_on_cluster(user, keys, args, nonce, now)
        status = got[0]
        if status == 1:
            return Admission("new", snapshot=self._snapshot(got))
        if status == 4:
            return Admission("new")
        if status == 3:
            return Admission("limited")
        if status == 5:
            return Admission("replayed")
        return Admission("seen", answer=parse_record(got[1]))

    async def remember_nonce(self, nonce: Nonce) -> bool:
        key = self._nonce_key(nonce)
        if await self.redis.set(key, nonce.digest, nx=True, ex=self.policy.nonce_ttl(nonce, time.time())):
            return True
        return await self.redis.get(key) == nonce.digest.encode()

    async def _admit_on_cluster(self, user: str, keys: tuple, args: tuple, nonce: Nonce, now: float) -> list:
        """ADMIT and the nonce as two commands of one trip (they live in different slots); a
        nonce seen before costs one more read, and a replay undoes what ADMIT did."""
        nonce_key = self._nonce_key(nonce)
        fresh, got = await self._run(("SET", nonce_key, nonce.digest, "NX", "EX", self.policy.nonce_ttl(nonce, now)),
                                     _SCRIPTS["admit"](keys, args))
        if not fresh and await self.redis.get(nonce_key) != nonce.digest.encode():
            if got[0] == 1:
                await self.release(user, args[1])
            if got[0] != 0:  # do not leave a forged message's claim behind
                await self.redis.delete(keys[0])
            return [5]
        return got

    async def acquire(self, message: MessageRef, lock: str, claim: str) -> Snapshot | None:
        keys, args = (*self._person(message.user), self.keys.dedup(message.user, message.key)), (lock, self._lock_ms, claim, self._claim_ms)
        delay = 0.005
        while True:
            got = await self._script("acquire", keys, args)
            if got[0] == 1:
                return self._snapshot(got)
            if got[0] == 2:
                return None
            await asyncio.sleep(delay)  # another process is serving this person
            delay = min(delay * 2, 0.1)

    # The end of a turn ----------------------------------------------------------------------

    async def commit(self, message: MessageRef, lock: str, session: Session | None, answer: Sequence[str], held_given: int = 0,
                     profile: dict | None = None, tallies: Sequence[Tally] = ()) -> bool:
        keys = (*self._person(message.user), self.keys.dedup(message.user, message.key))
        args = (lock, *self._session_args(session), held_given, *self._durations(profile), record(DONE, answer), self.policy.answer_ttl(message, time.time()))
        if not tallies:
            return bool(await self._script("commit", keys, args))
        return bool((await self._run(_SCRIPTS["commit"](keys, args), *_tally_commands(tallies)))[0])

    async def add_tallies(self, tallies: Sequence[Tally]) -> None:
        if tallies:
            await self._run(*_tally_commands(tallies))

    async def tally(self, key: str) -> dict[str, int]:
        return {m.decode(): int(score) for m, score in await self.redis.zrange(key, 0, -1, withscores=True)}

    async def abandon(self, message: MessageRef, lock: str | None, answer: Sequence[str]) -> None:
        commands = [("SET", self.keys.dedup(message.user, message.key), record(DONE, answer), "EX", self.policy.answer_ttl(message, time.time()))]
        if lock:
            commands.append(_SCRIPTS["release"]((self.keys.lock(message.user),), (lock,)))
        await self._run(*commands)

    async def release(self, user: str, lock: str) -> None:
        await self._script("release", (self.keys.lock(user),), (lock,))

    # Retries and late answers ---------------------------------------------------------------

    async def answer(self, message: MessageRef) -> Answer:
        return parse_record(await self.redis.get(self.keys.dedup(message.user, message.key)))

    async def reclaim(self, message: MessageRef, claim: str) -> bool:
        return bool(await self.redis.set(self.keys.dedup(message.user, message.key), claim, nx=True, px=self._claim_ms))

    async def renew(self, message: MessageRef, claim: str) -> bool:
        return bool(await self._script("renew", (self.keys.dedup(message.user, message.key),), (claim, self._claim_ms)))

    async def answered_late(self, message: MessageRef) -> None:
        await self.redis.set(self.keys.dedup(message.user, message.key), LATE, xx=True, ex=self.policy.answer_ttl(message, time.time()))

    async def hold(self, user: str, texts: Sequence[str]) -> None:
        key = self.keys.held(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, *texts).ltrim(key, -HELD_READ, -1).expire(key, self.policy.held_seconds)
            await pipe.execute()

    # Outside a turn ---------------------------------------------------------------------------

    async def change(self, user: str, edit: SessionChange) -> str:
        lock_key, session_key = self.keys.lock(user), self.keys.session(user)
        token = "C" + new_id()
        deadline = time.monotonic() + self.policy.lock_seconds
        delay = 0.01
        while not await self.redis.set(lock_key, token, nx=True, px=self._lock_ms):
            if time.monotonic() > deadline:
                return "busy"
            await asyncio.sleep(delay)  # the person's own turn is running: it finishes first
            delay = min(delay * 2, 0.2)
        try:
            new = await edit(load_session(await self.redis.get(session_key)))
        except BaseException:
            await self.release(user, token)
            raise
        if new is KEEP:
            await self.release(user, token)
            return "kept"
        await self._script("save", self._person(user), (token, *self._session_args(new), 0, *self._durations(None)))
        return "saved"

    # Helpers --------------------------------------------------------------------------------

    def _person(self, user: str) -> tuple[str, str, str, str, str]:
        k = self.keys
        return k.lock(user), k.session(user), k.session_trace(user), k.held(user), k.profile(user)

    def _durations(self, profile: dict | None) -> tuple:
        """SAVE's session ttl, trace ttl, profile ('' = unchanged) and profile ttl."""
        p = self.policy
        return p.session_seconds, p.trace_seconds, dumps(profile) if profile is not None else "", p.profile_seconds

    def _nonce_key(self, nonce: Nonce) -> str:
        return self.keys.nonce(str(nonce.timestamp), nonce.nonce)

    @staticmethod
    def _session_args(session: Session | None) -> tuple[bytes | str, str]:
        if session is None:
            return "", ""
        return dumps(session.to_json()), "" if session.at_rest else session.dialog

    @staticmethod
    def _snapshot(got: list) -> Snapshot:
        raw, trace, profile, held = got[1], got[2], got[3], got[4:]
        return Snapshot(load_session(raw), expired=not raw and bool(trace), held=tuple(t.decode() for t in held), profile=load_profile(profile))

    async def _script(self, name: str, keys: tuple, args: tuple):
        return (await self._run(_SCRIPTS[name](keys, args)))[0]

    async def _run(self, *commands: tuple) -> list:
        """The replies to `commands`, sent together; a script Redis forgot (a restart, a FLUSH)
        is sent again whole; an error reply raises."""
        replies = await self.batch.run(*commands)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies


def _tally_commands(tallies: Sequence[Tally]) -> list[tuple]:
    commands = []
    for t in tallies:
        commands += [("ZINCRBY", t.key, 1, t.member), ("EXPIRE", t.key, t.ttl), ("ZREMRANGEBYRANK", t.key, 0, -t.cap - 1)]
    return commands


def record(kind: str, texts: Sequence[str]) -> bytes:
    """A message's record once answered: the kind, then the texts as JSON."""
    return kind.encode() + dumps(list(texts))


def parse_record(raw: bytes | str | None) -> Answer:
    if not raw:
        return NOTHING
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text.startswith(PENDING):
        return Answer("pending", claim=text)
    if text.startswith(DONE):
        try:
            return Answer("done", tuple(orjson.loads(text[1:])))
        except ValueError:
            return Answer("done")
    return Answer("late")


def load_session(raw: bytes | None) -> Session | None:
    if not raw:
        return None
    try:
        return Session.from_json(orjson.loads(raw))
    except (ValueError, TypeError, AttributeError):
        log.warning("unreadable session replaced")
        return None


def load_profile(raw: bytes | None) -> dict:
    if not raw:
        return {}
    try:
        profile = orjson.loads(raw)
    except ValueError:
        return {}
    return profile if isinstance(profile, dict) else {}


def dumps(value) -> bytes:
    """Compact UTF-8 JSON (orjson; json for integers beyond 64 bits, which orjson refuses)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
