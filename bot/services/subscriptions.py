"""Who may see a case and who hears about it: cases a person verified (remembered, so 查进度
does not ask again), the lockout of wrong second factors, case subscriptions, and enterprise
bindings. The notifier asks `recipients` who should hear about a case.

`verified_case(user, case_no)` is THE check: every action on a case (showing or refreshing its
card, subscribing, unsubscribing from the card, rating, complaining, and any added later) asks
it at the moment of the action, and `subscribe` asks it itself, so a dialog that forgets cannot
subscribe anyone to a case they never opened. A subscriber is told about a case only while the
verification it rests on holds (`recipients` checks it for every notice).

Redis layout (see bot.keys): `sub:case:{case_no}` SET of openids, `sub:user:{openid}` SET of
case numbers; `ent:binders:{credit_code}` SET of openids, `ent:user:{openid}` SET of codes,
`ent:names` HASH code -> name (of every enterprise ever bound: the reminder sweep walks it),
`ent:muted` SET of codes whose reminders are muted; `prog:cases:{openid}` HASH case_no -> JSON {matter name, sealed
second factor}; `prog:fail:{openid}:{case_no}` counter of one person's wrong second factors for
a case number, `prog:casefail:{case_no}` of everyone's (both with a TTL).

The two sets of a subscription or binding live in different hash slots (the case's and the
person's), so they are written by one pipeline without MULTI; every write is idempotent, so
a crash between the two is mended by the next subscribe or unsubscribe.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.services.broadcasts import Audiences
from bot.stores.scripts.subscriptions import FAIL

class Added(str, Enum):
    added = "added"
    already = "already"
    full = "full"  # the person has as many as the settings allow
    unverified = "unverified"  # the person has not opened this case with its second factor


@dataclass(frozen=True, slots=True)
class FactorLock:
    """How guessing a case's second factor stands, before a guess is tried."""

    seconds: int  # this person must wait this long before trying this case number again (0: may try)
    digits_refused: bool  # too many wrong factors for this case from anyone: only the ID number opens it


@dataclass(frozen=True, slots=True)
class VerifiedCase:
    """A case this person opened with its second factor; the factor lets us look it up again."""

    case_no: str
    matter_name: str
    phone_last4: str | None = None
    id_number: str | None = None

    @property
    def factor(self) -> dict[str, str]:
        """The remembered factor, as the platform's case lookup takes it."""
        return {k: v for k, v in (("phone_last4", self.phone_last4), ("id_number", self.id_number)) if v}


