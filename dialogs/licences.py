"""我的证照 (a person's e-licences): after the person proves who they are (the ID number, then
the last 4 digits of the phone registered for it, as the progress dialog verifies a case), the
licences the platform holds for them, soonest to expire first, a page at a time: each with its
number (masked), issuer, validity and a link to show or download it (亮证, valid 30 minutes).

```
id_number --text: a valid ID number--> phone
id_number --text: anything else--> id_number      (what is wrong with it, said)
phone     --text: last 4 digits (or the whole phone)--> shown | (none held: back to the menu)
phone     --text: a wrong factor--> phone           (the 5th in 10 minutes locks this ID number)
phone     --text: digits, after 8 wrong from anyone--> (paused: not tried, back to the menu)
shown     --刷新 / 更多 / a listed number--> shown    (looked up again: fresh links, checked now)
```

The platform is the proof: there is no list kept in the session. Every action (the list, the
next page, one licence's fresh link) looks the licences up again with the ID number and the
phone digits, so the platform checks at the moment of the action that they still belong
together. Wrong digits are counted per person and ID number, and for the ID number from anyone
(bot.services.subscriptions, the counters progress uses), so 4 digits cannot be guessed from one
account nor from many.

The guards only read: each event's prepare action makes the one lookup the message calls for
and records its outcome (`_seen`); the guards compare.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from dialogs import paging
from dialogs.engine import Dialog, P, T
from dialogs.understand.identity import phone_digits
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import ErrorCode, Licence

REFRESH = frozenset({"刷新", "再查一次", "重新查询", "链接过期了", "链接失效了", "新链接"})

#: A company's licences asked for at 我的证照 (是公司的证照): they are 企业证照's, after binding.
_COMPANY = re.compile(r"公司|企业|单位|营业执照|门店|店里")
#: ... and said as such at the ID step (不是我个人的，是公司的证照): this dialog's to explain, never a search.
_COMPANYS_LICENCES = re.compile(r"(?:公司|企业|单位|门店|店里|店)的?(?:证照|执照|许可证|电子证照)")

STATES = ["id_number", "phone", "shown"]
TRANSITIONS = [
    #  trigger  source       dest         when              then
    T("start", "*",         "id_number", None,             "ask"),
    T("text",  "id_number", "phone",     "valid_id",       ["keep_id", "ask"]),
    T("text",  "id_number", "id_number", None,             "explain_id"),
    T("text",  "phone",     "phone",     "digits_malformed", "say_digits_format"),
    T("text",  "phone",     "id_number", "nothing_asked",  "ask"),
    T("text",  ["phone", "shown"], "shown", "shows_list",  "show_list"),
    T("text",  ["phone", "shown"], "shown", "shows_one",   "show_one"),
    T("text",  "phone",     "phone",     "none_held",      "say_none_held"),
    T("text",  ["phone", "shown"], "id_number", "locked",  "say_locked"),
    T("text",  "phone",     "id_number", "digits_paused",  "say_digits_paused"),
    T("text",  "phone",     "phone",     "wrong",          "say_wrong"),
    T("text",  "shown",     "id_number", "wrong",          "say_no_longer"),
    T("text",  ["phone", "shown"], "=",  "trouble",        "say_busy"),
]
PREPARE = [
    #  trigger  source             action: the platform is asked (and checks the factors) here
    P("text",  ["phone", "shown"], "look_up"),
]


def lock_key(id_number: str) -> str:
    """What the wrong-digit counters are kept under: not the ID number itself (it would sit in a
    Redis key name), but a digest of it."""
    return "LIC" + hashlib.sha256(id_number.upper().encode()).hexdigest()[:20]


class Licences(Dialog):
    name = "licences"
    title = "我的证照"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"id_number": "licences/ask_id.j2", "phone": "licences/ask_phone.j2", "shown": "licences/follow_ups.j2"}
    OWN_WORDS = REFRESH
    #: On the list a listed number is read by the dialog itself, so that a case number typed there
    #: still opens its progress (dialogs.conversation reads digits at a "choice" step as a pick).
    EXPECTS = {"id_number": frozenset({"id_number"}), "phone": frozenset({"phone"})}
    FILLS = {"id_number": "id_number", "phone": "phone"}
    DONE = frozenset({"shown"})

    __slots__ = ("_seen", "_licences", "_locked", "_failures", "_picked")

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        return state == "id_number" and _COMPANYS_LICENCES.search(text) is not None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: What this event's lookup found: "list", "one", "none", "wrong", "locked", "down", or "" (nothing asked).
        self._seen = ""
        self._licences: list[Licence] = []
        self._locked = 0
        self._failures = 0
        self._picked = 0

    def prompt_context(self) -> dict[str, Any]:
        return {"data": self.data}

    @property
    def _store(self):
        return self.services.subscriptions

    # The lookup (the prepare action) ----------------------------------------------------------

    async def look_up(self) -> None:
        """At the phone step, the digits typed; on the list, 刷新 / 更多 / a listed number: each
        looks the licences up again with both factors, so the platform checks them now."""
        text = self.word
        if self.state == "phone":
            digits = self._digits()
            if digits is None or not self.data.get("id_number"):
                return
            await self._look_up(digits, fresh=True)
            if self._seen == "list":
                self.data["phone_last4"] = digits
                self.data[paging.PAGE_KEY] = 0
            return
        digits = self.data.get("phone_last4")
        if not digits or not self.data.get("id_number"):
            return
        if text in REFRESH:
            await self._look_up(digits)
        elif paging.asks_more(text):
            await self._look_up(digits)
            if self._seen == "list":
                paging.next_page(self.data, len(self._licences), paging.page_size())
        elif text.isascii() and text.isdigit() and 1 <= int(text) <= int(self.data.get("total", 0)):
            await self._look_up(digits)
            if self._seen == "list" and int(text) <= len(self._licences):
                self._seen, self._picked = "one", int(text)

    async def _look_up(self, digits: str, fresh: bool = False) -> None:
        id_number = self.data["id_number"]
        key = lock_key(id_number)
        lock = await self._store.factor_lock(self.user, key)
        if lock.seconds:
            self._seen, self._locked = "locked", lock.seconds
            return
        if fresh and lock.digits_refused:
            # Strangers typed wrong digits for this ID number from other accounts (5 each): past
            # the limit for everyone, newly typed digits are not even tried, nor counted against
            # this person; the same answer whether they were right or wrong. Digits already proved
            # in this conversation (刷新 on the list) still open the list.
            self._seen = "paused"
            return
        try:
            self._licences = await self.services.platform.licences_of(id_number, digits)
        except PlatformUnavailable:
            self._seen = "down"
            return
        except PlatformError as exc:
            if exc.code not in (ErrorCode.identity_not_verified, ErrorCode.not_found, ErrorCode.invalid_id_number, ErrorCode.invalid_request):
                self._seen = "down"
                return
            self._failures, self._locked = await self._store.failed(self.user, key)
            self._seen = "locked" if self._locked else "wrong"
            return
        if fresh:
            await self._store.succeeded(self.user, key)
        self.data["total"] = len(self._licences)
        self._seen = "list" if self._licences else "none"

    # The guards -------------------------------------------------------------------------------

    def _typed_id(self) -> str | None:
        return self.slot("id_number")

    def valid_id(self) -> bool:
        return self._typed_id() is not None

    def _digits(self) -> str | None:
        phone = self.slot("phone")
        return phone[-4:] if phone else phone_digits(self.word)

    def digits_malformed(self) -> bool:
        return self._digits() is None

    def nothing_asked(self) -> bool:
        return not self.data.get("id_number")

    def shows_list(self) -> bool:
        return self._seen == "list"

    def shows_one(self) -> bool:
        return self._seen == "one"

    def none_held(self) -> bool:
        return self._seen == "none"

    def locked(self) -> bool:
        return self._seen == "locked"

    def wrong(self) -> bool:
        return self._seen == "wrong"

    def digits_paused(self) -> bool:
        return self._seen == "paused"

    def trouble(self) -> bool:
        return self._seen == "down"

    # Answers ----------------------------------------------------------------------------------

    def keep_id(self):
        self.data["id_number"] = self._typed_id()
        self.data.pop("phone_last4", None)

    def explain_id(self):
        mistyped = self.understood.invalid("id_number")
        if mistyped is not None:
            value = mistyped.value
        else:
            value = "".join(re.findall(r"[0-9x]", self.word)).upper()
        if not any(ch.isdigit() for ch in value):
            # words, not a number typed wrong (不是我个人的，是公司的证照): what this step needs, and where a company's are
            self.say("licences/id_wanted.j2", company=_COMPANY.search(self.word) is not None)
            return
        self.say("booking/bad_id.j2", length=len(value), digits=value.isascii() and value[:17].isdigit())

    def say_digits_format(self):
        self.say("licences/digits_format.j2")

    def show_list(self):
        size = paging.page_size()
        page = paging.window(self._licences, int(self.data.get(paging.PAGE_KEY, 0)), size)
        self.say("licences/list.j2", page=page, soon=self._soon())
        self.ask()

    def show_one(self):
        self.say("licences/one.j2", licence=self._licences[self._picked - 1], number=self._picked, soon=self._soon())
        self.ask()

    def say_none_held(self):
        self._forget()
        self.say("licences/none.j2")
        self.finish()

    def say_locked(self):
        self._forget()
        self.say("licences/locked.j2", minutes=max(1, -(-self._locked // 60)))
        self.finish()

    def say_digits_paused(self):
        self._forget()
        self.say("licences/paused.j2")
        self.finish()

    def say_wrong(self):
        left = int(getattr(self.services.settings, "progress_max_failures", 5)) - self._failures
        self.say("licences/wrong.j2", left=left)
        self.ask()

    def say_no_longer(self):
        """On the list, the factors no longer open the licences (the phone changed meanwhile)."""
        self._forget()
        self.say("licences/wrong.j2", left=0)
        self.ask()

    def say_busy(self):
        self.say("progress/busy.j2")
        self.ask()

    def _forget(self) -> None:
        for key in ("id_number", "phone_last4", "total", paging.PAGE_KEY):
            self.data.pop(key, None)

    def _soon(self) -> int:
        return int(getattr(self.services.settings, "licence_reminder_days", [60, 30, 7])[0])
