"""人工服务, the citizen's side: join the queue (or leave a message outside working hours), talk
to an agent through the bot, end, and rate the service.

```
(start)   --agents on duty--> waiting --an agent accepts (bot.services.handoff)--> connected
(start)   --closed / nobody on duty--> leaving --text--> (message left; back to the bot)
waiting   --text--> waiting (kept for the agent)     --取消 / 结束--> (back to the menu)
connected --text--> connected (relayed to the agent) --结束--> rating
connected --菜单 / 帮助--> connected (not relayed: told how to leave the hand-off)
connected --a photo--> connected (uploaded to WeCom and shown to the agent)
connected --the agent ends / idle (bot.services.handoff)--> rating --满意 / 不满意--> (back to the bot)
```

In `CAPTURES` states the dialog takes every message itself, global words included: what a
person says to an agent ("0", "返回") is for the agent. The queue, the agent and the relays live
in `services.handoff` (a `CitizenDesk`, bot.services.handoff.Handoff), which also moves a citizen between
waiting, connected and rating when an agent or the idle timeout acts, under the citizen's lock.
Guards only read: whether the desk is open, and relaying a message to the agent, are prepare
actions (`PREPARE`) whose outcome the guards read.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from dialogs.engine import CITIZEN_DIALOGS, GRIEVANCE_KEY, Dialog, P, Session, T, normalise
from dialogs.understand.kinds import first_clause

HANDOFF = "handoff"
STATES = ["waiting", "leaving", "connected", "rating", "why"]
CAPTURES = frozenset({"waiting", "leaving", "connected"})
MISSED_KEY = "_missed"  # what a person said that no dialog understood (dialogs.conversation keeps the last few)

LEAVE_QUEUE = frozenset({"取消", "结束", "退出", "不等了", "算了", "菜单", "主菜单", "cancel", "quit", "exit", "stop", "leave",
                         # no longer needed, or goodbye, while still waiting: nobody should be taken in vain
                         "不用了", "不需要了", "不用啦", "没事了", "拜拜", "再见", "bye", "算了不用了", "算了不要了", "不用了谢谢", "不找了",
                         "不找人工了", "我自己看", "我自己看吧", "never mind", "no need"})
#: Leaving the queue said at the start of a sentence (算了不等了，我自己去大厅问).
STOP_WAITING = ("不等了", "不排了", "不排队了", "取消排队", "退出排队", "不用人工了", "不要人工了", "不留言了", "不用留言",
                # 等太久了，我还是自己查吧: doing it oneself after all
                "我还是自己", "还是我自己", "我自己查", "我自己搜", "我自己找", "我自己去大厅", "我自己去问",
                "never mind", "nevermind", "search myself", "do it myself", "look it up myself", "find it myself",
                "check it myself")
#: A message's clauses: the last may ask what made them stop waiting (…，社保卡丢了怎么补).
_CLAUSES = re.compile(r"[，,。！!？?；;]+|\.\s+")
ASKED_AFTER_LEAVING = 4  # characters a last clause needs to be searched as a question


def _stops(word: str, words: frozenset[str]) -> bool:
    """Whether `word` is one of `words`, or starts with a clause that is one or that stops waiting."""
    if word in words:
        return True
    first = first_clause(word)
    if first in words:
        return True
    return any(phrase in word for phrase in STOP_WAITING)  # 等太久了 算了不等了: said anywhere in it
END_TALK = frozenset({"结束", "结束人工", "结束服务", "结束对话", "结束人工服务", "退出人工", "退出", "end", "end chat", "quit", "exit"})
SKIP_NOTE = frozenset({"取消", "不留言", "不用了", "算了", "结束", "退出", "菜单", "主菜单", "cancel"})
#: The menu and help words of dialogs.conversation that a person talking to an agent means for
#: the bot, not the agent ("0" and "开始" stay the agent's: they are ordinary words in a talk).
#: They are not relayed; the person is told how to leave the hand-off first.
BOT_WORDS = frozenset({"菜单", "主菜单", "首页", "menu", "帮助", "怎么用", "使用说明", "help", "?", "人工", "转人工"})
#: 满意吗 answered yes or no counts too (否 there went on to answer a question of the dialog paused
#: before 人工, which was not on screen).
SATISFIED = frozenset({"1", "满意", "非常满意", "很满意", "好", "好评", "satisfied", "good", "是", "是的", "对", "嗯", "满意的", "yes"})
#: A complaint said instead of a rating (态度, 太慢, 敷衍, 就这样？).
COMPLAINT = re.compile(r"态度|太慢|好慢|慢死|敷衍|不耐烦|没用|没解决|没帮|什么玩意|垃圾|太差|就这样[?？!！]|[?？]{2,}|不负责")
#: Nothing to say of what was wrong.
SKIP_REASON = frozenset({"跳过", "不说了", "算了", "没什么", "没有", "不用了", "skip", "no", "nothing"})
UNSATISFIED = frozenset({"2", "不满意", "非常不满意", "差评", "不好", "not satisfied", "unsatisfied", "bad", "否", "不", "不是", "不太满意", "no"})
#: Stars from which a rating in words counts as 满意 (3: 还行, 一般, like the platform's 基本满意).
SATISFIED_FROM = 3


@dataclass(slots=True)
class Closed:
    """No agent can take the citizen now."""

    hours: str  # e.g. "周一至周五 9:00-12:00、13:30-17:00"
    back_at: str  # e.g. "明天 9:00"; "" when unknown
    nobody: bool = False  # within the hours, but no agent is on duty


@dataclass(slots=True)
class Queued:
    number: int
    ahead: int  # citizens in the queue before this one


@dataclass(slots=True)
class Told:
    """What became of a message a citizen sent during a hand-off."""

    outcome: Literal["kept", "relayed", "queued", "failed", "noted", "ended", "refused"]
    ahead: int = 0
    number: int = 0
    wait_seconds: int = 0  # queued: the agent can take no more messages right now; it goes in about this long
    first: bool = False  # queued: the first one waiting (the citizen is told once, not for every message)
    reason: str = ""  # refused: why a photo could not be passed on (too_large, wrong_type, gone, unavailable)


@dataclass(slots=True)
class Noted:
    number: int
    back_at: str = ""


class CitizenDesk(Protocol):
    """What the citizen's side needs from the hand-off service (bot.services.handoff.Handoff)."""

    async def closed(self) -> Closed | None: ...
    async def request(self, user: str, context: dict[str, Any]) -> Queued: ...
    async def tell(self, user: str, text: str) -> Told: ...
    async def show_photo(self, user: str, media_id: str) -> Told: ...
    async def leave_note(self, user: str, text: str, context: dict[str, Any]) -> Noted: ...
    async def leave(self, user: str) -> None: ...
    async def rate(self, user: str, number: int, satisfied: bool) -> None: ...

    async def complain(self, user: str, number: int, text: str) -> None: ...


