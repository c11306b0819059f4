"""The aiohttp application's keys: the objects every request shares, built once by bot.app.

They live in the web room rather than in bot.app so that what reads them (the dev console,
the tests, a route) need not import the module that builds the app, and the app need not be
imported back (bot.app imports bot.dev.console to mount it). Named `appkeys`, not `keys`:
bot.keys names Redis keys.
"""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from bot.services.catalog import Catalog
from bot.services.delivery import Delivery
from bot.services.handoff import Handoff
from bot.settings import Settings
from bot.turn.dispatcher import Dispatcher
from bot.web.channels.wechat import WeChatChannel
from bot.workers.runner import Workers
from bot.workers.scheduler import Scheduler
from dialogs import Services
from integrations.platform.client import PlatformClient
from integrations.wechat import WeChatClient

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
HANDOFF = web.AppKey("handoff", Handoff)
WECHAT_CHANNEL = web.AppKey("wechat_channel", WeChatChannel)
EDGE = web.AppKey("edge", object)

__all__ = [
    "CATALOG", "DELIVERY", "DISPATCHER", "EDGE", "HANDOFF", "PLATFORM", "REDIS", "SCHEDULER", "SERVICES", "SETTINGS",
    "WECHAT", "WECHAT_CHANNEL", "WORKERS",
]