class Subscriptions:
    def __init__(self, redis: Any, keys: Any, settings: Any = None):
        self.redis, self.keys, self.settings = redis, keys, settings
        self._box = Fernet(_derive_key(settings))
        self._fail = redis.register_script(FAIL)
        self.audiences = Audiences(redis, keys)  # broadcast audiences: matter/department subscribers, industries

    async def recipients(self, case_no: str, credit_code: str | None) -> dict[str, str]:
        """Everyone who should hear about this case: openid -> why ("case" or "enterprise").
        A subscriber whose verification of the case has lapsed or been forgotten (or who never
        had one: a subscription written around `subscribe`) is left out and unsubscribed."""
        found: dict[str, str] = {}
        if credit_code:
            async for user in self.redis.sscan_iter(self.keys.enterprise_binders(credit_code)):
                found[_s(user)] = "enterprise"
        if case_no:
            subscribers = [_s(user) async for user in self.redis.sscan_iter(self.keys.case_subscribers(case_no))]
            if subscribers:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for user in subscribers:
                        pipe.hexists(self.keys.verified_cases(user), case_no)
                    verified = await pipe.execute()
                for user, holds in zip(subscribers, verified):
                    if holds:
                        found[user] = "case"
                    else:
                        await self.unsubscribe(user, case_no)
        return found

    # Verified cases ------------------------------------------------------------------------

    async def verified(self, user: str) -> dict[str, VerifiedCase]:
        """The cases this person verified, newest first; entries that no longer open are dropped."""
        raw = await self.redis.hgetall(self.keys.verified_cases(user))
        found = []
        for case_no, value in raw.items():
            case = self._open(_s(case_no), value)
            if case is not None:
                found.append(case)
        found.sort(key=lambda c: c[1], reverse=True)
        return {c.case_no: c for c, _ in found}

    async def verified_case(self, user: str, case_no: str) -> VerifiedCase | None:
        """The check every action on a case goes through: the case THIS person opened with its
        second factor, or None (never, lapsed, forgotten, or sealed under another key). Asked at
        the moment of the action, never answered from a session. A use keeps the person's
        verified cases another `verified_case_days`, as `remember` does."""
        if not case_no:
            return None
        key = self.keys.verified_cases(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            value, _ = await pipe.hget(key, case_no).expire(key, self._setting("verified_case_days", 180) * 86400).execute()
        opened = self._open(case_no, value) if value is not None else None
        return opened[0] if opened else None

    async def may_act_on(self, user: str, case_no: str, credit_code: str | None = None) -> bool:
        """`verified_case`, or, for a case of an enterprise (`credit_code`, as its notice named
        it), a binding of that enterprise now: binders hear about, and may rate, its cases."""
        if await self.verified_case(user, case_no) is not None:
            return True
        return bool(credit_code) and await self.is_bound(user, credit_code)

    async def remember(self, user: str, case_no: str, matter_name: str, *, phone_last4: str | None = None, id_number: str | None = None) -> None:
        factor = json.dumps({"phone_last4": phone_last4, "id_number": id_number}).encode()
        value = json.dumps({"matter_name": matter_name, "at": time.time(), "factor": self._box.encrypt(factor).decode()}, ensure_ascii=False)
        key = self.keys.verified_cases(user)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, case_no, value).expire(key, self._setting("verified_case_days", 180) * 86400)
            await pipe.execute()

    async def forget(self, user: str, case_no: str) -> None:
        """The remembered factor no longer opens the case: the person must verify it again, and
        hears nothing about it meanwhile."""
        await self.redis.hdel(self.keys.verified_cases(user), case_no)
        await self.unsubscribe(user, case_no)

    def _open(self, case_no: str, value: bytes | str) -> tuple[VerifiedCase, float] | None:
        try:
            record = json.loads(value)
            token = record["factor"].encode()
            factor = json.loads(self._box.decrypt(token))
            stamp = float(record.get("at", 0))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None  # sealed under another key (the secret changed): the person is asked again
        return VerifiedCase(case_no, str(record.get("matter_name", "")), factor.get("phone_last4"), factor.get("id_number")), stamp

    # Wrong second factors ------------------------------------------------------------------

    async def factor_lock(self, user: str, case_no: str) -> FactorLock:
        """Whether this person may try a factor for this case number now, and whether the phone
        digits are still accepted for it (one round trip)."""
        mine, everyone = self.keys.factor_failures(user, case_no), self.keys.case_factor_failures(case_no)
        async with self.redis.pipeline(transaction=False) as pipe:
            failures, ttl, case_failures = await pipe.get(mine).ttl(mine).get(everyone).execute()
        locked = failures is not None and int(failures) >= self._setting("progress_max_failures", 5)
        return FactorLock(seconds=max(int(ttl), 1) if locked else 0,
                          digits_refused=case_failures is not None and int(case_failures) >= self._setting("progress_case_max_failures", 8))

    async def failed(self, user: str, case_no: str) -> tuple[int, int]:
        """Count a wrong second factor for this person and for the case: (this person's failures
        so far, seconds this person is locked out of the case number). The two counters live in
        different slots and a cluster client runs no script in a pipeline, so both scripts are
        sent at once: one round trip of waiting."""
        (failures, locked), _ = await asyncio.gather(
            self._fail(keys=[self.keys.factor_failures(user, case_no)],
                       args=[self._setting("progress_failure_window_seconds", 600), self._setting("progress_max_failures", 5),
                             self._setting("progress_lock_seconds", 1800)]),
            self._fail(keys=[self.keys.case_factor_failures(case_no)],
                       args=[self._setting("progress_case_failure_window_seconds", 3600), self._setting("progress_case_max_failures", 8),
                             self._setting("progress_case_lock_seconds", 1800)]),
        )
        return int(failures), int(locked)

    async def succeeded(self, user: str, case_no: str) -> None:
        await self.redis.delete(self.keys.factor_failures(user, case_no))

    # Case subscriptions ----------------------------------------------------------------------

    async def subscribe(self, user: str, case_no: str) -> Added:
        """Refused (`Added.unverified`) unless this person verified this case: whatever a dialog
        believes, nobody hears about a case they never opened."""
        if await self.verified_case(user, case_no) is None:
            return Added.unverified
        mine = self.keys.user_subscriptions(user)
        if await self.redis.sismember(mine, case_no):
            return Added.already
        if await self.redis.scard(mine) >= self._setting("max_subscriptions", 50):
            return Added.full
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(self.keys.case_subscribers(case_no), user).sadd(mine, case_no)
            await pipe.execute()
        return Added.added

    async def unsubscribe(self, user: str, case_no: str) -> bool:
        async with self.redis.pipeline(transaction=False) as pipe:
            removed, _ = await pipe.srem(self.keys.user_subscriptions(user), case_no).srem(self.keys.case_subscribers(case_no), user).execute()
        return bool(removed)

    async def subscribed(self, user: str) -> list[str]:
        return sorted(_s(c) for c in await self.redis.smembers(self.keys.user_subscriptions(user)))

    async def is_subscribed(self, user: str, case_no: str) -> bool:
        return bool(await self.redis.sismember(self.keys.user_subscriptions(user), case_no))

    # Policy notices of a matter and its department (staff broadcasts) ------------------------

    async def follow_matter(self, user: str, matter_code: str, department: str | None) -> None:
        await self.audiences.subscribe(user, matter_code=matter_code, department=department)

    async def unfollow_matter(self, user: str, matter_code: str, department: str | None) -> None:
        await self.audiences.unsubscribe(user, matter_code=matter_code, department=department)

    async def followed_matters(self, user: str) -> int:
        """How many matters' policy notices this person follows (订阅通知 on their cards)."""
        return await self.audiences.followed_matters(user)

    async def unfollow_all(self, user: str) -> int:
        """取消通知 away from a card: every matter's notices this person follows stop; how many."""
        return await self.audiences.unsubscribe_all(user)

    # Enterprise bindings -----------------------------------------------------------------------

    async def bind(self, user: str, credit_code: str, name: str, industry: str | None = None) -> Added:
        mine = self.keys.user_enterprises(user)
        if await self.redis.sismember(mine, credit_code):
            return Added.already
        if await self.redis.scard(mine) >= self._setting("max_enterprises", 10):
            return Added.full
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.keys.enterprise_names(), credit_code, name)
            pipe.sadd(self.keys.enterprise_binders(credit_code), user).sadd(mine, credit_code)
            await pipe.execute()
        if industry:  # broadcasts to bound enterprises of an industry find it there
            await self.audiences.note_industry(credit_code, industry)
        return Added.added

    async def may_text_code(self, user: str, credit_code: str) -> int:
        """Whether a verification code may be texted to the enterprise for this person now: 0, and
        the text is counted; else how many seconds until one may (one a `code_text_seconds` per
        enterprise, at most `code_texts_per_hour` an hour in all)."""
        wait_key, count_key = self.keys.code_text_wait(user, credit_code), self.keys.code_texts(user)
        spacing = self._setting("code_text_seconds", 60)
        if spacing > 0 and not await self.redis.set(wait_key, 1, nx=True, ex=spacing):
            return max(int(await self.redis.ttl(wait_key)), 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            count, left = await pipe.incr(count_key).ttl(count_key).execute()
        if left < 0:  # the hour starts with its first text
            await self.redis.expire(count_key, 3600)
            left = 3600
        if count > self._setting("code_texts_per_hour", 5):
            return max(int(left), 1)
        return 0

    async def unbind(self, user: str, credit_code: str) -> bool:
        async with self.redis.pipeline(transaction=False) as pipe:
            removed, _ = await pipe.srem(self.keys.user_enterprises(user), credit_code).srem(self.keys.enterprise_binders(credit_code), user).execute()
        return bool(removed)

    async def is_bound(self, user: str, credit_code: str) -> bool:
        return bool(await self.redis.sismember(self.keys.user_enterprises(user), credit_code))

    async def enterprises(self, user: str) -> list[tuple[str, str]]:
        """(credit code, name) of every enterprise this person bound, by name."""
        codes = sorted(_s(c) for c in await self.redis.smembers(self.keys.user_enterprises(user)))
        if not codes:
            return []
        names = await self.redis.hmget(self.keys.enterprise_names(), codes)
        return sorted(((code, _s(name) if name else code) for code, name in zip(codes, names)), key=lambda e: e[1])

    async def binders(self, credit_code: str) -> list[str]:
        """Everyone bound to the enterprise now."""
        return sorted([_s(user) async for user in self.redis.sscan_iter(self.keys.enterprise_binders(credit_code))])

    async def bound_enterprises(self) -> list[tuple[str, str]]:
        """(credit code, name) of every enterprise someone is bound to now, by code."""
        named = {_s(code): _s(name) async for code, name in self.redis.hscan_iter(self.keys.enterprise_names())}
        codes = sorted(named)
        if not codes:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for code in codes:
                pipe.scard(self.keys.enterprise_binders(code))
            counts = await pipe.execute()
        return [(code, named[code]) for code, count in zip(codes, counts) if count]

    async def mute(self, credit_code: str, muted: bool) -> bool:
        """静音提醒 / 恢复提醒 for the whole enterprise (every binder); True if it changed."""
        key = self.keys.enterprises_muted()
        changed = await (self.redis.sadd(key, credit_code) if muted else self.redis.srem(key, credit_code))
        return bool(changed)

    async def is_muted(self, credit_code: str) -> bool:
        return bool(await self.redis.sismember(self.keys.enterprises_muted(), credit_code))

    def _setting(self, name: str, default: int) -> int:
        return int(getattr(self.settings, name, default))


def _derive_key(settings: Any) -> bytes:
    """The key that seals remembered second factors (ID numbers are personal data), derived from
    the platform secret every deployment has; without one (a bare test setup) a key for this
    process only, so remembered cases are simply asked again after a restart."""
    secret = getattr(settings, "platform_events_secret", None)
    material = secret.get_secret_value().encode() if secret is not None and secret.get_secret_value() else secrets.token_bytes(32)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ywtb-bot remembered case factors").derive(material)
    return base64.urlsafe_b64encode(key)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
