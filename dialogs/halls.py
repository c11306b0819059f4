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

from dialogs.booking import distance_km, shared_location
from dialogs.engine import Dialog, T, normalise

STATES = ["pick", "shown"]
TRANSITIONS = [
    #  trigger     source            dest     when               then
    T("start",    "*",              "pick",  None,              "ask"),
    T("text",     ["pick", "shown"], "shown", "names_hall",      "show_hall"),
    T("location", ["pick", "shown"], "pick",  "shares_location", ["keep_location", "ask"]),
]


class Halls(Dialog):
    name = "halls"
    title = "服务大厅"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"pick": "halls/pick.j2", "shown": "halls/shown.j2"}
    EXPECTS = {"pick": frozenset({"hall", "choice"}), "shown": frozenset({"choice"})}
    DONE = frozenset({"shown"})

    def prompt_context(self):
        halls = self.halls()
        return {"halls": halls, "located": any(h["km"] is not None for h in halls)}

    def halls(self) -> list[dict]:
        """The halls as shown, numbered in this order: nearest first when we know where the
        person is (and the halls' coordinates)."""
        catalog = self.services.catalog
        if catalog is not None and catalog.ready.is_set() and catalog.halls:
            here = self.data.get("location")
            rows = [{"name": h.name, "address": h.address, "hours": h.hours_text, "phone": h.phone, "transit": h.transit,
                     "km": distance_km(here, (h.lat, h.lng)) if here else None} for h in catalog.halls.values()]
            if here:
                rows.sort(key=lambda r: r["km"])
            return rows
        return [{"name": h.name, "address": h.address, "hours": h.hours, "phone": h.phone, "transit": h.transit, "km": None}
                for h in self.services.halls]

    def shares_location(self) -> bool:
        return shared_location(self.incoming) is not None

    def keep_location(self):
        self.data["location"] = shared_location(self.incoming)

    def names_hall(self) -> bool:
        return self._hall() is not None

    def show_hall(self):
        self.say("halls/detail.j2", hall=self._hall())
        self.ask()

    def _hall(self) -> dict | None:
        halls = self.halls()
        text = self.word
        if text.isascii() and text.isdigit():
            index = int(text) - 1
            return halls[index] if 0 <= index < len(halls) else None
        if len(text) < 2:
            return None
        matches = [h for h in halls if text in normalise(h["name"])]
        return matches[0] if len(matches) == 1 else None
