"""The dialog engine: channel-neutral messages, the session, and the base of every dialog.

A dialog is a module with a transition table at the top and a `Dialog` subclass below it whose
methods are the table's conditions and actions. Its transitions machine is built once, when the
class is defined; each turn creates a light instance of the class (the per-turn model) holding
the session's state and data, triggers one event on the shared machine, and is thrown away.
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from transitions.extensions.asyncio import AsyncMachine

#: Message kinds an `Incoming` can have. Media kinds get a polite "text only" answer unless the
#: active dialog has a transition for them.
MEDIA_KINDS = frozenset({"image", "voice", "video", "shortvideo", "location", "link", "file"})


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


@dataclass(slots=True)
class Reply:
    """One piece of text for the person; the channel decides how to deliver it."""

    text: str


@dataclass(slots=True)
class Session:
    """What we remember about one person's conversation, stored as JSON with an idle TTL."""

    dialog: str = "menu"
    state: str = "idle"
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"dialog": self.dialog, "state": self.state, "data": self.data, "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Session:
        return cls(
            dialog=str(raw.get("dialog") or "menu"),
            state=str(raw.get("state") or "idle"),
            data=raw.get("data") if isinstance(raw.get("data"), dict) else {},
            updated_at=float(raw.get("updated_at") or 0.0),
        )

    @property
    def at_rest(self) -> bool:
        """True when nothing is in progress, so an expiry needs no apology."""
        return self.dialog == "menu" and not self.data


@dataclass(slots=True)
class Services:
    """What dialogs may use: handed in by the bot, so dialogs never import it."""

    render: Callable[..., str]
    halls: list[Any] = field(default_factory=list)
    catalog: Any = None  # search and guides (bot.catalog.Catalog)
    max_misses: int = 3
    settings: Any = None  # bot.settings.Settings (read only)
    platform: Any = None  # integrations.platform.client.PlatformClient: booking, cases
    bookings: Any = None  # bot.bookings.Bookings: remembered applicants, reminders
    subscriptions: Any = None  # bot.subscriptions.Subscriptions: verified cases, subscriptions, bindings
    ratings: Any = None  # bot.ratings.Ratings: 好差评
    handoff: Any = None  # bot.handoff.Handoff: the human hand-off (dialogs.handoff.Desk)


def T(trigger: str, source: str | list[str], dest: str, when: str | None = None, then: str | None = None) -> dict:
    """One row of a transition table: on `trigger` in `source`, if `when`, go to `dest`, then run `then`."""
    row: dict[str, Any] = {"trigger": trigger, "source": source, "dest": dest}
    if when:
        row["conditions"] = when
    if then:
        row["after"] = then
    return row


REGISTRY: dict[str, type[Dialog]] = {}


class Dialog:
    """Base of the per-turn model. Subclasses set `name`, `title`, `STATES`, `TRANSITIONS`,
    `PROMPTS` (state -> template that asks that state's question) and the handler methods."""

    name: ClassVar[str]
    title: ClassVar[str] = ""
    STATES: ClassVar[list[str]]
    TRANSITIONS: ClassVar[list[dict]]
    PROMPTS: ClassVar[dict[str, str]] = {}
    machine: ClassVar[AsyncMachine]

    __slots__ = ("state", "data", "incoming", "services", "replies", "switch_to", "finished")

    def __init_subclass__(cls, **kwargs: Any) -> None:
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
        )
        REGISTRY[cls.name] = cls

    def __init__(self, state: str, data: dict, incoming: Incoming, services: Services, replies: list[Reply]):
        self.state = state
        self.data = data
        self.incoming = incoming
        self.services = services
        self.replies = replies
        self.switch_to: tuple[str, dict] | None = None
        self.finished = False

    async def fire(self, trigger: str) -> bool:
        """Trigger `trigger` on the shared machine with this turn as the model."""
        event = self.machine.events.get(trigger)
        if event is None:
            return False
        result = await event.trigger(self)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # transitions turns a cancellation into a False result; a turn that ran out of
            # time must stop here, not carry on as if the input had not matched.
            raise asyncio.CancelledError()
        return bool(result)

    # What handlers use -------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self.incoming.text

    def say(self, template: str, **context: Any) -> None:
        self.replies.append(Reply(self.services.render(template, **context)))

    def ask(self) -> None:
        """Ask the question of the current state."""
        template = self.PROMPTS.get(self.state)
        if template:
            self.say(template, **self.prompt_context())

    def prompt_context(self) -> dict[str, Any]:
        """Values the state prompts need; dialogs override."""
        return {"data": self.data}

    def start(self, dialog: str, **carry: Any) -> None:
        """Hand the conversation to another dialog after this turn, with some data carried over."""
        self.switch_to = (dialog, carry)

    def finish(self) -> None:
        """This dialog is done; the person is back at the main menu."""
        self.finished = True


def now() -> float:
    return time.time()


_TRAILING = " \t\r\n。.!！?？~～,，、…"


def normalise(text: str) -> str:
    """Fold what people type for matching: full-width to half-width, lower case, no trailing punctuation."""
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return folded.rstrip(_TRAILING) or folded
