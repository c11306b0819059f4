"""The main menu: where every conversation starts and returns.

```
idle --text/click: names an option--> (the option's dialog, or a "coming soon" note)
idle --text: a number it has not--> idle (said so, the menu again)
booked (just after a booking or a move) --确认 again--> booked (it is done already); otherwise as idle
```
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.booking import CONFIRM_AGAIN, JUST_BOOKED, MY_APPOINTMENTS
from dialogs.engine import Dialog, T, normalise
from dialogs.matters import follow_up_asked
from dialogs.queue import STATUS_WORDS, TAKE_WORDS, WALK_IN_WORDS
from dialogs.smalltalk import mark_unused
from dialogs.understand.appointments import booking_query


@dataclass(frozen=True, slots=True)
class Option:
    number: str
    title: str
    key: str  # the EventKey of the matching WeChat menu button
    dialog: str | None  # None until the feature lands: we say so honestly
    words: tuple[str, ...] = ()


OPTIONS: tuple[Option, ...] = (
    Option("1", "办事指南", "MENU_GUIDE", "matters", ("办事指南", "指南", "查事项", "怎么办", "service guides", "service guide")),
    # English: the menu's own titles (templates/en/menu) and how they are asked for
    Option("2", "预约办事", "MENU_BOOK", "booking", ("预约", "预约办事", "我要预约", "book an appointment", "make an appointment",
                                                     "i want to book an appointment", "i want to make an appointment", "book appointment",
                                                     "appointment", "booking")),
    Option("3", "查办件进度", "MENU_PROGRESS", "progress", ("查进度", "进度", "办件进度", "查询进度")),
    Option("4", "服务大厅地址和时间", "MENU_HALLS", "halls", ("服务大厅", "大厅", "地址", "办公时间", "上班时间", "在哪",
                                                              "service halls", "service hall", "halls", "opening hours")),
    Option("5", "人工服务", "MENU_HUMAN", "handoff", ()),
    # Numbers 1-5 stay what people (and their habits) know; what came later is added after them.
    Option("6", "我的预约", "MENU_APPOINTMENTS", "appointments", ()),
    Option("7", "我的订阅", "MENU_SUBSCRIPTIONS", "subscriptions", ()),
    Option("8", "企业绑定·办件·证照", "MENU_ENTERPRISE", "enterprise_desk", ("企业服务",)),
    Option("9", "评价（好差评）", "MENU_RATING", "rating", ()),
    Option("10", "我的证照", "MENU_LICENCES", "licences", ("我的证照", "电子证照", "个人证照")),
)

#: WeChat menu buttons that mean a global intent; the other buttons are menu options.
MENU_KEYS: dict[str, str] = {"MENU_HOME": "menu", "MENU_HUMAN": "human"}

#: Words that open a dialog from anywhere (dialogs/conversation.py), unless the active dialog
#: lists the word in its OWN_WORDS: normalised word -> (dialog, data carried in).
SHORTCUTS: dict[str, tuple[str, dict]] = {
    **dict.fromkeys(("查进度", "查询进度", "办件进度", "查办件进度", "进度查询"), ("progress", {})),
    **dict.fromkeys(("我的订阅", "订阅", "订阅列表", "查看订阅"), ("subscriptions", {})),
    **dict.fromkeys(("my case notices", "my subscriptions", "case notices"), ("subscriptions", {})),
    **dict.fromkeys(("退订", "取消订阅", "unsubscribe"), ("subscriptions", {"mode": "unsubscribe"})),
    **dict.fromkeys(("企业绑定", "绑定企业", "bind my company", "link my company", "bind my enterprise", "link my enterprise",
                     "i want to bind my company", "i want to link my company"), ("enterprise", {})),
    **dict.fromkeys(("解绑", "解除绑定", "企业解绑", "解绑企业"), ("subscriptions", {"mode": "unbind"})),
    **dict.fromkeys(("企业服务", "企业服务首页"), ("enterprise_desk", {})),  # from anywhere (at the desk it was searched)
    **dict.fromkeys(("年报情况", "我们的年报", "我们公司的年报"), ("enterprise_desk", {"action": "annual"})),
    **dict.fromkeys(("企业办件", "企业的办件", "单位办件", "公司办件"), ("enterprise_desk", {"action": "cases"})),
    **dict.fromkeys(("企业证照", "企业的证照", "单位证照", "公司证照", "企业许可证", "my company's licences", "my company's licenses",
                     "company licences"), ("enterprise_desk", {"action": "licences"})),
    **dict.fromkeys(("我的证照", "我的电子证照", "电子证照", "个人证照", "我的证件", "亮证", "查证照", "查询证照", "证照查询"), ("licences", {})),
    **dict.fromkeys(("静音提醒", "关闭提醒", "不要提醒"), ("enterprise_desk", {"action": "mute"})),
    **dict.fromkeys(("恢复提醒", "打开提醒", "开启提醒"), ("enterprise_desk", {"action": "unmute"})),
    **dict.fromkeys(("订阅政策", "政策订阅", "政策推送", "订阅政策推送", "接收政策推送"), ("policies", {"mode": "subscribe"})),
    **dict.fromkeys(("退订政策", "取消政策推送", "关闭政策推送", "不要政策推送"), ("policies", {"mode": "unsubscribe"})),
    **dict.fromkeys(("我的授权", "授权管理", "查看授权"), ("policies", {"mode": "consent"})),
    **dict.fromkeys(("撤回授权", "取消授权", "撤销授权"), ("policies", {"mode": "withdraw"})),
    **dict.fromkeys(("评价", "好差评", "我要评价"), ("rating", {})),
    **dict.fromkeys(("修改评价", "重新评价"), ("rating", {"mode": "again"})),
    **dict.fromkeys(MY_APPOINTMENTS, ("appointments", {})),
    **dict.fromkeys(TAKE_WORDS, ("queue", {})),
    **dict.fromkeys(WALK_IN_WORDS - {"没有预约", "没预约", "不用预约"}, ("queue", {"mode": "walk_in"})),
    **dict.fromkeys(STATUS_WORDS, ("queue", {"mode": "status"})),
}

_BY_WORD = {normalise(w): o for o in OPTIONS for w in (o.number, o.title, o.key, *o.words)}


def option_named(word: str) -> Option | None:
    """The menu option a normalised `word` names in words (预约, 查进度, 服务大厅), not by its number."""
    option = _BY_WORD.get(word)
    return option if option is not None and word != option.number else None
#: A number typed at the menu is a pick, never a search, up to this many digits (longer ones may be
#: case numbers, which dialogs/conversation.py routes before the menu sees them).
MAX_PICK_DIGITS = 3

STATES = ["idle", "booked"]
IDLE = ["idle", "booked"]  # booked: at rest too, the session's data stays empty
TRANSITIONS = [
    #  trigger  source    dest      when              then
    T("start", "*",      "booked", "just_booked",    "forget_marker"),
    T("start", "*",      "idle",   None,             "show"),
    T("text",  "booked", "=",      "confirms_again", "say_already_booked"),
    T("text",  "booked", "=",      "asks_what_to_bring", "open_my_appointments"),  # 到时候要带啥子: for what was just booked
    T("text",  IDLE,     "=",      "names_option",   "open_option"),
    T("text",  IDLE,     "=",      "names_no_option", "say_no_such_option"),
    T("click", IDLE,     "=",      "names_option",   "open_option"),
    T("text",  IDLE,     "=",      "asks_to_book",   "open_booking"),
    T("text",  IDLE,     "=",      None,             "search_matters"),
]


class Menu(Dialog):
    name = "menu"
    title = "主菜单"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"idle": "menu/menu.j2", "booked": "menu/menu.j2"}

    def prompt_context(self):
        return {"options": OPTIONS}

    def show(self):
        self.ask()

    def just_booked(self) -> bool:
        """Started by a booking (or move) that just succeeded: its reply already said so."""
        return JUST_BOOKED in self.data

    def forget_marker(self):
        self.data.pop(JUST_BOOKED, None)

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """确认 again just after booking is the booking's (already done), not small talk; what to
        bring, asked then, is for what was booked."""
        return state == "booked" and (normalise(text) in CONFIRM_AGAIN or follow_up_asked(normalise(text)) == "materials")

    def confirms_again(self) -> bool:
        """A second tap on 确认 after the booking went through (a double tap, or unsure it worked)."""
        return self.word in CONFIRM_AGAIN

    def say_already_booked(self):
        self.say("booking/already_booked.j2")

    def asks_what_to_bring(self) -> bool:
        return follow_up_asked(self.word) == "materials"

    def open_my_appointments(self):
        self.start("appointments")

    def names_option(self) -> bool:
        return self.word in _BY_WORD

    def names_no_option(self) -> bool:
        """A number the menu does not have (12, 99): said so, never searched as a matter."""
        word = self.word
        return word.isascii() and word.isdigit() and len(word) <= MAX_PICK_DIGITS

    def say_no_such_option(self):
        self.say("menu/no_such_option.j2", number=self.word)
        mark_unused(self.data)
        self.ask()

    def asks_to_book(self) -> bool:
        """Words like "我想预约办护照": booking, with the matter to search for."""
        return booking_query(self.text) is not None

    def open_booking(self):
        query = booking_query(self.text)
        self.start("booking", **({"query": query} if query else {}))

    def search_matters(self):
        """Anything else typed at the menu is a question about a matter."""
        self.start("matters", query=self.text)

    def open_option(self):
        option = _BY_WORD[self.word]
        if option.dialog:
            self.start(option.dialog)
        else:
            self.say("common/coming_soon.j2", title=option.title)
