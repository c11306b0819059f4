"""我的预约: the person's upcoming appointments; cancel one, or move it to another time. Moving
keeps the old appointment until the platform has confirmed the new one.

```
(start)      --取消我的预约 / 改到周三 (the one meant)--> as from manage, else list
list         --text: a number--> manage   --改到周四 / 取消吧 (the one meant)--> as from manage
manage       --1 改约: days loaded--> move_day     --2 取消预约--> cancelling
cancelling   --1 确定取消: cancelled--> (done)     --refused--> (done, explained)   --2 保留--> (done)
cancelling   --还是改个时间吧 (改到周五)--> move_day | move_slot
move_day     --text: a day--> move_slot
move_slot    --text: a time--> move_confirm
move_confirm --确认: moved--> (menu "booked")   --refused--> move_slot | move_day | (done, explained)
```

As in dialogs/booking.py, guards only read: the list, the days to move to, the cancellation and
the move are fetched or done by the state's prepare action (`PREPARE`).
"""

from __future__ import annotations

import re
import secrets
from datetime import date

from dialogs.booking import JUST_BOOKED, Picking
from dialogs.engine import P, T, normalise
from dialogs.understand.appointments import (CANCEL_WORDS, KEEP_WORDS, MOVE_SAID, SAID_CANCEL, STATUS_ASKED, about_my_appointments, changes_hall,
                                             about_this_appointment)
from dialogs.understand.answers import needs_time
from dialogs.understand.kinds import first_clause
from dialogs.understand.when import bare_weekday
from dialogs.understand.vocabulary import vocabulary
from integrations.platform.client import PlatformError
from integrations.platform.models import Appointment

MOVE = frozenset({"1", "改约", "改期", "换时间", "改时间", "换个时间", "改到别的时间"})
CANCEL = frozenset({"2", "取消预约", "取消这个预约", "取消这个", "不去了", "退约"})
CANCEL_YES = frozenset({"1", "确定", "确定取消", "确认", "确认取消", "是", "是的", "对"})
KEEP = frozenset({"2", "保留", "保留预约", "不取消", "不用了", "不了", "否"})

#: A question typed where cancelling is to be confirmed (取消的话会影响信用吗, 取消了还能再约吗).
_ASKED = re.compile(r"[?？]|吗|呢|么|会不会|能不能|能否|可不可以|是不是|怎么|多久|影响|还能|以后")



#: Someone else's appointment told of (我爸生前预约过…, 我老公约了一个…): with another matter named, not theirs.
_SOMEONE_ELSES = re.compile(r"(?:我爸|我妈|父亲|母亲|老人|家里人|老公|老婆|爱人|儿子|女儿|他|她)[^，,。]{0,8}(?:预约|约)")

#: Not the appointment on screen (不对, 不是这个, 搞错了): at 确定取消…吗, never a yes.
_NOT_THIS = re.compile(r"不对|不是这|搞错|弄错|错了|不是它|另一个|另外一个|别的那个")
#: Words just before the day a move goes to (改到周五, 换成下周一, 挪至15号).
#: A change said in one word at one appointment's card (改 / 换一下): moving it, not 没太明白.
_BARE_MOVE = frozenset({"改", "换", "调", "挪", "改下", "换下", "调下", "改一下", "换一下", "调一下", "挪一下", "改个", "换个", "改吧", "换吧"})
_MOVED_TO = re.compile(r"[到成至](?:下|这|本)?$")


def _on_day(iso: str, day: date, weekday_only: bool) -> bool:
    """Whether an appointment on `iso` is on the day named (on its weekday, when only that was said)."""
    on = date.fromisoformat(iso)
    return on.weekday() == day.weekday() if weekday_only else on == day


