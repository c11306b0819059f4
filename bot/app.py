"""The aiohttp application: routes, middleware, and the objects every request shares, built
once at start-up."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.channels.wechat import WeChatChannel
from bot.dispatcher import Dispatcher
from bot.keys import Keys
from bot.logs import request_id
from bot.outbox import RecordingPusher
from bot.settings import Settings
from bot.templating import Renderer
from dialogs import Conversation, Services

log = logging.getLogger(__name__)

REDIS = web.AppKey("redis", Redis)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
SETTINGS = web.AppKey("settings", Settings)


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
    services = Services(render=renderer, halls=settings.halls, max_misses=settings.max_misses)
    pusher = RecordingPusher(redis, keys)
    dispatcher = Dispatcher(redis, keys, Conversation(services), settings, pusher)
    app[REDIS], app[DISPATCHER], app[SETTINGS] = redis, dispatcher, settings

    app.router.add_routes(WeChatChannel(settings, dispatcher).routes())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.env == "dev":
        from bot.console import setup_console

        setup_console(app, settings, pusher)

    async def drain(app: web.Application) -> None:
        await app[DISPATCHER].drain()

    app.on_shutdown.append(drain)
    return app


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[REDIS].ping()
    except (RedisError, OSError) as exc:
        return web.json_response({"status": "unavailable", "redis": type(exc).__name__}, status=503)
    return web.json_response({"status": "ready"})
