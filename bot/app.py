"""The aiohttp application: routes, middleware, and the objects every request shares, built
once at start-up. How it listens is bot.web.serving."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time

from aiohttp import ClientSession, ClientTimeout, web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import metrics
from bot.web.admin import BROADCASTS, CONSENTS, create_admin_api
from bot.web.appkeys import (
    CATALOG, DELIVERY, DISPATCHER, EDGE, HANDOFF, PLATFORM, REDIS, SCHEDULER, SERVICES, SETTINGS, WECHAT, WECHAT_CHANNEL, WORKERS,
)
from bot.services.audit import Audit
from bot.services.broadcasts import BroadcastSender, Broadcasts
from bot.services.catalog import Catalog
from bot.web.channels.wechat import WeChatChannel
from bot.web.channels.wecom import WeComChannel, WeComPusher
from bot.turn.dispatcher import Dispatcher, store_policy
from bot.web.events import CaseEventReceiver
from bot.services.attachments import Attachments
from bot.services.handoff import Handoff, HandoffSweeper
from bot.services.bookings import REMINDER, Bookings
from bot.services.delivery import Delivery
from bot.keys import Keys
from bot.web.ratelimit import RateLimiter
from bot.workers.notifier import Notifier
from bot.services.queue import HallQueue
from bot.services.ratings import REMINDER as RATING_REMINDER, Ratings
from bot.workers.scheduler import Scheduler
from bot.services.enterprise_reminders import EnterpriseReminders
from bot.search.outcomes import SearchOutcomes
from bot.services.subscriptions import Subscriptions
from bot.services.consent import Consents
from bot.services.broadcasts.policies import PolicyMatcher
from bot.workers.runner import Workers
from bot.logs import new_id, request_id
from bot.settings import Settings
from bot.stores import RedisConversationStore
from bot.services.staff import Staff
from bot.templating import Renderer
from dialogs import Conversation, Services
from dialogs.language import load as load_languages
from dialogs.staff import StaffConversation, StaffServices
from dialogs.understand import load as load_understanding
from integrations.platform.client import PlatformClient
from integrations.wechat import WeChatClient, WeChatPusher, WeComClient

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")  # a caller's id is kept only if it cannot forge log text



def edge(limiter: RateLimiter, body_timeout: float, max_body: int):
    """The app's middleware: the request id for logs, the per-IP limit, a body that must arrive
    within `body_timeout` and announce no more than `max_body` bytes, the request count and
    latency, and no traceback or 500 ever reaching WeChat."""

    @web.middleware
    async def edge_middleware(request: web.Request, handler):
        given = request.headers.get("X-Request-Id", "")
        request_id.set(given if given and _REQUEST_ID.fullmatch(given) else new_id())
        path = request.path
        token = metrics.outcome.set("")
        started = time.perf_counter()
        status = 500
        try:
            check = limiter.counting(request)  # None for most: no Redis trip to make
            response = check is not None and await check
            # A body still on its way must arrive in time; the dev simulators (/sim/) stream their
            # own uploads with their own limits (a 补正 photo of several MB, past max_body_bytes).
            if not response and request.body_exists and not request.content.is_eof() and not path.startswith("/sim/"):
                # Content-Length: 99999999999 is refused at once, not after waiting for a body
                # that would be refused anyway (the connection held for the body timeout)
                too_big = (request.content_length or 0) > max_body
                response = _too_large() if too_big else await _body_in_time(request, body_timeout)
            response = response or await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, path)
            if path.startswith("/wechat"):
                return web.Response(text="success", content_type="text/plain")
            if path.startswith("/wecom"):  # WeCom's "no reply": an empty body
                return web.Response(text="", content_type="text/plain")
            return web.json_response({"error": "internal error"}, status=500)
        finally:
            metrics.count_request(metrics.channel_of_request(path), status, time.perf_counter() - started)
            metrics.outcome.reset(token)

    return edge_middleware


def _too_large() -> web.Response:
    response = web.Response(status=413, text="request body too large", content_type="text/plain")
    response.force_close()
    return response


async def _body_in_time(request: web.BaseRequest, seconds: float) -> web.Response | None:
    """None once the request's whole body has arrived (read: `request.read()` gives it again);
    a 408 that closes the connection when it has not within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            await request.read()
    except TimeoutError:
        response = web.Response(status=408, text="request body not received in time", content_type="text/plain")
        response.force_close()
        return response
    return None


