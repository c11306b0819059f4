"""政策推送与我的授权: a person subscribes to policy pushes (订阅政策) after consenting to what
the bot may use to find the policies meant for them, sees that consent (我的授权), and takes it
back (撤回授权) or stops the pushes (退订政策) at any time.

```
(start 订阅政策) --consent given before--> (subscribed, done)
(start 订阅政策) --> id_number (what is used and why; an ID number, or 跳过: bound enterprises only)
id_number --a valid ID number--> phone --the last 4 digits the platform has for it--> (consent, subscribed, done)
id_number --跳过--> (consent for the bound enterprises only, subscribed, done)
phone --digits that do not match--> phone (3 tries, then done)
phone --the 5th wrong try in 10 minutes for this ID number (here or in 我的证照)--> (paused, done)
(start 退订政策) --> (unsubscribed, done);  (start 撤回授权) --> (withdrawn, done)
(start 我的授权) --> consent (what is used) --1 / 撤回授权--> (withdrawn) | --2--> (subscribed or unsubscribed)
```

Started with `mode`: "subscribe", "unsubscribe", "withdraw" or "consent" (the default). The ID
number waits between two steps only sealed for this person (bot.services.consent.Consents.seal);
the platform checks it against the phone's last 4 digits (POST /licences/lookup) before it is
kept. Wrong digits count with 我的证照's (the same check, the same counters:
dialogs.licences.lock_key), so starting 订阅政策 over gives no fresh tries at someone else's phone
digits. The prepare actions do the lookups (the consent on start, the platform check on the
phone digits); the guards only read what they found.
"""

from __future__ import annotations

import re
import unicodedata

from dialogs.engine import Dialog, P, T
from dialogs.licences import lock_key, phone_digits
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.identifiers import valid_id_number

SKIP = frozenset({"跳过", "不提供", "只用企业", "仅企业", "skip"})
WITHDRAW = frozenset({"1", "撤回授权", "撤回", "取消授权", "withdraw"})
TOGGLE = frozenset({"2", "订阅政策", "退订政策"})
MAX_TRIES = 3

STATES = ["id_number", "phone", "consent"]
TRANSITIONS = [
    #  trigger  source       dest         when                   then
    T("start", "*",         "consent",   "resubscribes",        "subscribe_now"),
    T("start", "*",         "id_number", "subscribes",          "ask"),
    T("start", "*",         "consent",   "unsubscribes",        "unsubscribe_now"),
    T("start", "*",         "consent",   "withdraws",           "withdraw_now"),
    T("start", "*",         "consent",   "has_consent",         "ask"),
    T("start", "*",         "consent",   None,                  "say_no_consent"),
    T("text",  "id_number", "id_number", "skips",               "consent_without_id"),
    T("text",  "id_number", "phone",     "gives_id",            ["keep_id", "ask"]),
    T("text",  "id_number", "id_number", None,                  "say_id_bad"),
    T("text",  "phone",     "phone",     "phone_matches",       "consent_with_id"),
    T("text",  "phone",     "phone",     "phone_locked",        "say_locked"),
    T("text",  "phone",     "phone",     "phone_differs",       "say_phone_wrong"),
    T("text",  "phone",     "phone",     "platform_down",       "say_busy"),
    T("text",  "phone",     "phone",     None,                  "say_phone_bad"),
    T("text",  "consent",   "consent",   "picks_withdraw",      "withdraw_now"),
    T("text",  "consent",   "consent",   "picks_toggle",        "toggle"),
]
PREPARE = [
    #  trigger  source   action
    P("start", "*",     "load_consent"),
    P("text",  "phone", "check_phone"),
    P("text",  "consent", "load_consent"),
]


def parse_id_number(text: str) -> str | None:
    folded = re.sub(r"\s", "", unicodedata.normalize("NFKC", text)).upper()
    return folded if re.fullmatch(r"\d{17}[\dX]", folded) and valid_id_number(folded) else None


def parse_last4(text: str) -> str | None:
    """The last 4 digits of a phone number: 4 digits, a whole mobile number, or 尾号0817 (as 我的证照 reads them)."""
    return phone_digits(text)


