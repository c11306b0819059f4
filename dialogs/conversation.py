"""One turn of a conversation: global intents, the active dialog, re-asks, hand-overs.

Pure logic over a `Session`: no network, no Redis, no XML. Only citizens' dialogs
(`dialogs.engine.CITIZEN_DIALOGS`) are reachable from here: a session naming a staff dialog is
treated as unknown (back to the menu). The bot's dispatcher loads the
session under the user's lock, calls `Conversation.step`, and saves what it returns.
"""

from __future__ import annotations

from dialogs.engine import CITIZEN_DIALOGS, MEDIA_KINDS, Dialog, Incoming, Reply, Services, Session, normalise, now
from dialogs.handoff import HANDOFF, MISSED_KEY, context_of
from dialogs.language import LANGUAGE
from dialogs.menu import MENU_KEYS, OPTIONS, SHORTCUTS
from dialogs.progress import DEFAULT_CASE_PATTERN, EIGHT_DIGITS, find_case_number
from dialogs.rating import invitation_answered
from dialogs.smalltalk import SmallTalk, read

# Words that mean the same thing in every state. Matched after normalising (full-width to
# half-width, lower case, trailing punctuation dropped), against the whole message.
GLOBAL_INTENTS: dict[str, frozenset[str]] = {
    "menu": frozenset({"菜单", "主菜单", "首页", "开始", "menu", "0"}),
    "help": frozenset({"帮助", "怎么用", "使用说明", "help", "?"}),
    "cancel": frozenset({"取消", "退出", "不办了", "算了", "结束", "cancel"}),
    "back": frozenset({"返回", "上一步", "后退", "back"}),
    "human": frozenset({"人工", "人工服务", "转人工", "客服", "人工客服", "找人工"}),
}
_INTENT_BY_WORD = {word: intent for intent, words in GLOBAL_INTENTS.items() for word in words}
BACK_KEY = "_back"
MISSES_KEY = "_misses"
MAX_HANDOVERS = 4  # a dialog may start another, which may start another; never loop forever


