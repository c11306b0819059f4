"""Sending one notice to one person, exactly once, with the outcome recorded.

Used by every worker that reaches people outside a conversation: case notifications
(bot.workers.notifier), appointment reminders (bot.services.bookings), rating reminders (bot.services.ratings),
broadcasts.

Each (user, key) has a record in Redis (`Keys.delivery`): its state, channel, attempts and
times. A send runs under a short lease so two processes never send the same notice at once; a
notice already sent, or refused for good, is not sent again (`Outcome.duplicate` /
`Outcome.unreachable`). The channel is a template message whose `client_msg_id` is derived
from the key, so a process that dies after WeChat accepted the message but before the record
said so is harmless: the retry carries the same id and WeChat sends nothing new (within its
10 minute window, far longer than the lease). With `notify_service_messages`, a
customer-service text is tried first (the user wrote within 48 h); WeChat refusing it for the
window falls back to the template message.

Temporary failures (WeChat busy or unreachable, rate limits) raise TemporaryFailure with a
backoff in `retry_after`; after `notify_max_attempts` the notice is recorded as failed and
reported unreachable. Permanent refusals (unfollowed 43004, subscription refused 43101, quota
45009 / 45028, unknown openid) are recorded with their errcode and never retried.

A notice is written the way the person is answered in chat: in English for those answered in
English, by 长辈模式's rules for those who chose it (their profile, read in the same round trip
as the record; dialogs.language).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import time
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from bot import metrics
from bot.logs import user_ref
from bot.stores import Lease
from bot.stores.client import repeatable
from bot.stores.redis import load_profile
from bot.stores.scripts.delivery import BEGIN, FINISH
from bot.templating import moment
from dialogs.language import LANGUAGE, of_profile
from integrations.wechat.errors import (
    AccessTokenRejected,
    OutsideServiceWindow,
    ServiceMessageLimit,
    WeChatAPIError,
    WeChatError,
)

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")

#: States of a delivery record that end it: it is never attempted again.
FINAL = ("sent", "unreachable", "failed")



def _key_ref(key: str, user: str) -> str:
    """A notice's key as logs show it: the person it names (f"{event_id}:{user}") by reference,
    whatever form their id takes (the log filter masks only WeChat-shaped openids)."""
    return key.replace(user, user_ref(user)) if user else key

class Outcome(str, Enum):
    sent = "sent"
    duplicate = "duplicate"  # this key was delivered before: nothing sent
    unreachable = "unreachable"  # permanent for this notice (unfollowed, refused, no quota): recorded, not retried


_METRIC_OUTCOME = {Outcome.sent: "delivered", Outcome.duplicate: "duplicate", Outcome.unreachable: "failed_permanent"}


class TemporaryFailure(Exception):
    """Worth retrying later with backoff (WeChat busy, timeout, token trouble).

    `retry_after` (seconds) is when a retry makes sense: the backoff for the attempts made so
    far, or the rest of another process's lease on the same notice."""

    def __init__(self, reason: str, retry_after: float = 1.0):
        super().__init__(reason)
        self.retry_after = retry_after