class PolicyConsent(Dialog):
    name = "policies"
    title = "政策推送与授权"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"id_number": "policies/ask_id.j2", "phone": "policies/ask_phone.j2", "consent": "policies/consent.j2"}
    EXPECTS = {"id_number": frozenset({"id_number"}), "phone": frozenset({"phone"}), "consent": frozenset({"choice"})}
    OWN_WORDS = SKIP
    DONE = frozenset({"consent"})

    __slots__ = ("_consent", "_subscribed", "_enterprises", "_checked", "_locked")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._consent = None  # bot.services.consent.Consent, as found this turn
        self._subscribed = False
        self._enterprises: list = []
        self._checked = ""  # the platform's word on the phone digits: "match", "differs", "locked", "down"
        self._locked = 0  # seconds this ID number stays paused for this person

    @property
    def consents(self):
        return self.services.consents

    def prompt_context(self):
        return {"consent": self._consent, "subscribed": self._subscribed, "enterprises": self._enterprises,
                "tries_left": MAX_TRIES - int(self.data.get("tries", 0))}

    async def load_consent(self) -> None:
        """Prepare: the person's consent, subscription and bound enterprises, now."""
        user = self.incoming.user
        self._consent = await self.consents.get(user)
        self._subscribed = await self.consents.is_subscribed(user)
        if self.services.subscriptions is not None:
            self._enterprises = await self.services.subscriptions.enterprises(user)

    def _mode(self) -> str:
        return self.data.get("mode", "consent")

    # Starting -------------------------------------------------------------------------------

    def resubscribes(self) -> bool:
        return self._mode() == "subscribe" and self._consent is not None

    def subscribes(self) -> bool:
        return self._mode() == "subscribe"

    def unsubscribes(self) -> bool:
        return self._mode() == "unsubscribe"

    def withdraws(self) -> bool:
        return self._mode() == "withdraw"

    def has_consent(self) -> bool:
        return self._consent is not None

    async def subscribe_now(self):
        await self.consents.subscribe(self.incoming.user)
        self.say("policies/subscribed.j2", consent=self._consent, enterprises=self._enterprises, already=self._subscribed)
        self.finish()

    async def unsubscribe_now(self):
        removed = await self.consents.unsubscribe(self.incoming.user)
        self.say("policies/unsubscribed.j2", removed=removed)
        self.finish()

    async def withdraw_now(self):
        withdrawn = await self.consents.withdraw(self.incoming.user)
        self.say("policies/withdrawn.j2", withdrawn=withdrawn)
        self.finish()

    def say_no_consent(self):
        self.say("policies/no_consent.j2", subscribed=self._subscribed)
        self.finish()

    # The ID number and the phone digits -------------------------------------------------------

    def skips(self) -> bool:
        return self.word in SKIP

    async def consent_without_id(self):
        user = self.incoming.user
        await self.consents.grant(user, None)
        await self.consents.subscribe(user)
        await self.load_consent()
        self.say("policies/subscribed.j2", consent=self._consent, enterprises=self._enterprises, already=False)
        self.finish()

    def gives_id(self) -> bool:
        return parse_id_number(self.word) is not None

    def keep_id(self):
        self.data["id"] = self.consents.seal(self.incoming.user, {"id_number": parse_id_number(self.word)})
        self.data["tries"] = 0

    def say_id_bad(self):
        self.say("policies/bad_id.j2")
        self.ask()

    async def check_phone(self) -> None:
        """Prepare: the platform checks the last 4 digits against the ID number kept (sealed)."""
        last4 = parse_last4(self.word)
        sealed = self.consents.unseal(self.incoming.user, self.data.get("id"))
        if last4 is None or not sealed:
            return
        counters, user, key = self.services.subscriptions, self.incoming.user, lock_key(sealed["id_number"])
        if counters is not None and (lock := await counters.factor_lock(user, key)).seconds:
            self._checked, self._locked = "locked", lock.seconds
            return
        try:
            await self.services.platform.licences_of(sealed["id_number"], last4)
        except PlatformUnavailable:
            self._checked = "down"
        except PlatformError:
            self._checked = "differs"
            if counters is not None:
                _, self._locked = await counters.failed(user, key)
                self._checked = "locked" if self._locked else "differs"
        else:
            self._checked = "match"
            if counters is not None:
                await counters.succeeded(user, key)

    def phone_matches(self) -> bool:
        return self._checked == "match"

    def phone_differs(self) -> bool:
        return self._checked == "differs"

    def phone_locked(self) -> bool:
        return self._checked == "locked"

    def platform_down(self) -> bool:
        return self._checked == "down"

    async def consent_with_id(self):
        user = self.incoming.user
        sealed = self.consents.unseal(user, self.data.pop("id", None)) or {}
        await self.consents.grant(user, sealed.get("id_number"))
        await self.consents.subscribe(user)
        await self.load_consent()
        self.say("policies/subscribed.j2", consent=self._consent, enterprises=self._enterprises, already=False)
        self.finish()

    def say_phone_wrong(self):
        self.data["tries"] = int(self.data.get("tries", 0)) + 1
        if self.data["tries"] >= MAX_TRIES:
            self.data.pop("id", None)
            self.say("policies/phone_wrong.j2", final=True)
            self.finish()
            return
        self.say("policies/phone_wrong.j2", final=False)
        self.ask()

    def say_locked(self):
        self.data.pop("id", None)
        self.say("policies/locked.j2", minutes=max(1, -(-self._locked // 60)))
        self.finish()

    def say_busy(self):
        self.say("common/busy.j2")
        self.ask()

    def say_phone_bad(self):
        self.say("policies/bad_phone.j2")
        self.ask()

    # 我的授权 ---------------------------------------------------------------------------------

    def picks_withdraw(self) -> bool:
        return self._consent is not None and self.word in WITHDRAW

    def picks_toggle(self) -> bool:
        return self._consent is not None and self.word in TOGGLE

    async def toggle(self):
        user = self.incoming.user
        word = self.word
        subscribe = word == "订阅政策" or (word == "2" and not self._subscribed)
        if subscribe:
            await self.consents.subscribe(user)
            self.say("policies/subscribed.j2", consent=self._consent, enterprises=self._enterprises, already=self._subscribed)
        else:
            removed = await self.consents.unsubscribe(user)
            self.say("policies/unsubscribed.j2", removed=removed)
        self.finish()