STATES = ["list", "manage", "cancelling", "move_day", "move_slot", "move_confirm"]
MOVING = ["move_day", "move_slot", "move_confirm"]
#: The move given up (不改了, 还是原来的吧): the appointment stays as it was.
_KEEP_AS_IT_WAS = re.compile(r"不改了|不换了|不挪了|不用改了|别改了|不调了|不动了|(?:还是|就|按|保持|维持)(?:用|约)?原来|原来的?(?:那个|那天|时间)?就(?:行|好|可以)")
#: Cancelling asked for instead of the move (还是取消预约吧, 算了 直接取消吧).
_CANCEL_INSTEAD = re.compile(r"取消(?:预约|这个|掉|了吧|吧)|直接取消|还是取消|退约|不约了|不去了")
TRANSITIONS = [
    #  trigger  source          dest            when                  then
    # 能不能换到区政务服务中心去办: a move keeps the hall; how another is had, then the appointments
    T("start", "*",            "list",         "asks_other_hall",    ["say_how_hall_changes", "ask"]),
    T("start", "*",            "move_slot",    "moves_to_named_day", "ask"),
    T("start", "*",            "move_day",     "wants_move",         "ask"),
    T("start", "*",            "manage",       "move_has_no_days",   "say_no_days"),
    T("start", "*",            "cancelling",   "cancels_the_one_meant", "ask"),
    T("start", "*",            "manage",       "means_one",          "ask"),
    # 到时候要带啥子 just after booking (or of the only appointment): what to bring for it
    T("start", "*",            "manage",       "asks_what_to_bring_of_the_only_one", ["take_the_only_one", "say_what_to_bring", "ask"]),
    T("start", "*",            "list",         "changes_without_pick", "say_pick_first"),  # 改到下周一 with two: which one
    T("start", "*",            "list",         "has_upcoming",       "ask"),
    T("start", "*",            "list",         "was_busy",           "say_busy_and_leave"),
    T("start", "*",            "list",         None,                 "say_none"),
    T("text",  ["list", "manage"], "=",        "says_other_hall",    ["say_how_hall_changes", "ask"]),  # 换到北辰那边办
    T("text",  "list",         "move_slot",    "moves_to_named_day", "ask"),
    T("text",  "list",         "move_day",     "wants_move",         "ask"),
    T("text",  "list",         "manage",       "move_has_no_days",   "say_no_days"),
    T("text",  "list",         "cancelling",   "cancels_the_one_meant", "ask"),
    T("text",  "list",         "manage",       "means_one",          "ask"),
    T("text",  ["list", "manage"], "=",        "asks_if_it_stands",  "say_it_stands"),  # 预约还在不在: yes, shown
    T("text",  "list",         "list",         "changes_without_pick", "say_pick_first"),
    T("text",  "list",         "manage",       "asks_what_to_bring_of_the_only_one", ["take_the_only_one", "say_what_to_bring", "ask"]),
    T("text",  "list",         "list",         "asks_what_to_bring", "say_pick_which_to_bring_for"),
    # 带啥 at an appointment, or while moving it: its materials, and the step again
    T("text",  ["manage", "move_day", "move_slot", "move_confirm", "cancelling"], "=", "asks_what_to_bring", ["say_what_to_bring", "ask"]),
    T("text",  "list",         "manage",       "picks_appointment",  ["take_appointment", "ask"]),
    T("text",  "manage",       "move_slot",    "moves_to_named_day", "ask"),
    T("text",  "manage",       "move_day",     "wants_move",         "ask"),
    T("text",  "manage",       "manage",       "move_has_no_days",   "say_no_days"),
    T("text",  "manage",       "manage",       "asks_about_cancelling_first", "say_what_cancelling_means"),  # 取消…是不是要扣信用分
    T("text",  "manage",       "cancelling",   "wants_cancel",       "ask"),
    # 不对，是社保卡那个要取消: that one's confirmation instead (the one on screen was cancelled);
    # 不对 / 不是这个 naming none: the list, nothing cancelled
    T("text",  "cancelling",   "cancelling",   "means_another",      "ask"),
    T("text",  "cancelling",   "list",         "means_not_this_one", "say_pick_first"),
    T("text",  "cancelling",   "cancelling",   "asks_about_cancelling", "say_what_cancelling_means"),
    # 还是改个时间吧 (改到周五): the move instead
    T("text",  "cancelling",   "move_slot",    "moves_to_named_day", "ask"),
    T("text",  "cancelling",   "move_day",     "wants_move",         "ask"),
    T("text",  "cancelling",   "manage",       "move_has_no_days",   "say_no_days"),
    T("text",  "cancelling",   "cancelling",   "cancel_done",        "say_cancelled"),
    T("text",  "cancelling",   "cancelling",   "cancel_refused",     "say_refused_and_leave"),
    T("text",  "cancelling",   "cancelling",   "keeps_it",           "say_kept"),
    T("text",  "cancelling",   "=",            "needs_time",         "say_no_hurry"),  # 等一下 我问问家里人: nothing cancelled yet
    # 不改了 while moving: the appointment stays as it was; 还是取消预约吧: its cancellation, confirmed
    T("text",  MOVING,         "manage",       "keeps_as_it_was",    "say_kept"),
    T("text",  MOVING,         "cancelling",   "cancels_instead",    "ask"),
    T("text",  ["move_day", "move_slot"], "=", "asks_more",         "show_next_page"),
    # 周五吧 / 换一天 at the times: that day's times, or the days again
    T("text",  "move_slot",    "move_slot",    "picks_other_day_with_slots", "ask"),
    T("text",  "move_slot",    "move_day",     "day_was_full",       "say_day_full"),
    T("text",  "move_slot",    "move_day",     "wants_other_day",    "ask"),
    T("text",  "move_day",     "move_slot",    "picks_day_with_slots", "ask"),
    T("text",  "move_day",     "move_day",     "day_was_full",       "say_day_full"),
    T("text",  "move_day",     "move_day",     "names_day_not_offered", "say_not_offered"),
    T("text",  "move_slot",    "move_confirm", "picks_slot",         ["take_slot", "show_move_summary"]),
    T("text",  "move_slot",    "move_slot",    "names_time_not_offered", "say_not_offered"),
    T("text",  "move_slot",    "move_slot",    "picks_number_not_shown", "say_pick_shown"),
    T("text",  "move_confirm", "move_confirm", "confirmed_and_done", "say_moved"),
    # 改到下午3点 / 9点有吗 at the move's summary: that time of the day, or the day's times when it has none
    T("text",  "move_confirm", "move_confirm", "names_free_time",    ["take_slot", "show_move_summary"]),
    T("text",  "move_confirm", "move_slot",    "names_time_not_offered", "ask"),
    T("text",  "move_confirm", "move_slot",    "wants_other_time",   "ask"),
    T("text",  "move_confirm", "move_slot",    "slot_was_taken",     "say_refused_and_ask"),
    T("text",  "move_confirm", "move_day",     "day_was_refused",    "say_refused_and_ask"),
    T("text",  "move_confirm", "move_confirm", "was_refused",        "say_refused_and_leave"),
    T("text",  STATES,         "=",            "was_busy",           "say_busy"),
]
#: What each (trigger, state) fetches or does before its guards are asked.
PREPARE = [
    #  trigger  source          action
    P("start", "*",            "load_upcoming_and_the_one_meant"),
    P("text",  "list",         "take_the_one_meant"),
    P("text",  "manage",       "load_days_if_moving"),
    P("text",  "cancelling",   "cancel_if_confirmed"),
    P("text",  "move_day",     "load_slots_of_picked_day"),
    P("text",  "move_slot",    "load_slots_of_other_day"),
    P("text",  "move_confirm", "submit_if_confirmed"),
]


