"""An in-memory harness for dialog tests: a person's turns go straight to the bot's dispatcher
and its citizen `Conversation`, with no webhook, XML, signatures, encryption or bot HTTP server.

What a dialog reaches is real and built by the bot itself: `bot.app.create_app` builds the app
(so the harness gets the same `Services`, `Conversation`, bookings, subscriptions, ratings,
hand-off and catalog the bot runs, whatever their fields become), and `web.AppRunner.setup`
runs its start-up without listening. Sessions live in the in-memory conversation store
(bot/stores/memory.py, held to the Redis store's contract by tests/test_store_contract.py);
the services' own state is in the real Redis. The platform and WeChat simulators answer on one
loopback server of their own, mounted at /sim/platform and /sim/wechat as `_mount_simulators`
mounts them, so the platform client speaks the real API to them and pushed messages land where
`tests.support.received` reads them.

    h = await harness()          # (the fixture)
    reply = await h.say("办护照")  # the passive answer, as WeChat would show it
    h.pushed                      # what followed through the API (a long answer's rest)
    await h.session()             # the person's session, or None

Tests that need the channel (signatures, dedup of WeChat's retries, encryption, faults, the
admin API, several processes) stay over HTTP with tests/conftest.py's `client` and `Chat`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.web.appkeys import CATALOG, DISPATCHER, SERVICES
from bot.settings import Settings
from bot.stores.conversation import KEEP
from bot.stores.memory import MemoryConversationStore
from bot.turn.dispatcher import Dispatcher
from bot.web.channels.wechat import to_incoming
from dialogs.engine import Session
from integrations.platform.simulator import create_platform_simulator
from integrations.wechat.simulator import create_wechat_simulator
from tests.support import pushed

USER = "oUser0000000000000000000001"
_MSG_IDS = itertools.count(int(time.time() * 1000) % 10**12)  # unique per message, as WeChat's MsgId


def simulators() -> web.Application:
    """The outside systems the bot calls, as the dev server mounts them."""
    world = web.Application()
    world.add_subapp("/sim/platform", create_platform_simulator())
    world.add_subapp("/sim/wechat", create_wechat_simulator())
    return world


class Harness:
    """One bot, driven turn by turn. Every method takes `user=` to speak as someone else."""

    def __init__(self, app: web.Application, sims: TestClient, settings: Settings):
        self.app, self.sims, self.settings = app, sims, settings
        self.services = app[SERVICES]
        bot = app[DISPATCHER]
        self.conversation = bot.conversation
        self.idled = 0.0  # seconds the person has been away, as far as the store's clock knows
        self.store = MemoryConversationStore(bot.store.policy, clock=lambda: time.time() + self.idled)
        self.dispatcher = Dispatcher(self.store, self.conversation, settings, pusher=bot.pusher, languages=bot.languages)
        self.user = USER
        self.created = 0  # the CreateTime of the last message sent
        self.pushed: list[str] = []  # texts of the last turn that followed through the API

    # Speaking ---------------------------------------------------------------------------

    async def say(self, text: str, *, user: str | None = None) -> str | None:
        """Send a text; the answer WeChat would show at once (None: none)."""
        return await self.message({"MsgType": "text", "Content": text}, user=user)

    async def event(self, event: str, key: str = "", *, user: str | None = None) -> str | None:
        """A menu click, a subscription, a scan: WeChat's event and its key."""
        return await self.message({"MsgType": "event", "Event": event, "EventKey": key}, user=user)

    async def location(self, lat: str, lng: str, label: str = "", *, user: str | None = None) -> str | None:
        return await self.message({"MsgType": "location", "Location_X": lat, "Location_Y": lng, "Scale": "15", "Label": label}, user=user)

    async def message(self, fields: dict[str, str], *, user: str | None = None) -> str | None:
        """Any message, as the fields of WeChat's XML; mapped by the channel's own `to_incoming`.
        Like WeChat, a person who writes opens the window in which the bot may push to them."""
        who = user or self.user
        # An event's identity is its CreateTime (WeChat's retries share it): each one its own second.
        self.created = max(int(time.time()), self.created + 1)
        msg = {"ToUserName": "gh_harness", "FromUserName": who, "CreateTime": str(self.created), **fields}
        if fields.get("MsgType") != "event":
            msg["MsgId"] = str(next(_MSG_IDS))
        (await self.sims.post("/sim/wechat/_admin/interactions", json={"openid": who})).release()
        before = len(await pushed(self.sims, who))
        outcome = await self.dispatcher.receive(to_incoming(msg))
        await self.dispatcher.drain()  # a long answer's rest, pushed
        self.pushed = (await pushed(self.sims, who))[before:]
        return outcome.texts[0] if outcome.texts else None

    def as_user(self, user: str) -> Speaker:
        """Another person on the same bot, with `say` and `event` of their own."""
        return Speaker(self, user)

    # Sessions -----------------------------------------------------------------------------

    async def session(self, user: str | None = None) -> Session | None:
        """The person's session as the store keeps it (read under their lock)."""
        seen: list[Session | None] = []

        async def read(session: Session | None):
            seen.append(session)
            return KEEP

        await self.store.change(user or self.user, read)
        return seen[0]

    async def put_session(self, dialog: str, state: str, data: dict[str, Any] | None = None, *, user: str | None = None) -> None:
        """Start the person somewhere in a dialog, as if they had talked their way there."""

        async def put(_: Session | None):
            return Session(dialog, state, data or {})

        await self.store.change(user or self.user, put)

    def idle(self, seconds: float) -> None:
        """Let `seconds` pass for the conversation store: sessions, claims and traces lapse."""
        self.idled += seconds

    # Readiness ----------------------------------------------------------------------------

    async def catalog_ready(self, timeout: float = 90) -> None:
        await asyncio.wait_for(self.app[CATALOG].ready.wait(), timeout=timeout)


class Speaker:
    """One person talking through a harness: what `tests.conftest.Chat` is over HTTP."""

    def __init__(self, h: Harness, user: str):
        self.h, self.user = h, user

    async def say(self, text: str) -> str | None:
        return await self.h.say(text, user=self.user)

    async def event(self, event: str, key: str = "") -> str | None:
        return await self.h.event(event, key, user=self.user)


async def start(make_settings, redis, *, catalog: bool = True, **overrides) -> tuple[Harness, web.AppRunner, TestClient]:
    """A harness over a bot built with `make_settings(**overrides)`; the caller closes the
    runner and the client (the `harness` fixture does)."""
    sims = TestClient(TestServer(simulators()))
    await sims.start_server()
    base = str(sims.make_url("")).rstrip("/")
    values = dict(platform_url=f"{base}/sim/platform", wechat_api_url=f"{base}/sim/wechat", wecom_api_url=f"{base}/sim/wechat",
                  run_workers=False)  # no reminders or notices fire on their own: tests over HTTP cover those
    settings = make_settings(**{**values, **overrides})
    runner = web.AppRunner(create_app(settings, redis))
    await runner.setup()  # the app's start-up (clients, services, catalog) without listening
    h = Harness(runner.app, sims, settings)
    if catalog:
        await h.catalog_ready()
    return h, runner, sims
