"""企业服务 (the enterprise desk): for people bound to an enterprise (dialogs/enterprise.py),
the enterprise's cases (企业办件: newest first, by state, a page at a time, each opening the
usual timeline card), its licences with their validity (企业证照), and 静音提醒 / 恢复提醒 for
its licence and annual-report reminders (bot.services.enterprise_reminders).

```
(start) --not bound to any enterprise--> (企业绑定, dialogs/enterprise.py)
(start) --bound to several--> pick --an enterprise's number--> home | cases | licences
home  --1 / 2 / 3 / 4 / 5--> cases | licences | (企业绑定) | (muted or unmuted) | home (last year's 企业年报)
cases --办理中 / 需补正 / 已办结 / 全部--> cases (the list again, filtered)
cases --更多 / 下一页--> cases (the next page)
cases --a listed number--> case (the timeline card); case --another number / 办件列表--> case | cases
```

The binding is the proof: there is no second factor. Every action (listing, opening a case,
listing licences, muting) asks the store at that moment whether THIS person is bound to the
enterprise, so 解绑 (dialogs/subscriptions.py) closes the desk at once, whatever the session
still holds. Started with `action` ("cases", "licences", "mute", "unmute") by the words
that name it ("annual": last year's 企业年报, filed or not), or with none from the menu (the
desk's home).

The guards only read: each event's prepare action does the one lookup the message calls for and
records its outcome (`_seen`); the guards compare.
"""

from __future__ import annotations

import re
from typing import Any

from dialogs import paging
from dialogs.engine import Dialog, P, T
from dialogs.progress import case_view
from dialogs.understand.reading import shanghai_today
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import Case, CaseFilter

#: Words that filter the case list ("" = every case).
FILTERS: dict[str, str] = {
    **dict.fromkeys(("办理中", "在办", "在办的", "正在办理", "未办结"), CaseFilter.in_progress.value),
    **dict.fromkeys(("需补正", "补正", "待补正", "要补正", "需要补正"), CaseFilter.needs_materials.value),
    **dict.fromkeys(("已办结", "办结", "办完的", "已完成"), CaseFilter.done.value),
    **dict.fromkeys(("全部", "全部办件", "所有办件"), ""),
}
LIST_AGAIN = frozenset({"办件列表", "列表", "回到列表"})
#: Subscribing asked for at the enterprise's cases: a binder gets every case's notices already.
SUBSCRIBE = frozenset({"订阅", "订阅通知", "订阅办件", "订阅这个", "订阅这个办件", "通知我", "有进展通知我"})
#: The desk's home: number -> what it does.
#: Session memory: the enterprise last picked among several bound (dialogs.engine.Dialog.remember).
CHOSEN_ENTERPRISE = "desk_enterprise"
HOME = {"1": "cases", "2": "licences", "3": "bind", "4": "toggle_mute", "5": "annual"}
#: ... and by the words of its items (证照 at the home was 没明白).
HOME_WORDS = {**dict.fromkeys(("办件", "企业办件", "本企业办件", "案件"), "cases"),
              **dict.fromkeys(("证照", "企业证照", "许可证", "执照"), "licences"),
              **dict.fromkeys(("年报", "企业年报", "年报情况"), "annual"),
              # the English home's own labels, typed (mute reminders was not understood)
              **dict.fromkeys(("company cases", "cases", "my company's cases"), "cases"),
              **dict.fromkeys(("company licences", "company licenses", "licences", "licenses", "permits"), "licences"),
              **dict.fromkeys(("mute reminders", "mute", "pause reminders"), "mute"),
              **dict.fromkeys(("unmute reminders", "unmute", "turn reminders back on", "reminders on"), "unmute"),
              **dict.fromkeys(("annual report", "the annual report", "annual reports"), "annual")}

def _home_item_asked(text: str) -> str | None:
    """An item of the home asked in a few words (企业年报怎么报, 年报截止时间是什么时候: 没太明白):
    the annual report's standing says how and by when."""
    if len(text) <= 16 and "年报" in text:
        return "annual"
    return None