#: What `context_of` tells agents (the rest of a hand-off's data is its own).
CONTEXT_KEYS = ("from", "asked", "case", "enterprise", "said")


def context_of(session: Session | None) -> dict[str, Any]:
    """Where the person was when they asked for a person: shown to agents (masked by the desk)."""
    if session is None:
        return {}
    cls = CITIZEN_DIALOGS.get(session.dialog)
    context: dict[str, Any] = {}
    if cls is not None and session.dialog not in ("menu", HANDOFF):
        context["from"] = cls.title
    query = session.data.get("query")
    if isinstance(query, str) and query:
        context["asked"] = query[:200]
    case_no = session.data.get("case_no")
    if session.dialog in ("progress", "enterprise_desk") and isinstance(case_no, str) and case_no:
        # the case on screen, verified (or the person's enterprise's): 我要投诉 there is about it,
        # and the agent asked 投诉哪个办件？ of someone who had just opened it
        context["case"] = case_no[:40]
    enterprise, code = session.data.get("enterprise"), session.data.get("credit_code")
    if session.dialog == "enterprise_desk" and isinstance(enterprise, str) and enterprise and isinstance(code, str):
        # the enterprise the person (bound to it) was looking at: the agent asked 请问是哪家公司？
        context["enterprise"] = f"{enterprise[:60]}（{code[:18]}）"
    said = session.data.get(MISSED_KEY)
    said = [str(s)[:200] for s in said] if isinstance(said, list) else []
    vented = session.data.get(GRIEVANCE_KEY)
    if isinstance(vented, str) and vented:
        said = [vented[:200], *said]  # 我跑了三趟了还没办下来, then 人工: the agent hears why
    if said:
        context["said"] = said[-3:]
    return context


