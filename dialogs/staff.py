"""The staff side, in the WeCom app: agents see the queue, accept a citizen with one reply, talk
to them (every other message is relayed), and end the talk.

```
desk --队列--> desk (the queue, oldest first; messages left overnight come first)
desk --接 / 接 12--> desk (takes the longest-waiting citizen, or ticket #12)
desk --text, while talking to a citizen--> desk (relayed to the citizen)
desk --结束--> desk (the citizen is handed back to the bot and asked for a rating)
desk --上线 / 下线--> desk (on or off duty: whether new requests are announced to this agent)
desk --发通知--> compose (a broadcaster writes a broadcast, step by step; below)
desk --待审批 / 批准 3--> desk (an approver lists and approves someone else's broadcast b3)
desk --群发 / 进度 3 / 暂停 3 / 继续 3 / 撤销 3--> desk (recent broadcasts; one's progress; steering)
desk --授权统计--> desk (how many people consent to policy matching and want policy pushes: counts only)

compose --title--> body --body--> audience --a number--> (detail --the tag/matter/.../a policy's rules-->) confirm
confirm (preview: the notice and the exact recipient count) --提交--> desk (pending approval)
confirm --修改--> audience;  any step --返回--> the step before;  --取消--> desk (draft cancelled)
```

`StaffConversation` plays the part `dialogs.conversation.Conversation` plays for citizens: the
bot's WeCom dispatcher calls its `step`. Only staff listed in settings reach it (the channel
refuses anyone else), and it reaches only staff dialogs (`dialogs.engine.STAFF_DIALOGS`); a
staff dialog may `start` another staff dialog (e.g. composing a
broadcast) and `finish` back to the desk.

Guards only read; asking the hand-off desk whether the agent is talking to a citizen, and writing
and previewing a broadcast's draft, are prepare actions (`PREPARE`, `COMPOSE_PREPARE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from dialogs.engine import MEDIA_KINDS, STAFF_DIALOGS, Dialog, Incoming, P, Reply, Session, T, normalise, now
from dialogs.ports import BroadcastDesk, Member, Render, SettingsView, StaffDirectory

DESK = "desk"

HELP = frozenset({"帮助", "help", "?", "菜单"})  # not 你好: an agent greets citizens with it
QUEUE = frozenset({"队列", "排队", "列表", "留言", "查看队列", "queue"})
END = frozenset({"结束", "结束服务", "结束对话", "结束人工"})
#: Said alone by an agent in a talk: words to the bot, not to the citizen (`cancels_while_talking`).
NOT_FOR_THE_CITIZEN = frozenset({"取消", "退出", "cancel", "quit"})
ON_DUTY = frozenset({"上线", "值班", "on"})
OFF_DUTY = frozenset({"下线", "off"})
ACCEPT = re.compile(r"(?:接|接入|接单)\s*#?\s*(\d{1,9})?")
# Broadcasts (bot.services.broadcasts.Broadcasts): ids are b<N>; "批准 3", "批准 b3" and "批准 #3" all name b3.
COMPOSE = frozenset({"发通知", "写通知", "发群发", "写群发", "新群发", "新通知", "发布通知"})
PENDING = frozenset({"待审批", "审批", "审批列表", "待批准"})
RECENT = frozenset({"群发", "群发列表", "通知列表", "进度", "群发进度"})
CONSENT_COUNTS = frozenset({"授权统计", "政策统计", "订阅统计", "授权人数"})
STEER = re.compile(r"(批准|同意|进度|查看|暂停|继续|恢复|撤销|撤回)\s*#?\s*b?\s*(\d{1,9})")
STEER_ACTIONS = {"批准": "approve", "同意": "approve", "进度": "progress", "查看": "progress", "暂停": "pause",
                 "继续": "resume", "恢复": "resume", "撤销": "cancel", "撤回": "cancel"}


@dataclass(slots=True)
class Acceptance:
    """What became of an agent's 接."""

    outcome: Literal["accepted", "taken", "gone", "busy", "empty", "not_agent"]
    number: int
    by: str = ""  # who took it first (taken)
    waited_minutes: int = 0
    lines: list[str] = field(default_factory=list)  # the citizen's context, masked
    note: str = ""  # the message they left, if any
    undelivered: str = ""  # why the citizen could not be told (window | limit | unfollowed | unavailable)


