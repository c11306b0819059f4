"""The conversation-state port: what a turn keeps in shared storage, behind one protocol.

Per message, a turn needs: admission (is this message new, a retry of one seen before, over the
person's rate limit, a replayed request?), the person's lock taken BEFORE their session is read
(so one person's messages apply one at a time, in any number of processes), and a commit that
saves the session, stores the answer for WeChat's retries and releases the lock. The rare paths
are here too: a retry waiting for the first delivery's answer, a claim renewed while a long turn
runs, an answer that went out late, replies held until the person writes again, and a session
changed outside a turn (an agent ending a hand-off).

As aiogram separates `BaseStorage` / `BaseEventIsolation` from `RedisStorage`, this module is the
protocol and its value types; `bot.stores.redis` is the production implementation and
`bot.stores.memory` the one dialog tests use. tests/test_store_contract.py runs one contract
against both (and against a Redis Cluster). Nothing else writes a session or takes a person's
lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol

from dialogs.engine import Session


@dataclass(frozen=True, slots=True)
class MessageRef:
    """One message of one person: `key` is WeChat's identity of it (MsgId, or CreateTime + event
    for events), which retries of the same message share. `signed_at`: the timestamp its request
    was signed with (0: none); its answer is kept as long as that request can be accepted."""

    user: str
    key: str
    signed_at: int = 0


@dataclass(frozen=True, slots=True)
class Nonce:
    """The request's replay guard: the nonce WeChat signed, its timestamp, and a digest of the
    body. The same nonce with another body is a replay; with the same body, a re-delivery."""

    timestamp: int
    nonce: str
    digest: str


@dataclass(frozen=True, slots=True)
class Tally:
    """One count a turn adds to a shared, bounded, expiring tally (what became of a search):
    `member`'s score in the sorted set `key` goes up by one, the set lives `ttl` seconds from
    now, and keeps its `cap` highest members. Tallies ride on the turn's commit (one trip)."""

    key: str
    member: str
    ttl: int
    cap: int


#: The tallies the running turn has made so far: set to a fresh list by the dispatcher for each
#: turn (in the turn task's own context), None outside a turn (write the tally at once then).
turn_tallies: ContextVar[list[Tally] | None] = ContextVar("turn_tallies", default=None)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a turn reads under the person's lock: their session (None: none, or unreadable), whether
    a conversation expired since their last message, replies held for them, and their profile
    (what they chose that outlives any conversation: language, elder mode)."""

    session: Session | None
    expired: bool = False
    held: tuple[str, ...] = ()
    profile: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a message's record says: nobody has it (`none`), a turn is running it (`pending`, with
    that turn's claim), it was answered through the API after the deadline (`late`), or its
    answer (`done`, the texts as first given)."""

    state: Literal["none", "pending", "late", "done"]
    texts: tuple[str, ...] = ()
    claim: str = ""


