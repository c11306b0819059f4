"""企业绑定: bind a 统一社会信用代码 after the platform confirms, with a code texted to the
enterprise's registered contact phone, that this person speaks for it. From then on they hear
about every case of that enterprise. Several people may bind one enterprise; 解绑 is in
dialogs/subscriptions.py.

```
code   --text: a valid credit code--> verify   (the platform texts a 6-digit code to the contact)
verify --text: the right code--> (bound, done)
verify --text: a wrong code--> verify          (the platform voids it after 5 wrong ones or 10 minutes)
verify --重新发送--> verify
```

The guards only read: asking the platform to text a code, and checking the code typed, are the
prepare actions of the two states (`PREPARE`), which record what came of it.
"""

from __future__ import annotations

import re
import unicodedata

from dialogs.understand.answers import needs_time
from dialogs.engine import Dialog, P, T, normalise
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.identifiers import mask_phone_tail, valid_credit_code
from integrations.platform.models import ErrorCode

#: The credit code said to be mistyped (不对，代码输错了, 信用代码填错了).
_CODE_WRONG = re.compile(r"(?:信用)?代码(?:输|填|写|打)?错|(?:信用代码|企业代码|代码)不对|公司(?:输|填|选)错|不是这个(?:公司|企业)")
RESEND = frozenset({"重新发送", "重发", "再发一次", "没收到", "重新获取"})
#: The code asked for again in a sentence (没收到啊 再发一次, 短信一直没来): no digits in it.
RESEND_SAID = re.compile(r"没收到|没有收到|收不到|没来|还没到|再发|重发|重新发|重新获取|再给我发|再来一[个条次]")

#: The registered contact's phone no longer reached (那个手机号早就不用了, 停机了, 号码换了, 以前的会计的):
#: no text will come however often it is sent; where the contact is changed, and a person.
#: Where the credit code is to be found, asked (不知道信用代码在哪看, 代码去哪查): no code typed wrong.
CODE_WHERE = re.compile(r"(?:代码|信用码|社会信用)[^，,。]{0,4}(?:在哪|哪里|哪儿|怎么查|怎么找|去哪|查不到|找不到|不知道|是啥|是什么)"
                        r"|(?:不知道|不晓得|不清楚|忘了|找不到)[^，,。]{0,6}(?:代码|信用码)|(?:哪里|在哪|去哪|怎么)(?:能)?(?:看|查|找)(?:到)?[^，,。]{0,4}(?:代码|信用码)")
CONTACT_GONE = re.compile(r"(?:早就|已经|早)?(?:不用了|停机|停用|注销了|没用了|打不通|空号)|(?:号码?|手机号?|电话)(?:已经|早就|早|都)?(?:换了|改了|变了|不是)"
                          r"|以前的|之前的|原来的|离职|不在了|不在公司|走了")

STATES = ["code", "verify"]
TRANSITIONS = [
    #  trigger  source    dest      when               then
    T("start", "*",      "code",   "already_bound",   "say_already_bound"),
    T("start", "*",      "verify", "code_sent",       "ask"),
    T("start", "*",      "code",   "send_refused",    "say_send_refused"),
    T("start", "*",      "code",   "carried_malformed", "say_code_format"),  # 帮我绑定 9151…0F, a wrong check character
    T("start", "*",      "code",   None,              "ask"),
    T("text",  ["code", "verify"], "=", "waits",      "say_take_your_time"),
    T("text",  "code",   "code",   "asks_where_the_code_is", "say_where_the_code_is"),  # 不知道信用代码在哪看
    T("text",  "code",   "code",   "code_malformed",  "say_code_format"),
    T("text",  "code",   "code",   "already_bound",   "say_already_bound"),
    T("text",  "code",   "verify", "code_sent",       "ask"),
    T("text",  "code",   "code",   "send_refused",    "say_send_refused"),
    # another credit code typed at the code's step (the first was mistyped): that one's code is sent;
    # 不对，代码输错了: the credit code asked for again
    T("text",  "verify", "verify", "other_code_sent", "say_other_code_sent"),
    T("text",  "verify", "code",   "other_code_bound", "say_already_bound"),
    T("text",  "verify", "code",   "other_code_refused", "say_send_refused"),
    T("text",  "verify", "code",   "says_code_wrong", "ask"),
    T("text",  "verify", "verify", "contact_gone",    "say_contact_gone"),  # 那个手机号早就不用了: resending cannot help
    T("text",  "verify", "verify", "asks_resend",     "resend"),
    T("text",  "verify", "verify", "answer_malformed", "say_answer_format"),
    T("text",  "verify", "verify", "answer_right",    "bind"),
    T("text",  "verify", "verify", "answer_wrong",    "say_wrong"),
    T("text",  "verify", "verify", "answer_void",     "say_void"),
    T("text",  "verify", "verify", "answer_trouble",  "say_busy"),
]
#: What each state asks of the platform before its guards are asked.
PREPARE = [
    #  trigger  source    action
    P("start", "*",      "send_carried_code"),
    P("text",  "code",   "send_code"),
    P("text",  "verify", "check_answer"),
]