class Delivery:
    def __init__(self, redis: Any, keys: Any, wechat: Any, render: Any, settings: Any):
        self.redis, self.keys, self.wechat, self.render, self.settings = redis, keys, wechat, render, settings
        self._begin = redis.register_script(BEGIN)
        self._finish = repeatable(redis.register_script(FINISH))
        self.ttl = int(settings.notify_record_days * 86400)

    async def send(self, user: str, key: str, template: str, context: dict[str, Any], *, case_no: str | None = None,
                   kind: str = "notice") -> Outcome:
        """Render `template` with `context` and deliver it to `user` once per `key`.

        `key` is the idempotency key, e.g. f"{event_id}:{user}" or f"remind:{appointment_id}:day".
        `case_no` files the record under that case (`python -m bot deliveries --case N`).
        Raises TemporaryFailure when a retry may succeed."""
        try:
            outcome = await self._send(user, key, template, context, case_no=case_no, kind=kind)
        except TemporaryFailure:
            metrics.NOTIFICATIONS.labels(kind, "failed_retry").inc()
            raise
        metrics.NOTIFICATIONS.labels(kind, _METRIC_OUTCOME[outcome]).inc()
        return outcome

    async def _send(self, user: str, key: str, template: str, context: dict[str, Any], *, case_no: str | None, kind: str) -> Outcome:
        record = self.keys.delivery(user, key)
        lease = Lease(self.redis, self.keys.delivery_lease(user, key), self.settings.notify_lease_seconds)
        owner, now = secrets.token_hex(8), time.time()
        held = False
        try:
            held = await lease.claim(owner)
            async with self.redis.pipeline(transaction=False) as pipe:
                if held:
                    await self._begin(keys=[record], args=[now, user, key, kind, template, case_no or "", self.ttl], client=pipe)
                    pipe.get(self.keys.profile(user))
                else:  # another process is sending it, unless it is done with it already
                    pipe.hget(record, "state").pttl(lease.key)
                if case_no:
                    pipe.zadd(self.keys.case_deliveries(case_no), {record: now}, nx=True)
                    pipe.expire(self.keys.case_deliveries(case_no), self.ttl)
                results = await pipe.execute()
        except RedisError as error:
            if held:  # the next try need not wait for it to run out
                await self._let_go(lease, owner)
            raise TemporaryFailure(f"redis: {type(error).__name__}") from None
        if not held:
            state = _s(results[0])
            if state in FINAL:
                return Outcome.duplicate if state == "sent" else Outcome.unreachable
            raise TemporaryFailure("another process is sending it", retry_after=max(int(results[1]), 50) / 1000)
        attempts, detail = int(results[0][0]), _s(results[0][1])
        if attempts == 0:
            await self._let_go(lease, owner)
            return Outcome.duplicate if detail == "sent" else Outcome.unreachable

        language = LANGUAGE.set(of_profile(load_profile(results[1])))
        try:
            text = self.render(template, **context)
        except Exception:
            log.exception("notice %s could not be rendered from %s", _key_ref(key, user), template)
            await self._record(record, lease, owner, state="failed", reason="render error")
            return Outcome.unreachable
        finally:
            LANGUAGE.reset(language)
        try:
            channel, msgid = await self._deliver(user, key, text, kind, case_no)
        except WeChatError as error:
            return await self._failed(record, lease, owner, user, key, attempts, error)
        await self._record(record, lease, owner, state="sent", channel=channel, msgid=msgid, errcode="", reason="")
        log.info("notice %s sent to %s by %s (attempt %d)", _key_ref(key, user), user_ref(user), channel, attempts)
        return Outcome.sent

    async def _deliver(self, user: str, key: str, text: str, kind: str, case_no: str | None) -> tuple[str, str]:
        if self.settings.notify_service_messages:
            try:
                await self.wechat.send_text(user, text)
                return "custom", ""
            except (OutsideServiceWindow, ServiceMessageLimit):
                pass  # not inside the window (or used up): the template message reaches them anyway
        templates = self.settings.notify_templates
        template_id = templates.get(kind) or templates["notice"]
        msgid = await self.wechat.send_template(user, template_id, template_data(text, case_no), client_msg_id=client_msg_id(user, key))
        return "template", str(msgid)

    async def _failed(self, record: str, lease: Lease, owner: str, user: str, key: str, attempts: int, error: WeChatError) -> Outcome:
        errcode = str(getattr(error, "errcode", ""))
        temporary = error.retryable or isinstance(error, AccessTokenRejected) or not isinstance(error, WeChatAPIError)
        if not temporary:
            log.warning("notice %s to %s refused for good: errcode %s (%s)", _key_ref(key, user), user_ref(user), errcode, type(error).__name__)
            await self._record(record, lease, owner, state="unreachable", errcode=errcode, reason=type(error).__name__)
            return Outcome.unreachable
        if attempts >= self.settings.notify_max_attempts:
            log.warning("notice %s to %s failed %d times; giving up: %s", _key_ref(key, user), user_ref(user), attempts, type(error).__name__)
            await self._record(record, lease, owner, state="failed", errcode=errcode, reason=type(error).__name__)
            return Outcome.unreachable
        await self._record(record, lease, owner, state="retrying", errcode=errcode, reason=type(error).__name__)
        raise TemporaryFailure(f"{type(error).__name__} {errcode}".strip(), retry_after=self.backoff(attempts))

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed attempts: doubling, capped, with jitter."""
        base = min(self.settings.notify_retry_seconds * 2 ** (attempts - 1), self.settings.notify_retry_max_seconds)
        return base * random.uniform(0.8, 1.2)

    async def _record(self, record: str, lease: Lease, owner: str, **fields: str) -> None:
        """Record the result, then give the lease back."""
        pairs = [str(v) for item in {**fields, "at": time.time()}.items() for v in item]
        try:
            await self._finish(keys=[record], args=[self.ttl, *pairs])
        except RedisError as error:
            # The lease runs out on its own; a retry finds the record unfinished and sends again
            # with the same client_msg_id, which WeChat does not deliver twice.
            log.warning("delivery record %s not updated: %s", record, type(error).__name__)
            return
        await self._let_go(lease, owner)

    @staticmethod
    async def _let_go(lease: Lease, owner: str) -> None:
        try:
            await lease.release(owner)
        except RedisError as error:  # it runs out on its own; a final record is never sent again anyway
            log.warning("a delivery lease was not released: %s", type(error).__name__)  # (its key names the person)

    async def finished(self, items: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The (user, key) pairs that need nothing more, with their final state (sent,
        unreachable, failed): one round trip for them all."""
        if not items:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for user, key in items:
                pipe.hget(self.keys.delivery(user, key), "state")
            states = await pipe.execute()
        return {item: _s(state) for item, state in zip(items, states) if _s(state) in FINAL}

    async def of_case(self, case_no: str, limit: int = 10_000) -> list[dict[str, str]]:
        """The delivery records filed under a case, oldest first."""
        names = await self.redis.zrange(self.keys.case_deliveries(case_no), 0, limit - 1)
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(name)
            rows = await pipe.execute()
        return [{_s(k): _s(v) for k, v in row.items()} for row in rows if row]