STATES = ["pick", "home", "cases", "case", "licences"]
LISTS = ["cases", "case"]
TRANSITIONS = [
    #  trigger  source   dest        when              then
    T("start", "*",     "pick",     "none_bound",     "open_binding"),
    T("start", "*",     "pick",     "needs_pick",     "ask"),
    T("text",  "home",  "home",     "picks_binding",  "open_binding"),
]
# What an action found, on start or after any message: the same answer whichever way it came.
for _trigger, _source in (("start", "*"), ("text", STATES)):
    TRANSITIONS += [
        T(_trigger, _source, "home",     "shows_home",      "show_home"),
        T(_trigger, _source, "cases",    "shows_cases",     "show_cases"),
        T(_trigger, _source, "cases",    "shows_no_cases",  "show_no_cases"),
        T(_trigger, _source, "case",     "shows_case",      "show_case"),
        T(_trigger, _source, "licences", "shows_licences",  "show_licences"),
        T(_trigger, _source, "home",     "muted_now",       "say_muted"),
        T(_trigger, _source, "home",     "shows_annual_report", "show_annual_report"),
        T(_trigger, _source, "home",     "not_bound",       "say_not_bound"),
        T(_trigger, _source, "home",     "trouble",         "say_busy"),
    ]
TRANSITIONS += [
    T("text",  LISTS,   "cases",    "case_gone",       "say_case_gone"),
    # 订阅 at the enterprise's cases: a binder is told of every case already (it opened 我的订阅,
    # whose 1 then offered to unbind the enterprise)
    T("text",  LISTS,   "=",        "asks_to_subscribe", "say_already_notified"),
]
PREPARE = [
    #  trigger  source   action: the binding is checked, and the platform asked, here
    P("start", "*",     "look_up_on_start"),
    P("text",  STATES,  "look_up_text"),
]