@dataclass(slots=True)
class Relay:
    """What became of an agent's message to their citizen."""

    outcome: Literal["sent", "held", "lost", "none", "refused"]
    number: int = 0
    reason: str = ""  # held / lost: why WeChat did not take it; refused: why a photo could not be used


class AgentDesk(Protocol):
    """What the staff side needs from the hand-off service (bot.services.handoff.Handoff)."""

    async def queue(self) -> list[dict[str, Any]]: ...
    async def current(self, agent: str) -> tuple[str, int] | None: ...
    async def accept(self, member: Member, number: int | None = None) -> Acceptance: ...
    async def to_citizen(self, member: Member, text: str) -> Relay: ...
    async def photo_to_citizen(self, member: Member, media_id: str) -> Relay: ...
    async def end(self, member: Member) -> int | None: ...
    async def set_on_duty(self, member: Member, on: bool) -> None: ...
    async def is_off_duty(self, member: Member) -> bool: ...


@dataclass(slots=True)
class StaffServices:
    """What staff dialogs may use (the citizens' `Services` counterpart)."""

    render: Render
    staff: StaffDirectory  # bot.services.staff.Staff
    handoff: AgentDesk | None = None
    settings: SettingsView | None = None
    broadcasts: BroadcastDesk | None = None  # bot.services.broadcasts.Broadcasts (set once the WeChat client exists)
    consents: Any = None  # bot.services.consent.Consents: staff see its counts only


STATES = ["desk"]
TRANSITIONS = [
    #  trigger  source  dest    when             then
    T("start", "*",    "desk", None,            "show_help"),
    T("text",  "desk", "desk", "asks_help",     "show_help"),
    T("text",  "desk", "desk", "asks_queue",    "show_queue"),
    T("text",  "desk", "desk", "accepts",       "accept"),
    T("text",  "desk", "desk", "ends",          "end"),
    T("text",  "desk", "desk", "goes_on_duty",  "on_duty"),
    T("text",  "desk", "desk", "goes_off_duty", "off_duty"),
    T("text",  "desk", "desk", "asks_compose",  "compose"),
    T("text",  "desk", "desk", "asks_pending",  "show_pending"),
    T("text",  "desk", "desk", "asks_recent",   "show_recent"),
    T("text",  "desk", "desk", "steers",        "steer"),
    T("text",  "desk", "desk", "asks_consent_counts", "show_consent_counts"),
    # 取消 alone while talking to a citizen (the compose flow's way out, typed from habit): not relayed
    T("text",  "desk", "desk", "cancels_while_talking", "say_not_relayed"),
    T("text",  "desk", "desk", "is_talking",    "relay"),
    T("text",  "desk", "desk", None,            "show_help"),
    T("image", "desk", "desk", "is_talking",    "relay_photo"),
]
PREPARE = [
    #  trigger  source  action
    P("text",  "desk", "check_talking"),
    P("image", "desk", "check_talking"),
]


