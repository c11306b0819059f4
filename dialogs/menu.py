"""The main menu: where every conversation starts and returns.

```
idle --text/click: names an option--> (the option's dialog, or a "coming soon" note)
```
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.engine import Dialog, T, normalise


@dataclass(frozen=True, slots=True)
class Option:
    number: str
    title: str
    key: str  # the EventKey of the matching WeChat menu button
    dialog: str | None  # None until the feature lands: we say so honestly
    words: tuple[str, ...] = ()


OPTIONS: tuple[Option, ...] = (
    Option("1", "办事指南", "MENU_GUIDE", "matters", ("办事指南", "指南", "查事项", "怎么办")),
    Option("2", "预约办事", "MENU_BOOK", None, ("预约", "预约办事", "我要预约", "取号")),
    Option("3", "查办件进度", "MENU_PROGRESS", None, ("查进度", "进度", "办件进度", "查询进度")),
    Option("4", "服务大厅地址和时间", "MENU_HALLS", "halls", ("服务大厅", "大厅", "地址", "办公时间", "上班时间", "在哪")),
    Option("5", "人工服务", "MENU_HUMAN", None, ()),
)

#: WeChat menu buttons that mean a global intent; the other buttons are menu options.
MENU_KEYS: dict[str, str] = {"MENU_HOME": "menu", "MENU_HUMAN": "human"}

_BY_WORD = {normalise(w): o for o in OPTIONS for w in (o.number, o.title, o.key, *o.words)}
GREETINGS = frozenset({"你好", "您好", "hi", "hello", "在吗", "在不在", "哈喽", "嗨", "早上好", "下午好", "晚上好"})

STATES = ["idle"]
TRANSITIONS = [
    #  trigger  source  dest    when              then
    T("start", "*",    "idle", None,             "show"),
    T("text",  "idle", "idle", "is_greeting",    "greet"),
    T("text",  "idle", "idle", "names_option",   "open_option"),
    T("click", "idle", "idle", "names_option",   "open_option"),
    T("text",  "idle", "idle", None,             "search_matters"),
]


class Menu(Dialog):
    name = "menu"
    title = "主菜单"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"idle": "menu/menu.j2"}

    def prompt_context(self):
        return {"options": OPTIONS}

    def show(self):
        self.ask()

    def is_greeting(self) -> bool:
        return normalise(self.text) in GREETINGS

    def greet(self):
        self.say("menu/greeting.j2")
        self.ask()

    def names_option(self) -> bool:
        return normalise(self.text) in _BY_WORD

    def search_matters(self):
        """Anything else typed at the menu is a question about a matter."""
        self.start("matters", query=self.text)

    def open_option(self):
        option = _BY_WORD[normalise(self.text)]
        if option.dialog:
            self.start(option.dialog)
        elif option.key == "MENU_HUMAN":
            self.say("common/human_soon.j2")
        else:
            self.say("common/coming_soon.j2", title=option.title)