def _code_text(text: str) -> str:
    """`text` as a code is read from it: full-width folded, upper case, no spaces or dashes."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text)).upper()


def looks_like_a_credit_code(text: str) -> bool:
    """Whether `text` holds 18 letters and digits standing together, valid or not (a code
    mistyped: 9151…0F with a wrong check character)."""
    return any(any(c.isdigit() for c in run) for run in _CODE_RUN.findall(_code_text(text)))


def parse_credit_code(text: str) -> str | None:
    """An 18-character code with a valid check character, alone or said in a sentence
    (信用代码是9151…, 帮我绑定 9151 1602 …), or None."""
    folded = _code_text(text)
    if valid_credit_code(folded):
        return folded
    found = {run for run in _CODE_RUN.findall(folded) if valid_credit_code(run)}
    if not found:  # O for 0 (…GKGO), I for 1: letters no code has, read as the digits meant when the check character agrees
        found = {fixed for run in _CODE_RUN.findall(folded) if valid_credit_code(fixed := run.translate(_NEVER_IN_CODES))}
    return found.pop() if len(found) == 1 else None


#: Letters a unified social credit code never has (GB 32100: no I, O, S, V, Z), typed for the
#: digit they look like.
_NEVER_IN_CODES = str.maketrans({"O": "0", "I": "1", "Z": "2", "S": "5"})


#: Spaces or dashes between digits (836 967): a code split for reading.
_SPLIT_DIGITS = re.compile(r"(?<=\d)[\s\-]+(?=\d)")
#: Where a code may stand in a sentence: 18 letters and digits not part of a longer run.
_CODE_RUN = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")


class EnterpriseBinding(Dialog):
    name = "enterprise"
    title = "企业绑定"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"code": "subscriptions/ask_credit_code.j2", "verify": "subscriptions/ask_sms_code.j2"}
    #: 社保增员在哪办 at the code's step is a need of its own (it was told the code looked wrong).
    SEARCHED = frozenset(STATES)

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """A message with digits or a code in it is the step's (a code, mistyped or not), and so is
        a wish for a new text message (重新发送, 没收到啊): never searched."""
        if any(c.isdigit() for c in text) or looks_like_a_credit_code(text):
            return True
        word = normalise(text)
        if needs_time(word):  # words of waiting (dialogs.understand.answers)
            return True  # 稍等 我问下老板: the step waits, never a search for 老板
        return state == "verify" and (word in RESEND or RESEND_SAID.search(word) is not None or CONTACT_GONE.search(word) is not None)

    def contact_gone(self) -> bool:
        return not any(c.isdigit() for c in self.word) and CONTACT_GONE.search(self.word) is not None

    def say_contact_gone(self):
        self.say("subscriptions/contact_gone.j2", contact=self.data.get("contact", ""))

    __slots__ = ("_bound", "_sent", "_checked", "_enterprise", "_retyped")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bound = False  # the code typed is one this person has bound already
        self._sent: str | None = None  # see `_send`
        self._checked: str | None = None  # see `_check`
        self._enterprise = None
        self._retyped = False  # another credit code typed at the code's step

    def prompt_context(self):
        return {"data": self.data}

    # The credit code ------------------------------------------------------------------------

    def waits(self) -> bool:
        return needs_time(self.word)

    def say_take_your_time(self):
        self.say("subscriptions/take_your_time.j2", step=self.state)

    def asks_where_the_code_is(self) -> bool:
        return not looks_like_a_credit_code(self.text) and CODE_WHERE.search(self.word) is not None

    def say_where_the_code_is(self):
        self.say("subscriptions/where_the_code_is.j2")

    def code_malformed(self) -> bool:
        return parse_credit_code(self.text) is None

    async def send_carried_code(self) -> None:
        """Prepare on start: a code said with the wish to bind (帮我绑定企业 9151…) is taken at once."""
        carried = self.data.pop("carried", None)
        if carried:
            await self._take(carried)

    async def send_code(self) -> None:
        """Prepare: a valid credit code not bound yet, have the platform text its contact a code."""
        await self._take(parse_credit_code(self.text))

    async def _take(self, credit_code: str | None) -> None:
        if credit_code is None:
            return
        self._bound = await self.services.subscriptions.is_bound(self.incoming.user, credit_code)
        if not self._bound:
            await self._send(credit_code)

    def already_bound(self) -> bool:
        return self._bound

    async def _send(self, credit_code: str) -> str:
        """Have the platform text a code; "sent", "wait" (this person had one moments ago: `data["wait"]`
        seconds to go), "unknown", "refused", "busy" or "down"."""
        wait = await self.services.subscriptions.may_text_code(self.incoming.user, credit_code)
        if wait:
            self.data["wait"] = wait
            self._sent = "wait"
            return self._sent
        try:
            verification = await self.services.platform.start_enterprise_verification(credit_code)
        except PlatformUnavailable:
            self._sent = "down"
        except PlatformError as exc:
            self._sent = {ErrorCode.not_found: "unknown", ErrorCode.too_many_requests: "busy"}.get(exc.code, "refused")
        else:
            self.data.update(credit_code=credit_code, verification=verification.id, contact=mask_phone_tail(verification.contact_masked),
                             attempts=verification.attempts, wrong=0)
            self._sent = "sent"
        return self._sent

    def code_sent(self) -> bool:
        return self._sent == "sent"

    def send_refused(self) -> bool:
        return self._sent is not None and self._sent != "sent"

    def carried_malformed(self) -> bool:
        return bool(self.data.get("malformed"))

    def say_code_format(self):
        self.data.pop("malformed", None)
        self.say("subscriptions/credit_code_format.j2")
        self.ask()

    def say_already_bound(self):
        self.say("subscriptions/already_bound.j2")
        self.finish()

    def say_send_refused(self):
        self.say("subscriptions/send_refused.j2", why=self._sent, wait=self.data.pop("wait", 0))
        self.ask()

    # The code from the text message ------------------------------------------------------------

    def asks_resend(self) -> bool:
        return self.word in RESEND or (RESEND_SAID.search(self.word) is not None and not re.search(r"\d", self.word))

    async def resend(self):
        outcome = await self._send(self.data["credit_code"])
        if outcome == "sent":
            self.say("subscriptions/resent.j2")
        else:
            self.say("subscriptions/send_refused.j2", why=outcome, wait=self.data.pop("wait", 0))
        self.ask()

    def answer_malformed(self) -> bool:
        return self._typed_code() is None

    def _typed_code(self) -> str | None:
        """The six digits of the code as people type them: alone, in a sentence (验证码是836967),
        or split for reading (836 967, 836-967); None when there is not exactly one such code."""
        folded = _SPLIT_DIGITS.sub("", unicodedata.normalize("NFKC", self.text))
        runs = re.findall(r"\d+", folded)
        return runs[0] if len(runs) == 1 and len(runs[0]) == 6 else None

    async def check_answer(self) -> None:
        """Prepare: six digits typed (not 重新发送), check them with the platform; another credit
        code typed, text a code to that enterprise instead."""
        other = parse_credit_code(self.text)
        if other is not None and other != self.data.get("credit_code"):
            self._retyped = True
            await self._take(other)
        elif not self.asks_resend() and not self.answer_malformed():
            await self._check()

    def other_code_sent(self) -> bool:
        return self._retyped and self._sent == "sent"

    def other_code_bound(self) -> bool:
        return self._retyped and self._bound

    def other_code_refused(self) -> bool:
        return self._retyped and self._sent is not None and self._sent != "sent"

    def say_other_code_sent(self):
        self.say("subscriptions/other_code_sent.j2")
        self.ask()

    def says_code_wrong(self) -> bool:
        """不对，代码输错了 at the code's step: the credit code was mistyped (no code in the message)."""
        return _CODE_WRONG.search(self.word) is not None and self._typed_code() is None

    async def _check(self) -> str:
        """"right", "wrong", "void" (expired or used up) or "down"."""
        code = self._typed_code()
        try:
            self._enterprise = await self.services.platform.check_enterprise_verification(self.data["credit_code"], self.data["verification"], code)
        except PlatformUnavailable:
            self._checked = "down"
        except PlatformError as exc:
            if exc.code == ErrorCode.verification_failed:
                self.data["wrong"] = self.data.get("wrong", 0) + 1
                self._checked = "wrong" if self.data["wrong"] < self.data.get("attempts", 5) else "void"
            else:
                self._checked = "void"
        else:
            self._checked = "right"
        return self._checked

    def answer_right(self) -> bool:
        return self._checked == "right"

    def answer_wrong(self) -> bool:
        return self._checked == "wrong"

    def answer_void(self) -> bool:
        return self._checked == "void"

    def answer_trouble(self) -> bool:
        return self._checked == "down"

    def say_answer_format(self):
        self.say("subscriptions/sms_code_format.j2")
        self.ask()

    def say_wrong(self):
        self.say("subscriptions/wrong_sms_code.j2", left=self.data.get("attempts", 5) - self.data.get("wrong", 0))
        self.ask()

    def say_void(self):
        self.say("subscriptions/sms_code_void.j2")

    def say_busy(self):
        self.say("progress/busy.j2")
        self.ask()

    async def bind(self):
        enterprise = self._enterprise
        added = await self.services.subscriptions.bind(self.incoming.user, enterprise.credit_code, enterprise.name,
                                                       industry=enterprise.industry)
        cases = None
        try:
            cases = await self.services.platform.enterprise_cases(enterprise.credit_code)
        except (PlatformError, PlatformUnavailable):
            pass  # the count is a courtesy; the binding stands
        open_cases = None if cases is None else sum(1 for c in cases if c.result is None)
        self.say("subscriptions/bound.j2", added=added.value, enterprise=enterprise.name, total=None if cases is None else len(cases),
                 open_cases=open_cases, limit=getattr(self.services.settings, "max_enterprises", 10))
        self.finish()