TRANSITIONS = [
    #  trigger  source       dest         when              then
    T("start", "*",         "rating",    "comes_to_rate",  "ask"),
    T("start", "*",         "waiting",   "has_no_desk",    "no_desk"),
    T("start", "*",         "leaving",   "desk_closed",    ["note_hours", "ask"]),
    T("start", "*",         "waiting",   None,             "join_queue"),
    T("text",  "waiting",   "waiting",   "leaves_queue",   "leave_queue"),
    T("text",  "waiting",   "waiting",   None,             "tell_while_waiting"),
    T("text",  "connected", "connected", "ends_talk",      "end_by_citizen"),
    T("text",  "connected", "connected", "asks_the_bot",   "remind"),
    T("text",  "connected", "connected", "reaches_agent",  "say_if_not_relayed"),
    T("text",  "connected", "connected", None,             "agent_gone"),
    T("image", "connected", "connected", "photo_reaches_agent", "say_if_photo_not_relayed"),
    T("image", "connected", "connected", None,             "agent_gone"),
    T("text",  "leaving",   "leaving",   "skips_note",     "skip_note"),
    T("text",  "leaving",   "leaving",   None,             "take_note"),
    T("text",  "rating",    "rating",    "is_satisfied",   "rate_good"),
    T("text",  "rating",    "why",       "is_unsatisfied", "rate_bad"),  # 不满意: what was wrong is asked, once
    T("text",  "rating",    "rating",    "complains",      "rate_bad_with_reason"),  # 就这样？什么态度: unsatisfied, and why
    T("text",  "why",       "why",       "skips_reason",   "say_sorry"),
    T("text",  "why",       "why",       None,             "take_reason"),
    T("click", sorted(CAPTURES), "=",    None,             "remind"),
]
#: What each event asks of the hand-off desk before its guards are asked.
PREPARE = [
    #  trigger  source       action
    P("start", "*",         "check_hours"),
    P("text",  "connected", "relay_unless_ending"),
    P("image", "connected", "relay_photo"),
]


