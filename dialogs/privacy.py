"""个人信息: what the bot keeps about a person, and deleting it when asked (删除我的信息).

The booking offers to remember an applicant's name, ID number and phone, sealed, "随时可以不再
保存": this is where that promise is kept. Said in any words at any step that does not ask for
those details, the conversation routes here (dialogs.conversation); the dialog answers in one
reply and ends.

```
(start) --删除我的信息 / 不要再保存我的身份证了--> done (the remembered applicant deleted now)
(start) --你们会把我的身份证号存起来吗 / 安全吗--> done (what is kept, for how long, how to delete)
```
"""

from __future__ import annotations

import re

from dialogs.engine import Dialog, T
from integrations.platform.identifiers import mask_name

_OBJECT = r"(?:个人|全部|所有)?(?:信息|资料|身份证(?:号|信息)?|办事人(?:信息)?|数据|隐私|记录)"
#: 删除我的信息, 不要再保存我的身份证了, 不再保存, 信息都给我删掉: the remembered applicant.
FORGET_ME = re.compile(
    rf"(?:删除|删掉|删了|清除|清空)(?:掉)?(?:我的|我)?{_OBJECT}"
    rf"|(?:不要再?|别再?|不用再?|不再)(?:保存|存|记住)(?=我|个人|信息|资料|身份证|办事人|数据|了|$|\s)"
    r"|(?:信息|资料|身份证号?|办事人|数据|隐私)(?:都|全部)?(?:给我)?(?:删掉|删除|删了|清除|清空|别存了|不要存了|不要保存了)")
#: 你们会把我的身份证号存起来吗, 我的信息安全吗: what is kept, and how to delete it.
WHAT_IS_KEPT = re.compile(
    r"(?:会|是不是|有没有|都|还)[^，。？?]{0,4}(?:信息|资料|身份证号?|手机号|电话号?码?|隐私|数据)[^，。？?]{0,4}"
    r"(?:存|保存|留)(?:起来|下来|着)?(?:吗|了吗|没|不)"
    r"|(?:会|是不是|有没有|会不会)(?:存|保存|留|记录|记)(?:着|下|下来|起来)?(?:我的|我)?(?:个人)?(?:信息|资料|身份证号?|手机号|电话|隐私|数据)"
    r"|(?:信息|资料|身份证号?|隐私|数据)[^，。？?]{0,4}(?:安全吗|泄露|泄漏|外泄)")
MAX_CHARS = 40  # a longer message is about something else that mentions these words


def privacy_asked(word: str) -> str | None:
    """"forget" or "explain" for a message asking to delete what is kept or what is kept; else None."""
    if len(word) > MAX_CHARS:
        return None
    if FORGET_ME.search(word):
        return "forget"
    return "explain" if WHAT_IS_KEPT.search(word) else None


STATES = ["done"]
TRANSITIONS = [
    #  trigger  source  dest    when            then
    T("start", "*",    "done", "wants_forget", "forget_me"),
    T("start", "*",    "done", None,           "say_what_is_kept"),
]


class Privacy(Dialog):
    name = "privacy"
    title = "个人信息"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    DONE = frozenset({"done"})
    LEAVING_CHANGES_NOTHING = True

    def wants_forget(self) -> bool:
        return self.data.get("mode") == "forget"

    async def forget_me(self):
        """Delete the applicant remembered for bookings, now, and say what else may be removed."""
        bookings = self.services.bookings
        kept = await bookings.remembered(self.user) if bookings is not None else None
        if bookings is not None:
            await bookings.forget(self.user)
        self.say("privacy/forgotten.j2", had=kept is not None, who=mask_name(kept["name"]) if kept and kept.get("name") else "")
        self.finish()

    def say_what_is_kept(self):
        self.say("privacy/what_is_kept.j2", days=getattr(self.services.settings, "booking_remember_days", 180))
        self.finish()