class Appointments(Picking):
    name = "appointments"
    title = "我的预约"
    LEAVING_CHANGES_NOTHING = True
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    #: Here these mean "this appointment", not the shortcut to the list (dialogs.menu.SHORTCUTS).
    OWN_WORDS = MOVE | CANCEL
    # 不约了 at one's appointments cancels one (it left 我的预约 with nothing changed)
    CANCEL_ANSWERS = {"list": ("取消", "cancel", "不约了", "不要了"), "manage": ("取消", "cancel", "不约了", "不要了"), "cancelling": ""}

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """Words about an appointment, and while moving one 不改了 (the move given up)."""
        word = normalise(text)
        return (about_my_appointments(text) or about_this_appointment(word)
                or (state in MOVING and _KEEP_AS_IT_WAS.search(word) is not None)
                # 算了 还是保留吧 / 等一下 我问问我老婆 at 确定取消…吗: this question's, never a search
                or (state == "cancelling" and (any(keep in word for keep in KEEP_WORDS) or needs_time(word))))

    PROMPTS = {
        "list": "booking/list.j2", "manage": "booking/manage.j2", "cancelling": "booking/confirm_cancel.j2",
        "move_day": "booking/days.j2", "move_slot": "booking/slots.j2", "move_confirm": "booking/move_confirm.j2",
    }
    EXPECTS = {
        "list": frozenset({"choice"}), "manage": frozenset({"choice"}), "cancelling": frozenset({"choice", "yes_no"}),
        "move_day": frozenset({"date", "choice"}), "move_slot": frozenset({"time", "choice", "date"}), "move_confirm": frozenset({"yes_no"}),
    }
    FILLS = {"move_day": "date", "move_slot": "time"}
    DONE = frozenset({"list"})
    __slots__ = ("_meant", "_asked", "_retargeted")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._meant: int | None = None  # the appointment a change in words at the list means
        self._asked = False  # a question typed at 确定取消吗
        self._retargeted: str | None = None  # at 确定取消吗: "another" appointment named, or "none" of them (not this one)

    def prompt_context(self):
        return {**super().prompt_context(), "items": [self.shown(i) for i in self.data.get("items", [])],
                "item": self.shown(self.data["item"]) if self.data.get("item") else None, "moving": True,
                # 我的预约还在吗 / 取消了吗: answered first (these are all still booked)
                "standing": self.incoming.kind == "text" and STATUS_ASKED.search(self.word) is not None}

    def shown(self, item: dict) -> dict:
        hall = self.services.catalog.halls.get(item["hall_id"])
        return {**item, "day": item["date"], "hall": hall.name if hall else "",
                "address": hall.address if hall else "", "phone": hall.phone if hall else ""}

    # The list ----------------------------------------------------------------------------------

    async def load_upcoming(self) -> None:
        """Prepare (start): the person's upcoming appointments, into `items`."""
        items = await self.platform(self.services.bookings.upcoming, self.user)
        if items:
            self.data["items"] = [
                {"id": a.id, "number": a.number, "matter_code": a.matter_code, "matter_name": a.matter_name, "hall_id": a.hall_id,
                 "date": a.date.isoformat(), "start": a.start, "end": a.end, "bundle_code": a.bundle_code}
                for a in items
            ]

    async def load_upcoming_and_the_one_meant(self) -> None:
        """Prepare (start): the list, and when the message that opened it moves or cancels in
        words (取消我的预约, 还是取消吧, 改到周三), the appointment meant, as at the list."""
        await self.load_upcoming()
        if self.data.get("items") and self.incoming.kind == "text":
            await self.take_the_one_meant()

    def has_upcoming(self) -> bool:
        return bool(self.data.get("items"))

    def asks_other_hall(self) -> bool:
        return bool(self.data.get("hall_change")) and self.has_upcoming()

    def says_other_hall(self) -> bool:
        return changes_hall(self.word)

    def say_how_hall_changes(self):
        self.data.pop("hall_change", None)
        self.say("booking/hall_change.j2")

    def say_busy_and_leave(self):
        self.say("booking/busy.j2", confirming=False)
        self.finish()

    def say_none(self):
        self.say("booking/none.j2")
        self.finish()

    def picks_appointment(self) -> bool:
        return self.number(len(self.data.get("items", []))) is not None

    def take_appointment(self, index: int | None = None):
        items = self.data["items"]
        item = self.data["item"] = items[self.number(len(items)) - 1 if index is None else index]
        self.data["code"], self.data["hall"] = item["matter_code"], item["hall_id"]
        if item.get("bundle_code"):  # a whole 一件事 moves to a day and time that takes all of it
            self.data["bundle"] = item["bundle_code"]
        else:
            self.data.pop("bundle", None)

    # Changing one in words, at the list (取消吧, 改到周四, 护照那个取消) --------------------------------

    async def take_the_one_meant(self) -> None:
        """Prepare (list): moving or cancelling said in words takes the appointment meant (the only
        one, or the one whose day or matter the message names) and goes on as at that
        appointment; with several and none named, the person is asked to pick one first."""
        self._meant = None
        if self.state == "list" and self.number(len(self.data.get("items", []))) is not None:
            return
        moving, cancelling = self._says_move(), self._says_cancel()
        if not (moving or cancelling):
            return
        items = self.data.get("items", [])
        other = len(items) == 1 and await self._names_another_matter(items[0]["matter_name"])
        index = self._meant = None if other else self._one_meant()
        if index is None:
            return
        self.take_appointment(index)
        if moving:
            await self.load_days_if_moving()

    def _one_meant(self) -> int | None:
        items = self.data.get("items", [])
        if len(items) == 1:
            return 0
        word = self.word
        days = self._days_of_an_appointment()
        picked = [i for i, item in enumerate(items)
                  if any(_on_day(item["date"], day, weekday) for day, weekday in days) or self._names_matter_of(item, word)]
        return picked[0] if len(picked) == 1 else None

    def _names_matter_of(self, item: dict, word: str) -> bool:
        """Whether `word` names the appointment's matter: two characters of its name, or a name
        people give it (the guide's aliases and keywords: 社保卡 of 社会保障卡申领)."""
        name = item["matter_name"]
        if any(name[k:k + 2] in word for k in range(len(name) - 1)):
            return True
        catalog = self.services.catalog
        guide = catalog.guide(item["matter_code"]) if catalog is not None and item.get("matter_code") else None
        return guide is not None and any(len(other) >= 2 and other in word for other in (*guide.aliases, *guide.keywords))

    def _days_of_an_appointment(self) -> list[tuple[date, bool]]:
        """The days the message names an appointment by, as (day, named by its weekday alone): not
        the day a move goes to (改到下周一上午, 把周四那个改到周五: 周一 and 周五 are where it goes).
        A weekday alone (取消周一那个) means the appointment on that weekday, whichever week."""
        understood = self.understood
        moving = self._says_move()
        days = []
        for slot in understood.found("date"):
            if not slot.valid or (moving and _MOVED_TO.search(understood.text[max(0, slot.start - 3):slot.start])):
                continue
            days.append((slot.value, bare_weekday(understood.text[slot.start:slot.end])))
        return days

    async def _names_another_matter(self, mine: str) -> bool:
        """Whether the message tells of someone else's appointment of a matter that shares nothing
        with `mine`, the person's only one (我爸预约过一个社保卡的业务 现在怎么取消): then the list is
        shown, and nothing of theirs is offered to cancel."""
        catalog = self.services.catalog
        if (catalog is None or not catalog.ready.is_set() or _SOMEONE_ELSES.search(self.word) is None
                or any(mine[k:k + 2] in self.word for k in range(len(mine) - 1))):
            return False
        try:
            found = await catalog.find(self.text, top=1)
        except Exception:  # noqa: BLE001  (the search failing leaves the only appointment meant)
            return False
        if found is None or not found.shown:
            return False
        named = found.shown[0].name
        return not any(named[k:k + 2] in mine for k in range(len(named) - 1))

    def cancels_the_one_meant(self) -> bool:
        """取消吧 (said, not only 去不了: that may mean moving too, so `means_one` shows both)."""
        return (self._meant is not None and self._says_cancel() and not self._says_move()
                and any(word in self.word for word in SAID_CANCEL))

    def means_one(self) -> bool:
        return self._meant is not None

    def changes_without_pick(self) -> bool:
        # (with no appointment at all, 取消预约 is told there is none, not asked to pick from nothing)
        return self._meant is None and bool(self.data.get("items")) and (self._says_move() or self._says_cancel())

    def say_pick_first(self):
        self.say("booking/pick_first.j2", cancelling=self._says_cancel())
        self.ask()

    def asks_what_to_bring_of_the_only_one(self) -> bool:
        return len(self.data.get("items") or ()) == 1 and self.asks_what_to_bring()

    def take_the_only_one(self):
        self.take_appointment(0)

    def say_pick_which_to_bring_for(self):
        self.say("booking/pick_first.j2", bringing=True)
        self.ask()

    # Moving ------------------------------------------------------------------------------------

    async def load_days_if_moving(self) -> None:
        """Prepare: 改约, the days it can move to ("days"), or that there are none ("full"). At an
        appointment's options, another appointment named (身份证那个改到周五) is the one moved."""
        if self.state == "manage" and len(self.data.get("items", [])) > 1 and self._says_move():
            meant = self._one_meant()
            if meant is not None and self.data["items"][meant].get("id") != self.data.get("item", {}).get("id"):
                self.take_appointment(meant)
        if (self.says(MOVE) or self._says_move()) and await self.load_days():
            self._found = "days" if self.data["days"] else "full"
            named = self._named_day()  # 改到周四: that day's times at once, when it is on offer
            if self._found == "days" and named is not None and any(day == named.isoformat() for day, _ in self.data["days"]):
                self.data["day"] = named.isoformat()
                if await self.load_slots() and self.data["slots"]:
                    self._found = "day_named"

    def _named_day(self) -> date | None:
        """The day a move names: the one date said, or of two (周一去不了，能改到周三吗) the one
        that is not the appointment's own day."""
        named = self.slot("date")
        conflict = self.understood.conflict("date") if named is None and self.incoming.kind == "text" else None
        if conflict is None:
            return named
        current = self.data.get("item", {}).get("date")
        others = [slot.value for slot in conflict.slots if slot.valid and slot.value.isoformat() != current]
        return self._next_listed(others[-1]) if others else None

    def _says_move(self) -> bool:
        """Moving said in words (改到周四, 能不能换个时间, 时间改一下), even beside a cancel word
        (周一去不了，能改到周三吗; 不想取消，换个时间): moving keeps the appointment until the new
        time is confirmed, so it is the safer reading."""
        return MOVE_SAID.search(self.word) is not None or (self.state == "manage" and self.word in _BARE_MOVE)

    def step_back(self) -> bool:
        """返回 at the move's summary (回复「返回」重新选): the day's times, also when the time was
        taken from the message that asked for the move (there was no step before to go back to)."""
        if self.state == "move_confirm" and self.data.get("slots"):
            self.state = "move_slot"
            return True
        return False

    def moves_to_named_day(self) -> bool:
        return self._found == "day_named"

    def wants_move(self) -> bool:
        return self._found == "days"

    def move_has_no_days(self) -> bool:
        return self._found == "full"

    def say_no_days(self):
        self.say("booking/hall_full.j2", hall=self.hall())
        self.ask()

    def show_move_summary(self):
        self.data["draft"] = secrets.token_hex(12)  # the reschedule's Idempotency-Key
        self.ask()

    def say_moved(self):
        moved: Appointment = self._outcome
        self.say("booking/moved.j2", appointment=moved, day=moved.date, hall=self.hall(), old=self.shown(self.data["item"]))
        self.start("menu", **{JUST_BOOKED: True})

    # Cancelling --------------------------------------------------------------------------------

    def wants_cancel(self) -> bool:
        """2, or cancelling said in words (取消, 那个预约取消掉, 算了不去了)."""
        return self.says(CANCEL) or (not self.says(MOVE) and self._says_cancel())

    def _says_cancel(self) -> bool:
        word = self.word
        if any(keep in word for keep in KEEP_WORDS) or STATUS_ASKED.search(word):
            return False  # 不取消; 取消了吗 asks whether it still stands
        return any(cancel in word for cancel in CANCEL_WORDS)

    async def cancel_if_confirmed(self) -> None:
        """Prepare: 确定取消, or yes / cancel in other words (嗯 取消吧, 好的), cancel (`_outcome`:
        the cancelled appointment, or the refusal)."""
        self._asked = False
        self._retargeted = None
        items = self.data.get("items", [])
        current = next((i for i, item in enumerate(items) if item.get("id") == self.data.get("item", {}).get("id")), None)
        meant = self._one_meant() if len(items) > 1 else None
        if meant is not None and meant != current:  # 不对，是社保卡那个要取消: never the one on screen
            self.take_appointment(meant)
            self._retargeted = "another"
            return
        if len(items) > 1 and _NOT_THIS.search(self.word):
            self._retargeted = "none"
            return
        if self.says(CANCEL_YES):
            await self.attempt()
        elif self._says_move():  # 还是改个时间吧 改到周五: moving instead, which keeps it until the new time is confirmed
            await self.load_days_if_moving()
        elif _ASKED.search(self.word):
            self._asked = True  # 取消了以后还能再约吗: a question about cancelling is not a yes
        elif not self.says(KEEP) and (self.slot("yes_no") is True or self._says_cancel()):
            await self.attempt()

    def means_another(self) -> bool:
        return self._retargeted == "another"

    def means_not_this_one(self) -> bool:
        return self._retargeted == "none"

    def asks_about_cancelling_first(self) -> bool:
        """A question about what cancelling does, asked before any wish to cancel (取消预约是不是要扣
        信用分): answered, and nothing is offered to cancel."""
        return (any(word in self.word for word in CANCEL_WORDS) and _ASKED.search(self.word) is not None
                and not self.says(CANCEL) and STATUS_ASKED.search(self.word) is None)

    def asks_about_cancelling(self) -> bool:
        return self._asked

    def say_what_cancelling_means(self):
        self.say("booking/cancel_question.j2")
        self.ask()

    def cancel_done(self) -> bool:
        return isinstance(self._outcome, Appointment)

    def cancel_refused(self) -> bool:
        return isinstance(self._outcome, PlatformError)

    def keeps_it(self) -> bool:
        """2, no (不是，我是说改时间), or 算了 (a way out said at this question keeps the appointment,
        and says so)."""
        return (self.says(KEEP) or self.slot("yes_no") is False or any(keep in self.word for keep in KEEP_WORDS)
                or first_clause(self.word) in vocabulary().no or self.understood.global_word == "cancel")

    def say_cancelled(self):
        self.say("booking/cancelled.j2", item=self.shown(self.data["item"]))
        self.finish()

    def say_no_hurry(self):
        self.say("booking/cancel_wait.j2", item=self.shown(self.data["item"]))

    def say_kept(self):
        self.say("booking/kept.j2", item=self.shown(self.data["item"]))
        self.finish()

    def asks_if_it_stands(self) -> bool:
        return STATUS_ASKED.search(self.word) is not None

    def say_it_stands(self):
        if self.state == "manage":
            self.say("booking/stands.j2", item=self.shown(self.data["item"]))
        self.ask()  # the list says they all still stand (list.j2's `standing`)

    def keeps_as_it_was(self) -> bool:
        return _KEEP_AS_IT_WAS.search(self.word) is not None

    def cancels_instead(self) -> bool:
        return _CANCEL_INSTEAD.search(self.word) is not None and not self.keeps_as_it_was() and STATUS_ASKED.search(self.word) is None

    # Both -------------------------------------------------------------------------------------------

    async def submit(self) -> Appointment:
        item = self.data["item"]
        if self.state == "cancelling":
            return await self.services.bookings.cancel(self.user, item["id"])
        return await self.services.bookings.move(
            self.user, item["id"], date.fromisoformat(self.data["day"]), self.data["start"], f"move-{self.data['draft']}", self.hall(),
        )
