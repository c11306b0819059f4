"""The dialog engine: channel-neutral messages, the session, and the base of every dialog.

A dialog is a module with a transition table at the top and a `Dialog` subclass below it whose
methods are the table's conditions and actions. Its transitions machine is built once, when the
class is defined; each turn creates a light instance of the class (the per-turn model) holding
the session's state and data, triggers one event, and is thrown away.

Guards are pure: a condition (`when`) only reads the turn (the message, the session's data,
what this event's prepare action found) and in-memory read-only ports (the catalog, the settings, the
staff directory); it never awaits, never calls the platform or a store, never writes the session.
What a guard needs from the world is fetched first, by the prepare action of the (trigger,
state) (`P` rows in a dialog's `PREPARE` table; the machine runs it as its `prepare_event`,
once per event, after checking the state has transitions for it and before any condition): it
does the I/O and writes what it found where the guards read it. Actions (`then`, one or a list)
do the rest. So the rows say everything: which I/O happens (the prepare, drawn as a note on the
state), and which guard picks which action; tests/test_pure_guards.py runs every guard with
services that raise on any call.

Citizens' and staff dialogs live in two registries (`CITIZEN_DIALOGS`, `STAFF_DIALOGS`): a
dialog names its own (`class Desk(Dialog, registry=STAFF_DIALOGS)`), and each conversation
looks names up only in its own, so neither side can reach the other's dialogs.

The machine is the definition (it checks the table, and `python -m bot diagrams` draws from it),
but a turn does not go through it: transitions' async machinery (an `asyncio.gather` for every
condition and callback list, a task each) costs tens of microseconds per event. When the class
is defined the machine's events are compiled into a plain table, trigger -> state -> candidate
transitions, and `Dialog.fire` walks that, awaiting a condition or callback only when it returns
an awaitable. It keeps the machine's semantics (see `_compile`); a table using something the
compiled form does not cover falls back to the machine.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from transitions.extensions.asyncio import AsyncMachine

from dialogs.ports import Attachments, Bookings, Catalog, Consents, HallSetting, Platform, Queue, Ratings, Render, SettingsView, Subscriptions

if TYPE_CHECKING:
    from dialogs.handoff import CitizenDesk
    from dialogs.staff import StaffServices

# The loggers transitions itself reports on, so that the compiled dispatch logs what it logged:
# an ignored trigger (a warning) and an exception raised by a condition or callback (an error,
# made DEBUG by `_RaisedOn`).
_CORE_LOG = logging.getLogger("transitions.core")
_ASYNC_LOG = logging.getLogger("transitions.extensions.asyncio")


class _RaisedOn(logging.Filter):
    """transitions logs an exception from a condition or callback as an ERROR and raises it on.
    Whoever triggered the event hears it and knows whether it is passing trouble (Redis down, the
    guides still loading: a warning once per incident) or a bug (an error): here it is DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith("%sException was raised while processing the trigger"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_ASYNC_LOG.addFilter(_RaisedOn())

#: Set (to the task) while an event is being processed, by transitions' machines and by the
#: compiled dispatch alike: an event fired from inside a callback (a nested event) lets a
#: CancelledError propagate; only the outermost one turns it into a False result.
_FIRING: contextvars.ContextVar[asyncio.Task | None] = AsyncMachine.current_context

#: Message kinds an `Incoming` can have. Media kinds get a polite answer (what photos are for
#: here, that voice cannot be heard yet, or "text only") unless the active dialog has a
#: transition for them. A voice message WeChat recognised arrives as text (`Incoming.heard`).
MEDIA_KINDS = frozenset({"image", "voice", "video", "shortvideo", "location", "link", "file"})
#: Media kinds that may carry a document: a 补正 material, or a picture for an agent.
DOCUMENT_KINDS = frozenset({"image", "file"})


@dataclass(slots=True)
class Incoming:
    """One message or event from a person, whatever channel it came through."""

    channel: str  # wechat | wecom | console
    user: str  # the sender's id on that channel (openid, WeCom userid)
    kind: str  # text | click | view | subscribe | unsubscribe | scan | <media kind> | unknown
    text: str = ""  # the text, or the event key of a click / scan
    msg_id: str = ""
    created: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: What the understanding step read in `text` (dialogs.understand.Understanding), computed on
    #: first use (`understanding`) with the expectations of the step the message answers, then
    #: read by the conversation and by every dialog this message reaches: once per message.
    understood: Any = field(default=None, repr=False, compare=False)
    #: What the reading of `text` shares whatever step it answers (dialogs.understand's
    #: `Analysis`): made once, used by every reading of this message (`analysis_of`).
    analysis: Any = field(default=None, repr=False, compare=False)
    _word: tuple[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def word(self) -> str:
        """`text` normalised (`normalise`), worked out once per message: the conversation's
        global words and routes and every dialog guard match this."""
        if self._word is None or self._word[0] is not self.text:
            self._word = (self.text, normalise(self.text))
        return self._word[1]

    @property
    def heard(self) -> bool:
        """A voice message WeChat's speech recognition turned into this text (bot.web.channels.wechat)."""
        return bool(self.extra.get("heard"))


@dataclass(slots=True)
class Reply:
    """One piece of text for the person; the channel decides how to deliver it."""

    text: str


#: Session data kept while at rest: the turns in a row the bot could not use, and whether 长辈模式
#: was offered after a slow one (dialogs.smalltalk).
STREAK_KEY = "_unused"
ELDER_OFFERED_KEY = "_elder_offered"
#: What the person told the bot that outlives the dialog it was told in (`Dialog.remember`): kept
#: in the session's data by the conversation, whichever dialog comes next; it does not take a
#: session out of rest.
MEMORY_KEY = "_memory"
#: Frustration the person vented (dialogs.conversation), kept for an agent they may ask for next
#: (dialogs.handoff.context_of); it does not take a session out of rest either.
GRIEVANCE_KEY = "_grievance"
_QUIET_KEYS = frozenset({STREAK_KEY, ELDER_OFFERED_KEY, MEMORY_KEY, GRIEVANCE_KEY})
#: Entries a session remembers at most (the oldest is forgotten first).
MEMORY_ENTRIES = 8
#: This turn's memory: set by the conversation around a turn (dialogs.conversation), None outside one.
MEMORY: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("memory", default=None)


@dataclass(slots=True)
class Session:
    """What we remember about one person's conversation, stored as JSON with an idle TTL."""

    dialog: str = "menu"
    state: str = "idle"
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    #: Dialogs paused by a digression, latest last: {"dialog", "state", "data", "offered"}
    #: (dialogs.conversation). They live and expire with the session.
    paused: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        raw = {"dialog": self.dialog, "state": self.state, "data": self.data, "updated_at": self.updated_at}
        if self.paused:
            raw["paused"] = self.paused
        return raw

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Session:
        """Each field as `str(value or default)` / `float(value or 0.0)` would give it; a value
        already of that type (what `to_json` stored) is taken as it is, without the call."""
        dialog, state, data, updated_at = raw.get("dialog"), raw.get("state"), raw.get("data"), raw.get("updated_at")
        paused = raw.get("paused")
        return cls(
            dialog if dialog.__class__ is str and dialog else str(dialog or "menu"),
            state if state.__class__ is str and state else str(state or "idle"),
            data if isinstance(data, dict) else {},
            updated_at if updated_at.__class__ is float and updated_at else float(updated_at or 0.0),
            [entry for entry in paused if isinstance(entry, dict)] if isinstance(paused, list) else [],
        )

    @property
    def at_rest(self) -> bool:
        """True when nothing is in progress, so an expiry needs no apology."""
        return self.dialog == "menu" and (not self.data or self.data.keys() <= _QUIET_KEYS)


@dataclass(slots=True)
class Services:
    """What dialogs may use: handed in by the bot, so dialogs never import it."""

    render: Render
    halls: list[HallSetting] = field(default_factory=list)
    catalog: Catalog | None = None  # search and guides (bot.services.catalog.Catalog)
    max_misses: int = 3
    settings: SettingsView | None = None  # bot.settings.Settings (read only)
    platform: Platform | None = None  # integrations.platform.client.PlatformClient: booking, cases
    bookings: Bookings | None = None  # bot.services.bookings.Bookings: remembered applicants, reminders
    subscriptions: Subscriptions | None = None  # bot.services.subscriptions.Subscriptions: verified cases, subscriptions, bindings
    ratings: Ratings | None = None  # bot.services.ratings.Ratings: 好差评
    handoff: CitizenDesk | None = None  # bot.services.handoff.Handoff: the human hand-off
    queue: Queue | None = None  # bot.services.queue.HallQueue: 取号 and 排到哪了
    consents: Consents | None = None  # bot.services.consent.Consents: 我的授权, 订阅政策 / 退订政策
    attachments: Attachments | None = None  # bot.services.attachments.Attachments: photos and files sent in chat


#: The halls people may name, read from the catalog's halls once per catalog version.
_HALL_NAMES: list[Any] = [None, None]  # [the catalog's halls dict, its HallNames]


def guide_halls(catalog: Catalog, guide: Any) -> list[Any]:
    """The halls a matter's guide (or a bundle) names that the catalog knows, in its order; none
    for no guide."""
    known = catalog.halls
    return [known[h] for h in getattr(guide, "halls", None) or () if h in known]


def hall_names(catalog: Catalog | None):
    """`dialogs.understand.HallNames` of the catalog's halls (None before it has loaded)."""
    halls = getattr(catalog, "halls", None)
    if not halls:
        return None
    if _HALL_NAMES[0] is not halls:
        from dialogs.understand import HallNames  # imports dialogs.progress, which imports this module

        _HALL_NAMES[:] = [halls, HallNames.of(halls.values())]
    return _HALL_NAMES[1]


def understanding(incoming: Incoming, services: Services | Any, expects: frozenset[str] | tuple = ()):
    """What `incoming` says (dialogs.understand.Understanding), read once per message: the first
    caller's `expects` (the kinds of slot the step it answers asks for) settle its ambiguities;
    later callers share that reading. A message that is not text says nothing."""
    if incoming.understood is None:
        from dialogs.understand import shanghai_today, understand

        settings = getattr(services, "settings", None)
        text = incoming.text if incoming.kind == "text" else ""
        incoming.understood = understand(text, shanghai_today(), hall_names(getattr(services, "catalog", None)), expects,
                                         getattr(settings, "case_number_pattern", None), analysis=analysis_of(incoming))
    return incoming.understood


def analysis_of(incoming: Incoming):
    """The step-independent part of reading `incoming` (dialogs.understand.Analysis), made on
    first use: the conversation's reading and the step's share it."""
    if incoming.analysis is None:
        from dialogs.understand import analyse

        incoming.analysis = analyse(incoming.text if incoming.kind == "text" else "")
    return incoming.analysis


def T(trigger: str, source: str | list[str], dest: str, when: str | None = None, then: str | list[str] | None = None) -> dict:
    """One row of a transition table: on `trigger` in `source`, if `when` (a pure guard), go to
    `dest`, then run `then` (an action, or several in order: only the last may await)."""
    row: dict[str, Any] = {"trigger": trigger, "source": source, "dest": dest}
    if when:
        row["conditions"] = when
    if then:
        row["after"] = then
    return row


def P(trigger: str, source: str | list[str], action: str) -> dict:
    """One row of a prepare table: on `trigger` in `source`, run `action` (which may do I/O and
    write what it found) once, before any guard of that (trigger, state) is asked."""
    return {"trigger": trigger, "source": source, "prepare": action}


#: The dialogs citizens reach (WeChat, the console) and those staff reach (WeCom): two worlds.
CITIZEN_DIALOGS: dict[str, type[Dialog]] = {}
STAFF_DIALOGS: dict[str, type[Dialog]] = {}

#: The machine's `prepare_event`: runs the dialog's prepare for the event being fired.
PREPARE_HOOK = "_prepare_on_machine"

#: One compiled candidate transition: (condition or None, the value it must equal, dest or None
#: for no state change, the after-callbacks in order).
Candidate = tuple[str | None, bool, str | None, tuple[str, ...]]


def _check_actions(cls: type) -> None:
    """Only the last action of a row may be a coroutine: transitions starts a row's callbacks
    together (asyncio.gather), so plain ones run in order but an awaiting one would interleave
    with those after it."""
    for row in cls.TRANSITIONS:
        then = row.get("after")
        for name in (then[:-1] if isinstance(then, list) else []):
            if inspect.iscoroutinefunction(getattr(cls, name, None)):
                raise TypeError(f"{cls.__name__}: {name!r} awaits, so it must be the last action of its row")


def _prepared(cls: type, machine: AsyncMachine) -> dict[str, dict[str, str]]:
    """`cls.PREPARE` as trigger -> state -> the prepare action; a row naming an unknown trigger,
    state or method, or a second prepare for one (trigger, state), is an error in the table."""
    table: dict[str, dict[str, str]] = {}
    for row in cls.PREPARE:
        trigger, source, action = row["trigger"], row["source"], row["prepare"]
        if trigger not in machine.events or not callable(getattr(cls, action, None)):
            raise ValueError(f"{cls.__name__}: prepare {action!r} for unknown trigger or method")
        states = list(machine.states) if source == "*" else [source] if isinstance(source, str) else list(source)
        for state in states:
            if state not in machine.states:
                raise ValueError(f"{cls.__name__}: prepare {action!r} in unknown state {state!r}")
            if state in table.setdefault(trigger, {}):
                raise ValueError(f"{cls.__name__}: two prepares for {trigger!r} in {state!r}")
            table[trigger][state] = action
    return table


class _Model:
    """What `AsyncMachine.resolve_callable` needs of an event: its model."""

    __slots__ = ("model",)

    def __init__(self, model: Any):
        self.model = model


def _resolve(model: Any, name: str) -> Callable[[], Any]:
    """The rare path of name resolution, when the model has no such attribute: transitions'
    own (a dotted path to import, else its AttributeError)."""
    return AsyncMachine.resolve_callable(name, _Model(model))


def _compile(cls: type, machine: AsyncMachine) -> dict[str, dict[Any, tuple[Candidate, ...] | str]] | None:
    """Compile `machine`'s events into trigger -> state -> the ordered candidate transitions
    (a string instead: the warning transitions logs when it ignores the trigger in that state).

    Covered, with transitions' semantics: conditions and `unless` (at most one per transition:
    the machine evaluates several concurrently), `after` callbacks (run in order), a source of "*" or a
    list, dest "=" (resolved by the machine), dest None (no state change). Anything else (more
    per-transition `prepare` (the dialog's `PREPARE` table runs once per event instead), `before`,
    state or machine callbacks, final states, a state that does
    not ignore invalid triggers, callables or names the class does not have) returns None: that
    dialog goes through the machine."""
    if (machine.prepare_event != [PREPARE_HOOK] or machine.before_state_change or machine.after_state_change
            or machine.finalize_event or machine.on_exception or machine.on_final or machine.has_queue
            or machine.send_event or machine.model_attribute != "state"):
        return None
    for state in machine.states.values():
        ignores = state.ignore_invalid_triggers if state.ignore_invalid_triggers is not None else machine.ignore_invalid_triggers
        if state.on_enter or state.on_exit or state.final or not ignores:
            return None
        if not isinstance(state.value, str) or state.value != state.name:
            return None

    def named(func: Any) -> bool:
        return isinstance(func, str) and hasattr(cls, func)

    table: dict[str, dict[Any, tuple[Candidate, ...] | str]] = {}
    for trigger, event in machine.events.items():
        rows: dict[Any, tuple[Candidate, ...] | str] = {}
        for state in machine.states:
            if state not in event.transitions:
                rows[state] = "%sCan't trigger event %s from state %s!" % (machine.name, trigger, state)
                continue
            candidates = []
            for trans in event.transitions[state]:
                if trans.prepare or trans.before or len(trans.conditions) > 1:
                    return None
                if trans.dest and trans.dest not in machine.states:
                    return None
                cond, target = None, True
                if trans.conditions:
                    cond, target = trans.conditions[0].func, trans.conditions[0].target
                    if not named(cond):
                        return None
                if not all(named(after) for after in trans.after):
                    return None
                candidates.append((cond, target, trans.dest or None, tuple(trans.after)))
            rows[state] = tuple(candidates)
        table[trigger] = rows
    return table


class Dialog:
    """Base of the per-turn model. Subclasses set `name`, `title`, `STATES`, `TRANSITIONS`,
    `PROMPTS` (state -> template that asks that state's question) and the handler methods."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    STATES: ClassVar[list[str]]
    TRANSITIONS: ClassVar[list[dict]]
    PROMPTS: ClassVar[dict[str, str]] = {}
    #: `P` rows: what to fetch before the guards of a (trigger, state) are asked.
    PREPARE: ClassVar[list[dict]] = []
    #: `PREPARE` as trigger -> state -> action (built with the machine).
    prepares: ClassVar[dict[str, dict[str, str]]] = {}
    machine: ClassVar[AsyncMachine]
    #: The machine compiled for `fire` (see `_compile`); None: `fire` goes through the machine.
    compiled: ClassVar[dict[str, dict[Any, tuple[Candidate, ...] | str]] | None] = None
    #: States in which the dialog takes every message itself, global words included, and words
    #: it understands itself before they mean anything globally (dialogs.conversation): empty
    #: here, so the conversation reads them without a getattr default.
    CAPTURES: ClassVar[frozenset[str]] = frozenset()
    OWN_WORDS: ClassVar[frozenset[str]] = frozenset()
    #: States whose question a cancel word answers (我的预约's 取消 of this appointment, and its
    #: 确定取消吧): state -> what a message must hold to be the step's rather than a way out of
    #: the dialog ("" for any cancel word: 算了 there keeps the appointment, and says so).
    CANCEL_ANSWERS: ClassVar[dict[str, str | tuple[str, ...]]] = {}

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """Whether a message typed at `state` is this dialog's in any case, never a question to
        search or a shortcut elsewhere (我的预约: 那个预约取消掉, 改到周四). None here."""
        return False
    #: What each step reads from free text: state -> kinds of slot (dialogs.understand.SlotKind
    #: values). The message is read with these expectations, and a message holding one of them
    #: is an answer to the step before it is anything else: no global detector outranks it.
    EXPECTS: ClassVar[dict[str, frozenset[str]]] = {}
    #: The slot that answers a step: state -> kind. When the message that answered one step also
    #: holds the answer to the step it leads to, that step is answered too instead of asked.
    FILLS: ClassVar[dict[str, str]] = {}
    #: States in which nothing more is asked (a card is shown): a digression from them pauses
    #: nothing, reaching one ends a digression (dialogs.conversation offers 继续), and small talk
    #: there is answered without asking anything again (dialogs.smalltalk).
    DONE: ClassVar[frozenset[str]] = frozenset()
    #: States whose question any text answers (a search, a reason): a question about a matter
    #: typed there is theirs, never a digression to the guides.
    FREE_TEXT: ClassVar[frozenset[str]] = frozenset()
    #: States whose answer is whatever the person writes (a complaint's reason): no words in it
    #: (窗口, 电话, 几点) ever turn the message into a question about something else.
    KEEPS_TEXT: ClassVar[frozenset[str]] = frozenset()
    #: States that read no slot (`EXPECTS`) but whose question a need is no answer to (a credit
    #: code's step): a question that clearly names a matter is searched there, as at a step
    #: that expects slots (dialogs.conversation).
    SEARCHED: ClassVar[frozenset[str]] = frozenset()
    #: Leaving this dialog (取消, 退出) changes nothing it shows: said so (已退出「我的预约」，预约
    #:没有任何改动), never "已取消「我的预约」", which reads as the appointment cancelled.
    LEAVING_CHANGES_NOTHING: ClassVar[bool] = False
    #: Only shows what was asked (a guide, the halls): leaving it is leaving off reading (好的，先不看了),
    #: not a thing cancelled (已取消「办事指南」 read cold, and as if something had been undone).
    JUST_LOOKING: ClassVar[bool] = False
    #: Cancelled (算了 不约了) before it is done, it is kept for 继续 (哎 还是约吧), and the person told so.
    KEPT_WHEN_CANCELLED: ClassVar[bool] = False
    #: States not kept for 继续 when the person turns to something else: nothing in them is worth
    #: coming back to (a list of matters a search offered, the question after it found nothing).
    NOT_RESUMED: ClassVar[frozenset[str]] = frozenset()

    __slots__ = ("state", "data", "incoming", "services", "replies", "switch_to", "finished", "_event", "again", "answered")

    def __init_subclass__(cls, registry: dict[str, type[Dialog]] | None = None, **kwargs: Any) -> None:
        """A subclass with a `name` is a dialog: its machine is built and it joins `registry`
        (the citizens' unless it says otherwise)."""
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        cls.machine = AsyncMachine(
            model=None,
            states=cls.STATES,
            initial=cls.STATES[0],
            transitions=cls.TRANSITIONS,
            auto_transitions=False,
            ignore_invalid_triggers=True,
            name=cls.name,
            prepare_event=PREPARE_HOOK,
        )
        _check_actions(cls)
        cls.compiled = _compile(cls, cls.machine)
        cls.prepares = _prepared(cls, cls.machine)
        (CITIZEN_DIALOGS if registry is None else registry)[cls.name] = cls

    def __init__(self, state: str, data: dict, incoming: Incoming, services: Services | StaffServices, replies: list[Reply]):
        self.state = state
        self.data = data
        self.incoming = incoming
        self.services = services
        self.replies = replies
        self.switch_to: tuple[str, dict] | None = None
        self.finished = False
        #: Set by `ask` when the message answers the step just reached too: the engine fires again.
        self.again = False
        #: The states this message has been given already, in order (the engine's): none is asked
        #: twice, and 返回 steps back through each.
        self.answered: dict[str, None] = {}

    async def fire(self, trigger: str) -> bool:
        """Trigger `trigger` with this turn as the model: the (trigger, state)'s prepare action
        runs first, then the first candidate transition from the current state whose condition
        holds moves to its dest, then runs its callbacks. False when
        no candidate matched, or the dialog has no such event or none from this state.

        The candidates are tried here, not in a helper coroutine (one less coroutine per turn),
        as transitions' AsyncEvent does: a condition passes when its result (awaited if
        awaitable) == its target; exceptions propagate, logged as transitions logs them."""
        table = self.compiled
        if table is None:
            return await self.fire_on_machine(trigger)
        rows = table.get(trigger)
        if rows is None:
            return False
        candidates = rows.get(self.state)
        if candidates is None:
            raise ValueError("State '%s' is not a registered state." % self.state)
        if candidates.__class__ is str:  # no transition for this trigger from this state
            _CORE_LOG.warning(candidates)
            result = False
        else:
            outermost = _FIRING.get() is None
            if outermost:
                token = _FIRING.set(asyncio.current_task())
            try:
                try:
                    result = False
                    prepare = self.prepares.get(trigger) if self.prepares else None
                    if prepare is not None and self.state in prepare:
                        res = self._invoke(prepare[self.state])
                        if res is not None and inspect.isawaitable(res):
                            await res
                    for cond, target, dest, afters in candidates:
                        if cond is not None:
                            res = self._invoke(cond)
                            if res is not None and res is not True and res is not False and inspect.isawaitable(res):
                                res = await res
                            if not res == target:
                                continue
                        if dest is not None:
                            self.state = dest
                        if len(afters) == 1:
                            res = self._invoke(afters[0])
                            if res is not None and inspect.isawaitable(res):
                                await res
                        elif afters:
                            await self._run_all(afters)
                        result = True
                        break
                except BaseException as err:
                    _ASYNC_LOG.error("%sException was raised while processing the trigger '%s': %s", self.machine.name, trigger, repr(err))
                    raise
            except asyncio.CancelledError:
                if not outermost:  # a nested event lets it propagate
                    raise
                result = False  # as transitions does; the turn's own cancellation is raised below
            finally:
                if outermost:
                    _FIRING.reset(token)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # A turn that ran out of time must stop here, not carry on as if the input had not
            # matched.
            raise asyncio.CancelledError()
        return result

    async def _run_all(self, afters: tuple[str, ...]) -> None:
        """A row's actions in order, as transitions' gather runs them: one that raises does not
        stop those after it; the first error is raised when all have run."""
        error: Exception | None = None
        for after in afters:
            try:
                res = self._invoke(after)
                if res is not None and inspect.isawaitable(res):
                    await res
            except Exception as exc:  # noqa: BLE001  (raised below, as gather would)
                error = error or exc
        if error is not None:
            raise error

    async def _prepare(self, trigger: str) -> None:
        """Run the prepare action of (`trigger`, the current state), if the table has one."""
        action = self.prepares.get(trigger, {}).get(self.state) if self.prepares else None
        if action is not None:
            res = self._invoke(action)
            if res is not None and inspect.isawaitable(res):
                await res

    async def _prepare_on_machine(self) -> None:
        """The machine's `prepare_event`: transitions runs it once per event, after checking the
        state has transitions for it and before any condition, as `fire` runs `_prepare`."""
        await self._prepare(self._event)

    def _invoke(self, name: str):
        """A condition's or callback's result, as transitions resolves the name: a method or
        attribute of the model, else a dotted path."""
        try:
            func = getattr(self, name)
        except AttributeError:
            func = _resolve(self, name)
        return func() if callable(func) else func

    async def fire_on_machine(self, trigger: str) -> bool:
        """Trigger `trigger` on the shared transitions machine with this turn as the model (the
        reference `fire` agrees with; used by dialogs whose table `_compile` does not cover)."""
        event = self.machine.events.get(trigger)
        if event is None:
            return False
        self._event = trigger  # for `_prepare_on_machine`, which transitions calls without it
        result = await event.trigger(self)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # transitions turns a cancellation into a False result; a turn that ran out of
            # time must stop here, not carry on as if the input had not matched.
            raise asyncio.CancelledError()
        return bool(result)

    # What handlers use -------------------------------------------------------------------

    @property
    def user(self) -> str:
        """Who this turn is for (their openid): what every action on their data is keyed by."""
        return self.incoming.user

    @property
    def text(self) -> str:
        return self.incoming.text

    @property
    def word(self) -> str:
        """The text normalised (`normalise`), once per message."""
        return self.incoming.word

    def say(self, template: str, **context: Any) -> None:
        self.replies.append(Reply(self.services.render(template, **context)))

    @property
    def understood(self):
        """What this message says (`understanding`), read with this step's expectations unless
        the conversation read it first."""
        return understanding(self.incoming, self.services, self.EXPECTS.get(self.state, ()))

    def slot(self, kind: str) -> Any:
        """The value of `kind` this message holds (None: none, or two that disagree)."""
        if self.incoming.kind != "text":
            return None
        return self.understood.value(kind)

    def remember(self, key: str, value: Any) -> None:
        """Keep `value` for the rest of the session, past this dialog (e.g. the situation a person
        described on a guide, for a booking of that matter made later). JSON values only."""
        memory = MEMORY.get()
        if memory is None:  # not in a conversation's turn (a test driving a dialog alone)
            return
        memory.pop(key, None)
        memory[key] = value
        while len(memory) > MEMORY_ENTRIES:
            del memory[next(iter(memory))]

    def recalled(self, key: str) -> Any:
        """What `remember` kept under `key` earlier in the session, or None."""
        memory = MEMORY.get()
        return None if memory is None else memory.get(key)

    def answered_ahead(self) -> bool:
        """Whether the message that led here answers this step too (its `FILLS` slot), or holds
        two values for it that disagree (the engine then asks which)."""
        kind = self.FILLS.get(self.state)
        return (kind is not None and self.state not in self.answered and self.incoming.kind == "text"
                and (self.slot(kind) is not None or self.understood.conflict(kind) is not None))

    def ask(self) -> None:
        """Ask the question of the current state (unless the message answers it already: then
        the engine gives it the message instead)."""
        if self.answered_ahead():
            self.again = True
            return
        template = self.PROMPTS.get(self.state)
        if template:
            self.say(template, **self.prompt_context())

    def prompt_context(self) -> dict[str, Any]:
        """Values the state prompts need; dialogs override."""
        return {"data": self.data}

    def step_back(self) -> bool:
        """返回 inside one step that asks several questions (a guide's situation questions): undo
        the latest answer and return True (the step's question, now that one, is asked again).
        False here: 返回 goes to the step before (dialogs.conversation)."""
        return False

    def start(self, dialog: str, **carry: Any) -> None:
        """Hand the conversation to another dialog after this turn, with some data carried over."""
        self.switch_to = (dialog, carry)

    def finish(self) -> None:
        """This dialog is done; the person is back at the main menu."""
        self.finished = True


def now() -> float:
    return time.time()


_TRAILING = " \t\r\n。.!！?？~～,，、…"
_QUOTES = "「」『』“”‘’\"'【】《》"


def normalise(text: str) -> str:
    """Fold what people type for matching: full-width to half-width, lower case, no trailing
    punctuation, and no quotes around it (「我的预约」 copied from a reply is 我的预约)."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    if folded[:1] in _QUOTES or folded[-1:] in _QUOTES:
        folded = folded.strip(_QUOTES + " ") or folded
    return folded.rstrip(_TRAILING) or folded
