"""The aiohttp application: routes, middleware, and the objects every request shares, built
once at start-up."""

from __future__ import annotations

import logging
import secrets

from aiohttp import ClientSession, ClientTimeout, web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.catalog import Catalog
from bot.channels.wechat import WeChatChannel
from bot.dispatcher import Dispatcher
from bot.events import CaseEventReceiver
from bot.bookings import Bookings
from bot.delivery import Delivery
from bot.keys import Keys
from bot.ratings import Ratings
from bot.scheduler import Scheduler
from bot.subscriptions import Subscriptions
from bot.workers import Workers
from bot.logs import request_id
from bot.settings import Settings
from bot.templating import Renderer
from dialogs import Conversation, Services
from integrations.platform.client import PlatformClient
from integrations.wechat import WeChatClient, WeChatPusher

log = logging.getLogger(__name__)

REDIS = web.AppKey("redis", Redis)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
SETTINGS = web.AppKey("settings", Settings)
PLATFORM = web.AppKey("platform", PlatformClient)
CATALOG = web.AppKey("catalog", Catalog)
WECHAT = web.AppKey("wechat", WeChatClient)
WORKERS = web.AppKey("workers", Workers)
SCHEDULER = web.AppKey("scheduler", Scheduler)
DELIVERY = web.AppKey("delivery", Delivery)
SERVICES = web.AppKey("services", Services)


@web.middleware
async def guard(request: web.Request, handler):
    """Request ids for logs, and no traceback or 500 ever reaching WeChat."""
    request_id.set(request.headers.get("X-Request-Id", "")[:32] or secrets.token_hex(6))
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/wechat"):
            return web.Response(text="success", content_type="text/plain")
        return web.json_response({"error": "internal error"}, status=500)


def create_app(settings: Settings, redis: Redis) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[guard])
    keys = Keys(settings.key_prefix)
    renderer = Renderer()
    services = Services(render=renderer, halls=settings.halls, max_misses=settings.max_misses, settings=settings)
    dispatcher = Dispatcher(redis, keys, Conversation(services), settings, pusher=None)
    app[REDIS], app[DISPATCHER], app[SETTINGS], app[SERVICES] = redis, dispatcher, settings, services

    app.router.add_routes(WeChatChannel(settings, dispatcher).routes())
    app.router.add_routes(CaseEventReceiver(settings, redis, keys).routes())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    _mount_simulators(app, settings)
    if settings.env == "dev":
        from bot.console import setup_console

        setup_console(app, settings)

    async def outside_systems(app: web.Application):
        """One HTTP session for every outside call; clients built once, closed at exit."""
        http = ClientSession(timeout=ClientTimeout(total=10))
        app[PLATFORM] = PlatformClient(settings.platform_base, http, timeout=settings.platform_timeout_seconds)
        app[CATALOG] = services.catalog = Catalog(app[PLATFORM], _build_index, settings.catalog_refresh_seconds)
        app[CATALOG].start()
        app[WECHAT] = WeChatClient(
            settings.wechat_appid, settings.wechat_secret.get_secret_value(), redis,
            key_prefix=settings.key_prefix, base_url=settings.wechat_api_base, session=http,
        )
        dispatcher.pusher = WeChatPusher(app[WECHAT])

        # Stores the dialogs use, and the workers that reach people outside a conversation.
        platform = services.platform = app[PLATFORM]
        scheduler = app[SCHEDULER] = Scheduler(redis, keys, settings)
        delivery = app[DELIVERY] = Delivery(redis, keys, app[WECHAT], renderer, settings)
        services.bookings = Bookings(redis, keys, platform, scheduler, settings)
        services.subscriptions = Subscriptions(redis, keys)
        services.ratings = Ratings(redis, keys, platform, scheduler, settings)
        workers: list = []  # each feature appends its workers here
        app[WORKERS] = Workers(workers)
        if settings.run_workers:
            app[WORKERS].start()
        yield
        await app[WORKERS].stop(settings.worker_grace_seconds)
        await app[CATALOG].stop()
        await dispatcher.drain()
        await http.close()

    app.cleanup_ctx.append(outside_systems)
    return app


def _build_index(summaries, guides, version):
    from bot.search import MatterIndex

    return MatterIndex().build(summaries, guides, version=version)


def _mount_simulators(app: web.Application, settings: Settings) -> None:
    """In dev with no outside URLs, the simulators answer on this same server."""
    if settings.embedded_platform:
        from integrations.platform.simulator import create_platform_simulator

        app.add_subapp("/sim/platform", create_platform_simulator(
            events_url=f"{settings.loopback_url}/platform/events", events_secret=settings.platform_events_secret.get_secret_value(),
        ))
    if settings.embedded_wechat:
        from integrations.wechat.simulator import create_wechat_simulator

        app.add_subapp("/sim/wechat", create_wechat_simulator())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[REDIS].ping()
    except (RedisError, OSError) as exc:
        return web.json_response({"status": "unavailable", "redis": type(exc).__name__}, status=503)
    return web.json_response({"status": "ready"})