class Handoff(Dialog):
    name = HANDOFF
    title = "人工服务"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    CAPTURES = CAPTURES
    PREPARE = PREPARE
    OWN_WORDS = SATISFIED | UNSATISFIED  # a rating here is this hand-off's, not a case's (dialogs.rating)
    PROMPTS = {"leaving": "handoff/closed.j2", "rating": "handoff/rate.j2", "why": "handoff/why.j2"}
    #: The rating is asked, not required: a rating in words (挺好的, 一般, 差评) answers it, small talk
    #: (谢谢) is answered without asking it again, and a new need is searched as at the menu.
    EXPECTS = {"rating": frozenset({"rating", "choice"})}

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """满意吗 answered (满意, 否, 什么态度) and why it was not (any words): this hand-off's, never
        an answer to a question paused before 人工 (dialogs.conversation resumes one that claims it)."""
        word = normalise(text)
        return state == "why" or (state == "rating" and (word in cls.OWN_WORDS or COMPLAINT.search(word) is not None))
    DONE = frozenset({"rating"})

    __slots__ = ("_closed", "_told")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._closed: Closed | None = None  # no agent can take the citizen now (when looked up)
        self._told: Told | None = None  # what became of the message relayed to the agent

    @property
    def desk(self) -> CitizenDesk:
        return self.services.handoff

    def prompt_context(self):
        return {"hours": self.data.get("hours", ""), "back_at": self.data.get("back_at", ""), "nobody": self.data.get("nobody", False)}

    # Starting ---------------------------------------------------------------------------

    def comes_to_rate(self) -> bool:
        return bool(self.data.get("rate"))

    def has_no_desk(self) -> bool:
        return self.desk is None

    def no_desk(self):
        self.say("common/human_soon.j2")
        self.finish()

    async def check_hours(self) -> None:
        """Prepare (start): asking for a person (not coming to rate), whether anyone can take them now."""
        if not self.comes_to_rate() and self.desk is not None:
            self._closed = await self.desk.closed()

    def desk_closed(self) -> bool:
        return self._closed is not None

    def note_hours(self):
        closed = self._closed
        self.data.update(hours=closed.hours, back_at=closed.back_at, nobody=closed.nobody)

    async def join_queue(self):
        context = {k: v for k, v in self.data.items() if k in CONTEXT_KEYS}
        queued = await self.desk.request(self.user, context)
        self.data = {"ticket": queued.number}
        self.say("handoff/queued.j2", number=queued.number, ahead=queued.ahead)

    # Waiting for an agent -----------------------------------------------------------------

    def leaves_queue(self) -> bool:
        """取消, or a way out said first in a sentence (算了不等了，我自己去大厅问)."""
        return _stops(self.word, LEAVE_QUEUE)

    async def leave_queue(self):
        await self.desk.leave(self.user)
        self.say("handoff/left_queue.j2")
        asked = self._asked_on_leaving()
        catalog = getattr(self.services, "catalog", None)
        if asked and catalog is not None and catalog.ready.is_set():
            self.start("matters", query=asked)  # 我还是自己查吧，社保卡丢了怎么补: that question, at once
        else:
            self.start("menu")

    def _asked_on_leaving(self) -> str:
        """What a message that leaves the queue asks besides (its last clause, when that is not a way
        out itself), or ''."""
        clauses = [c.strip() for c in _CLAUSES.split(self.text) if c.strip()]
        if len(clauses) < 2:
            return ""
        last = clauses[-1]
        if len(last) < ASKED_AFTER_LEAVING or _stops(normalise(last), LEAVE_QUEUE):
            return ""
        return last

    async def tell_while_waiting(self):
        told = await self.desk.tell(self.user, self.text)
        if told.outcome == "kept":
            self.say("handoff/kept.j2", ahead=told.ahead)
        elif told.outcome == "failed":
            self.say("handoff/not_relayed.j2")
        elif told.outcome == "queued" and told.first:
            self.say("handoff/relay_queued.j2", seconds=told.wait_seconds)
        elif told.outcome == "noted":
            self.say("handoff/noted.j2", number=told.number, back_at="")
            self.finish()
        elif told.outcome == "ended":
            self.say("handoff/gone.j2")
            self.finish()
        # relayed: an agent took the citizen a moment ago; the message reached them

    # Talking to an agent -------------------------------------------------------------------

    def ends_talk(self) -> bool:
        return self.word in END_TALK

    def asks_the_bot(self) -> bool:
        return self.word in BOT_WORDS

    async def end_by_citizen(self):
        await self.desk.leave(self.user)
        self.say("handoff/ended.j2", by="citizen")
        self._to_rating()

    async def relay_unless_ending(self) -> None:
        """Prepare: anything but 结束 and the bot's own words goes to the agent."""
        if not self.ends_talk() and not self.asks_the_bot():
            self._told = await self.desk.tell(self.user, self.text)

    def reaches_agent(self) -> bool:
        return self._told is not None and self._told.outcome != "ended"

    def say_if_not_relayed(self):
        if self._told.outcome == "failed":
            self.say("handoff/not_relayed.j2")
        elif self._told.outcome == "queued" and self._told.first:
            self.say("handoff/relay_queued.j2", seconds=self._told.wait_seconds)

    async def relay_photo(self) -> None:
        """Prepare: a photo goes to the agent (fetched, judged, uploaded to WeCom, shown)."""
        self._told = await self.desk.show_photo(self.user, self.incoming.extra.get("media_id") or "")

    def photo_reaches_agent(self) -> bool:
        return self._told is not None and self._told.outcome != "ended"

    def say_if_photo_not_relayed(self):
        if self._told.outcome == "refused":
            self.say("handoff/photo_refused.j2", reason=self._told.reason)
        else:
            self.say_if_not_relayed()

    def agent_gone(self):
        self.say("handoff/ended.j2", by="agent")
        self._to_rating()

    def _to_rating(self):
        """A fresh start in the rating state: 返回 from there leads to the menu, not back to the talk."""
        self.start(HANDOFF, ticket=self.data.get("ticket", 0), rate=True)

    # Leaving a message outside working hours ------------------------------------------------

    def skips_note(self) -> bool:
        return _stops(self.word, SKIP_NOTE)

    def skip_note(self):
        self.say("handoff/no_note.j2")
        self.start("menu")

    async def take_note(self):
        context = {k: v for k, v in self.data.items() if k in CONTEXT_KEYS}
        noted = await self.desk.leave_note(self.user, self.text, context)
        self.say("handoff/noted.j2", number=noted.number, back_at=noted.back_at or self.data.get("back_at", ""))
        self.finish()

    # Rating -----------------------------------------------------------------------------

    def is_satisfied(self) -> bool:
        stars = self._stars()
        return stars is not None and stars >= SATISFIED_FROM

    def is_unsatisfied(self) -> bool:
        stars = self._stars()
        return stars is not None and stars < SATISFIED_FROM

    def _stars(self) -> int | None:
        """The answer as 1-5 stars: 1 / 满意 and 2 / 不满意 as listed, else a rating in words."""
        if self.word in SATISFIED:
            return 5
        if self.word in UNSATISFIED:
            return 1
        return self.slot("rating")

    async def rate_good(self):
        await self._rate(True)

    async def rate_bad(self):
        """不满意: recorded, then what was wrong asked (it was thanked and forgotten, and 回复太慢了
        next was searched as a matter)."""
        await self.desk.rate(self.user, int(self.data.get("ticket") or 0), False)
        self.ask()

    def complains(self) -> bool:
        """A complaint in words at 您对本次人工服务满意吗 (就这样？？？什么态度, 回复太慢了): unsatisfied."""
        return COMPLAINT.search(self.word) is not None

    async def rate_bad_with_reason(self):
        number = int(self.data.get("ticket") or 0)
        await self.desk.rate(self.user, number, False)
        await self.desk.complain(self.user, number, self.text)
        self.say("handoff/reason_noted.j2")
        self.finish()

    def skips_reason(self) -> bool:
        return self.word in SKIP_REASON

    def say_sorry(self):
        self.say("handoff/thanks.j2", satisfied=False)
        self.finish()

    async def take_reason(self):
        await self.desk.complain(self.user, int(self.data.get("ticket") or 0), self.text)
        self.say("handoff/reason_noted.j2")
        self.finish()

    async def _rate(self, satisfied: bool):
        await self.desk.rate(self.user, int(self.data.get("ticket") or 0), satisfied)
        self.say("handoff/thanks.j2", satisfied=satisfied)
        self.finish()

    # Anything else ------------------------------------------------------------------------

    def remind(self):
        self.say("handoff/remind.j2", state=self.state)
