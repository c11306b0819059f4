"""The bot's /platform/events: case events from the platform, verified and queued.

A valid event is appended to a Redis Stream (`events`) once, keyed by its id, before the answer
is 2xx; notifier workers read the stream ([Progress & notifications]). Forged or stale
requests get 403, malformed events 400, and Redis trouble 503 so the platform retries.

In the same step the entry joins its case's order (`Keys.event_order`): the entries of one case
still to be sent, in the order the platform announced them. A notifier sends an event only when
it heads that list, so a later step of a case never overtakes an earlier one."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import metrics
from bot.keys import Keys, order_subject
from bot.logs import request_id
from bot.stores.client import repeatable
from bot.settings import Settings
from bot.stores.scripts.events import ENQUEUE
from integrations.platform.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, valid_signature
from integrations.platform.models import CaseEvent

log = logging.getLogger(__name__)

SEEN_DAYS = 7

class CaseEventReceiver:
    def __init__(self, settings: Settings, redis: Redis, keys: Keys, max_stream: int = 100_000):
        self.secret = settings.platform_events_secret.get_secret_value()
        self.window = settings.timestamp_window_seconds
        self.keys = keys
        self.max_stream = max_stream
        self._enqueue = repeatable(redis.register_script(ENQUEUE))

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/platform/events", self.receive)]

    async def receive(self, request: web.Request) -> web.Response:
        if not self.secret:
            return _answer(503, "case events are not configured (YWTB_PLATFORM_EVENTS_SECRET)")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        body = await request.read()
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature:
            return _answer(403, "missing or malformed signature headers")
        if not valid_signature(self.secret, timestamp, body, signature):
            return _answer(403, "bad signature")
        if abs(time.time() - int(timestamp)) > self.window:
            return _answer(403, "stale timestamp")
        try:
            event = CaseEvent.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "body"
            return _answer(400, f"malformed event: {where}: {first.get('msg', 'invalid')}"[:200])
        try:
            added = await self._enqueue(
                keys=[self.keys.event_seen(event.id), self.keys.events(), self.keys.event_order(order_subject(event))],
                args=[SEEN_DAYS * 86400, self.max_stream, event.model_dump_json(), event.id, request_id.get()],
            )
        except RedisError as exc:
            metrics.REDIS_ERRORS.labels("events").inc()
            log.warning("case event %s not queued: %s", event.id, exc)
            return _answer(503, "temporarily unable to accept events")
        log.info("case event %s (%s) %s", event.id, event.type.value, "queued" if added else "repeated")
        metrics.EVENTS_RECEIVED.labels("queued" if added else "repeated").inc()
        return web.json_response({"accepted": True, "duplicate": not added}, status=202 if added else 200)


def _answer(status: int, reason: str) -> web.Response:
    metrics.EVENTS_RECEIVED.labels({400: "malformed", 403: "refused"}.get(status, "unavailable")).inc()
    if status >= 403:
        log.warning("case event refused: %s", reason)
    return web.json_response({"accepted": False, "error": reason}, status=status)
