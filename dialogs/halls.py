"""Service halls: which halls there are, where, and when they open; nearest first once the
person has shared where they are.

```
pick  --text: a hall's number or name--> shown
shown --text: another hall's number or name--> shown
pick, shown --location--> pick (nearest first)
```

The halls are the platform's (`services.catalog.halls`); the ones in the settings
(config/default.toml [[halls]]) are shown only while the catalog has not loaded yet.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from dialogs import paging
from dialogs.booking import OPENING_KEY, distance_km, shared_location
from dialogs.engine import Dialog, T, hall_names, normalise
from dialogs.understand.appointments import booking_query
from dialogs.understand.halls import asks_about_halls, asks_hours
from dialogs.understand.reading import TZ, shanghai_today, understand
from dialogs.understand.vocabulary import fold

#: Whether a hall is open now, asked (现在还开着吗, 这会儿开门没, 今天开门吗).
_OPEN_NOW = re.compile(r"(?:现在|这会儿?|目前|今天|今儿)[^，,。]{0,4}(?:开门|开着|营业|上班|办公|开不开|开没)|还开着|还在上班|open (?:now|today)")

STATES = ["pick", "shown"]
TRANSITIONS = [
    #  trigger     source            dest     when               then
    T("start",    "*",              "shown", "carries_hall",    "show_carried_hall"),
    # 政务中心停车方便不: the district's and the city's 政务服务中心, each, not all nine halls
    T("start",    "*",              "shown", "carries_few_halls", "show_carried_halls"),
    T("start",    "*",              "pick",  "carries_day_question", "show_open_on_day"),
    T("start",    "*",              "pick",  "carries_hours_question", "show_hours"),
    T("start",    "*",              "pick",  None,              "ask"),
    T("text",     ["pick", "shown"], "shown", "names_hall",      "show_hall"),
    # 礼拜天开门不 / 现在还开着吗: the halls open that day (or now), with their hours
    T("text",     ["pick", "shown"], "pick",  "asks_open_on_day", "show_open_on_day"),
    T("text",     ["pick", "shown"], "pick",  "asks_hours",      "show_hours"),
    T("location", ["pick", "shown"], "pick",  "shares_location", ["keep_location", "ask"]),
    T("text",     "pick",           "pick",  "asks_more",       "show_next_page"),  # 长辈模式 pages the list
    # 可以预约吗 / 我要预约办护照 on the halls' screen: the booking, not a search for matters named 预约
    T("text",     ["pick", "shown"], "=",     "asks_to_book",    "open_booking"),
]


class Halls(Dialog):
    name = "halls"
    title = "服务大厅"
    JUST_LOOKING = True
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"pick": "halls/pick.j2", "shown": "halls/shown.j2"}
    EXPECTS = {"pick": frozenset({"hall", "choice"}), "shown": frozenset({"choice"})}
    DONE = frozenset({"shown"})

    __slots__ = ("_with_hours",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._with_hours = False  # this turn's list shows each hall's hours (a question about them)

    def prompt_context(self):
        halls = self.halls()
        return {"halls": halls, "page": paging.elder_window(halls, int(self.data.get(paging.PAGE_KEY, 0))),
                "located": any(h["km"] is not None for h in halls), "with_hours": self._with_hours}

    def halls(self) -> list[dict]:
        """The halls as shown, numbered in this order: nearest first when we know where the
        person is (and the halls' coordinates)."""
        catalog = self.services.catalog
        if catalog is not None and catalog.ready.is_set() and catalog.halls:
            here = self.data.get("location")
            rows = [{"id": h.id, "name": h.name, "address": h.address, "hours": h.hours_text, "phone": h.phone, "transit": h.transit,
                     "km": distance_km(here, (h.lat, h.lng)) if here else None} for h in catalog.halls.values()]
            if here:
                rows.sort(key=lambda r: r["km"])
            return rows
        return [{"id": getattr(h, "id", ""), "name": h.name, "address": h.address, "hours": h.hours, "phone": h.phone, "transit": h.transit, "km": None}
                for h in self.services.halls]

    def asks_more(self) -> bool:
        return paging.asks_more(self.text)

    def show_next_page(self):
        paging.next_page(self.data, len(self.halls()))
        self.ask()

    def shares_location(self) -> bool:
        return shared_location(self.incoming) is not None

    def keep_location(self):
        self.data["location"] = shared_location(self.incoming)

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """可以预约吗 at a hall is the booking (a matter named 预约 must not take it)."""
        return booking_query(text) is not None

    def asks_to_book(self) -> bool:
        return booking_query(self.text) is not None

    def open_booking(self):
        """The booking; from a hall's card (我要在这预约), at that hall: offered to the hall step as
        an opening message's hall is (dialogs.booking `OPENING_KEY`)."""
        query = booking_query(self.text)
        carry = {"query": query} if query else {}
        shown = self.data.get("shown")
        if self.state == "shown" and shown:
            carry[OPENING_KEY] = {"pending": ["hall"], "words": shown}
        self.start("booking", **carry)

    def names_hall(self) -> bool:
        return self._hall() is not None

    def show_hall(self):
        hall = self._hall()
        self.data["shown"] = hall["name"]  # 我要在这预约 next books at it
        self.say("halls/detail.j2", hall=hall)
        self.ask()

    def asks_hours(self) -> bool:
        """When they open, asked in words with no one hall named (你们周六上班吗, 几点下班)."""
        return asks_hours(self.text) and asks_about_halls(self.text, hall_names(self.services.catalog))

    def carries_hours_question(self) -> bool:
        question = self.data.get("query", "")
        return asks_hours(question) and asks_about_halls(question, hall_names(self.services.catalog))

    def show_hours(self):
        self.data.pop("query", None)
        self._with_hours = True
        self.ask()

    def _day_asked(self, text: str) -> tuple[date, bool] | None:
        """The day a question about opening asks of (礼拜天开门不: the coming Sunday), and whether
        it asks of now (现在还开着吗, 今天开门吗 count as today); None when it names no day."""
        if not asks_hours(text) and _OPEN_NOW.search(fold(text)) is None:
            return None
        folded = fold(text)
        if _OPEN_NOW.search(folded):
            return shanghai_today(), True
        named = understand(text, shanghai_today(), expects=frozenset({"date"})).value("date")
        return (named, False) if named is not None else None

    def asks_open_on_day(self) -> bool:
        return self._day_asked(self.text) is not None

    def carries_day_question(self) -> bool:
        return self._day_asked(self.data.get("query", "")) is not None

    def show_open_on_day(self):
        asked = self._day_asked(self.text) if self.incoming.kind == "text" else None
        day, now = asked or self._day_asked(self.data.get("query", ""))
        catalog = self.services.catalog
        known = catalog.halls if catalog is not None and catalog.ready.is_set() else {}
        if not known:  # the platform's hours not loaded yet: the list with the hours as written
            self.show_hours()
            return
        self.data.pop("query", None)
        holiday = day in (getattr(self.services.settings, "holidays", None) or ())
        clock = datetime.now(TZ).strftime("%H:%M") if now else ""
        rows = []
        for row in self.halls():
            hall = known.get(row["id"])
            hours = [] if holiday or hall is None else [h for h in hall.hours if h.weekday == day.isoweekday()]
            if hours:
                rows.append({"hall": hall, "hours": hours, "open_now": any(h.open <= clock < h.close for h in hours) if now else None})
        self.say("halls/open_on.j2", day=day, now=now, clock=clock, holiday=holiday, rows=rows)

    def carries_hall(self) -> bool:
        return self._carried_hall() is not None

    def show_carried_hall(self):
        hall = self._carried_hall()
        self.data["shown"] = hall["name"]
        self.say("halls/detail.j2", hall=hall)
        self.data.pop("query", None)
        self.ask()

    def carries_few_halls(self) -> bool:
        return len(self._named_all(self.data.get("query", ""))) in (2, 3)

    def show_carried_halls(self):
        for hall in self._named_all(self.data.get("query", "")):
            self.say("halls/detail.j2", hall=hall)
        self.data.pop("query", None)
        self.ask()

    def _named_all(self, text: str) -> list[dict]:
        """Every hall `text` names (政务中心: the district's and the city's)."""
        names = hall_names(self.services.catalog)
        folded = fold(text)
        if names is None or not folded:
            return []
        ids = {hall_id for slot in names.find(folded, [True] * len(folded)) for hall_id in slot.value}
        return [h for h in self.halls() if h["id"] in ids]

    def _carried_hall(self) -> dict | None:
        """The one hall a question carried in names (万盛街道便民服务中心几点上班), else None."""
        return self._named(self.data.get("query", ""))

    def _named(self, text: str) -> dict | None:
        """The one hall `text` names in any of the names people use for it (万盛, 车管所), else None."""
        named = self._named_all(text)
        return named[0] if len(named) == 1 else None

    def _hall(self) -> dict | None:
        halls = self.halls()
        named = self._named(self.text)
        if named is not None:
            return named
        text = self.word
        if text.isascii() and text.isdigit():
            index = int(text) - 1
            return halls[index] if 0 <= index < len(halls) else None
        if len(text) < 2:
            return None
        matches = [h for h in halls if text in normalise(h["name"])]
        return matches[0] if len(matches) == 1 else None
