"""Service halls: which halls there are, where, and when they open.

```
pick  --text: a hall's number or name--> shown
shown --text: another hall's number or name--> shown
```
"""

from __future__ import annotations

from dialogs.engine import Dialog, T, normalise

STATES = ["pick", "shown"]
TRANSITIONS = [
    #  trigger  source            dest     when           then
    T("start", "*",              "pick",  None,          "ask"),
    T("text",  ["pick", "shown"], "shown", "names_hall",  "show_hall"),
]


class Halls(Dialog):
    name = "halls"
    title = "服务大厅"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"pick": "halls/pick.j2", "shown": "halls/shown.j2"}

    def prompt_context(self):
        return {"halls": self.services.halls}

    def names_hall(self) -> bool:
        return self._hall() is not None

    def show_hall(self):
        self.say("halls/detail.j2", hall=self._hall())
        self.ask()

    def _hall(self):
        halls = self.services.halls
        text = normalise(self.text)
        if text.isascii() and text.isdigit():
            index = int(text) - 1
            return halls[index] if 0 <= index < len(halls) else None
        if len(text) < 2:
            return None
        matches = [h for h in halls if text in normalise(h.name)]
        return matches[0] if len(matches) == 1 else None
