"""The matter catalog as the bot sees it: every matter and 一件事 bundle the platform lists,
searchable, with guides and halls fetched once and kept; rebuilt when the platform's catalog
version changes.

Built in the background after start-up (in dev the platform is the simulator on this same
server, which answers only once the server listens) and checked again every few minutes.

A search reads a sentence model (bot/search/semantic.py), a few milliseconds of numpy per new
question: `find` runs it on one search thread, never on the event loop, so other people's turns
go on meanwhile and the search's CPU is one core at most."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from redis.exceptions import RedisError

from bot.stores import turn_tallies
from dialogs.language import ENGLISH, LANGUAGE
from integrations.platform.client import PlatformClient, PlatformError, PlatformUnavailable
from integrations.platform.models import Bundle, BundleCard, Guide, Hall, MatterSummary

log = logging.getLogger(__name__)


#: Index builds in this process, by catalog version: a second app on the same catalog (or a
#: refresh that finds the version unchanged) reuses the build, finished or in flight, instead
#: of indexing again. A build runs in a thread and is not tied to the app that started it.
_BUILDS: dict[str, Future] = {}
_BUILDING = threading.Lock()  # one build (or model load) at a time
#: Searches that are not answered from the index's cache run here, one at a time.
_SEARCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-search")

#: Values kept by `Catalog.derived` per catalog version: a card per guide and a few prompts.
DERIVED_SIZE = 4096


def _in_background(work, *args) -> Future:
    """`work(*args)` on a daemon thread, one at a time. A cold build encodes every matter's
    sentence vectors (seconds to minutes on a busy machine): a process told to stop meanwhile
    exits at once instead of waiting for it (an executor's threads would hold the exit). The
    vectors are written to var/ atomically, so a build cut short leaves nothing half-written."""
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            with _BUILDING:
                future.set_result(work(*args))
        except BaseException as exc:  # handed to whoever awaits the build
            future.set_exception(exc)

    threading.Thread(target=run, name="catalog-index", daemon=True).start()
    return future


class CatalogNotReady(Exception):
    """The catalog has not been loaded yet (or the platform is down since start-up)."""


class Catalog:
    def __init__(self, platform: PlatformClient, index_factory, refresh_seconds: float = 300.0, outcomes=None):
        self.platform = platform
        self.outcomes = outcomes  # bot.search.outcomes.SearchOutcomes: what became of each search
        self.index_factory = index_factory
        self.refresh_seconds = refresh_seconds
        self.index = None
        self.version = ""
        self.summaries: dict[str, MatterSummary] = {}
        self.guides: dict[str, Guide] = {}
        self.halls: dict[str, Hall] = {}
        self.bundles: dict[str, Bundle] = {}
        self._derived: dict = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    # Lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep_fresh())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _keep_fresh(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.refresh()
                delay = self.refresh_seconds
            except (PlatformUnavailable, PlatformError) as exc:
                log.warning("catalog not loaded: %s", exc)
                delay = min(max(delay * 2, 0.2), 30.0) if not self.ready.is_set() else self.refresh_seconds
            await asyncio.sleep(delay)

    async def refresh(self) -> bool:
        """Load the catalog if its version changed; returns whether it was rebuilt."""
        page = await self.platform.matters_page(limit=1)
        if page.version == self.version and self.index is not None:
            return False
        started = time.perf_counter()
        version = page.version
        build = _BUILDS.get(version)
        if build is None or build.cancelled() or (build.done() and build.exception() is not None):
            summaries, version = await self.platform.all_matters()
            guides = await self.platform.all_guides()
            bundles = await self._bundles()
            build = _in_background(self._build, summaries, guides, bundles, version)
            _BUILDS.clear()
            _BUILDS[version] = build
        index, summaries, guides, bundles = await asyncio.shield(asyncio.wrap_future(build))
        halls = await self.platform.halls()
        self.index, self.version = index, version
        self.summaries = {m.code: m for m in summaries}
        self.guides = {g.code: g for g in guides}
        self.bundles = {b.code: b for b in bundles}
        self.halls = {h.id: h for h in halls}
        self._derived = {}  # replaced with the guides and halls it was made from, in the same step
        self.ready.set()
        _in_background(index.warm)  # the sentence model, if the vectors came from var/ without it
        # The index and guides live as long as this catalog version: moved out of the garbage
        # collector's sight, a full collection no longer walks them (otherwise a 45+ ms pause
        # every few thousand messages, the p99 of a busy bot).
        gc.freeze()
        log.info("catalog %s: %d matters, %d guides, built in %.2f s", version, len(summaries), len(guides), time.perf_counter() - started)
        return True

    async def _bundles(self) -> list[Bundle]:
        """The platform's bundles, each as its card (matters, departments, promised time, the
        halls where one visit covers all of it) so that dialogs read them without a call; a
        bundle whose card cannot be had stays a plain bundle (no card, no bundle booking). A
        platform without bundles still has a searchable catalog."""
        try:
            bundles = await self.platform.bundles()
        except PlatformError as exc:
            log.warning("catalog without bundles: %s", exc)
            return []
        cards = await asyncio.gather(*(self.platform.bundle(b.code) for b in bundles), return_exceptions=True)
        for card in cards:
            if isinstance(card, BaseException) and not isinstance(card, (PlatformError, PlatformUnavailable)):
                raise card
        return [card if isinstance(card, BundleCard) else bundle for bundle, card in zip(bundles, cards)]

    def _build(self, summaries, guides, bundles, version) -> tuple:
        return self.index_factory(summaries, guides, bundles, version), summaries, guides, bundles

    # What dialogs use -----------------------------------------------------------------------

    def search(self, query: str, top: int = 5) -> list:
        """Matters found by the lexical index alone: quick enough to run in a turn (the booking
        dialog's list of bookable matters). Questions to the bot go through `find`. A query
        without Chinese (English: "passport") is read through the lexicon's English glosses,
        as `find` reads it."""
        if self.index is None:
            raise CatalogNotReady()
        lexical = self.index.lexical
        if not any("\u3400" <= ch <= "\u9fff" for ch in query):
            query = lexical.lexicon.gloss(query) or query
        return lexical.search(query, top=top)

    async def find(self, query: str, top: int = 5):
        """The whole search (bot/search/hybrid.py): its verdict and ranked hits. A question asked
        before is answered from the index's cache at once; a new one goes to the search thread
        (the sentence model takes milliseconds: never on the event loop)."""
        index = self.index
        if index is None:
            raise CatalogNotReady()
        if (found := index.known(query, top)) is not None:
            return found
        return await asyncio.get_running_loop().run_in_executor(_SEARCHER, index.find, query, top)

    async def record(self, query: str, outcome: str) -> None:
        """Count what became of a search (bot/search/outcomes.py): in a turn, the count rides on
        the turn's commit; outside one it is written now. A Redis hiccup costs the count, never
        the person's answer."""
        if self.outcomes is None or not query:
            return
        pending = turn_tallies.get()
        if pending is not None:
            tally = self.outcomes.tally(query, outcome)
            if tally is not None:
                pending.append(tally)
            return
        try:
            await self.outcomes.record(query, outcome)
        except (RedisError, OSError) as exc:
            log.warning("search outcome not recorded: %s", type(exc).__name__)

    def guide(self, code: str) -> Guide | None:
        return self.guides.get(code)

    def summary(self, code: str) -> MatterSummary | None:
        return self.summaries.get(code)

    def derived(self, key, make):
        """A value made from this version of the catalog alone, the same for every person (a
        guide's card as rendered): made once by `make()`, kept until the catalog changes. Keep
        values immutable (text): every caller gets the same object. Text is rendered in the
        turn's language and mode (bot.templating), so a value made for English, or for
        长辈模式 (its own shorter card), is kept apart."""
        derived = self._derived
        language = LANGUAGE.get()
        if language.code == ENGLISH:
            key = (ENGLISH, key)
        elif language.elder:
            key = ("elder", key)
        value = derived.get(key)
        if value is None:
            value = make()
            if len(derived) < DERIVED_SIZE:
                derived[key] = value
        return value
