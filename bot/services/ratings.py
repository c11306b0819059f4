"""好差评: remembering which finished cases a person was invited to rate, passing ratings and
complaints to the platform, and one reminder when a case is still unrated after 3 days.

The notifier calls `invite` right after it delivered a "case done" notice (whose text includes
templates/rating/invite.j2); from then on a reply such as "满意" or "2" is a rating
(dialogs/conversation.py asks `pending`, dialogs/rating.py calls `rate` and `complain`).

Whatever a dialog carries, `rate`, `complain` and the reminder go through the subscriptions
store's check at the moment they act (`Subscriptions.may_act_on`): THIS person verified THIS
case, or is bound to the enterprise whose case it is. An invitation alone is not enough.

Redis layout (see bot.keys): `rate:pending:{openid}` HASH case_no -> JSON {matter name, when
asked, the enterprise's credit code for a binder}, `rate:given:{openid}` HASH case_no -> JSON
{level, rating id, credit code}. The reminder is one scheduler job per (case, person), created
with the invitation and dropped when they rate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from bot.logs import user_ref
from bot.stores.scripts.ratings import INVITE
from integrations.platform.models import Complaint, Rating, RatingLevel

log = logging.getLogger(__name__)

REMINDER = "rating_reminder"  # the scheduler's job kind
GIVEN_TTL_SECONDS = 400 * 86400

@dataclass(frozen=True, slots=True)
class Invitation:
    case_no: str
    matter_name: str
    asked_at: float


class Ratings:
    def __init__(self, redis: Any, keys: Any, platform: Any = None, scheduler: Any = None, settings: Any = None, delivery: Any = None,
                 subscriptions: Any = None):
        self.redis, self.keys, self.platform, self.scheduler, self.settings = redis, keys, platform, scheduler, settings
        self.delivery = delivery
        self.subscriptions = subscriptions  # bot.services.subscriptions.Subscriptions: who may act on a case; none: nobody
        self._invite = redis.register_script(INVITE)

    async def invite(self, user: str, case_no: str, matter_name: str, credit_code: str | None = None) -> None:
        """Called by the notifier right after it delivered a "case done" notice to `user` (about a
        case of the enterprise `credit_code`, when it is one)."""
        invitation = json.dumps({"matter_name": matter_name, "asked_at": time.time(), "credit_code": credit_code}, ensure_ascii=False)
        created = await self._invite(
            keys=[self.keys.ratings_given(user), self.keys.pending_ratings(user)],
            args=[case_no, invitation, self._setting("rating_pending_days", 30) * 86400],
        )
        if created and self.scheduler is not None:
            due = time.time() + self._setting("rating_reminder_seconds", 3 * 86400)
            await self.scheduler.schedule(reminder_job(user, case_no), due, REMINDER, {"user": user, "case_no": case_no})

    async def pending(self, user: str, *, recent: bool = False) -> Invitation | None:
        """The latest invitation this person has not answered (one read). `recent`: only one asked
        within `rating_digits_seconds`, when a bare number may be taken as a rating (dialogs.rating)."""
        raw = await self.redis.hgetall(self.keys.pending_ratings(user))
        now = time.time()
        oldest = now - (self._setting("rating_digits_seconds", 86400) if recent else self._setting("rating_pending_days", 30) * 86400)
        found = [inv for case_no, value in raw.items() if (inv := _invitation(case_no, value)) is not None and inv.asked_at >= oldest]
        return max(found, key=lambda i: i.asked_at, default=None)

    async def entitled(self, user: str, case_no: str) -> dict | None:
        """What this person was told about this case (the invitation, else their rating of it),
        if they may act on it now (`Subscriptions.may_act_on`); None otherwise."""
        async with self.redis.pipeline(transaction=False) as pipe:
            invited, given = await pipe.hget(self.keys.pending_ratings(user), case_no).hget(self.keys.ratings_given(user), case_no).execute()
        record = _record(invited) or _record(given) or {}
        if self.subscriptions is None or not await self.subscriptions.may_act_on(user, case_no, record.get("credit_code")):
            return None
        return record

    async def rate(self, user: str, case_no: str, level: RatingLevel, matter_name: str = "", revision: int = 1) -> Rating | None:
        """Pass the rating (revision 2: the one change allowed) to the platform; None, and nothing
        sent, when this person may not rate this case. PlatformError and PlatformUnavailable
        propagate. Then forget the invitation and its reminder."""
        told = await self.entitled(user, case_no)
        if told is None:
            log.warning("a rating by %s of a case they may not act on was refused", user_ref(user))
            return None
        rating = await self.platform.rate_case(case_no, level, rater=rater_id(user), idempotency_key=_key(f"rating{revision}", case_no, user))
        await self.rated(user, case_no, {"level": rating.level.value, "rating_id": rating.id, "revision": rating.revision,
                                         "matter_name": matter_name or rating.matter_name, "at": time.time(),
                                         "credit_code": told.get("credit_code")})
        return rating

    async def last_given(self, user: str) -> dict | None:
        """The rating this person gave most recently (case_no, level, revision, matter_name)."""
        raw = await self.redis.hgetall(self.keys.ratings_given(user))
        given = []
        for case_no, value in raw.items():
            try:
                record = json.loads(value)
            except ValueError:
                continue
            given.append({**record, "case_no": case_no.decode() if isinstance(case_no, bytes) else case_no})
        return max(given, key=lambda r: r.get("at", 0), default=None)

    async def rated(self, user: str, case_no: str, record: dict) -> None:
        """Done with this case's invitation: rated now, or the platform says it was rated before."""
        given = self.keys.ratings_given(user)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.pending_ratings(user), case_no)
            pipe.hset(given, case_no, json.dumps(record)).expire(given, GIVEN_TTL_SECONDS)
            await pipe.execute()
        if self.scheduler is not None:
            await self.scheduler.cancel(reminder_job(user, case_no))

    async def complain(self, user: str, case_no: str, rating_id: str, text: str) -> Complaint | None:
        """File a complaint about this person's own rating of a case they may act on; None, and
        nothing filed, otherwise."""
        told = await self.entitled(user, case_no)
        if told is None or told.get("rating_id") != rating_id:
            log.warning("a complaint by %s about a case they may not act on was refused", user_ref(user))
            return None
        return await self.platform.complain(case_no, rating_id, text, idempotency_key=_key("complaint", rating_id, user))

    async def remind(self, payload: dict[str, Any]) -> None:
        """The scheduler's handler for REMINDER: one reminder, only if the case is still unrated."""
        user, case_no = str(payload.get("user", "")), str(payload.get("case_no", ""))
        key = self.keys.pending_ratings(user)
        raw = await self.redis.hget(key, case_no)
        invitation = _invitation(case_no, raw) if raw else None
        if invitation is None:
            return
        if await self.entitled(user, case_no) is None:  # no longer theirs to rate: nothing more about it
            await self.redis.hdel(key, case_no)
            return
        await self.delivery.send(user, f"rating-remind:{case_no}", "rating/reminder.j2",
                                 {"case_no": case_no, "matter_name": invitation.matter_name}, case_no=case_no, kind=REMINDER)
        # Asked again just now: a bare number is a rating again for a while.
        fresh = json.dumps({"matter_name": invitation.matter_name, "asked_at": time.time()}, ensure_ascii=False)
        if await self.redis.hexists(key, case_no):
            await self.redis.hset(key, case_no, fresh)

    def _setting(self, name: str, default: int) -> int:
        return int(getattr(self.settings, name, default))


def rater_id(user: str) -> str:
    """How the platform knows a rater: stable per person, never the openid itself."""
    return user_ref(user)


def reminder_job(user: str, case_no: str) -> str:
    return f"rating:{case_no}:{user}"


def _key(kind: str, thing: str, user: str) -> str:
    return f"{kind}-" + hashlib.sha256(f"{kind}|{thing}|{user}".encode()).hexdigest()[:32]


def _record(value: bytes | str | None) -> dict | None:
    try:
        record = json.loads(value) if value else None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _invitation(case_no: bytes | str, value: bytes | str) -> Invitation | None:
    try:
        record = json.loads(value)
        return Invitation(case_no.decode() if isinstance(case_no, bytes) else case_no, str(record["matter_name"]), float(record["asked_at"]))
    except (ValueError, KeyError, TypeError):
        return None