class EnterpriseDesk(Dialog):
    name = "enterprise_desk"
    title = "企业服务"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"pick": "desk/pick.j2", "home": "desk/home.j2", "cases": "desk/cases_follow_ups.j2",
               "case": "desk/case_follow_ups.j2", "licences": "desk/licences_follow_ups.j2"}
    OWN_WORDS = frozenset(FILTERS) | LIST_AGAIN | SUBSCRIBE
    EXPECTS = {"pick": frozenset({"choice"}), "home": frozenset({"choice"}), "cases": frozenset({"choice"}),
               "case": frozenset({"choice"})}
    DONE = frozenset({"case", "licences"})
    #: 公司怎么注销 at the licences list is a need of its own (it got 没太明白).
    SEARCHED = frozenset({"licences"})

    __slots__ = ("_seen", "_page", "_case", "_licences", "_muted", "_report")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: What this event's lookup found: "pick", "none", "home", "cases", "case", "licences",
        #: "muted", "unbound" (the binding is gone now), "gone" (no such case of the enterprise), "down".
        self._seen = ""
        self._page: Any = None
        self._case: Case | None = None
        self._licences: list = []
        self._muted: bool | None = None
        self._report = None  # last year's 企业年报, when asked for

    def prompt_context(self):
        return {"data": self.data, "choices": self.data.get("choices", []), "muted": self.data.get("muted", False)}

    @property
    def _store(self):
        return self.services.subscriptions

    # The lookups (prepare actions) ------------------------------------------------------------

    async def look_up_on_start(self) -> None:
        """The person's enterprises now: none, one (its action at once), or several to pick from."""
        enterprises = await self._store.enterprises(self.user)
        self.data["choices"] = [[code, name] for code, name in enterprises]
        if not enterprises:
            self._seen = "none"
        elif len(enterprises) == 1:
            self.data["credit_code"], self.data["enterprise"] = enterprises[0]
            await self._act(self.data.get("action") or "home")
        elif self.data.get("action") and (chosen := next((e for e in enterprises if e[0] == self.recalled(CHOSEN_ENTERPRISE)), None)):
            # 企业证照 right after 企业办件 of the one picked: that one again (要看哪一家？ each time), among
            # the enterprises bound now; 企业服务 (the home) still asks, to pick another
            self.data["credit_code"], self.data["enterprise"] = chosen
            await self._act(self.data.get("action") or "home")
        else:
            self._seen = "pick"

    async def look_up_text(self) -> None:
        text = self.word
        if self.state == "pick":
            picked = self._picked(len(self.data.get("choices", []))) or self._named_enterprise()
            if picked:
                self.data["credit_code"], self.data["enterprise"] = self.data["choices"][picked - 1]
                self.remember(CHOSEN_ENTERPRISE, self.data["credit_code"])
                await self._act(self.data.get("action") or "home")
        elif self.state == "home":
            action = HOME.get(text) or HOME_WORDS.get(text) or _home_item_asked(text)
            if action == "toggle_mute":
                action = "unmute" if self.data.get("muted") else "mute"
            if action and action != "bind":
                await self._act(action)
        elif self.state in LISTS:
            if text in FILTERS:
                self.data["filter"] = FILTERS[text]
                await self._act("cases", offset=0)
            elif paging.asks_more(text):
                following = self.data.get("next_offset")
                await self._act("cases", offset=following if following is not None else 0)
            elif text in LIST_AGAIN:
                await self._act("cases", offset=int(self.data.get("offset", 0)))
            else:
                picked = self._picked(int(self.data.get("total", 0)))
                if picked and str(picked) in self.data.get("listed", {}):
                    await self._act("case", number=picked)
        elif self.state == "licences" and text in ("1", "刷新"):
            await self._act("licences")

    def asks_to_subscribe(self) -> bool:
        return self.word in SUBSCRIBE

    def say_already_notified(self):
        self.say("desk/already_notified.j2", enterprise=self.data.get("enterprise", ""))
        self.ask()

    def _picked(self, count: int) -> int | None:
        """The item typed: its number, or in words (第二个, 最后一个)."""
        picked = _number(self.word, count)
        if picked is None and (said := self.slot("choice")) is not None:
            picked = count if said == -1 else said if 1 <= said <= count else None
        return picked

    def _named_enterprise(self) -> int | None:
        """The enterprise to pick named by a part of its name (渠江那家, 川味的)."""
        core = _NAMING.sub("", self.word)
        named = [n for n, (_, name) in enumerate(self.data.get("choices", []), 1) if len(core) >= 2 and core in name]
        return named[0] if len(named) == 1 else None

    async def _act(self, action: str, **how: Any) -> None:
        """Check the binding now, then do `action` for the enterprise in the session."""
        code = self.data.get("credit_code")
        if not code or not await self._store.is_bound(self.user, code):
            self._seen = "unbound"
            return
        try:
            if action == "home":
                self.data["muted"] = await self._store.is_muted(code)
                self._seen = "home"
            elif action == "cases":
                await self._list_cases(code, int(how.get("offset", 0)))
            elif action == "case":
                await self._open_case(code, how["number"])
            elif action == "licences":
                self._licences = await self.services.platform.enterprise_licences(code)
                self._seen = "licences"
            elif action == "annual":
                # last year's report: the one filed from January to June (the reminders' own)
                self._report = await self.services.platform.annual_report(code, shanghai_today().year - 1)
                self._seen = "annual"
            elif action in ("mute", "unmute"):
                await self._store.mute(code, action == "mute")
                self.data["muted"] = self._muted = action == "mute"
                self.data["binders"] = len(await self._store.binders(code))  # it holds for all of them: said so
                self._seen = "muted"
        except PlatformUnavailable:
            self._seen = "down"
        except PlatformError:
            self._seen = "down"

    async def _list_cases(self, code: str, offset: int) -> None:
        state = self.data.get("filter") or None
        page = await self.services.platform.enterprise_cases_page(code, CaseFilter(state) if state else None, offset=offset,
                                                                  limit=paging.page_size())
        if offset and not page.items:  # the list shrank under us: from the top
            offset = 0
            page = await self.services.platform.enterprise_cases_page(code, CaseFilter(state) if state else None, limit=paging.page_size())
        listed = {} if offset == 0 else dict(self.data.get("listed", {}))
        listed.update({str(offset + i): c.case_no for i, c in enumerate(page.items, start=1)})
        self.data.update(offset=offset, total=page.total, next_offset=page.next_offset, listed=listed)
        self._page = page
        self._seen = "cases" if page.items else "no_cases"

    async def _open_case(self, code: str, number: int) -> None:
        """The case listed under `number`, looked up again in the enterprise's own cases: the
        platform, not the session, says it is this enterprise's."""
        case_no = self.data["listed"][str(number)]
        state = self.data.get("filter") or None
        found = None
        offset: int | None = max(number - 1, 0)
        page = await self.services.platform.enterprise_cases_page(code, CaseFilter(state) if state else None, offset=offset, limit=1)
        found = next((c for c in page.items if c.case_no == case_no), None)
        offset = 0
        while found is None and offset is not None:  # the list moved since it was shown: look through it
            page = await self.services.platform.enterprise_cases_page(code, None, offset=offset, limit=100)
            found = next((c for c in page.items if c.case_no == case_no), None)
            offset = page.next_offset
        if found is None or (found.credit_code or "").upper() != code.upper():
            self._seen = "gone"
            return
        self._case = found
        self._seen = "case"

    # The guards -------------------------------------------------------------------------------

    def none_bound(self) -> bool:
        return self._seen == "none"

    def needs_pick(self) -> bool:
        return self._seen == "pick"

    def picks_binding(self) -> bool:
        return HOME.get(self.word) == "bind"

    def shows_home(self) -> bool:
        return self._seen == "home"

    def shows_cases(self) -> bool:
        return self._seen == "cases"

    def shows_no_cases(self) -> bool:
        return self._seen == "no_cases"

    def shows_case(self) -> bool:
        return self._seen == "case"

    def case_gone(self) -> bool:
        return self._seen == "gone"

    def shows_licences(self) -> bool:
        return self._seen == "licences"

    def muted_now(self) -> bool:
        return self._seen == "muted"

    def shows_annual_report(self) -> bool:
        return self._seen == "annual"

    def not_bound(self) -> bool:
        return self._seen == "unbound"

    def trouble(self) -> bool:
        return self._seen == "down"

    # Answers ----------------------------------------------------------------------------------

    def open_binding(self):
        if self._seen == "none" and self.data.get("action"):  # asked for the desk by name: say why binding comes first
            self.say("desk/bind_first.j2")
        self.start("enterprise")

    def show_home(self):
        self.ask()

    def show_cases(self):
        page = self._page
        self.say("desk/cases.j2", enterprise=self.data.get("enterprise", ""), cases=page.items, offset=self.data["offset"],
                 total=page.total, left=page.total - self.data["offset"] - len(page.items), filter=self.data.get("filter") or "")
        self.ask()

    def show_no_cases(self):
        self.say("desk/no_cases.j2", enterprise=self.data.get("enterprise", ""), filter=self.data.get("filter") or "")
        self.ask()

    def show_case(self):
        self.say("progress/card.j2", **case_view(self._case, self.services.settings))
        self.ask()

    def say_case_gone(self):
        self.say("desk/case_gone.j2")
        self.ask()

    def show_licences(self):
        soon = int(getattr(self.services.settings, "licence_reminder_days", [60, 30, 7])[0])
        self.say("desk/licences.j2", enterprise=self.data.get("enterprise", ""), licences=self._licences, soon=soon)
        self.ask()

    def show_annual_report(self):
        self.say("desk/annual_report.j2", enterprise=self.data.get("enterprise", ""), report=self._report, year=self._report.year)
        self.ask()

    def say_muted(self):
        self.say("desk/muted.j2", muted=self._muted, enterprise=self.data.get("enterprise", ""), binders=self.data.pop("binders", 1))
        self.ask()

    def say_not_bound(self):
        self.say("desk/not_bound.j2")
        for key in ("credit_code", "enterprise", "listed", "filter", "offset", "total", "next_offset"):
            self.data.pop(key, None)
        self.finish()

    def say_busy(self):
        self.say("progress/busy.j2")
        self.ask()


#: Words around an enterprise named by part of its name (渠江那家, 看川味的).
_NAMING = re.compile(r"^(?:看|查|选|要|就|是)?(?:一下)?|(?:那家|这家|那个|这个|公司|的|吧)+$")


def _number(text: str, count: int) -> int | None:
    """A listed item's number (1..count) as typed, else None."""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= count:
        return int(text)
    return None
