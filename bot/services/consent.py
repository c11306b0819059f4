"""Consent (我的授权) and policy pushes (订阅政策 / 退订政策): what a person lets the bot use to
find the policies and benefits meant for them, and whether they want policy notices at all.

A person consents in chat (dialogs/policies.py) by verifying an ID number with the last 4 digits
of the phone the platform has for it, or, without one, for the enterprises they bound only. From
then on:
- 政策找人 (bot.services.broadcasts.policies) matches them on what the platform knows of that ID
  number (age, household district) and of the enterprises they bound (industry, size, licences),
  but only while they are also subscribed to policy pushes;
- 免申即享 notices for that ID number reach them (bot.workers.notifier asks `people_with_id`).
撤回授权 removes all of it at once: the record, the ID index and the subscription.

Personal data: the ID number is kept sealed (Fernet, a key derived from the bot's secrets) and
bound to the person's openid; the index from ID numbers to people is keyed by an HMAC of the
number, never the number. Staff see counts (`counts`), never who.

Redis layout (bot.keys): `consent:{openid}` HASH (`id`: sealed ID number or absent, `at`),
`consent:all` SET of openids who consented, `consent:id:<hmac>` SET of openids, `policy:subs`
SET of openids subscribed to policy pushes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from integrations.platform.identifiers import mask_id_number


@dataclass(frozen=True, slots=True)
class Consent:
    """What a person agreed to: since when, and the ID number they verified (if any)."""

    at: float
    id_number: str | None = None

    @property
    def since(self) -> datetime:
        return datetime.fromtimestamp(self.at, tz=timezone.utc)

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.id_number) if self.id_number else ""


class Consents:
    def __init__(self, redis: Any, keys: Any, settings: Any = None):
        self.redis, self.keys = redis, keys
        material = _secret(settings)
        self._box = Fernet(base64.urlsafe_b64encode(_derive(material, b"ywtb-bot consent id numbers")))
        self._digest_key = _derive(material, b"ywtb-bot consent id index")

    # Sealing (also for an ID number held in a session between two steps of a dialog) ----------

    def seal(self, user: str, data: dict[str, Any]) -> str:
        return self._box.encrypt(json.dumps({"u": user, "d": data}).encode()).decode()

    def unseal(self, user: str, token: str | None) -> dict[str, Any] | None:
        """The data, if it was sealed for this very person under the present key; else None."""
        if not token:
            return None
        try:
            box = json.loads(self._box.decrypt(token.encode()))
        except (InvalidToken, ValueError, TypeError):
            return None
        return box.get("d") if isinstance(box, dict) and box.get("u") == user else None

    def _digest(self, id_number: str) -> str:
        return hmac.new(self._digest_key, id_number.upper().encode(), hashlib.sha256).hexdigest()[:32]

    # Consent ---------------------------------------------------------------------------------

    async def grant(self, user: str, id_number: str | None = None) -> None:
        """Consent, with the ID number the person just verified (or none: enterprises only).
        A new ID number replaces the one before."""
        before = await self.get(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            if before is not None and before.id_number and before.id_number != id_number:
                pipe.srem(self.keys.consent_by_id(self._digest(before.id_number)), user)
            fields: dict[str, str] = {"at": f"{time.time():.3f}"}
            if id_number:
                fields["id"] = self.seal(user, {"id_number": id_number.upper()})
                pipe.sadd(self.keys.consent_by_id(self._digest(id_number)), user)
            elif before is not None and before.id_number:
                fields["id"] = self.seal(user, {"id_number": before.id_number})
            pipe.delete(self.keys.consent(user)).hset(self.keys.consent(user), mapping=fields)
            pipe.sadd(self.keys.consented(), user)
            await pipe.execute()

    async def get(self, user: str) -> Consent | None:
        """The person's consent now, or None (never given, or withdrawn)."""
        raw = await self.redis.hgetall(self.keys.consent(user))
        if not raw:
            return None
        fields = {_s(k): _s(v) for k, v in raw.items()}
        sealed = self.unseal(user, fields.get("id"))
        return Consent(at=float(fields.get("at") or 0), id_number=(sealed or {}).get("id_number"))

    async def withdraw(self, user: str) -> bool:
        """撤回授权: out of matching and of 免申即享 notices at once; True if there was consent."""
        before = await self.get(user)
        async with self.redis.pipeline(transaction=False) as pipe:
            if before is not None and before.id_number:
                pipe.srem(self.keys.consent_by_id(self._digest(before.id_number)), user)
            pipe.delete(self.keys.consent(user)).srem(self.keys.consented(), user).srem(self.keys.policy_subscribers(), user)
            results = await pipe.execute()
        return before is not None or any(results)

    async def people_with_id(self, id_number: str) -> list[str]:
        """Everyone who verified this ID number and still consents (checked against each record)."""
        found = []
        for raw in await self.redis.smembers(self.keys.consent_by_id(self._digest(id_number))):
            user = _s(raw)
            consent = await self.get(user)
            if consent is not None and consent.id_number == id_number.upper():
                found.append(user)
            else:
                await self.redis.srem(self.keys.consent_by_id(self._digest(id_number)), user)
        return sorted(found)

    # Policy pushes ------------------------------------------------------------------------------

    async def subscribe(self, user: str) -> bool:
        """订阅政策 (only with consent: the dialog asks for it first); True if newly subscribed."""
        if await self.get(user) is None:
            return False
        return bool(await self.redis.sadd(self.keys.policy_subscribers(), user))

    async def unsubscribe(self, user: str) -> bool:
        return bool(await self.redis.srem(self.keys.policy_subscribers(), user))

    async def is_subscribed(self, user: str) -> bool:
        return bool(await self.redis.sismember(self.keys.policy_subscribers(), user))

    async def may_match(self, user: str) -> bool:
        """Subscribed and consenting, now: asked again just before each policy notice is sent."""
        return await self.is_subscribed(user) and await self.redis.exists(self.keys.consent(user)) > 0

    async def subscribers(self):
        """Every subscriber's openid, streamed (SSCAN)."""
        async for raw in self.redis.sscan_iter(self.keys.policy_subscribers(), count=500):
            yield _s(raw)

    async def counts(self) -> dict[str, int]:
        """For staff: how many consent and how many want policy pushes, never who."""
        async with self.redis.pipeline(transaction=False) as pipe:
            consented, subscribed = await pipe.scard(self.keys.consented()).scard(self.keys.policy_subscribers()).execute()
        return {"consented": int(consented), "subscribed": int(subscribed)}


def _secret(settings: Any) -> bytes:
    """The bot's own secret material; without any (a bare test setup) a key for this process only."""
    for name in ("platform_events_secret", "booking_data_key"):
        value = getattr(settings, name, None)
        if value is not None and value.get_secret_value():
            return value.get_secret_value().encode()
    return secrets.token_bytes(32)


def _derive(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def _s(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
