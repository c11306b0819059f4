"""我的订阅: the cases a person subscribed to and the enterprises they bound, and removing them
(退订 / 解绑) by their number in the list.

```
listing --text: an item's number--> listing (removed; the list again, or done when empty)
listing --更多 / 下一页--> listing (the next page of the list: dialogs.paging)
```
Started with `mode`: "all" (我的订阅), "unsubscribe" (退订: cases only) or "unbind" (解绑:
enterprises only). The list is loaded by the start's prepare action; guards only read it.
"""

from __future__ import annotations

from dialogs import paging
from dialogs.engine import Dialog, P, T

STATES = ["listing"]
TRANSITIONS = [
    #  trigger  source     dest       when           then
    T("start", "*",       "listing", "has_items",   "ask"),
    T("start", "*",       "listing", None,          "say_empty"),
    T("text",  "listing", "listing", "picks_item",  "remove_item"),
    T("text",  "listing", "listing", "asks_more",   "show_next_page"),
]
PREPARE = [
    #  trigger  source  action
    P("start", "*",    "load_items"),
]


class MySubscriptions(Dialog):
    name = "subscriptions"
    title = "我的订阅"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"listing": "subscriptions/list.j2"}
    EXPECTS = {"listing": frozenset({"choice"})}
    DONE = frozenset({"listing"})

    def prompt_context(self):
        return {"page": paging.window(self.data.get("items", []), int(self.data.get(paging.PAGE_KEY, 0))), "mode": self.data.get("mode", "all")}

    def asks_more(self) -> bool:
        return paging.asks_more(self.text)

    def show_next_page(self):
        paging.next_page(self.data, len(self.data.get("items", [])))
        self.ask()

    async def _load(self) -> list:
        store, user, mode = self.services.subscriptions, self.incoming.user, self.data.setdefault("mode", "all")
        items: list = []
        if mode in ("all", "unsubscribe"):
            verified = await store.verified(user)
            for case_no in await store.subscribed(user):
                known = verified.get(case_no)
                items.append(["case", case_no, known.matter_name if known else ""])
        if mode in ("all", "unbind"):
            items.extend(["enterprise", code, name] for code, name in await store.enterprises(user))
        self.data["items"] = items
        return items

    async def load_items(self) -> None:
        """Prepare (start): the person's subscriptions and bindings, as `items`."""
        await self._load()

    def has_items(self) -> bool:
        return bool(self.data.get("items"))

    def say_empty(self):
        self.say("subscriptions/empty.j2", mode=self.data.get("mode", "all"))
        self.finish()

    def picks_item(self) -> bool:
        text = self.word
        return text.isascii() and text.isdigit() and 1 <= int(text) <= len(self.data.get("items", []))

    async def remove_item(self):
        kind, key, label = self.data["items"][int(self.word) - 1]
        store, user = self.services.subscriptions, self.incoming.user
        if kind == "case":
            await store.unsubscribe(user, key)
        else:
            await store.unbind(user, key)
        self.say("subscriptions/removed.j2", kind=kind, key=key, label=label)
        if await self._load():
            self.ask()
        else:
            self.finish()
