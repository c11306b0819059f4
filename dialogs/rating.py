"""好差评: rate a finished case in one reply, in stars where 5 is best (非常满意): 五星好评, 5星,
评价 5, 👍, 满意, 差评, or a bare 1-5 where the rating question is what the person saw last;
不满意 or worse asks what went wrong and files it with the platform as a complaint that staff must follow up.

```
(start with a level) --rated well--> (thanks, done)
(start with a level) --rated badly--> reason --text--> (complaint filed, done)
level  --text: a level--> (as above)           (started by 评价 with an invitation pending,
                                                or by 修改评价: the latest rating, changed once)
```
dialogs/conversation.py starts this dialog when a reply is a rating and an invitation is
pending (bot.services.ratings), carrying `case_no`, `matter_name` and `level`. Whatever case the session
names, the ratings store rates it, or files the complaint, only for a person who may act on it
at that moment (bot.services.ratings: verified the case, or bound its enterprise); otherwise nothing
reaches the platform and the person is told to verify the case first.

The guards only read what the event's prepare action (`PREPARE`) did: sending the rating, looking
up the rating to change or the pending invitation, filing the complaint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.engine import Dialog, P, T, normalise
from dialogs.understand import LEVELS_BY_STARS, MessageClass, SlotKind, Understanding, shanghai_today, understand
from dialogs.understand.numerals import CHINESE_DIGITS
from dialogs.understand.vocabulary import vocabulary
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import ErrorCode, RatingLevel

#: The five levels in the order they are offered, best first: stars (5 is 非常满意), name, level.
LEVELS: tuple[tuple[int, str, RatingLevel], ...] = tuple(
    (stars, name, LEVELS_BY_STARS[stars]) for stars, name in ((5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意"))
)
BAD = frozenset({RatingLevel.dissatisfied, RatingLevel.very_dissatisfied})
#: In the conversation's memory: the finished case whose card was shown last (dialogs.progress), which
#: 评价 rates when no invitation is pending, after a question asked meanwhile (去哪领, 周六开门吗).
SHOWN_CASE = "shown_finished_case"
NAMES = {level: name for _, name, level in LEVELS}
STARS = {level: stars for stars, _, level in LEVELS}
SKIP = frozenset({"跳过", "不说了", "没什么", "算了吧", "不填"})
#: The same in other words (不说了 跳过, 不想说了, 懒得说, 没啥好说的): no reason given.
SKIP_SAID = re.compile(r"^(?:算了|不用了|那个|嗯|哎)?[\s，,]*(?:我)?(?:不想说|不说了|不想写|不填了?|懒得说|懒得写|没(?:什么|啥|啥子)好?说的|没(?:什么|啥)|跳过|不用说了?|就这样|没有了?|无|略)"
                       r"[了吧啦哈啊呀，,。.\s]*(?:跳过|算了|不说了)?[了吧啦哈啊呀。.!！\s]*$|^(?:skip|no comment|nothing|rather not say)\W*$")

NO_REASON = "评价人未说明具体原因"


def shown(level: RatingLevel) -> str:
    """A level as people see it: its stars and its name (★★★★☆ 满意)."""
    stars = STARS[level]
    return f"{'★' * stars}{'☆' * (5 - stars)} {NAMES[level]}"


def rating_level(text: str, digits: bool = False) -> RatingLevel | None:
    """The level a reply names, read by the understanding step (config/understanding.toml's
    [ratings]: 五星好评, 5星, 评价 5, 👍, 满意, 差评 ...); a bare 1-5 (stars) only when `digits`."""
    reading = understand(text, shanghai_today(), expects=(SlotKind.RATING,) if digits else ())
    stars = reading.value(SlotKind.RATING)
    return LEVELS_BY_STARS.get(stars) if stars is not None else None


def level_named(word: str, digits: bool = False) -> RatingLevel | None:
    """`rating_level` of a reply already normalised (dialogs.engine.normalise): the same reading,
    kept for callers that hold the normalised word."""
    return rating_level(word, digits)


STATES = ["level", "reason"]
TRANSITIONS = [
    #  trigger  source    dest      when             then
    T("start", "*",      "reason", "rated_badly",   "ask"),
    T("start", "*",      "level",  "rated_well",    "thank"),
    T("start", "*",      "level",  "not_rated",     "say_not_rated"),
    T("start", "*",      "level",  "may_rate_again", ["take_last_given", "ask"]),
    T("start", "*",      "level",  "rated_twice",   "say_rated_twice"),
    T("start", "*",      "level",  "carries_case",  "ask"),  # 我要评价 on a case's card: its level asked
    T("start", "*",      "level",  "has_pending",   ["take_invitation", "ask"]),
    T("start", "*",      "level",  None,            "say_nothing_pending"),
    T("text",  "level",  "reason", "rated_badly",   "ask"),
    T("text",  "level",  "level",  "rated_well",    "thank"),
    T("text",  "level",  "level",  "not_rated",     "say_not_rated"),
    T("text",  "reason", "reason", "complaint_filed", "say_complaint_filed"),
    T("text",  "reason", "reason", "complaint_refused", "say_complaint_refused"),
    T("text",  "reason", "reason", "complaint_trouble", "say_busy"),
]
#: What each event does or looks up before its guards are asked.
PREPARE = [
    #  trigger  source    action
    P("start", "*",      "rate_or_look_up"),
    P("text",  "level",  "rate"),
    P("text",  "reason", "file_complaint"),
]


@dataclass(frozen=True)
class _Shown:
    """A finished case shown on its card, rated as an invitation would be."""

    case_no: str
    matter_name: str


class RateCase(Dialog):
    name = "rating"
    title = "好差评"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PREPARE = PREPARE
    PROMPTS = {"level": "rating/ask_level.j2", "reason": "rating/ask_reason.j2"}
    EXPECTS = {"level": frozenset({"rating", "choice"})}
    DONE = frozenset({"level"})
    FREE_TEXT = frozenset({"reason"})
    KEEPS_TEXT = frozenset({"reason"})  # 窗口的人态度很差…电话也没人接 is the complaint, never a question about halls

    __slots__ = ("_rated", "_complaint", "_filed", "_given", "_invitation", "_skipped")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rated: str | None = None  # what came of sending the rating (see `rate`)
        self._complaint = None
        self._skipped = False  # no reason was given (跳过, 不想说了): filed all the same, and said so
        self._filed: str | None = None  # what came of filing the complaint (see `file_complaint`)
        self._given: dict | None = None  # 修改评价: the latest rating given
        self._invitation = None  # the invitation pending, when looked up

    def prompt_context(self):
        level = self.data.get("level")
        return {"data": self.data, "levels": LEVELS, "level_name": shown(RatingLevel(level)) if level else ""}

    # Rating -----------------------------------------------------------------------------------

    async def rate(self) -> None:
        """Prepare: send the rating; `_rated` is "ok", "refused" (rated before, or not finished),
        "unverified" (not this person's to rate), "down", or "none" (no level given, or nothing
        to rate)."""
        level = self.data.get("level")
        if level is None and self.incoming.kind == "text":
            parsed = rating_level(self.text, digits=True)
            level = parsed.value if parsed else None
        if not level or not self.data.get("case_no"):
            self._rated = "none"
            return
        self.data["level"] = level
        ratings, user, case_no = self.services.ratings, self.incoming.user, self.data["case_no"]
        try:
            rating = await ratings.rate(user, case_no, RatingLevel(level), self.data.get("matter_name", ""), self.data.get("revision", 1))
        except PlatformUnavailable:
            self.data.pop("level", None)
            self._rated = "down"
        except PlatformError as exc:
            if exc.code in (ErrorCode.already_rated, ErrorCode.case_not_done, ErrorCode.not_found):
                await ratings.rated(user, case_no, {"level": level, "refused": exc.code.value})
            self._rated = "refused"
        else:
            if rating is None:  # not this person's to rate: nothing was sent
                self.data.pop("level", None)
                self._rated = "unverified"
            else:
                self.data["rating_id"] = rating.id
                self._rated = "ok"
        if self._rated in ("ok", "refused") and (self.recalled(SHOWN_CASE) or {}).get("case_no") == case_no:
            self.remember(SHOWN_CASE, None)  # rated (or not to be rated): 评价 no longer means it

    async def rate_or_look_up(self) -> None:
        """Prepare (start): send the rating carried in; with none, 修改评价 looks up the latest
        rating given, and otherwise the invitation pending."""
        await self.rate()
        if self._rated != "none":
            return
        again = self.data.get("mode") == "again"
        if again:
            self._given = await self.services.ratings.last_given(self.incoming.user)
        if not (again and self._given is not None):
            self._invitation = await self.services.ratings.pending(self.incoming.user)
        shown = self.recalled(SHOWN_CASE)
        if self._invitation is None and not again and isinstance(shown, dict) and shown.get("case_no"):
            # (the ratings store checks, when rating, that this person may rate it)
            self._invitation = _Shown(shown["case_no"], str(shown.get("matter_name", "")))

    def rated_badly(self) -> bool:
        return self._rated == "ok" and RatingLevel(self.data["level"]) in BAD

    def rated_well(self) -> bool:
        return self._rated == "ok"

    def not_rated(self) -> bool:
        return self._rated in ("refused", "unverified", "down")

    def may_rate_again(self) -> bool:
        """修改评价: the latest rating may be changed once."""
        given = self._given
        return bool(given) and int(given.get("revision", 1)) < 2 and "rating_id" in given

    def take_last_given(self):
        given = self._given
        self.data.update(case_no=given["case_no"], matter_name=given.get("matter_name", ""), revision=2)

    def rated_twice(self) -> bool:
        return self.data.get("mode") == "again" and self._given is not None

    def say_rated_twice(self):
        self.say("rating/rated_twice.j2")
        self.finish()

    def carries_case(self) -> bool:
        return self._rated == "none" and bool(self.data.get("case_no")) and self.data.get("mode") != "again"

    def has_pending(self) -> bool:
        return self._invitation is not None

    def take_invitation(self):
        self.data.update(case_no=self._invitation.case_no, matter_name=self._invitation.matter_name)

    def thank(self):
        self.say("rating/thanks.j2", level_name=shown(RatingLevel(self.data["level"])), matter_name=self.data.get("matter_name", ""),
                 revision=self.data.get("revision", 1))
        self.finish()

    def say_not_rated(self):
        self.say("rating/not_rated.j2", why=self._rated)
        self.finish()

    def say_nothing_pending(self):
        self.say("rating/nothing_pending.j2")
        self.finish()

    # What went wrong ----------------------------------------------------------------------------

    async def file_complaint(self) -> None:
        """Prepare: file what went wrong; `_filed` is "ok", "unverified" or "down"."""
        text = self.text.strip()
        self._skipped = normalise(text) in SKIP or not text or SKIP_SAID.search(normalise(text)) is not None
        if self._skipped:
            text = NO_REASON  # a bad rating is followed up all the same (the platform's rule)
        try:
            self._complaint = await self.services.ratings.complain(self.incoming.user, self.data["case_no"], self.data["rating_id"], text[:500])
        except (PlatformUnavailable, PlatformError):
            self._filed = "down"
        else:
            self._filed = "ok" if self._complaint is not None else "unverified"

    def complaint_filed(self) -> bool:
        return self._filed == "ok"

    def complaint_refused(self) -> bool:
        return self._filed == "unverified"

    def complaint_trouble(self) -> bool:
        return self._filed == "down"

    def say_complaint_refused(self):
        self.say("rating/not_rated.j2", why="unverified")
        self.finish()

    def say_complaint_filed(self):
        self.say("rating/complaint_filed.j2", complaint=self._complaint, skipped=self._skipped)
        self.finish()

    def say_busy(self):
        self.say("rating/busy.j2")
        self.ask()


# Answering an invitation from anywhere -------------------------------------------------------------


async def invitation_answered(services, session, incoming, reading: Understanding) -> tuple[str, dict] | None:
    """The rating dialog to start (name, data carried in) when this message answers a rating
    invitation, a notice that came outside the conversation; None otherwise.
    dialogs/conversation.py asks before the active dialog sees the message (never inside the
    rating dialog or a hand-off, and never for a word the active dialog owns).

    `reading` is the message read with a rating expected (a bare 1-5 is stars). Who owns it:
    - a bare number, or a word that rates only as the whole reply (👍, 不错, 一般, 差), belongs to
      the invitation only where the invitation is the latest thing the person saw: it came after
      their last turn (and within `rating_digits_seconds`). Otherwise a bare number is the current
      list's (the progress card's 1. 订阅, 我的订阅's items) and 👍 / 不行 a yes or a no;
    - at the menu or on a progress card no question is pending, so there those words (never a
      bare number) rate whenever an invitation is pending;
    - the rating's own words (五星好评, 5星, 评价 5, ⭐⭐⭐, 满意, 差评) rate wherever the message is
      nothing but a rating (with nothing to rate, the rating dialog says so), and at the menu or
      on a progress card also inside a sentence, while an invitation is pending.
    One Redis read, and only for a message that rates."""
    if services.ratings is None or (stars := reading.value(SlotKind.RATING)) not in LEVELS_BY_STARS:
        return None
    slot = reading.found(SlotKind.RATING)[0]
    said = reading.text[slot.start:slot.end].strip()
    bare = bool(said) and (said.isdigit() or all(ch in CHINESE_DIGITS for ch in said))
    alone = bare or said in vocabulary().rating_alone
    resting = session.at_rest or session.dialog == "progress"
    if reading.kind == MessageClass.OTHER and (alone or not resting):
        return None  # a sentence: it rates only in the rating's own words, where nothing is asked
    card = session.data.get("case_no") if session.dialog == "progress" and session.state == "shown" else None
    if card and not bare:  # 给这个打差评 on a case's card: that case (the store checks it may be rated)
        return "rating", {"case_no": card, "matter_name": session.data.get("matter_name", ""), "level": LEVELS_BY_STARS[stars].value}
    latest_only = bare or (alone and not resting)
    invitation = await services.ratings.pending(incoming.user, recent=latest_only)
    if invitation is None and resting and not alone and reading.kind != MessageClass.OTHER:
        return "rating", {}  # 评价 5 alone, with nothing to rate: say so rather than search it
    if invitation is None or (latest_only and invitation.asked_at < session.updated_at):
        return None
    return "rating", {"case_no": invitation.case_no, "matter_name": invitation.matter_name, "level": LEVELS_BY_STARS[stars].value}
