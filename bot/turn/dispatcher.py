"""From an `Incoming` to its replies: exactly once, in order per person, under WeChat's deadline.

For each message:
1. `admit` (one step of the conversation store): the request nonce is recorded (a nonce used
   before with another body is a replay, refused), the message claimed (a retry of a message
   seen before gets the first answer, or waits for it until the deadline), counted against the
   person's rate limit and, for the first of their messages in this process, their lock taken
   and their state read.
2. The turn, a task of its own: the person's place in this process's line (FIFO, taken on
   arrival), their lock (taken BEFORE the session is read: `acquire`, unless admit took it),
   the conversation step, and `commit`, which saves the session, stores the answer for retries
   and releases the lock. On Redis that is two round trips for a new message (bot.stores.redis).
   The claim on the message is a lease: renewed while a long turn runs, so a retry never runs
   the message again while its turn is alive, and taken over by a retry when its process died.
3. The deadline: the request waits for the turn's task at most until `deadline_seconds`; then
   WeChat gets an empty ack at once and the replies follow through the pusher when ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Literal

from redis.exceptions import RedisError

from bot import metrics
from bot.services.catalog import CatalogNotReady
from bot.logs import Incidents, new_id, user_ref
from bot.turn.outbox import Pusher, pack
from bot.settings import Settings
from bot.stores import ConversationStore, MessageRef, Nonce, Snapshot, StorePolicy, Tally, turn_tallies
from dialogs import Conversation, Incoming, Reply
from dialogs.language import LANGUAGE, Language, before_turn
from integrations.platform.client import PlatformUnavailable, answer_by as platform_answer_by
from integrations.wechat.errors import WeChatAPIError, WeChatError

log = logging.getLogger(__name__)

PENDING = "P"


class Replayed(Exception):
    """The request's nonce was already used for a different body."""


@dataclass(slots=True)
class Outcome:
    """What the channel should answer now: passive `texts`, or an empty ack when None/empty."""

    texts: list[str]
    how: Literal["passive", "retry", "late", "ack", "busy", "limited"] = "passive"

    def __post_init__(self) -> None:
        metrics.note_outcome(self.how)


#: What a turn can meet that is not a bug, by kind: the person is told, and the log has one
#: warning per incident (bot.logs.Incidents). Anything else is logged as an error.
PASSING_TROUBLE = ((RedisError, "redis"), (CatalogNotReady, "catalog"), (PlatformUnavailable, "platform"), (TimeoutError, "slow turns"))
#: What a turn keeps for itself after the platform's last answer (the dialog's step, the commit,
#: the reply): platform calls must be done this long before WeChat's deadline. A turn that starts
#: with less than PLATFORM_AT_LEAST before that is late anyway and answers through the API: its
#: platform calls get until the turn's own timeout instead.
ANSWER_RESERVE_SECONDS = 0.25
PLATFORM_AT_LEAST_SECONDS = 0.5
#: WeChat errcodes that mean the request we built was wrong (a bug, an error), unlike its busy
#: system, quotas or a person out of reach (passing trouble): invalid message type, empty body,
#: empty content, content too long, malformed JSON.
OUR_FAULT = frozenset({40008, 44002, 44004, 45002, 47001})


class UserLines:
    """In-process FIFO per person: a place is taken on arrival, before any await, so one person's
    messages run in the order they reached this process. A place is a future, done when it is
    the first of its line; empty lines are removed."""

    def __init__(self) -> None:
        self._lines: dict[str, deque[asyncio.Future]] = {}

    def join(self, user: str) -> asyncio.Future:
        place = asyncio.get_running_loop().create_future()
        line = self._lines.setdefault(user, deque())
        if not line:
            place.set_result(None)
        line.append(place)
        return place

    def leave(self, user: str, place: asyncio.Future) -> None:
        line = self._lines.get(user)
        if line is None or place not in line:
            return
        was_first = line[0] is place
        line.remove(place)
        if not place.done():
            place.cancel()
        if not line:
            del self._lines[user]
        elif was_first:
            line[0].set_result(None)

    def __len__(self) -> int:
        return len(self._lines)


