"""The hall queue (取号, 排到哪了): at the hall, a queue number in chat; how many are ahead and
the rough wait; and, when a window calls it, a push "请到 X 窗口" (bot.workers.notifier).

With an appointment (booked in chat), 取号 exchanges it for a priority number at its hall; without
one, the person names the matter (or a 一件事 bundle) and gets a walk-in number at a hall that
serves it. Either way
the platform wants proof of being at the hall: the person's shared location (within the hall's
radius) or the 6-digit 签到码 on the hall's screens. The platform decides what "today" is and
refuses an appointment of another day, a hall that is closed, a wrong code; the person hears its
reason and, for an appointment that will not do, may take a walk-in number instead.

```
(start)   --a ticket taken today--> shown       --排到哪了 with none--> (done: how to take one)
(start)   --an appointment--> where             --none (or 现场取号)--> matter
matter    --text: a matter--> where             (several: numbered candidates, still matter)
where     --location / 签到码: taken--> shown   --refused--> where (the reason) | matter (the appointment will not do)
where     --签到码, several halls serve the matter--> hall --a hall--> shown
shown     --排到哪了 / 刷新 / 1--> shown          (the ticket as the platform sees it now)
```

The guards only read: the one platform call of each event (the person's ticket and appointments
on start, taking the ticket, reading it again) is made by the prepare action of that (trigger,
state), which records what came of it.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from dialogs.booking import distance_km, shared_location
from dialogs.engine import Dialog, P, T, guide_halls
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import ErrorCode, GeoPoint, Ticket, TicketRequest, TicketStatus

MAX_CANDIDATES = 5
CLEAR_LEAD = 1.6  # as in dialogs.booking: the best hit is taken when it leads this much
#: Words that open 取号, and those that ask where one stands (dialogs.menu.SHORTCUTS).
TAKE_WORDS = frozenset({"取号", "我要取号", "排队取号", "拿号", "取个号", "领号", "排号"})
WALK_IN_WORDS = frozenset({"现场取号", "没有预约", "没预约", "不用预约", "直接取号"})
STATUS_WORDS = frozenset({"排到哪了", "排到哪", "排到哪了呀", "排到哪里了", "排队进度", "前面还有几人", "前面还有几个人", "前面几个人",
                          "叫到我了吗", "叫到我没有", "我的排队号", "排号进度", "查排队", "还要等多久"})
REFRESH_WORDS = STATUS_WORDS | {"刷新", "1", "再看看"}
#: Refusals that say the appointment itself cannot give a number now: a walk-in number may.
APPOINTMENT_REFUSED = frozenset({ErrorCode.not_appointment_day, ErrorCode.wrong_hall, ErrorCode.appointment_not_active})
_CHECKIN = re.compile(r"(?<!\d)(\d{6})(?!\d)")

STATES = ["matter", "hall", "where", "shown"]
TRANSITIONS = [
    #  trigger     source     dest      when                    then
    T("start",    "*",       "shown",  "has_ticket",           "show_ticket"),
    T("start",    "*",       "matter", "asks_status_only",     "say_no_ticket"),
    T("start",    "*",       "matter", "was_busy",             "say_busy_and_leave"),
    T("start",    "*",       "where",  "has_appointment",      "ask"),
    T("start",    "*",       "where",  "names_matter",         ["keep_matter", "ask"]),  # 取号办身份证: that matter's number
    T("start",    "*",       "matter", "has_candidates",       "show_candidates"),
    T("start",    "*",       "matter", None,                   "ask"),
    T("text",     "matter",  "where",  "names_matter",         ["keep_matter", "ask"]),
    T("text",     "matter",  "matter", "has_candidates",       "show_candidates"),
    T("text",     "matter",  "matter", None,                   "say_not_found"),
    T("location", "where",   "shown",  "took_ticket",          "show_ticket"),
    T("location", "where",   "matter", "appointment_refused",  ["drop_appointment", "say_refused"]),
    T("location", "where",   "where",  "was_refused",          "say_refused"),
    T("location", "where",   "where",  "was_busy",             "say_busy"),
    T("text",     "where",   "matter", "asks_walk_in",         ["drop_appointment", "ask"]),
    T("text",     "where",   "shown",  "took_ticket",          "show_ticket"),
    T("text",     "where",   "hall",   "needs_hall",           "ask"),
    T("text",     "where",   "matter", "appointment_refused",  ["drop_appointment", "say_refused"]),
    T("text",     "where",   "where",  "was_refused",          "say_refused"),
    T("text",     "where",   "where",  "was_busy",             "say_busy"),
    T("text",     "hall",    "shown",  "took_ticket",          "show_ticket"),
    T("text",     "hall",    "where",  "was_refused",          "say_refused"),
    T("text",     "hall",    "hall",   "was_busy",             "say_busy"),
    T("text",     "shown",   "shown",  "refreshed",            "show_ticket"),
    T("text",     "shown",   "shown",  "was_busy",             "say_busy"),
]
PREPARE = [
    #  trigger     source    action
    P("start",    "*",      "look_up_on_start"),
    P("location", "where",  "take_by_location"),
    P("text",     "where",  "take_by_code"),
    P("text",     "hall",   "take_at_picked_hall"),
    P("text",     "shown",  "read_again"),
]


class Queue(Dialog):
    name = "queue"
    title = "取号排队"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"matter": "queue/ask_matter.j2", "hall": "queue/halls.j2", "where": "queue/ask_where.j2", "shown": "queue/follow_ups.j2"}
    EXPECTS = {"hall": frozenset({"choice"}), "shown": frozenset({"choice"})}
    FREE_TEXT = frozenset({"matter"})
    DONE = frozenset({"shown"})

    __slots__ = ("_ticket", "_outcome", "_busy", "_hits", "_carried")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ticket: Ticket | None = None  # the person's ticket, as a prepare read or took it
        self._outcome: PlatformError | None = None  # the platform's refusal of this turn's 取号
        self._busy = False
        self._hits = None
        self._carried: str | None = None  # on start: the matter said with 取号 (取号办身份证), else nothing

    def prompt_context(self):
        return {"data": self.data, "appointment": self.data.get("appointment"), "halls": self._serving_halls(),
                "candidates": self.data.get("candidates", [])}

    # On start: the ticket taken already, else the appointment to exchange ------------------------

    async def look_up_on_start(self) -> None:
        """Prepare (start): this person's ticket of today (one is enough: 取号 again shows it), and
        for 取号 without one, their soonest appointment (unless they asked for a walk-in number)."""
        self.data.setdefault("draft", secrets.token_hex(8))  # the walk-in's Idempotency-Key
        self._carried = str(self.data.pop("query", "") or "")
        queue = self.services.queue
        try:
            ticket = await queue.current(self.user)
            if ticket is not None and ticket.status in (TicketStatus.waiting, TicketStatus.called):
                self._ticket = ticket
                return
            if self.data.get("mode") in ("status", "walk_in"):
                return
            appointments = await queue.appointments_for_today(self.user)
        except PlatformUnavailable:
            self._busy = True
            return
        if appointments:
            a = appointments[0]
            self.data["appointment"] = {"id": a.id, "hall_id": a.hall_id, "matter_name": a.matter_name, "date": a.date.isoformat(),
                                        "start": a.start, "number": a.number}

    def has_ticket(self) -> bool:
        return self._ticket is not None

    def asks_status_only(self) -> bool:
        return self.data.get("mode") == "status"

    def say_no_ticket(self):
        self.say("queue/no_ticket.j2")
        self.finish()

    def has_appointment(self) -> bool:
        return "appointment" in self.data

    def was_busy(self) -> bool:
        return self._busy

    def say_busy(self):
        self.say("queue/busy.j2")
        self.ask()

    def say_busy_and_leave(self):
        self.say("queue/busy.j2")
        self.finish()

    # A walk-in: which matter ------------------------------------------------------------------

    def _all_hits(self) -> list:
        if self._hits is None:
            catalog = self.services.catalog
            query = (self._carried if self._carried is not None else self.text).strip()
            self._hits = []
            if query and catalog is not None and catalog.ready.is_set():
                self._hits = [h for h in catalog.search(query, top=MAX_CANDIDATES * 2) if self._halls_of(h.code)][:MAX_CANDIDATES]
        return self._hits

    def _picked_candidate(self) -> str | None:
        text = self.word
        candidates = self.data.get("candidates", [])
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(candidates):
            return candidates[int(text) - 1][0]
        return None

    def _named(self) -> str | None:
        picked = self._picked_candidate()
        if picked is not None:
            return picked
        hits = self._all_hits()
        if len(hits) == 1 or (len(hits) > 1 and hits[0].score >= CLEAR_LEAD * hits[1].score):
            return hits[0].code
        return None

    def names_matter(self) -> bool:
        return self._named() is not None

    def keep_matter(self):
        self.data["code"] = self._named()
        self.data.pop("candidates", None)

    def has_candidates(self) -> bool:
        return bool(self._all_hits())

    def show_candidates(self):
        self.data["candidates"] = [[h.code, h.name, h.department] for h in self._all_hits()]
        self.say("queue/candidates.j2", candidates=self.data["candidates"])

    def say_not_found(self):
        self.say("queue/not_found.j2")
        self.ask()

    def asks_walk_in(self) -> bool:
        return self.word in WALK_IN_WORDS

    def drop_appointment(self):
        self.data.pop("appointment", None)
        self.data.pop("hall", None)

    # Where the person is: which hall -------------------------------------------------------------

    def _halls_of(self, code: str) -> list:
        """Halls that serve a matter, or where one visit covers a whole 一件事 bundle."""
        catalog = self.services.catalog
        if catalog is None:
            return []
        bundle = catalog.bundles.get(code)
        if bundle is not None:
            return guide_halls(catalog, bundle)
        return guide_halls(catalog, catalog.guide(code))

    def _serving_halls(self) -> list:
        """The halls this ticket can be taken at: the appointment's, else those serving the matter."""
        catalog = self.services.catalog
        appointment = self.data.get("appointment")
        if appointment is not None:
            hall = catalog.halls.get(appointment["hall_id"]) if catalog is not None else None
            return [hall] if hall is not None else []
        return self._halls_of(self.data.get("code") or "")

    def _request(self, hall_id: str, **proof) -> TicketRequest:
        appointment = self.data.get("appointment")
        if appointment:
            target = {"appointment_id": appointment["id"]}
        elif self.data["code"] in self.services.catalog.bundles:  # a walk-in for a whole 一件事
            target = {"bundle_code": self.data["code"]}
        else:
            target = {"matter_code": self.data["code"]}
        return TicketRequest(hall_id=hall_id, **target, **proof)

    def _key(self) -> str:
        appointment = self.data.get("appointment")
        # An appointment has one ticket whoever asks; a walk-in one per 取号 (the draft).
        basis = f"appointment:{appointment['id']}" if appointment else f"walk-in:{self.data['draft']}:{self.data.get('code')}"
        return "chat-" + hashlib.sha256(f"{self.user}|{basis}".encode()).hexdigest()[:32]

    async def _take(self, request: TicketRequest) -> None:
        try:
            self._ticket = await self.services.queue.take(self.user, request, self._key())
        except PlatformUnavailable:
            self._busy = True
        except PlatformError as error:
            self._outcome = error

    async def take_by_location(self) -> None:
        """Prepare (location): the nearest hall that can give this ticket, and 取号 there."""
        here = shared_location(self.incoming)
        halls = self._serving_halls()
        if here is None or not halls:
            return
        hall = min(halls, key=lambda h: distance_km(here, (h.lat, h.lng)))
        await self._take(self._request(hall.id, location=GeoPoint(lat=here[0], lng=here[1])))

    def _typed_code(self) -> str | None:
        match = _CHECKIN.search(self.word)
        return match.group(1) if match else None

    async def take_by_code(self) -> None:
        """Prepare (text): a 签到码 typed; 取号 at the one hall it can be (several: ask which)."""
        code = self._typed_code()
        if code is None:
            return
        halls = self._serving_halls()
        if len(halls) == 1:
            await self._take(self._request(halls[0].id, checkin_code=code))
        elif halls:
            self.data["checkin"] = code

    def needs_hall(self) -> bool:
        return "checkin" in self.data and self._ticket is None

    async def take_at_picked_hall(self) -> None:
        """Prepare (text): the hall picked from the list, with the code typed before."""
        halls = self._serving_halls()
        text = self.word
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= len(halls)) or "checkin" not in self.data:
            return
        await self._take(self._request(halls[int(text) - 1].id, checkin_code=self.data["checkin"]))

    def took_ticket(self) -> bool:
        return self._ticket is not None

    def was_refused(self) -> bool:
        return self._outcome is not None

    def appointment_refused(self) -> bool:
        return self._outcome is not None and self._outcome.code in APPOINTMENT_REFUSED and "appointment" in self.data

    def say_refused(self):
        self.data.pop("checkin", None)
        self.say("queue/refused.j2", code=self._outcome.code.value, message=self._outcome.message, walk_in=self.state == "matter")
        self.ask()

    # The ticket ------------------------------------------------------------------------------------

    async def read_again(self) -> None:
        """Prepare (text on the ticket): 排到哪了 / 刷新 reads the ticket as the platform has it now."""
        if self.word not in REFRESH_WORDS:
            return
        try:
            self._ticket = await self.services.queue.current(self.user)
        except PlatformUnavailable:
            self._busy = True

    def refreshed(self) -> bool:
        return self._ticket is not None

    def show_ticket(self):
        for key in ("checkin", "candidates", "mode"):
            self.data.pop(key, None)
        self.say("queue/ticket.j2", ticket=self._ticket)
        self.ask()