class Conversation:
    """Applies one `Incoming` to one `Session`; stateless itself, so one serves all users."""

    def __init__(self, services: Services):
        self.services = services
        self.talk = SmallTalk(services)

    async def step(self, session: Session | None, incoming: Incoming, expired: bool = False) -> tuple[Session | None, list[Reply]]:
        """Returns the session to save (None: forget it) and the replies, in order."""
        replies: list[Reply] = []
        kind = incoming.kind
        if kind != "text" or expired:  # a text in a live session (most messages) skips these
            if kind == "unsubscribe":
                return None, replies
            if kind in ("view", "notice"):  # a menu link opened, or an event that needs no answer
                return session, replies
            if kind in ("subscribe", "scan"):
                session = await self._enter("menu", {}, incoming, replies, greet="common/welcome.j2")
                return self._stamp(session), replies
            if expired:
                self._say(replies, "common/expired.j2")
                route = await self._route(Session(), incoming, normalise(incoming.text)) if kind == "text" else None
                session = await self._enter(*(route or ("menu", {})), incoming, replies)
                return self._stamp(session), replies

        if session is None or (cls := CITIZEN_DIALOGS.get(session.dialog)) is None:
            session = Session()
            cls = CITIZEN_DIALOGS[session.dialog]
        if session.state in cls.CAPTURES:
            # Talking to (or waiting for) a person: every word is for them, global words too.
            return self._stamp(await self._dialog_turn(session, incoming, replies, cls)), replies

        if kind == "text":
            word = normalise(incoming.text)  # once per message: global words and routes match it
            intent = _INTENT_BY_WORD.get(word)
            # English (#20 item 9): 中文 / English switched the language before the turn (dialogs.language).
            if intent is None and LANGUAGE.get().switched:
                intent = "language"
            # End English.
            if intent is not None:
                session = await self._global(intent, session, incoming, replies)
            else:
                reading = read(incoming.text)  # once: the rating, small talk and junk are read from it
                route = None  # what `_route` returns, without its coroutine
                if word not in cls.OWN_WORDS:
                    route = self._opens(session.dialog, incoming, word)
                    if route is None and session.dialog != "rating":
                        route = await invitation_answered(self.services, session, incoming, reading)
                if route is not None:
                    session = await self._enter(*route, incoming, replies)
                else:  # small talk, junk, or the dialog's; turns it could not use are counted (dialogs.smalltalk)
                    session = await self.talk.turn(session, incoming, reading, replies, cls, self._dialog_turn)
            session.updated_at = now()  # `_stamp`: never None here
            return session, replies

        intent = None
        if kind == "click":
            intent = MENU_KEYS.get(incoming.text)
            if intent is None:  # a menu button leaves whatever was in progress
                session = Session()
                cls = CITIZEN_DIALOGS[session.dialog]
        if intent is not None:
            session = await self._global(intent, session, incoming, replies)
        else:
            session = await self._dialog_turn(session, incoming, replies, cls)
        return self._stamp(session), replies

    async def _route(self, session: Session, incoming: Incoming, word: str) -> tuple[str, dict] | None:
        """A message that opens a dialog whatever is in progress: a shortcut word, a case number,
        or the answer to a rating invitation (one Redis read, and only for words that rate).
        `word` is the text normalised. (`step` runs the same checks in line.)"""
        dialog = session.dialog
        if word in CITIZEN_DIALOGS[dialog].OWN_WORDS:
            return None
        route = self._opens(dialog, incoming, word)
        if route is None and dialog != "rating":
            route = await invitation_answered(self.services, session, incoming, read(incoming.text))
        return route

    def _opens(self, dialog: str, incoming: Incoming, word: str) -> tuple[str, dict] | None:
        """A shortcut word, or a case number (outside the progress dialog, which reads its own)."""
        shortcut = SHORTCUTS.get(word)
        if shortcut is not None:
            return shortcut[0], dict(shortcut[1])
        # Under the default pattern a case number needs eight ASCII digits, and `word` has those
        # of the folded text (normalising neither adds nor drops any): most messages stop here.
        if dialog != "progress":
            settings = self.services.settings
            if (EIGHT_DIGITS.match(word) is not None
                    or (getattr(settings, "case_number_pattern", None) or DEFAULT_CASE_PATTERN) != DEFAULT_CASE_PATTERN):
                case_no = find_case_number(incoming.text, settings)
                if case_no:
                    return "progress", {"case_no": case_no}
        return None

    # Global intents ---------------------------------------------------------------------

    async def _global(self, intent: str, session: Session, incoming: Incoming, replies: list[Reply]) -> Session:
        if intent == "menu":
            return await self._enter("menu", {}, incoming, replies)
        if intent == "cancel":
            if not session.at_rest:
                self._say(replies, "common/cancelled.j2", title=CITIZEN_DIALOGS[session.dialog].title)
            return await self._enter("menu", {}, incoming, replies)
        if intent == "help":
            self._say(replies, "common/help.j2", in_dialog=not session.at_rest, options=OPTIONS)
            self._model(session, incoming, replies).ask()
            return session
        # English (#20 item 9): say which language it is now, and ask the current question again in it.
        if intent == "language":
            self._say(replies, "common/language.j2")
            self._model(session, incoming, replies).ask()
            return session
        # End English.
        if intent == "back":
            history = session.data.get(BACK_KEY) or []
            if not history:
                return await self._enter("menu", {}, incoming, replies)
            session.state = history.pop()
            self._model(session, incoming, replies).ask()
            return session
        # human: a person takes over (dialogs.handoff), told where this person was.
        return await self._enter(HANDOFF, context_of(session), incoming, replies)

    # The active dialog ------------------------------------------------------------------

    async def _dialog_turn(self, session: Session, incoming: Incoming, replies: list[Reply], cls: type[Dialog] | None = None) -> Session:
        """`cls`: the session's dialog class, when the caller has looked it up already."""
        turn = (cls or CITIZEN_DIALOGS[session.dialog])(session.state, session.data, incoming, self.services, replies)
        before = turn.state
        if await turn.fire(incoming.kind):
            turn.data.pop(MISSES_KEY, None)
            turn.data.pop(MISSED_KEY, None)
            if turn.state != before:
                turn.data.setdefault(BACK_KEY, []).append(before)
            session = Session(turn.__class__.name, turn.state, turn.data)
            if turn.switch_to is None and not turn.finished:
                return session  # what `_follow` returns then, without the call
            return await self._follow(turn, session, incoming, replies)

        if incoming.kind in MEDIA_KINDS:
            self._say(replies, "common/media_unsupported.j2")
            turn.ask()
        elif incoming.kind not in ("text", "click"):
            self._say(replies, "common/unknown_type.j2")
        else:
            misses = int(turn.data.get(MISSES_KEY, 0)) + 1
            if incoming.kind == "text":  # an agent taking over sees what was not understood
                turn.data[MISSED_KEY] = [*(turn.data.get(MISSED_KEY) or [])[-2:], incoming.text[:200]]
            # The way out (人工, 12345) is offered by dialogs.smalltalk, which counts misses anywhere.
            turn.data[MISSES_KEY] = misses
            self._say(replies, "common/miss.j2", misses=misses)
            turn.ask()
        return Session(session.dialog, turn.state, turn.data)

    async def _follow(self, turn: Dialog, session: Session, incoming: Incoming, replies: list[Reply]) -> Session:
        """Apply what the dialog asked for at the end of its turn: finish, or hand over."""
        for _ in range(MAX_HANDOVERS):
            if turn.switch_to is not None:
                name, carry = turn.switch_to
                turn = await self._start(name, carry, incoming, replies)
                session = Session(name, turn.state, turn.data)
            elif turn.finished:
                return Session()
            else:
                return session
        return Session()

    async def _enter(self, name: str, carry: dict, incoming: Incoming, replies: list[Reply], greet: str | None = None) -> Session:
        if greet:
            self._say(replies, greet)
        turn = await self._start(name, carry, incoming, replies)
        return await self._follow(turn, Session(name, turn.state, turn.data), incoming, replies)

    async def _start(self, name: str, carry: dict, incoming: Incoming, replies: list[Reply]) -> Dialog:
        cls = CITIZEN_DIALOGS[name]
        turn = cls(cls.STATES[0], dict(carry), incoming, self.services, replies)
        await turn.fire("start")
        return turn

    def _model(self, session: Session, incoming: Incoming, replies: list[Reply]) -> Dialog:
        return CITIZEN_DIALOGS[session.dialog](session.state, session.data, incoming, self.services, replies)

    def _say(self, replies: list[Reply], template: str, **context) -> None:
        replies.append(Reply(self.services.render(template, **context)))

    @staticmethod
    def _stamp(session: Session | None) -> Session | None:
        if session is not None:
            session.updated_at = now()
        return session