NOTHING = Answer("none")


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on a message's arrival.

    - `new`: this delivery owns the message (its claim is recorded). When the caller asked for the
      lock and got it in the same trip, `snapshot` holds what the turn reads; else the turn takes
      the lock with `acquire`.
    - `seen`: a delivery of this message came before; `answer` is what it left.
    - `limited`: new, but over the person's rate limit; its retries find the polite answer.
    - `replayed`: the request's nonce was used before with another body: nothing was done.
    """

    verdict: Literal["new", "seen", "limited", "replayed"]
    snapshot: Snapshot | None = None
    answer: Answer = NOTHING


#: What a change function returns to leave the session as it is.
class Keep:
    __slots__ = ()


KEEP = Keep()

SessionChange = Callable[[Session | None], Awaitable["Session | None | Keep"]]


@dataclass(frozen=True, slots=True)
class StorePolicy:
    """Lifetimes and limits, from the settings; the same for every call."""

    claim_seconds: float  # a message's claim lapses this long after its turn last renewed it
    lock_seconds: float  # a person's lock, should its holder die
    session_seconds: int  # idle conversation timeout
    trace_seconds: int  # how long "your conversation timed out" can still be said
    answer_seconds: int  # how long an answer is kept for retries (at least)
    nonce_seconds: int  # how long a request nonce is remembered (at least)
    timestamp_window: int  # how far a request's timestamp may be from now
    held_seconds: int  # replies held for the person's next message
    clock_skew: int = 30  # how far bot processes' clocks may differ: requests are remembered this much longer
    profile_seconds: int = 365 * 86400  # a profile nobody used this long is forgotten
    rate_limit: int = 0  # messages per person per window (0: no limit)
    rate_window: int = 60
    over_limit: Sequence[str] = field(default_factory=tuple)  # the answer a message over the limit gets

    def answer_ttl(self, message: MessageRef, now: float) -> int:
        """An answer (or a claim's record) must outlive every moment its request can still be
        accepted: a request dated up to `timestamp_window` ahead is accepted until
        timestamp + window (+ the skew between processes' clocks), so a replay then finds the
        answer, not an empty slot."""
        if not message.signed_at:
            return self.answer_seconds
        return max(self.answer_seconds, int(message.signed_at + self.timestamp_window + self.clock_skew - now) + 1)

    def nonce_ttl(self, nonce: Nonce, now: float) -> int:
        return max(self.nonce_seconds, int(nonce.timestamp + self.timestamp_window + self.clock_skew - now) + 1)


class ConversationStore(Protocol):
    """Where conversation state lives. Every method is atomic on its own; a person's session is
    only ever written under their lock (by `commit` or `change`)."""

    policy: StorePolicy

    async def admit(self, message: MessageRef, claim: str, *, lock: str | None = None, nonce: Nonce | None = None) -> Admission:
        """Record the nonce (refusing a replay), claim the message, count it against the person's
        rate limit, and with a `lock` token try their lock and read their state, in one step."""

    async def remember_nonce(self, nonce: Nonce) -> bool:
        """Record a request's nonce on its own, for a request that is no person's message (WeChat's
        report on a mass send): False when it was used before with another body (a replay); the
        same body again (WeChat's retry) is True. Shares `admit`'s record, so a nonce is spent by
        either."""

    async def acquire(self, message: MessageRef, lock: str, claim: str) -> Snapshot | None:
        """Wait until the person's lock is this turn's and read their state; None when the
        message's claim is no longer `claim` (another delivery took it over), and then the turn
        must not run. A lapsed claim that nobody took is taken back."""

    async def commit(self, message: MessageRef, lock: str, session: Session | None, answer: Sequence[str], held_given: int = 0,
                     profile: dict | None = None, tallies: Sequence[Tally] = ()) -> bool:
        """Save the session (None: forget it) and the profile (None: unchanged), drop the
        `held_given` held replies the answer carried, release the lock, and store the answer for
        retries. The session is saved only
        while the lock is still `lock` (a turn that outlived its lock must not overwrite a later
        one's): False then. The answer and the turn's `tallies` are stored either way."""

    async def add_tallies(self, tallies: Sequence[Tally]) -> None:
        """Count `tallies` now (outside a turn: a command-line search, a test)."""

    async def tally(self, key: str) -> dict[str, int]:
        """The counts of one tally, by member."""

    async def abandon(self, message: MessageRef, lock: str | None, answer: Sequence[str]) -> None:
        """A turn that failed: release the lock (when held) and store the apology for retries."""

    async def answer(self, message: MessageRef) -> Answer:
        """What the message's record holds now."""

    async def reclaim(self, message: MessageRef, claim: str) -> bool:
        """Claim a message whose record is gone (its first delivery's claim lapsed unanswered)."""

    async def renew(self, message: MessageRef, claim: str) -> bool:
        """Extend a running turn's claim; False when it is no longer `claim`."""

    async def answered_late(self, message: MessageRef) -> None:
        """The answer went out through the API: retries get an empty ack, not a second answer."""

    async def hold(self, user: str, texts: Sequence[str]) -> None:
        """Keep replies that could not be pushed; the person's next answer carries them."""

    async def change(self, user: str, edit: SessionChange) -> Literal["saved", "kept", "busy"]:
        """Change a person's session outside their own turn (hand-off, a sweep): wait for their
        lock, read the session, save what `edit` returns (KEEP: leave it), release. "busy" when
        the lock could not be had in time (the edit was not run)."""

    async def release(self, user: str, lock: str) -> None:
        """Release the person's lock if it is still `lock`."""

    async def aclose(self) -> None:
        """Close what the store opened."""
