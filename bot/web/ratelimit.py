"""Rate limits in Redis, shared by every bot process: per user (counted by the dispatcher's ADMIT
script in its admit round trip, answered with a polite text), per client IP (a middleware, answered with 429 and
a polite text before any other work), and the admin API's refused requests per client IP
(bot.web.admin.api: 429 once a client has been refused too often).

Fixed windows: the counter key names its window (`rl:u:{user}:<n>`), so INCR + EXPIRE in one
pipeline needs no script and a stale counter simply expires. A limit of 0 turns a check off.
When Redis is unreachable the limits let requests through: the dispatcher then answers 系统繁忙
itself, and a limiter must never be the reason a person gets no answer.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from aiohttp import web
from redis.exceptions import RedisError

from bot import metrics
from bot.keys import Keys
from bot.logs import Incidents
from bot.stores.pipeline import AutoPipeline, PoolBatch
from bot.settings import Settings

log = logging.getLogger(__name__)

#: What a client over its per-IP limit reads (it is not a WeChat user: WeChat's own servers are
#: exempt or far below the limit).
TOO_MANY = "请求过于频繁，请稍后再试。"

#: Paths never limited: operators and probes must see a struggling bot.
UNLIMITED = ("/healthz", "/readyz", "/metrics")


class RateLimiter:
    def __init__(self, batch: AutoPipeline | PoolBatch, keys: Keys, settings: Settings):
        self.batch = batch  # the dispatcher's Redis path (bot.stores.pipeline)
        self.keys = keys
        self.window = max(1, settings.rate_limit_window_seconds)
        self.per_user = settings.rate_limit_user_messages
        self.per_ip = settings.rate_limit_ip_requests
        self.admin_refusals = settings.rate_limit_admin_refusals
        self.exempt = [ipaddress.ip_network(n, strict=False) for n in settings.rate_limit_exempt_networks]
        self.proxies = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]
        self._is_exempt: dict[str, bool] = {}  # per peer address: parsing it every request showed in profiles
        self._is_proxy: dict[str, bool] = {}
        self.incidents = Incidents(log)

    def slot(self) -> int:
        """The current window's number (per-user counts are kept by the dispatcher's ADMIT)."""
        return int(time.time()) // self.window

    # Per client IP: a middleware -------------------------------------------------------------

    def client_ip(self, request: web.BaseRequest) -> str:
        """The client's address: the peer's, or the last X-Forwarded-For hop when the peer is a
        trusted proxy. The one place the bot decides who a client is (limits, audit records)."""
        peer = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded and self._cached(self._is_proxy, peer, self.proxies):
            last = forwarded.rsplit(",", 1)[-1].strip()
            try:
                return str(ipaddress.ip_address(last))
            except ValueError:
                return peer
        return peer

    def _cached(self, cache: dict[str, bool], address: str, networks: list) -> bool:
        known = cache.get(address)
        if known is None:
            if len(cache) >= 10_000:  # many distinct addresses: start again rather than grow
                cache.clear()
            known = cache[address] = self._within(address, networks)
        return known

    def _within(self, address: str, networks: list) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    def counting(self, request: web.BaseRequest):
        """None when this request is not counted against a per-IP limit (the limit is off, the
        path is a probe's, the client is exempt), else the `await`able check: a 429 for a client
        over its limit, or None. (Called by bot.app.edge for every request: most need no trip.)"""
        if not self.per_ip or request.path in UNLIMITED:
            return None
        ip = self.client_ip(request)
        if not ip or self._cached(self._is_exempt, ip, self.exempt):
            return None
        return self._refuse(ip)

    async def _refuse(self, ip: str) -> web.Response | None:
        count = await self._count(self.keys.rate_ip(ip, self.slot()))
        if count is None or count <= self.per_ip:
            return None
        metrics.RATE_LIMITED.labels("ip").inc()
        return web.Response(status=429, text=TOO_MANY, headers={"Retry-After": str(self.window)}, content_type="text/plain")

    # The admin API's refusals per client IP -------------------------------------------------------

    async def admin_refusals_exceeded(self, ip: str, count: bool) -> bool:
        """Whether this client address is past its limit of refused admin API requests in this
        window, counting this request as one when `count` (it has no valid token). False when
        the limit is off or Redis cannot say (the request is then answered as it would be)."""
        if not self.admin_refusals:
            return False
        refused = await self._count(self.keys.rate_refused(ip, self.slot()), add=count)
        return refused is not None and refused > self.admin_refusals

    async def _count(self, key: str, add: bool = True) -> int | None:
        """A window's counter, after adding one when `add`. None when Redis cannot say: a limit
        must never be the reason a request goes unanswered."""
        commands = (("INCR", key), ("EXPIRE", key, self.window * 2)) if add else (("GET", key),)
        try:
            count = (await self.batch.run(*commands))[0]
            if isinstance(count, Exception):
                raise count
        except RedisError as exc:
            metrics.REDIS_ERRORS.labels("ratelimit").inc()
            self.incidents.report("redis", "rate limits not checked, requests let through: %r", exc)
            return None
        return int(count or 0)