def template_data(text: str, case_no: str | None) -> dict[str, str]:
    """A rendered notice as template message fields: the first line as the title, the rest as the
    remark. The first keyword names what it is about: the case, else the title's subject (the
    matter after 【…】), so no notice shows an empty placeholder."""
    title, _, rest = text.partition("\n")
    title = title.strip()
    subject = title.rpartition("】")[2].strip() or title
    return {
        "first": title,
        "keyword1": case_no or subject,
        "keyword2": moment(datetime.now(BEIJING)),
        "remark": rest.strip(),
    }


def template_text(data: dict[str, Any]) -> str:
    """What a person reads in a template message (tests and the console show it this way)."""
    def value(name: str) -> str:
        field = data.get(name) or {}
        return field.get("value", "") if isinstance(field, dict) else str(field)

    return "\n".join(part for part in (value("first"), value("remark")) if part)


def client_msg_id(user: str, key: str) -> str:
    """The same for every try of one notice to one person, and for nothing else."""
    return hashlib.sha256(f"{user}\n{key}".encode()).hexdigest()[:32]


def mask_user(user: str) -> str:
    """An openid as an operator may see it: enough to tell people apart, not to reach them."""
    return f"{user[:4]}***{user[-3:]}" if len(user) > 9 else "***"


def _s(value: Any) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
