"""Small talk, junk, and a way out: what the bot says to a message that is no answer and no need.

The understanding step (dialogs/understand) classes every message; this module decides what a
greeting, a thanks, 好的, 你是谁, 再见, 在吗 or a keyboard mash gets, in context, and counts the
turns in a row the bot could not use, anywhere, so that the second one offers a person (人工) and
the 12345 hotline in the reply.

- Where the current step takes any text (the menu and a guide card, whose text is searched; the
  booking's name step, which explains what a name looks like), small talk never reaches the
  dialog. Elsewhere the message is first a candidate answer (好的 confirms a booking); only if the
  dialog cannot use it is it small talk.
- Then it is answered, and the pending question is asked again. Not at the menu (where a
  greeting or 在吗 shows what the bot can do) and not on a card (a dialog's `DONE` states):
  好的 after a card closes nothing and repeats nothing.
- Junk gets "没看懂" with two examples (or the question again, inside a dialog).

Turns the bot could not use: junk, a message the current step could not use (the dialog's miss),
and a search that found nothing (a dialog says so with `mark_unused`). The count lives in the
session's data under `STREAK_KEY` (dialogs.engine), which does not take a session out of rest.

长辈模式 (dialogs.language) is offered where an exchange goes badly: the way out says it, and a
turn the bot could not use that came `SLOW_SECONDS` or more after the previous one (a person
slow to answer, then not understood) offers it at once, once a session (`ELDER_OFFERED_KEY`).
Not to a person already in it, nor to one answered in English (elder mode speaks Chinese).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from dialogs.engine import ELDER_OFFERED_KEY, STREAK_KEY, Dialog, Incoming, Reply, Services, Session, analysis_of, now
from dialogs.language import ENGLISH, LANGUAGE
from dialogs.handoff import MISSED_KEY
from dialogs.understand import MessageClass, SlotKind, Understanding, shanghai_today, understand

#: Set by a dialog in its session data for the turn it could not use (`mark_unused`); read and
#: removed by `SmallTalk.turn` in the same turn.
UNUSED_KEY = "_not_used"
OFFERED = "offered"  # the dialog's own reply already offered 人工 and 12345
#: A turn the bot could not use this long after the previous one is a slow exchange: 长辈模式 is offered.
SLOW_SECONDS = 90
#: Small talk that, at the menu, is followed by the menu itself: the person wants to start.
SHOWS_MENU = frozenset({"greeting", "presence", "unsure", "apology"})
#: Dialogs one only looks around in (halls, a guide, a list of matters): a farewell there ends
#: them, and nothing is shown again. One that holds unfinished work (a booking) asks its question
#: again, so that nobody leaves thinking it was done.
BROWSING = frozenset({"halls", "matters", "bundles", "policies", "licences"})

#: Acknowledgements that decline (不用了): said to a question of unfinished work, they may mean "stop".
DECLINES = frozenset({"不用了", "不用", "不用啦", "不需要了", "不需要", "不了", "no thanks", "no thank you"})

DialogTurn = Callable[[Session, Incoming, list[Reply], type[Dialog]], Awaitable[Session]]


def mark_unused(data: dict, offered: bool = False) -> None:
    """A dialog's note that it could not use this turn's message (a search that found nothing);
    `offered`: its reply already named 人工 and 12345."""
    data[UNUSED_KEY] = OFFERED if offered else True


def read(incoming: Incoming) -> Understanding:
    """The message as the conversation reads it before any dialog: its class, small talk kind,
    and a rating (a bare 1-5 counted as stars; dialogs.rating decides whose it is). It shares
    the message's analysis with the step's reading (dialogs.engine.understanding)."""
    return understand(incoming.text, shanghai_today(), expects=_RATING, analysis=analysis_of(incoming))


_RATING = frozenset({SlotKind.RATING})


@lru_cache(maxsize=256)
def takes_any_text(cls: type[Dialog], state: str) -> bool:
    """Whether `state` has a text transition without a condition: the dialog would use any
    message (search it), so small talk must not reach it."""
    event = cls.machine.events.get("text")
    return event is not None and any(not t.conditions for t in event.transitions.get(state, ()))


class SmallTalk:
    """Stateless: one serves all users (the count is in each session)."""

    def __init__(self, services: Services):
        self.services = services

    async def turn(self, session: Session, incoming: Incoming, reading: Understanding, replies: list[Reply],
                   cls: type[Dialog], dialog_turn: DialogTurn) -> Session:
        """One text turn that no global word or route took: small talk, junk, or the dialog's
        (`dialog_turn`: dialogs.conversation.Conversation._dialog_turn); then the count."""
        talk = reading.kind in (MessageClass.SMALL_TALK, MessageClass.JUNK)
        streak = int(session.data.get(STREAK_KEY, 0))  # the count goes on in whatever dialog comes next
        slow = bool(session.updated_at) and now() - session.updated_at >= SLOW_SECONDS
        offered = session.data.get(ELDER_OFFERED_KEY)
        # 不懂 / 还是不懂 (unsure) says the bot is not helping: counted like a turn it could not use,
        # so the second in a row offers a person
        used = reading.kind != MessageClass.JUNK and reading.small_talk != "unsure"
        if talk and takes_any_text(cls, session.state) and not cls.claims(session.state, incoming.text):
            self._answer(session, incoming, reading, replies, cls)
            return self._count(session, streak, used=used, replies=replies, slow=slow, offered=offered)
        kept = copy.deepcopy(session.data) if talk else None
        tried: list[Reply] = []
        after = await dialog_turn(session, incoming, tried, cls)
        missed = after.dialog == session.dialog and MISSED_KEY in after.data
        if talk and missed:  # not an answer to the question: small talk (or junk) after all
            session.data = kept
            self._answer(session, incoming, reading, replies, cls)
            return self._count(session, streak, used=used, replies=replies, slow=slow, offered=offered)
        replies.extend(tried)
        return self._count(after, streak, used=not missed, replies=replies, slow=slow, offered=offered)

    def _answer(self, session: Session, incoming: Incoming, reading: Understanding, replies: list[Reply],
                cls: type[Dialog]) -> None:
        """The answer, then the question again where one is pending (not at the menu, not on a
        card: 好的 there closes nothing and repeats nothing). A farewell while only looking around
        (`BROWSING`) ends that; with work unfinished (a booking's summary) it says so and asks again."""
        kind = reading.small_talk or "junk"
        if kind == "bye" and session.dialog in BROWSING:
            session.dialog, session.state = "menu", "idle"
            session.data = {key: value for key, value in session.data.items() if key in (STREAK_KEY, ELDER_OFFERED_KEY)}
        at_rest = session.at_rest
        question = not at_rest and session.state not in cls.DONE
        # 不用了 at a step of unfinished work (a booking's days) is no 好的: say how to stop or go on.
        unfinished = cls.title if question and session.dialog not in BROWSING else ""
        declined = unfinished if kind == "ack" and incoming.word in DECLINES else ""
        # 确认 at the times, 谢谢 at a booking's summary: a bare 好的。/ 不客气！ read as "done" with
        # nothing booked; they say the work is not finished and what is waited for.
        replies.append(Reply(self.services.render("common/small_talk.j2", kind=kind, at_rest=at_rest, question=question, today=shanghai_today(),
                                                  declined=declined, unfinished=unfinished)))
        if question or (at_rest and kind in SHOWS_MENU):
            cls(session.state, session.data, incoming, self.services, replies).ask()

    def _count(self, session: Session, streak: int, used: bool, replies: list[Reply], slow: bool = False, offered: Any = None) -> Session:
        """Keep count of the turns in a row the bot could not use (`streak` before this one); the
        `max_misses`-th offers a person and 12345 (once, then counting starts again). A slow one
        offers 长辈模式 (once a session: `offered` says whether it was, before this turn)."""
        data = session.data
        if offered:
            data[ELDER_OFFERED_KEY] = True
        marked = data.pop(UNUSED_KEY, None)
        if used and marked is None:
            data.pop(STREAK_KEY, None)
            return session
        streak += 1
        if streak < self.services.max_misses:
            data[STREAK_KEY] = streak
            language = LANGUAGE.get()
            if slow and not offered and not language.elder and language.code != ENGLISH:
                data[ELDER_OFFERED_KEY] = True
                replies.append(Reply(self.services.render("common/elder_offer.j2")))
            return session
        data.pop(STREAK_KEY, None)
        if marked != OFFERED:
            replies.append(Reply(self.services.render("common/way_out.j2")))
        return session