class Desk(Dialog, registry=STAFF_DIALOGS):
    name = DESK
    title = "工作台"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE

    __slots__ = ("_talking",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._talking = False  # this agent is talking to a citizen (as the desk said this turn)

    @property
    def member(self):
        return self.services.staff.by_userid(self.incoming.user)

    @property
    def desk(self) -> AgentDesk:
        return self.services.handoff

    @property
    def is_agent(self) -> bool:
        return self.member.can("agent") and self.desk is not None

    @property
    def broadcasts(self):
        return self.services.broadcasts

    @property
    def may_broadcast(self) -> bool:
        """Whether this member has any part in broadcasts (writing or approving)."""
        return self.broadcasts is not None and (self.member.can("broadcaster") or self.member.can("approver"))

    async def show_help(self):
        talking = await self.desk.current(self.member.userid) if self.is_agent else None
        off = await self.desk.is_off_duty(self.member) if self.is_agent else False
        self.say("staff/help.j2", who=self.member.name, agent=self.is_agent, talking=talking[1] if talking else 0, off=off,
                 broadcaster=self.broadcasts is not None and self.member.can("broadcaster"),
                 approver=self.broadcasts is not None and self.member.can("approver"))

    def asks_help(self) -> bool:
        return self.word in HELP

    # The queue and accepting ----------------------------------------------------------

    def asks_queue(self) -> bool:
        return self.word in QUEUE

    async def show_queue(self):
        if not self.is_agent:
            self.say("staff/not_agent.j2")
            return
        self.say("staff/queue.j2", entries=await self.desk.queue())

    def accepts(self) -> bool:
        return ACCEPT.fullmatch(self.word) is not None

    async def accept(self):
        if self.desk is None:
            self.say("staff/not_agent.j2")
            return
        number = ACCEPT.fullmatch(self.word).group(1)
        result = await self.desk.accept(self.member, int(number) if number else None)
        self.say("staff/accepted.j2", result=result)

    # Talking to a citizen ---------------------------------------------------------------

    def ends(self) -> bool:
        return self.word in END

    async def end(self):
        number = await self.desk.end(self.member) if self.is_agent else None
        self.say("staff/ended.j2", number=number or 0, by="you")

    async def check_talking(self) -> None:
        """Prepare: whether this agent is talking to a citizen now (their words are then relayed)."""
        self._talking = self.is_agent and await self.desk.current(self.member.userid) is not None

    def is_talking(self) -> bool:
        return self._talking

    def cancels_while_talking(self) -> bool:
        """取消 / 退出 / cancel alone mean leaving something to the bot, never a message for the citizen
        (取消 reached a citizen as 【人工服务·王工】取消)."""
        return self._talking and self.word in NOT_FOR_THE_CITIZEN

    def say_not_relayed(self):
        self.say("staff/not_relayed.j2", word=self.text.strip())

    async def relay(self):
        relay = await self.desk.to_citizen(self.member, self.text)
        if relay.outcome == "none":  # the talk ended a moment ago
            self.say("staff/ended.j2", number=0, by="you")
        elif relay.outcome != "sent":
            self.say("staff/undelivered.j2", relay=relay)

    async def relay_photo(self):
        relay = await self.desk.photo_to_citizen(self.member, self.incoming.extra.get("media_id") or "")
        if relay.outcome == "none":
            self.say("staff/ended.j2", number=0, by="you")
        elif relay.outcome == "refused":
            self.say("staff/photo_refused.j2", reason=relay.reason)
        elif relay.outcome != "sent":
            self.say("staff/photo_undelivered.j2", relay=relay)

    # On and off duty -----------------------------------------------------------------------

    def goes_on_duty(self) -> bool:
        return self.word in ON_DUTY

    def goes_off_duty(self) -> bool:
        return self.word in OFF_DUTY

    async def on_duty(self):
        await self._duty(True)

    async def off_duty(self):
        await self._duty(False)

    async def _duty(self, on: bool):
        if not self.is_agent:
            self.say("staff/not_agent.j2")
            return
        await self.desk.set_on_duty(self.member, on)
        waiting = len(await self.desk.queue()) if on else 0
        self.say("staff/duty.j2", on=on, waiting=waiting)


    # Broadcasts ---------------------------------------------------------------------------------
    # An agent talking to a citizen without any broadcast role has these words relayed as usual.

    def _broadcast_word(self, matched: bool) -> bool:
        return matched and (self.may_broadcast or not self.is_talking())

    def asks_compose(self) -> bool:
        return self._broadcast_word(self.word in COMPOSE)

    def asks_pending(self) -> bool:
        return self._broadcast_word(self.word in PENDING)

    def asks_recent(self) -> bool:
        return self._broadcast_word(self.word in RECENT)

    def steers(self) -> bool:
        return self._broadcast_word(STEER.fullmatch(self.word) is not None)

    def asks_consent_counts(self) -> bool:
        return self._broadcast_word(self.word in CONSENT_COUNTS)

    async def show_consent_counts(self):
        """Counts only: who consents is never shown to staff."""
        consents = self.services.consents
        if consents is None or not self.may_broadcast:
            self._no_broadcasts("broadcaster")
            return
        self.say("staff/consent_counts.j2", **await consents.counts())

    def _no_broadcasts(self, role: str) -> bool:
        """Say so and return True when this member may not do `role`'s part."""
        if self.broadcasts is None:
            self.say("staff/broadcast_refused.j2", why="unavailable")
            return True
        if not self.member.can(role):
            self.say("staff/broadcast_refused.j2", why=role)
            return True
        return False

    def compose(self):
        if not self._no_broadcasts("broadcaster"):
            self.start(COMPOSE_DIALOG)

    async def show_pending(self):
        if self._no_broadcasts("approver"):
            return
        pending = [b for b in await self.broadcasts.list(200) if b["status"] == "pending"]
        self.say("staff/broadcast_list.j2", entries=pending, pending=True, names=self._names(pending))

    async def show_recent(self):
        if self.broadcasts is None or not self.may_broadcast:
            self._no_broadcasts("broadcaster")
            return
        recent = await self.broadcasts.list(8)
        self.say("staff/broadcast_list.j2", entries=recent, pending=False, names=self._names(recent))

    def _names(self, entries: list[dict]) -> dict[str, str]:
        names = {}
        for b in entries:
            for who in (b["created_by"], b.get("approved_by")):
                member = self.services.staff.by_userid(who) if who else None
                if member is not None:
                    names[who] = member.name
        return names

    async def steer(self):
        if self.broadcasts is None or not self.may_broadcast:
            self._no_broadcasts("broadcaster")
            return
        word, number = STEER.fullmatch(self.word).groups()
        action, bid = STEER_ACTIONS[word], f"b{int(number)}"
        if action == "approve" and self._no_broadcasts("approver"):
            return
        try:
            if action == "progress":
                b = await self.broadcasts.get(bid)
            else:
                b = await getattr(self.broadcasts, action)(self.member, bid)
        except self.broadcasts.Error as exc:
            self.say("staff/broadcast_refused.j2", why="error", message=exc.message)
            return
        self.say("staff/broadcast_progress.j2", **progress_context(self.broadcasts, self.services.staff, b, action))


def progress_context(broadcasts: BroadcastDesk, staff: StaffDirectory, b: dict, action: str = "progress") -> dict[str, Any]:
    """What staff/broadcast_progress.j2 shows: the broadcast, its failures by reason in words, a percentage."""
    failed = [(broadcasts.reason_label(reason), n) for reason, n in sorted(b["failed"].items(), key=lambda kv: -kv[1])]
    total = b["total"] or 0
    done = b["sent"] + sum(n for _, n in failed)
    approver = staff.by_userid(b["approved_by"]) if b.get("approved_by") else None
    author = staff.by_userid(b["created_by"])
    return {"b": b, "action": action, "failed": failed, "percent": int(done * 100 / total) if total else 0,
            "approver": approver.name if approver else (b.get("approved_by") or ""), "author": author.name if author else b["created_by"]}


# Writing a broadcast, step by step -------------------------------------------------------------

COMPOSE_DIALOG = "compose"
CANCEL = frozenset({"取消", "放弃", "不发了", "退出"})
BACK = frozenset({"返回", "上一步"})
CHANGE = frozenset({"修改", "改收件人", "重新选择", "2"})
SUBMIT = frozenset({"提交", "送审", "提交审批", "确认", "1"})
MAX_TITLE, MAX_BODY, MAX_NAME = 40, 600, 30

#: The audiences a broadcaster picks from, by number: (kind, what to ask for next, words).
AUDIENCES = [
    ("all", "", "全部关注用户"),
    ("tag", "tag_id", "某个微信标签的用户"),
    ("matter", "matter_code", "订阅了某个事项通知的用户"),
    ("department", "department", "订阅了某个部门通知的用户"),
    ("district", "district", "已绑定企业（按行政区划）"),
    ("industry", "industry", "已绑定企业（按行业）"),
    ("policy", "rules", "订阅政策推送、符合条件的人（政策找人）"),
]
_PLAIN = re.compile(r"[^\s{}*?\[\]\\]+")

COMPOSE_STATES = ["title", "body", "audience", "detail", "confirm"]
COMPOSE_TRANSITIONS = [
    #  trigger  source          dest        when                 then
    T("start", "*",            "title",    "may_compose",       "ask"),
    T("start", "*",            "title",    None,                "refuse"),
    T("text",  COMPOSE_STATES, "title",    "cancels",           "cancel"),
    T("text",  "title",        "title",    "goes_back",         "cancel"),
    T("text",  "body",         "title",    "goes_back",         "ask"),
    T("text",  "audience",     "body",     "goes_back",         "ask"),
    T("text",  "detail",       "audience", "goes_back",         "ask"),
    T("text",  "confirm",      "audience", "changes",           "drop_draft"),
    T("text",  "confirm",      "confirm",  "submits",           "submit"),
    T("text",  "confirm",      "confirm",  None,                "ask"),
    T("text",  "title",        "body",     "title_ok",          ["keep_title", "ask"]),
    T("text",  "title",        "title",    None,                "say_title_bad"),
    T("text",  "body",         "audience", "body_ok",           ["keep_body", "ask"]),
    T("text",  "body",         "body",     None,                "say_body_bad"),
    T("text",  "audience",     "confirm",  "picks_all_previewed", "show_preview"),
    T("text",  "audience",     "detail",   "picks_with_detail", "ask_detail"),
    T("text",  "audience",     "audience", None,                "say_pick_again"),
    T("text",  "detail",       "confirm",  "detail_previewed",  "show_preview"),
    T("text",  "detail",       "detail",   None,                "say_detail_again"),
]
#: Writing the draft and counting its recipients, before the guards are asked.
COMPOSE_PREPARE = [
    #  trigger  source      action
    P("text",  "audience", "preview_all"),
    P("text",  "detail",   "preview_detail"),
]


class Compose(Dialog, registry=STAFF_DIALOGS):
    """A broadcaster writes a broadcast in WeCom chat; Broadcasts checks, audits and keeps it."""

    name = COMPOSE_DIALOG
    title = "撰写群发"
    STATES = COMPOSE_STATES
    TRANSITIONS = COMPOSE_TRANSITIONS
    PREPARE = COMPOSE_PREPARE
    PROMPTS = {"title": "staff/compose_title.j2", "body": "staff/compose_body.j2", "audience": "staff/compose_audience.j2",
               "detail": "staff/compose_detail.j2", "confirm": "staff/compose_confirm.j2"}

    __slots__ = ("_preview", "_said")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._preview: dict | None = None  # this turn's preview, once made
        self._said = False  # this turn already said why the input was not taken

    @property
    def member(self):
        return self.services.staff.by_userid(self.incoming.user)

    @property
    def broadcasts(self):
        return self.services.broadcasts

    def prompt_context(self):
        return {"data": self.data, "audiences": AUDIENCES, "limits": (MAX_TITLE, MAX_BODY)}

    def may_compose(self) -> bool:
        return self.broadcasts is not None and self.member.can("broadcaster")

    def refuse(self):
        self.say("staff/broadcast_refused.j2", why="unavailable" if self.broadcasts is None else "broadcaster")
        self.finish()

    def cancels(self) -> bool:
        return self.word in CANCEL

    async def cancel(self):
        await self._drop()
        self.say("staff/compose_cancelled.j2")
        self.finish()

    def goes_back(self) -> bool:
        return self.word in BACK

    # Title and body ------------------------------------------------------------------------------

    def _clean(self) -> str:
        return "".join(c for c in self.text.strip() if ord(c) >= 32 or c in "\n\t")

    def title_ok(self) -> bool:
        title = self._clean()
        return 1 <= len(title) <= MAX_TITLE and "\n" not in title

    def keep_title(self):
        self.data["title"] = self._clean()

    def say_title_bad(self):
        self.say("staff/compose_bad.j2", what="title", limit=MAX_TITLE)
        self.ask()

    def body_ok(self) -> bool:
        return 1 <= len(self._clean()) <= MAX_BODY

    def keep_body(self):
        self.data["body"] = self._clean()

    def say_body_bad(self):
        self.say("staff/compose_bad.j2", what="body", limit=MAX_BODY)
        self.ask()

    # The audience ------------------------------------------------------------------------------

    def _picked(self) -> tuple[str, str, str] | None:
        text = self.word
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(AUDIENCES):
            return AUDIENCES[int(text) - 1]
        named = [a for a in AUDIENCES if text and (text == normalise(a[2]) or text in a[2] and len(text) >= 2)]
        return named[0] if len(named) == 1 else None

    def _stepping_out(self) -> bool:
        """取消 or 返回: the rows above the audience's and the detail's take these."""
        return self.cancels() or self.goes_back()

    async def preview_all(self) -> None:
        """Prepare: 全部关注用户 picked, write the draft and count its recipients."""
        picked = self._picked()
        if not self._stepping_out() and picked is not None and picked[0] == "all":
            await self._previewed({"kind": "all"})

    def picks_all_previewed(self) -> bool:
        return self._preview is not None

    def picks_with_detail(self) -> bool:
        picked = self._picked()
        return picked is not None and picked[0] != "all"

    async def ask_detail(self):
        """Ask for the detail of the audience picked (a tag: from the account's tags)."""
        kind = self.data["kind"] = self._picked()[0]
        if kind == "tag":
            self.data["tags"] = [[t.id, t.name, t.count] for t in (await self.broadcasts.tags())[:30]]
        self.ask()

    def say_pick_again(self):
        if not self._said:
            self.say("staff/compose_bad.j2", what="audience", limit=len(AUDIENCES))
        self.ask()

    def _audience(self) -> dict | str:
        """The audience the detail names, or why it cannot (a word for compose_bad.j2)."""
        kind, text = self.data.get("kind"), self.word
        if kind == "tag":
            tags = self.data.get("tags") or []
            if text.isascii() and text.isdigit() and len(text) < 10:
                return {"kind": "tag", "tag_id": int(text)}  # the tag's id, as the list shows it
            named = [t[0] for t in tags if normalise(t[1]) == text]
            return {"kind": "tag", "tag_id": named[0]} if named else "tag"
        if kind == "district":
            return {"kind": "enterprises", "district": text} if text.isascii() and text.isdigit() and 2 <= len(text) <= 6 else "district"
        if kind == "policy":
            terms = self.broadcasts.parse_terms(self.text)
            if terms.unknown or not terms.rules or not terms.matter:
                self.data["policy_trouble"] = [terms.unknown, terms.matter]
                return "policy"
            return {"kind": "policy", "rules": terms.rules, "matter": terms.matter}
        name = self.text.strip()
        if not (_PLAIN.fullmatch(name) and len(name) <= (64 if kind == "matter" else MAX_NAME)):
            return kind or "audience"
        if kind == "matter":
            return {"kind": "matter", "matter_code": name}
        if kind == "department":
            return {"kind": "department", "department": name}
        return {"kind": "enterprises", "industry": name}

    async def preview_detail(self) -> None:
        """Prepare: the detail names an audience, write the draft and count its recipients
        (or say why it names none)."""
        if self._stepping_out():
            return
        audience = self._audience()
        if isinstance(audience, str):
            unknown, matter = self.data.pop("policy_trouble", None) or [[], ""]
            self.say("staff/compose_bad.j2", what=audience, limit=MAX_NAME, unknown=unknown, matter=matter)
            self._said = True
            return
        await self._previewed(audience)

    def detail_previewed(self) -> bool:
        return self._preview is not None

    def say_detail_again(self):
        if not self._said:
            self.say("staff/compose_bad.j2", what=self.data.get("kind", "audience"), limit=MAX_NAME)
        self.ask()

    async def _previewed(self, audience: dict) -> None:
        """Write the draft and resolve its recipients; say why not when that fails or finds nobody."""
        await self._drop()
        try:
            if audience["kind"] == "policy":  # 政策找人: the body is the policy's summary
                policy = {"title": self.data["title"], "summary": self.data["body"], "matter_code": audience["matter"],
                          "rules": audience["rules"]}
                created = await self.broadcasts.create_policy(self.member, policy)
            else:
                draft = {"title": self.data["title"], "body": self.data["body"], "audience": audience}
                created = await self.broadcasts.create(self.member, draft)
            self.data["bid"] = created["id"]
            preview = await self.broadcasts.preview(self.member, created["id"])
        except self.broadcasts.Error as exc:
            self.say("staff/broadcast_refused.j2", why="error", message=exc.message)
            self._said = True
            return
        if not preview["total"]:
            await self._drop()
            self.say("staff/compose_nobody.j2", audience=preview["audience_text"])
            self._said = True
            return
        self._preview = preview

    def show_preview(self):
        self.say("staff/compose_preview.j2", b=self._preview)

    async def _drop(self):
        """Cancel the draft written earlier in this conversation, if any (it is not sent)."""
        bid = self.data.pop("bid", None)
        if bid:
            try:
                await self.broadcasts.cancel(self.member, bid)
            except self.broadcasts.Error:
                pass  # already gone on (submitted by another way, cancelled): nothing to tidy

    def changes(self) -> bool:
        return self.word in CHANGE or self.word in BACK

    async def drop_draft(self):
        await self._drop()
        self.ask()

    # Submitting -----------------------------------------------------------------------------------

    def submits(self) -> bool:
        return self.word in SUBMIT

    async def submit(self):
        try:
            b = await self.broadcasts.submit(self.member, self.data["bid"])
        except self.broadcasts.Error as exc:
            self.say("staff/broadcast_refused.j2", why="error", message=exc.message)
            self.ask()
            return
        self.data.pop("bid", None)
        own_allowed = not getattr(self.services.settings, "two_person_rule", True)
        approvers = [m.name for m in self.services.staff.with_role("approver") if m.userid != self.member.userid or own_allowed]
        self.say("staff/compose_submitted.j2", b=b, approvers=approvers)
        self.finish()


class StaffConversation:
    """One turn of a staff member's conversation in WeCom; stateless, one serves all staff."""

    MAX_HANDOVERS = 4

    def __init__(self, services: StaffServices):
        self.services = services

    async def step(self, session: Session | None, incoming: Incoming, expired: bool = False) -> tuple[Session | None, list[Reply]]:
        replies: list[Reply] = []
        if self.services.staff.by_userid(incoming.user) is None:  # the channel refuses them first
            replies.append(Reply(self.services.render("staff/not_staff.j2")))
            return None, replies
        kind = incoming.kind
        if kind == "unsubscribe":
            return None, replies
        if kind in ("view", "notice"):
            return session, replies
        if session is None or session.dialog not in STAFF_DIALOGS:
            session = Session(DESK, "desk")
        if kind in ("subscribe", "scan"):
            session = Session(DESK, "desk")
            turn = self._model(session, incoming, replies)
            await turn.fire("start")
            return self._stamp(Session(DESK, turn.state, turn.data)), replies
        turn = self._model(session, incoming, replies)
        if not await turn.fire(kind):
            if kind in MEDIA_KINDS:
                replies.append(Reply(self.services.render("staff/text_only.j2")))
            else:
                await self._model(Session(DESK, "desk"), incoming, replies).show_help()
            return self._stamp(session), replies
        session = Session(turn.__class__.name, turn.state, turn.data)
        for _ in range(self.MAX_HANDOVERS):
            if turn.switch_to is not None:
                name, carry = turn.switch_to
                cls = STAFF_DIALOGS[name]
                turn = cls(cls.STATES[0], dict(carry), incoming, self.services, replies)
                await turn.fire("start")
                session = Session(name, turn.state, turn.data)
            elif turn.finished:
                session = Session(DESK, "desk")
                break
            else:
                break
        return self._stamp(session), replies

    def _model(self, session: Session, incoming: Incoming, replies: list[Reply]) -> Dialog:
        return STAFF_DIALOGS[session.dialog](session.state, session.data, incoming, self.services, replies)

    @staticmethod
    def _stamp(session: Session) -> Session:
        session.updated_at = now()
        return session
