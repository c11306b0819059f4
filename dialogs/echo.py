"""Echo: says back what it is told. Used only by the benchmark (bench/, target (c)) to measure
the bot's own path (signature, dedup, lock, session load and save) with the dialog work taken
out. Never on by default: nothing in the bot imports this module; the benchmark's server
wrapper imports it and gives each of its users a session in this dialog.

```
echoing --text--> echoing (says the text back)
```
"""

from __future__ import annotations

from dialogs.engine import Dialog, Reply, T

STATES = ["echoing"]
TRANSITIONS = [
    #  trigger  source     dest       when  then
    T("start", "*",        "echoing", None, None),
    T("text",  "echoing",  "echoing", None, "echo"),
]


class Echo(Dialog):
    name = "echo"
    title = "回声"
    STATES = STATES
    TRANSITIONS = TRANSITIONS

    def echo(self):
        self.replies.append(Reply(self.incoming.text))  # `self.text`, without the property