def create_app(settings: Settings, redis: Redis) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes)
    keys = Keys(settings.key_prefix)
    renderer = Renderer()
    services = Services(render=renderer, halls=settings.halls, max_misses=settings.max_misses, settings=settings)
    over_limit = [renderer("reliability/slow_down.j2")]
    store = RedisConversationStore(redis, keys, store_policy(settings, over_limit))
    dispatcher = Dispatcher(store, Conversation(services), settings, pusher=None, languages=True)
    app[REDIS], app[DISPATCHER], app[SETTINGS], app[SERVICES] = redis, dispatcher, settings, services
    limiter = RateLimiter(store.batch, keys, settings)  # per client address: the edge's and the admin API's
    app[EDGE] = edge(limiter, settings.http_body_timeout_seconds, settings.max_body_bytes)
    app.middlewares.append(app[EDGE])
    metrics.install_log_filters()
    metrics.watch_stream(app, keys.events())

    app[WECHAT_CHANNEL] = WeChatChannel(settings, dispatcher)
    app.router.add_routes(app[WECHAT_CHANNEL].routes())
    app.router.add_routes(CaseEventReceiver(settings, redis, keys).routes())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_routes([metrics.metrics_route(redis)])
    staff, audit = Staff(settings.staff), Audit(redis, keys)
    # Staff in WeCom: the human hand-off, and a dispatcher of their own (keys under <prefix>wecom:).
    handoff = app[HANDOFF] = services.handoff = Handoff(redis, keys, settings, staff, audit, renderer, store)
    staff_services = StaffServices(render=renderer, staff=staff, handoff=handoff, settings=settings)
    staff_desk = StaffConversation(staff_services)
    wecom_store = RedisConversationStore(redis, Keys(settings.key_prefix + "wecom:"), store_policy(settings, over_limit))
    wecom_dispatcher = Dispatcher(wecom_store, staff_desk, settings, pusher=None)
    app.router.add_routes(WeComChannel(settings, wecom_dispatcher, staff, audit).routes())
    app.add_subapp("/admin/api", create_admin_api(staff, audit, limiter, handoff))
    _mount_simulators(app, settings)
    if settings.env == "dev":
        from bot.dev.console import setup_console

        setup_console(app, settings)

    async def outside_systems(app: web.Application):
        """One HTTP session for every outside call; clients built once, closed at exit."""
        http = ClientSession(timeout=ClientTimeout(total=10))
        app[PLATFORM] = PlatformClient(settings.platform_base, http, timeout=settings.platform_timeout_seconds, observe=metrics.platform_call,
                                       token=_platform_token(settings))
        app[CATALOG] = services.catalog = Catalog(
            app[PLATFORM], _index_factory(settings), settings.catalog_refresh_seconds, outcomes=SearchOutcomes(redis, settings.key_prefix),
        )
        app[CATALOG].start()
        # The understanding step's word lists (every text is read with them), now rather than on
        # the first message, and off the loop: a second or so, once per process.
        await asyncio.to_thread(load_understanding)
        app[WECHAT] = WeChatClient(
            settings.wechat_appid, settings.wechat_secret.get_secret_value(), redis,
            key_prefix=settings.key_prefix, base_url=settings.wechat_api_base, session=http,
        )
        dispatcher.pusher = WeChatPusher(app[WECHAT])
        services.attachments = Attachments(app[WECHAT])  # photos and files people send (补正, agents)

        # Stores the dialogs use, and the workers that reach people outside a conversation.
        platform = services.platform = app[PLATFORM]
        scheduler = app[SCHEDULER] = Scheduler(redis, keys, settings)
        delivery = app[DELIVERY] = Delivery(redis, keys, app[WECHAT], renderer, settings)
        services.bookings = Bookings(redis, keys, platform, scheduler, settings, delivery=delivery)
        scheduler.handle(REMINDER, services.bookings.remind)
        services.subscriptions = Subscriptions(redis, keys, settings)
        services.consents = Consents(redis, keys, settings)  # 我的授权, 订阅政策: what 政策找人 and 免申即享 may use
        services.queue = HallQueue(redis, keys, platform, services.bookings)
        services.ratings = Ratings(redis, keys, platform, scheduler, settings, delivery=delivery, subscriptions=services.subscriptions)
        scheduler.handle(RATING_REMINDER, services.ratings.remind)
        # Licence and annual-report reminders for bound enterprises: a sweep on the scheduler.
        reminders = EnterpriseReminders(redis, keys, platform, scheduler, services.subscriptions, delivery, settings)
        workers: list = []  # each feature appends its workers here
        workers.append(scheduler)  # due jobs: appointment reminders, rating reminders, enterprise reminders
        workers.append(reminders)  # puts the first enterprise reminder sweep on the scheduler, then returns
        workers.append(Notifier(redis, keys, settings, delivery, services.subscriptions, services.ratings, services.bookings,
                                consents=services.consents))
        # Broadcasts: reports go to their authors in WeCom when a WeCom app is configured.
        wecom = WeComClient(
            settings.wecom_corpid, settings.wecom_secret.get_secret_value(), settings.wecom_agentid, redis,
            key_prefix=settings.key_prefix, base_url=settings.wecom_api_base, session=http,
        ) if settings.wecom_corpid else None
        app[BROADCASTS] = staff_services.broadcasts = Broadcasts(
            redis, keys, app[WECHAT], renderer, audit, staff, settings, wecom=wecom, catalog=app[CATALOG],
            policies=PolicyMatcher(services.consents, platform, services.subscriptions))
        app[CONSENTS] = staff_services.consents = services.consents
        app[WECHAT_CHANNEL].mass_sends = app[BROADCASTS]  # WeChat's reports on mass sends come to the webhook
        workers.append(BroadcastSender(app[BROADCASTS], settings))
        handoff.connect(app[WECHAT], wecom)
        wecom_dispatcher.pusher = WeComPusher(wecom) if wecom else None
        workers.append(HandoffSweeper(handoff, settings.handoff_sweep_seconds))
        app[WORKERS] = Workers(workers)
        if settings.run_workers:
            app[WORKERS].start()
        load_languages()  # the word lists the language is chosen by (dialogs.language)
        gc.freeze()  # what start-up built lives as long as the process: full collections skip it
        thresholds = gc.get_threshold()
        if settings.gc_thresholds:
            gc.set_threshold(*settings.gc_thresholds)
        yield
        await app[WORKERS].stop(settings.worker_grace_seconds)
        await handoff.outbox.close()
        await app[CATALOG].stop()
        await dispatcher.drain()
        await wecom_dispatcher.drain()
        await dispatcher.aclose()
        await wecom_dispatcher.aclose()
        await http.close()
        gc.unfreeze()  # a process that builds another app (tests) gets its garbage collected again
        gc.set_threshold(*thresholds)

    app.cleanup_ctx.append(outside_systems)
    return app


