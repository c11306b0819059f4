"""好差评: rate a finished case in one reply (a word or 1-5); 不满意 or worse asks what went
wrong and files it with the platform as a complaint that staff must follow up.

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
"""

from __future__ import annotations

from dialogs.engine import Dialog, T, normalise
from integrations.platform.client import PlatformError, PlatformUnavailable
from integrations.platform.models import ErrorCode, RatingLevel

#: The five levels in the order they are offered: number, name, level.
LEVELS: tuple[tuple[str, str, RatingLevel], ...] = (
    ("1", "非常满意", RatingLevel.very_satisfied),
    ("2", "满意", RatingLevel.satisfied),
    ("3", "基本满意", RatingLevel.basically_satisfied),
    ("4", "不满意", RatingLevel.dissatisfied),
    ("5", "非常不满意", RatingLevel.very_dissatisfied),
)
BAD = frozenset({RatingLevel.dissatisfied, RatingLevel.very_dissatisfied})
NAMES = {level: name for _, name, level in LEVELS}
_WORDS = {name: level for _, name, level in LEVELS} | {
    "很满意": RatingLevel.very_satisfied, "特别满意": RatingLevel.very_satisfied, "好评": RatingLevel.satisfied,
    "一般": RatingLevel.basically_satisfied, "还行": RatingLevel.basically_satisfied, "还可以": RatingLevel.basically_satisfied,
    "差评": RatingLevel.dissatisfied, "很不满意": RatingLevel.very_dissatisfied, "特别不满意": RatingLevel.very_dissatisfied,
}
_DIGITS = {number: level for number, _, level in LEVELS}
SKIP = frozenset({"跳过", "不说了", "没什么", "算了吧", "不填"})
NO_REASON = "评价人未说明具体原因"


def rating_level(text: str, digits: bool = False) -> RatingLevel | None:
    """The level a reply names: a word always, a bare 1-5 only when `digits`."""
    return level_named(normalise(text), digits)


def level_named(word: str, digits: bool = False) -> RatingLevel | None:
    """`rating_level` of a reply already normalised (dialogs.engine.normalise)."""
    return _WORDS.get(word) or (_DIGITS.get(word) if digits else None)


STATES = ["level", "reason"]
TRANSITIONS = [
    #  trigger  source    dest      when             then
    T("start", "*",      "reason", "rated_badly",   "ask"),
    T("start", "*",      "level",  "rated_well",    "thank"),
    T("start", "*",      "level",  "not_rated",     "say_not_rated"),
    T("start", "*",      "level",  "may_rate_again", "ask"),
    T("start", "*",      "level",  "rated_twice",   "say_rated_twice"),
    T("start", "*",      "level",  "has_pending",   "ask"),
    T("start", "*",      "level",  None,            "say_nothing_pending"),
    T("text",  "level",  "reason", "rated_badly",   "ask"),
    T("text",  "level",  "level",  "rated_well",    "thank"),
    T("text",  "level",  "level",  "not_rated",     "say_not_rated"),
    T("text",  "reason", "reason", "complaint_filed", "say_complaint_filed"),
    T("text",  "reason", "reason", "complaint_refused", "say_complaint_refused"),
    T("text",  "reason", "reason", "complaint_trouble", "say_busy"),
]


class RateCase(Dialog):
    name = "rating"
    title = "好差评"
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"level": "rating/ask_level.j2", "reason": "rating/ask_reason.j2"}

    __slots__ = ("_rated", "_complaint", "_filed")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rated: str | None = None
        self._complaint = None
        self._filed: str | None = None

    def prompt_context(self):
        level = self.data.get("level")
        return {"data": self.data, "levels": LEVELS, "level_name": NAMES.get(RatingLevel(level)) if level else ""}

    # Rating -----------------------------------------------------------------------------------

    async def _rate(self) -> str:
        """Send the rating once per turn: "ok", "refused" (rated before, or not finished),
        "unverified" (not this person's to rate), "down", or "none" (no level given, or nothing
        to rate)."""
        if self._rated is None:
            level = self.data.get("level")
            if level is None and self.incoming.kind == "text":
                parsed = rating_level(self.text, digits=True)
                level = parsed.value if parsed else None
            if not level or not self.data.get("case_no"):
                self._rated = "none"
                return self._rated
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
        return self._rated

    async def rated_badly(self) -> bool:
        return await self._rate() == "ok" and RatingLevel(self.data["level"]) in BAD

    async def rated_well(self) -> bool:
        return await self._rate() == "ok"

    async def not_rated(self) -> bool:
        return await self._rate() in ("refused", "unverified", "down")

    async def _last_given(self) -> dict | None:
        if self.data.get("mode") != "again":
            return None
        return await self.services.ratings.last_given(self.incoming.user)

    async def may_rate_again(self) -> bool:
        """修改评价: the latest rating may be changed once."""
        given = await self._last_given()
        if not given or int(given.get("revision", 1)) >= 2 or "rating_id" not in given:
            return False
        self.data.update(case_no=given["case_no"], matter_name=given.get("matter_name", ""), revision=2)
        return True

    async def rated_twice(self) -> bool:
        return self.data.get("mode") == "again" and await self._last_given() is not None

    def say_rated_twice(self):
        self.say("rating/rated_twice.j2")
        self.finish()

    async def has_pending(self) -> bool:
        invitation = await self.services.ratings.pending(self.incoming.user)
        if invitation is None:
            return False
        self.data.update(case_no=invitation.case_no, matter_name=invitation.matter_name)
        return True

    def thank(self):
        self.say("rating/thanks.j2", level_name=NAMES[RatingLevel(self.data["level"])], matter_name=self.data.get("matter_name", ""),
                 revision=self.data.get("revision", 1))
        self.finish()

    def say_not_rated(self):
        self.say("rating/not_rated.j2", why=self._rated)
        self.finish()

    def say_nothing_pending(self):
        self.say("rating/nothing_pending.j2")
        self.finish()

    # What went wrong ----------------------------------------------------------------------------

    async def _file(self) -> str:
        if self._filed is None:
            text = self.text.strip()
            if normalise(text) in SKIP or not text:
                text = NO_REASON
            try:
                self._complaint = await self.services.ratings.complain(self.incoming.user, self.data["case_no"], self.data["rating_id"], text[:500])
            except (PlatformUnavailable, PlatformError):
                self._filed = "down"
            else:
                self._filed = "ok" if self._complaint is not None else "unverified"
        return self._filed

    async def complaint_filed(self) -> bool:
        return await self._file() == "ok"

    async def complaint_refused(self) -> bool:
        return await self._file() == "unverified"

    async def complaint_trouble(self) -> bool:
        return await self._file() == "down"

    def say_complaint_refused(self):
        self.say("rating/not_rated.j2", why="unverified")
        self.finish()

    def say_complaint_filed(self):
        self.say("rating/complaint_filed.j2", complaint=self._complaint)
        self.finish()

    def say_busy(self):
        self.say("rating/busy.j2")
        self.ask()
