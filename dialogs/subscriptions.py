"""我的订阅: the cases a person subscribed to and the enterprises they bound, and removing them
(退订 / 解绑) by their number in the list.

```
listing --text: an item's number--> confirming (确定退订…吗？ / 确定解除…绑定吗？)
confirming --1 / 确定 / yes--> listing (removed; the list again, or done when empty)
confirming --2 / 保留 / no--> listing (kept, said so; the list again)
listing --更多 / 下一页--> listing (the next page of the list: dialogs.paging)
```
A number tapped by mistake costs nothing: undoing a binding needs a new code texted to the
enterprise's contact, so removal is always confirmed first.
Started with `mode`: "all" (我的订阅), "unsubscribe" (退订: cases only), "unbind" (解绑:
enterprises only) or "notices_off" (取消通知 away from a card: every matter's policy notices stop). The list is loaded by the start's prepare action; guards only read it.
"""

from __future__ import annotations

import re

from dialogs import paging
from dialogs.engine import Dialog, P, T, normalise

STATES = ["listing", "confirming"]
TRANSITIONS = [
    #  trigger  source        dest          when                 then
    T("start", "*",          "listing",    "turns_notices_off", "notices_off"),  # 取消通知 away from a card
    # 退订 with no case followed but matters' policy notices (订阅通知 on a card): those stop
    T("start", "*",          "listing",    "only_notices_to_stop", "notices_off"),
    T("start", "*",          "listing",    "has_items",         "ask"),
    T("start", "*",          "listing",    None,                "say_empty"),
    T("text",  "listing",    "confirming", "picks_item",        ["keep_pick", "ask"]),
    T("text",  "listing",    "listing",    "asks_more",         "show_next_page"),
    T("text",  "listing",    "listing",    "changes_nothing",   "say_nothing_changed"),  # 啊点错了 at the list
    T("text",  "confirming", "listing",    "confirms_removal",  "remove_item"),
    T("text",  "confirming", "listing",    "keeps_item",        ["say_kept", "ask"]),
]
#: Removing said of the only item listed (把这个退订了, 解绑吧).
_REMOVE_SAID = re.compile(r"退订|解绑|解除|取消|删")
#: The answers at 确定退订…吗？ (1. 确定 2. 保留), besides a plain yes or no.
REMOVE_YES = frozenset({"1", "确定", "确认", "确定退订", "确定解除", "确定解绑", "退订", "解绑", "解除", "解除绑定"})
#: Keeping it said in words (不想解绑了, 还是保留吧).
_KEEP_SAID = re.compile(r"点错|按错|不是要|不想解绑|不解绑|不想退订|不退订|不想解除|不取消|保留")
REMOVE_NO = frozenset({"2", "保留", "不退订", "不解绑", "不解除", "先不", "算了", "不了", "点错了", "按错了"})
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
    PROMPTS = {"listing": "subscriptions/list.j2", "confirming": "subscriptions/confirm_remove.j2"}
    EXPECTS = {"listing": frozenset({"choice"}), "confirming": frozenset({"choice", "yes_no"})}
    #: A confirmation left for something else is never resumed: 解绑 said later (the very word that
    #: confirms) unbound, with no question asked, the enterprise picked before; a fresh 解绑 lists again.
    NOT_RESUMED = frozenset({"confirming"})

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """At 确定解除…吗, the options' own words typed (确定解除, 保留) answer it: a search for them
        listed 抵押备案解除."""
        word = normalise(text)
        return state == "confirming" and (word in REMOVE_YES or word in REMOVE_NO or _KEEP_SAID.search(word) is not None)
    DONE = frozenset({"listing"})
    LEAVING_CHANGES_NOTHING = True

    def prompt_context(self):
        items = self.data.get("items", [])
        picked = self.data.get("picked")
        return {"page": paging.window(items, int(self.data.get(paging.PAGE_KEY, 0))), "mode": self.data.get("mode", "all"),
                "item": items[picked] if picked is not None and picked < len(items) else None, "followed": self.data.get("followed", 0)}

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
        """Prepare (start): the person's subscriptions and bindings, as `items` (取消通知: none)."""
        if self.data.get("mode") != "notices_off":
            await self._load()
        mode = self.data.get("mode", "all")
        if mode == "all" or (mode == "unsubscribe" and not self.data["items"]):  # 订阅通知 on a card: said too
            self.data["followed"] = await self.services.subscriptions.followed_matters(self.incoming.user)

    def only_notices_to_stop(self) -> bool:
        """退订 / 取消订阅 by someone who follows no case but some matters' policy notices: they
        mean those (told 您还没有订阅办件, the notices went on)."""
        return self.data.get("mode") == "unsubscribe" and not self.data.get("items") and bool(self.data.get("followed"))

    def turns_notices_off(self) -> bool:
        return self.data.get("mode") == "notices_off"

    async def notices_off(self):
        """Every matter's policy notices this person asked for on a card stop (回复「取消通知」可随时退订)."""
        stopped = await self.services.subscriptions.unfollow_all(self.incoming.user)
        self.say("subscriptions/notices_off.j2", stopped=stopped)
        self.finish()

    def has_items(self) -> bool:
        return bool(self.data.get("items"))

    def say_empty(self):
        self.say("subscriptions/empty.j2", mode=self.data.get("mode", "all"), followed=self.data.get("followed", 0))
        self.finish()

    def _picked(self) -> int | None:
        """The item picked (from 0): by its number, or with one item listed, said (把这个退订了)."""
        text, items = self.word, self.data.get("items", [])
        if text.isascii() and text.isdigit():
            return int(text) - 1 if 1 <= int(text) <= len(items) else None
        if len(items) != 1:
            return None
        # the only one, said (把这个退订了), or 确定 / 好的 to 回复序号解除绑定 (the next step asks to confirm)
        return 0 if _REMOVE_SAID.search(text) or text in REMOVE_YES or self.slot("yes_no") is True else None

    def picks_item(self) -> bool:
        return self._picked() is not None

    def keep_pick(self):
        self.data["picked"] = self._picked()

    def changes_nothing(self) -> bool:
        return any(word in self.word for word in ("点错", "按错", "不退了", "不解绑了", "不用了", "算了"))

    def say_nothing_changed(self):
        self.say("subscriptions/unchanged.j2")
        self.finish()

    def confirms_removal(self) -> bool:
        return self.word in REMOVE_YES or (self.word not in REMOVE_NO and self.slot("yes_no") is True)

    def keeps_item(self) -> bool:
        return self.word in REMOVE_NO or self.slot("yes_no") is False or _KEEP_SAID.search(self.word) is not None

    def say_kept(self):
        kind, key, label = self.data["items"][self.data.pop("picked")]
        self.say("subscriptions/kept.j2", kind=kind, key=key, label=label)

    async def remove_item(self):
        kind, key, label = self.data["items"][self.data.pop("picked")]
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
