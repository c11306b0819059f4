"""What the bot is doing, for Prometheus: one registry per process, served at /metrics.

Every metric object lives here so that each feature counts into the same names: the webhook,
the dispatcher and the platform client already do; the notifier and the broadcast engine call
`NOTIFICATIONS` and `BROADCAST_MESSAGES`; streams that workers consume are added with
`watch_stream(app, key)` and their lag is read from Redis when Prometheus scrapes.

Each bot process keeps its own counters: scrape every process (see the deployment guide).
"""

from __future__ import annotations

import asyncio
import contextvars
from bisect import bisect_left
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

# The webhook and the other routes ----------------------------------------------------------

# Counted on every message: kept as plain numbers by the event loop's thread (prometheus_client's
# metrics take a lock and validate on each call: ~2 µs a message) and read at scrape time by
# `_PerMessage`, which reports them under the same names and in the same form.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 10)
TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15)


class LoopHistogram:
    """A histogram observed from one thread only (the event loop's), without a lock."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, buckets: tuple[float, ...]):
        self.bounds = (*map(float, buckets), float("inf"))
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound is >= value
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        total, out = 0, []
        for bound, count in zip(self.bounds, self.counts):
            total += count
            out.append((floatToGoString(bound), total))
        return out


_REQUEST_COUNTS: dict[tuple[str, str], int] = {}  # (channel, outcome) -> requests
_REQUEST_TIMES: dict[str, LoopHistogram] = {}
TURN_SECONDS = LoopHistogram(TURN_BUCKETS)


class _PerMessage(Collector):
    def collect(self):
        requests = CounterMetricFamily(
            "ywtb_requests", "HTTP requests answered, by channel and outcome "
            "(passive, retry, late, ack, busy, limited for messages; ok, rejected, too_large, not_found, error otherwise)",
            labels=["channel", "outcome"],
        )
        for labels, count in list(_REQUEST_COUNTS.items()):
            requests.add_metric(labels, count)
        yield requests
        times = HistogramMetricFamily("ywtb_request_seconds", "Time to answer an HTTP request, by channel", labels=["channel"])
        for channel, histogram in list(_REQUEST_TIMES.items()):
            times.add_metric([channel], histogram.buckets(), histogram.sum)
        yield times
        turns = HistogramMetricFamily("ywtb_turn_seconds", "Time one conversation turn took, lock to commit (late turns included)")
        turns.add_metric([], TURN_SECONDS.buckets(), TURN_SECONDS.sum)
        yield turns


REGISTRY.register(_PerMessage())

CONNECTIONS_OPEN = Gauge("ywtb_connections_open", "Client connections open (bot.web.serving.ConnectionCap)", registry=REGISTRY)
CONNECTIONS_REFUSED = Counter("ywtb_connections_refused", "Client connections refused (503) because http_max_connections were open",
                              registry=REGISTRY)

# The dispatcher ------------------------------------------------------------------------------

DEADLINE_OVERRUNS = Counter("ywtb_deadline_overruns", "Turns that missed WeChat's deadline and answered through the API", registry=REGISTRY)
DEDUP_HITS = Counter("ywtb_dedup_hits", "Deliveries of a message already seen (WeChat's retries), answered without a second turn", registry=REGISTRY)
REDIS_ERRORS = Counter("ywtb_redis_errors", "Redis calls that failed, by where they were made", ["where"], registry=REGISTRY)
RATE_LIMITED = Counter("ywtb_rate_limited", "Requests refused by a rate limit, by scope (user, ip)", ["scope"], registry=REGISTRY)
ADMIN_REFUSALS = Counter(
    "ywtb_admin_refusals", "Admin API requests refused, by reason (no_token, wrong_token, forbidden; limited: a client "
    "address past rate_limit_admin_refusals). Only forbidden ones, from staff, are in the audit log", ["reason"], registry=REGISTRY,
)

# Outside systems -----------------------------------------------------------------------------

PLATFORM_SECONDS = Histogram(
    "ywtb_platform_call_seconds", "Time of one HTTP attempt towards the 一网通办 platform, by operation", ["operation"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)
PLATFORM_CALLS = Counter(
    "ywtb_platform_calls", "Attempts towards the platform by operation and outcome (ok, refused, unavailable; circuit_open and "
    "out_of_time: none made, the breaker is open or the turn's deadline too near)",
    ["operation", "outcome"], registry=REGISTRY,
)

# Work that leaves the process (defined here; the notifier and broadcast engine count) -----------

NOTIFICATIONS = Counter(
    "ywtb_notifications", "Notifications by kind (case_event, reminder, ...) and outcome "
    "(delivered, held, failed_permanent, failed_retry, duplicate)", ["kind", "outcome"], registry=REGISTRY,
)
BROADCAST_MESSAGES = Counter(
    "ywtb_broadcast_messages", "Broadcast sends per recipient or batch, by outcome (sent, skipped, failed_permanent, failed_retry)",
    ["outcome"], registry=REGISTRY,
)
EVENTS_RECEIVED = Counter(
    "ywtb_platform_events", "Case events from the platform by outcome (queued, repeated, refused, malformed, unavailable)",
    ["outcome"], registry=REGISTRY,
)
STREAM_LAG = Gauge("ywtb_stream_lag", "Entries of a stream not yet delivered to a consumer group", ["stream", "group"], registry=REGISTRY)
STREAM_PENDING = Gauge("ywtb_stream_pending", "Entries delivered to a consumer group and not acknowledged", ["stream", "group"], registry=REGISTRY)
STREAM_LENGTH = Gauge("ywtb_stream_length", "Entries kept in a stream", ["stream"], registry=REGISTRY)

#: What the dispatcher decided for the current webhook request (read by the middleware).
outcome: contextvars.ContextVar[str] = contextvars.ContextVar("outcome", default="")

LAG_SCAN_LIMIT = 10_000  # a lag above this is reported as this: it is an alarm either way


def note_outcome(how: str) -> None:
    outcome.set(how)


def channel_of(path: str) -> str:
    """A small, fixed set of label values whatever path a stranger asks for."""
    first = path.strip("/").split("/", 1)[0]
    if first in ("wechat", "wecom", "console", "metrics", "admin"):
        return first
    if path.startswith("/platform/events"):
        return "platform_events"
    if first in ("healthz", "readyz"):
        return "health"
    if first == "sim":
        return "simulator"
    return "other"


def _http_outcome(status: int) -> str:
    if status >= 500:
        return "error"
    if status == 429:
        return "limited"
    if status == 413:
        return "too_large"
    if status == 404:
        return "not_found"
    if status >= 400:
        return "rejected"
    return "ok"


def count_request(channel: str, status: int, seconds: float) -> None:
    """One request by channel and outcome (the dispatcher's word for a webhook answer), and its
    latency. Called by the app's one middleware (bot.app.edge), also for a crash it turned into
    a polite answer (status 500: an error here)."""
    how = (outcome.get() if status == 200 else "") or _http_outcome(status)
    key = (channel, how)
    _REQUEST_COUNTS[key] = _REQUEST_COUNTS.get(key, 0) + 1
    timer = _REQUEST_TIMES.get(channel)
    if timer is None:  # label values come from small fixed sets: this stays small
        timer = _REQUEST_TIMES[channel] = LoopHistogram(REQUEST_BUCKETS)
    timer.observe(seconds)


def channel_of_request(path: str) -> str:
    return _CHANNELS.get(path) or channel_of(path)


_CHANNELS = {"/wechat": "wechat", "/wecom": "wecom"}


# Streams -------------------------------------------------------------------------------------

WATCHED = web.AppKey("watched_streams", set)


def watch_stream(app: web.Application, key: str) -> None:
    """Report the length, and each consumer group's lag and pending count, of this stream key
    on this app's /metrics (call it where the app is built, for every work stream)."""
    app.setdefault(WATCHED, set()).add(key)


async def refresh_streams(redis: Redis, streams: set[str], timeout: float = 1.0) -> None:
    """Read the watched streams' figures from Redis (at scrape time; Redis 6.2 has no `lag`
    field in XINFO GROUPS, so the undelivered entries are counted, up to LAG_SCAN_LIMIT)."""
    try:
        async with asyncio.timeout(timeout):
            for stream in sorted(streams):
                await _refresh_stream(redis, stream)
    except (RedisError, OSError, TimeoutError) as exc:
        REDIS_ERRORS.labels("metrics").inc()
        log.warning("stream figures not refreshed: %r", exc)


async def _refresh_stream(redis: Redis, stream: str) -> None:
    STREAM_LENGTH.labels(stream).set(await redis.xlen(stream))
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # the stream does not exist yet
        return
    for group in groups:
        name = _text(group.get("name"))
        last = _text(group.get("last-delivered-id")) or "0-0"
        undelivered = await redis.xrange(stream, min=f"({last}", max="+", count=LAG_SCAN_LIMIT)
        STREAM_LAG.labels(stream, name).set(len(undelivered))
        STREAM_PENDING.labels(stream, name).set(int(group.get("pending") or 0))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def metrics_route(redis: Redis) -> web.RouteDef:
    async def serve_metrics(request: web.Request) -> web.Response:
        await refresh_streams(redis, request.app.get(WATCHED, set()))
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return web.get("/metrics", serve_metrics)


def platform_call(operation: str, seconds: float, outcome: str) -> None:
    """The platform client's observer (integrations may not import the bot)."""
    PLATFORM_CALLS.labels(operation, outcome).inc()
    if outcome not in ("circuit_open", "out_of_time"):
        PLATFORM_SECONDS.labels(operation).observe(seconds)


class MalformedHTTP(logging.Filter):
    """aiohttp logs every request its HTTP parser refuses (answered 400) as an ERROR with a
    traceback: a stranger sending broken headers could flood the logs and page whoever watches
    errors. Count them, and log one warning line without the traceback instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            _REQUEST_COUNTS[("http", "malformed")] = _REQUEST_COUNTS.get(("http", "malformed"), 0) + 1
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed HTTP request refused: %s", (str(exc.message).splitlines()[0][:120],)
            record.exc_info, record.exc_text = None, None
        return True


MALFORMED_HTTP = MalformedHTTP()


def install_log_filters() -> None:
    """Once per process (adding the same filter twice is a no-op)."""
    logging.getLogger("aiohttp.server").addFilter(MALFORMED_HTTP)
