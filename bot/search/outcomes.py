"""What became of each search, kept so operators can grow the lexicon from real misses.

Every question the matter dialog searches is counted under its outcome, per day, in Redis:
- "matter": a guide card was shown at once;
- "candidates": a list to choose from was shown (a later pick of one counts as "picked");
- "none": out of scope, or nothing found;
- "junk": not a request at all (not listed as a miss: nothing to learn from "asdf").
A question that ended without a matter is a miss: "none", or candidates shown and none picked.
`python -m bot search-misses [--since D]` prints the most frequent misses.

Nothing personal is kept: no openid, no time of day; digit runs (phone, ID and case numbers)
are masked and a question is kept to its first QUERY_CHARS characters. Each day is one sorted
set per outcome that expires after RETENTION_DAYS, and a day keeps at most DAY_LIMIT distinct
questions (the rarest are dropped first), so the store's size is bounded whatever is typed.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.search.text import squeeze
from bot.stores.conversation import Tally

MATTER, CANDIDATES, PICKED, NONE, JUNK = "matter", "candidates", "picked", "none", "junk"
OUTCOMES = (MATTER, CANDIDATES, PICKED, NONE, JUNK)
QUERY_CHARS = 60
RETENTION_DAYS = 30
DAY_LIMIT = 5000
ZONE = ZoneInfo("Asia/Shanghai")

_DIGITS = re.compile(r"\d{3,}")


def masked(query: str) -> str:
    """The question as kept: normalised, cut to QUERY_CHARS, runs of 3+ digits as '#'s (a phone
    number, ID number or case number is never stored, nor how long it was)."""
    return _DIGITS.sub("###", squeeze(query))[:QUERY_CHARS].strip()


@dataclass(frozen=True, slots=True)
class Miss:
    query: str
    count: int  # times it ended without a matter
    searched: int  # times it was searched


class SearchOutcomes:
    """The per-day outcome counts in Redis (redis-py asyncio client)."""

    def __init__(self, redis, prefix: str = "ywtb:", day_limit: int = DAY_LIMIT):
        self.redis = redis
        self.prefix = prefix
        self.day_limit = day_limit
        self._today: tuple[float, dt.date] = (0.0, dt.date.min)  # (when today ends, today)
        self._day_keys: tuple[dt.date, dict[str, str]] = (dt.date.min, {})

    def today(self) -> dt.date:
        """Today in Shanghai, worked out once a day (a zone-aware clock read is not free, and
        every search asks)."""
        ends, day = self._today
        if time.time() >= ends:
            day = dt.datetime.now(ZONE).date()
            ends = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZONE).timestamp()
            self._today = (ends, day)
        return day

    def _keys_today(self) -> dict[str, str]:
        """Today's key of each outcome, made once a day."""
        day = self.today()
        if self._day_keys[0] != day:
            self._day_keys = (day, {outcome: self.key(outcome, day) for outcome in OUTCOMES})
        return self._day_keys[1]

    def key(self, outcome: str, day: dt.date) -> str:
        return f"{self.prefix}search:{outcome}:{day.isoformat().replace('-', '')}"

    def tally(self, query: str, outcome: str, today: dt.date | None = None) -> Tally | None:
        """The count to add for one search (None: nothing worth keeping was asked). A turn hands
        it to its commit, so counting costs no trip of its own."""
        text = masked(query)
        if not text:
            return None
        key = (today is None and self._keys_today().get(outcome)) or self.key(outcome, today or self.today())
        return Tally(key, text, RETENTION_DAYS * 86400, self.day_limit)  # the rarest beyond the limit go

    async def record(self, query: str, outcome: str, today: dt.date | None = None) -> None:
        """Count one search now (outside a turn)."""
        tally = self.tally(query, outcome, today)
        if tally is None:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zincrby(tally.key, 1, tally.member)
            pipe.expire(tally.key, tally.ttl)
            pipe.zremrangebyrank(tally.key, 0, -tally.cap - 1)
            await pipe.execute()

    async def misses(self, since: dt.date, until: dt.date | None = None, top: int = 30) -> list[Miss]:
        """The questions that most often ended without a matter, from `since` to `until` (today)."""
        until = until or dt.datetime.now(ZONE).date()
        days = [since + dt.timedelta(days=n) for n in range((until - since).days + 1)][-RETENTION_DAYS:]
        totals: dict[str, dict[str, float]] = {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                for outcome in (MATTER, CANDIDATES, PICKED, NONE):
                    pipe.zrange(self.key(outcome, day), 0, -1, withscores=True)
            replies = await pipe.execute()
        at = 0
        for _ in days:
            for outcome in (MATTER, CANDIDATES, PICKED, NONE):
                for member, score in replies[at]:
                    query = member.decode() if isinstance(member, bytes) else member
                    counts = totals.setdefault(query, {})
                    counts[outcome] = counts.get(outcome, 0.0) + score
                at += 1
        found = []
        for query, counts in totals.items():
            unpicked = max(0.0, counts.get(CANDIDATES, 0.0) - counts.get(PICKED, 0.0))
            missed = int(counts.get(NONE, 0.0) + unpicked)
            if missed > 0:
                found.append(Miss(query, missed, int(counts.get(MATTER, 0.0) + counts.get(CANDIDATES, 0.0) + counts.get(NONE, 0.0))))
        found.sort(key=lambda m: (-m.count, m.query))
        return found[:top]