def _index_factory(settings: Settings):
    """Builds the search over a catalog version; its sentence vectors are kept under var/."""
    from bot.search import MatterSearch

    def build(summaries, guides, bundles, version):
        return MatterSearch.build(summaries, guides, bundles, version=version, cache_dir=settings.var_path / "search")

    return build


def _platform_token(settings: Settings) -> str:
    """The bot's token for people data: the configured one, else (dev, where the platform is a
    simulator, embedded or on its own) the simulator's dev token."""
    if settings.platform_token.get_secret_value():
        return settings.platform_token.get_secret_value()
    if settings.env == "dev":
        from integrations.platform.simulator.app import DEV_CLIENT_TOKEN

        return DEV_CLIENT_TOKEN
    return ""


def _mount_simulators(app: web.Application, settings: Settings) -> None:
    """In dev with no outside URLs, the simulators answer on this same server."""
    if settings.embedded_platform:
        from integrations.platform.simulator import create_platform_simulator

        app.add_subapp("/sim/platform", create_platform_simulator(
            events_url=f"{settings.loopback_url}/platform/events", events_secret=settings.platform_events_secret.get_secret_value(),
            client_token=_platform_token(settings),
        ))
    if settings.embedded_wechat:
        from integrations.wechat.simulator import SimulatorConfig, create_wechat_simulator

        safe = settings.wechat_mode == "safe"  # then WeChat posts its events encrypted, as it would
        app.add_subapp("/sim/wechat", create_wechat_simulator(SimulatorConfig(
            webhook_url=f"{settings.loopback_url}/wechat", webhook_token=settings.wechat_token.get_secret_value(),
            webhook_aes_key=settings.wechat_aes_key.get_secret_value() if safe else "", webhook_appid=settings.wechat_appid,
        )))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    try:
        await request.app[REDIS].ping()
    except (RedisError, OSError) as exc:
        return web.json_response({"status": "unavailable", "redis": type(exc).__name__}, status=503)
    catalog = request.app.get(CATALOG)
    return web.json_response({"status": "ready", "catalog": "loaded" if catalog is not None and catalog.ready.is_set() else "loading"})