class Dispatcher:
    def __init__(self, store: ConversationStore, conversation: Conversation, settings: Settings, pusher: Pusher | None,
                 languages: bool = False):
        """`languages`: answer each person in their language (dialogs.language): citizens, not staff."""
        self.store = store
        self.languages = languages
        self.conversation = conversation
        self.settings = settings
        self.pusher = pusher
        self.lines = UserLines()
        self.background: set[asyncio.Task] = set()
        self.incidents = Incidents(log)
        render = conversation.services.render
        self._elder_turn = getattr(render, "elder_turn", None)
        self._cut_note = render("common/truncated.j2")
        self._held_intro = render("common/held.j2")
        self._renew_every = settings.dedup_lease_seconds / 3

    async def aclose(self) -> None:
        await self.store.aclose()

    # The entry point --------------------------------------------------------------------

    async def receive(self, incoming: Incoming, nonce: Nonce | None = None) -> Outcome:
        """Handle one delivery of a message. Raises `Replayed`; never raises for Redis trouble
        (the person is told the system is busy)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.deadline_seconds
        message = MessageRef(incoming.user, message_key(incoming), nonce.timestamp if nonce is not None else 0)
        place = self.lines.join(incoming.user)
        token = new_id()
        claim = PENDING + token
        snapshot = None
        try:
            try:
                # First in this process's line for the person: admit also tries their lock.
                admission = await self.store.admit(message, claim, lock=token if place.done() else None, nonce=nonce)
            except RedisError as exc:
                metrics.REDIS_ERRORS.labels("admit").inc()
                self.incidents.report("redis", "redis unavailable on admit, people are told 系统繁忙: %r", exc)
                self.lines.leave(incoming.user, place)
                return Outcome(self._busy(), "busy")
            if admission.verdict == "new":
                snapshot = admission.snapshot
            else:
                self.lines.leave(incoming.user, place)
                if admission.verdict == "replayed":
                    raise Replayed()
                if admission.verdict == "limited":
                    metrics.RATE_LIMITED.labels("user").inc()
                    return Outcome(list(self.store.policy.over_limit), "limited")
                metrics.DEDUP_HITS.inc()
                outcome = await self._answer_retry(message, admission.answer.state, deadline, claim)
                if outcome is not None:
                    return outcome
                # the first delivery's claim lapsed (its process died): this one runs the turn
                log.warning("message from %s claimed again: its first delivery's turn was abandoned", user_ref(incoming.user))
                place = self.lines.join(incoming.user)
        except BaseException:
            self.lines.leave(incoming.user, place)
            raise

        turn = loop.create_task(self._turn(incoming, message, place, token, claim, snapshot, deadline))
        done, _ = await asyncio.wait((turn,), timeout=max(0.0, deadline - loop.time()))
        if not done:  # the deadline: the turn goes on, and its answer follows through the API
            metrics.DEADLINE_OVERRUNS.inc()
            self._spawn(self._deliver_late(turn, incoming, message))
            return Outcome([], "late")
        replies = turn.result()
        if replies is None:  # claimed again elsewhere while this turn waited: that one answers
            return await self._answer_retry(message, "pending", deadline)
        texts = self._pack(replies)
        if len(texts) > 1:  # the rest of a long answer follows through the API
            self._spawn(self._push(incoming, texts[1:]))
        return Outcome(texts[:1])

    # Steps ------------------------------------------------------------------------------

    async def _answer_retry(self, message: MessageRef, state: str, deadline: float, claim: str | None = None) -> Outcome | None:
        """Waits (until the deadline) for the answer of a message in progress. With a `claim`:
        when the message's claim has lapsed (its process died mid-turn), claims it and returns
        None, and the caller runs the turn."""
        loop = asyncio.get_running_loop()
        delay = 0.02
        answer = None
        while True:
            try:
                if state == "none" and claim:  # nobody holds the message and nobody answered it
                    if await self.store.reclaim(message, claim):
                        return None
                    answer = await self.store.answer(message)
                    state = answer.state
                if state != "pending" or loop.time() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
                answer = await self.store.answer(message)
                state = answer.state
            except RedisError:
                break
        if state == "done" and answer is not None:
            return Outcome(self._pack([Reply(t) for t in answer.texts])[:1], "retry")
        if state == "done":  # the first answer, as admit found it
            answer = await self.store.answer(message)
            return Outcome(self._pack([Reply(t) for t in answer.texts])[:1], "retry")
        return Outcome([], "ack")

    async def _turn(self, incoming: Incoming, message: MessageRef, place: asyncio.Future, token: str, claim: str,
                    snapshot: Snapshot | None, deadline: float) -> list[Reply] | None:
        """The replies; None when the message's claim was lost before the turn could start
        (another delivery claimed it after this one's lease lapsed, and answers it). A turn
        that outlives `turn_timeout_seconds` before its step is done is abandoned."""
        user = incoming.user
        locked = snapshot is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        keeper = ClaimKeeper(self.store, message, claim, self._renew_every, self.incidents)
        try:
            async with asyncio.timeout(self.settings.turn_timeout_seconds):
                if snapshot is None:
                    await place
                    snapshot = await self.store.acquire(message, token, claim)
                    if snapshot is None:
                        log.warning("turn for %s not run: its message was claimed by another delivery", user_ref(user))
                        return None
                    locked = True
                platform_answer_by.set(platform_due(deadline, started + self.settings.turn_timeout_seconds, loop.time()))  # this task's own context
                tallies: list[Tally] = []
                turn_tallies.set(tallies)  # counts the turn makes go with its commit
                if self.languages:  # the renderer reads it (bot.templating); this task's own context too
                    LANGUAGE.set(self._language(snapshot, incoming))
                session, replies = await self.conversation.step(snapshot.session, incoming, expired=snapshot.expired)
                if self.languages and self._elder_turn is not None:  # 长辈模式's rules over the whole answer (bot.templating)
                    replies = [Reply(text) for text in self._elder_turn([r.text for r in replies])]
            if snapshot.held:  # answers we could not push earlier come first, now that we can reply
                earlier = [Reply(t) for t in snapshot.held]
                if not earlier[0].text.startswith(self._held_intro):  # held twice: introduced once
                    earlier.insert(0, Reply(self._held_intro))
                replies = [*earlier, *replies]
            profile = LANGUAGE.get().remembered(snapshot.profile) if self.languages else None
            if not await self.store.commit(message, token, session, [r.text for r in replies], len(snapshot.held), profile, tallies=tallies):
                log.warning("turn for %s outlived its lock; session not saved", user_ref(user))
            locked = False
            return replies
        except Exception as exc:  # the person hears an apology; the cause goes to the log
            if isinstance(exc, RedisError):
                metrics.REDIS_ERRORS.labels("turn").inc()
            kind = next((kind for cls, kind in PASSING_TROUBLE if isinstance(exc, cls)), None)
            if kind is not None:
                self.incidents.report(kind, "%s trouble: a turn was cut short and the person told so: %r", kind, exc)
            else:
                log.exception("turn for %s failed", user_ref(user))
            if isinstance(exc, CatalogNotReady):  # start-up: the guides are still being fetched
                replies = [Reply(self.conversation.services.render("common/loading.j2"))]
            else:
                replies = [Reply(self._busy()[0])]
            try:
                await self.store.abandon(message, token if locked else None, [r.text for r in replies])
            except RedisError as err:
                self.incidents.report("redis", "could not record a failed turn: %r", err)
            return replies
        finally:
            keeper.stop()
            self.lines.leave(user, place)
            metrics.TURN_SECONDS.observe(loop.time() - started)

    async def _deliver_late(self, turn: asyncio.Task, incoming: Incoming, message: MessageRef) -> None:
        replies = await turn  # _turn never raises
        if replies is None:  # claimed by another delivery, which answers it
            return
        try:
            await self.store.answered_late(message)
        except RedisError as exc:
            self.incidents.report("redis", "could not mark a late answer: %r", exc)
        texts = self._pack(replies)
        if texts:
            await self._push(incoming, texts)

    async def _push(self, incoming: Incoming, texts: list[str]) -> None:
        """Push texts; whatever cannot reach the person now is held for their next message."""
        try:
            undelivered = await self.pusher.push(incoming, texts)
        except WeChatError as exc:
            if isinstance(exc, WeChatAPIError) and exc.errcode in OUR_FAULT:
                log.error("WeChat refused a reply to %s as malformed (%s); holding the replies", user_ref(incoming.user), exc)
            else:
                self.incidents.report("wechat", "WeChat did not take late replies, held for the person's next message: %s: %s",
                                      type(exc).__name__, exc)
            undelivered = texts
        except Exception:
            log.exception("pushing to %s failed; holding the replies", user_ref(incoming.user))
            undelivered = texts
        if undelivered:
            try:
                await self.store.hold(incoming.user, undelivered)
            except RedisError as exc:
                log.error("lost %d undeliverable replies for %s: %s", len(undelivered), user_ref(incoming.user), exc)

    # Helpers ----------------------------------------------------------------------------

    def _pack(self, replies: list[Reply]) -> list[str]:
        return pack(replies, self.settings.passive_reply_max_bytes, self.settings.max_messages_per_turn, self._cut_note)

    @staticmethod
    def _language(snapshot: Snapshot, incoming: Incoming) -> Language:
        session = snapshot.session
        at_rest = session is None or session.at_rest or snapshot.expired
        return before_turn(snapshot.profile, incoming.text if incoming.kind == "text" else None, at_rest)

    def _busy(self) -> list[str]:
        return [self.conversation.services.render("common/busy.j2")]

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background delivery failed", exc_info=task.exception())

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for late deliveries in flight (on shutdown)."""
        if self.background:
            await asyncio.wait(set(self.background), timeout=timeout)


class ClaimKeeper:
    """Renews a message's claim every `every` seconds while its turn runs. Most turns end before
    the first renewal, and then this was one timer, cancelled."""

    __slots__ = ("store", "message", "claim", "every", "incidents", "_timer", "_task")

    def __init__(self, store: ConversationStore, message: MessageRef, claim: str, every: float, incidents: Incidents):
        self.store, self.message, self.claim, self.every, self.incidents = store, message, claim, every, incidents
        self._task: asyncio.Task | None = None
        self._timer = asyncio.get_running_loop().call_later(every, self._renew_soon)

    def _renew_soon(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        try:
            if not await self.store.renew(self.message, self.claim):
                return  # answered, or claimed by another delivery: nothing left to keep
        except RedisError as exc:  # the next renewal may get through before the lease lapses
            self.incidents.report("redis", "could not renew a message's claim: %r", exc)
        self._timer = asyncio.get_running_loop().call_later(self.every, self._renew_soon)

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


def platform_due(deadline: float, timeout_at: float, now: float) -> float:
    """When the platform must have answered a turn's calls (integrations.platform.client's
    `answer_by`): in time for the passive reply due at `deadline`, or, for a turn starting too
    late for one, before the turn's own timeout."""
    due = deadline - ANSWER_RESERVE_SECONDS
    if due - now < PLATFORM_AT_LEAST_SECONDS:
        due = timeout_at - ANSWER_RESERVE_SECONDS
    return due


def store_policy(settings: Settings, over_limit: list[str]) -> StorePolicy:
    """The conversation store's lifetimes and limits, from the settings."""
    return StorePolicy(
        claim_seconds=settings.dedup_lease_seconds, lock_seconds=settings.lock_ttl_seconds,
        session_seconds=settings.session_ttl_seconds, trace_seconds=settings.session_notice_ttl_seconds,
        answer_seconds=settings.dedup_ttl_seconds, nonce_seconds=settings.timestamp_window_seconds * 2,
        timestamp_window=settings.timestamp_window_seconds, held_seconds=settings.held_ttl_seconds,
        rate_limit=settings.rate_limit_user_messages, rate_window=max(1, settings.rate_limit_window_seconds),
        over_limit=tuple(over_limit),
    )


def message_key(incoming: Incoming) -> str:
    """WeChat's dedup identity: MsgId for messages, CreateTime + event + key for events."""
    if incoming.msg_id:
        return f"m:{incoming.msg_id}"
    return f"e:{incoming.created}:{incoming.kind}:{incoming.text[:64]}"
