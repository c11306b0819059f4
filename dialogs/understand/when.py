"""Days and times as people say them, relative to a given today (Asia/Shanghai): 明天, 后天下午,
下周二, 周五上午, 12月5号, 5号, 2026-12-08, 下个月3号, 明天下午三点, 3点半, 15:30.

A small grammar of our own, measured against jionlp and dateparser (docs/understanding.md);
numerals go through `numerals.number` (cn2an) and month arithmetic through dateutil.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Iterator

from dateutil.relativedelta import relativedelta

from dialogs.understand.model import Slot, SlotKind, TimeOfDay
from dialogs.understand.numerals import CHINESE_DIGITS, NUMERAL, number

N = NUMERAL
_DAY_WORDS = {"今天": 0, "今日": 0, "今儿": 0, "明天": 1, "明日": 1, "明儿": 1, "后天": 2, "后日": 2, "大后天": 3,
              "昨天": -1, "前天": -2, "today": 0, "tomorrow": 1, "day after tomorrow": 2}
_DAY_AND_PART = {"今早": (0, "morning"), "今晚": (0, "evening"), "明早": (1, "morning"), "明晨": (1, "morning"),
                 "明晚": (1, "evening"), "tonight": (0, "evening")}
_PARTS = {"凌晨": "night", "清晨": "morning", "早上": "morning", "早晨": "morning", "上午": "morning", "中午": "noon",
          "下午": "afternoon", "午后": "afternoon", "傍晚": "evening", "晚上": "evening", "夜里": "night", "夜间": "night",
          "morning": "morning", "noon": "noon", "afternoon": "afternoon", "evening": "evening"}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
             **{str(d): d - 1 for d in range(1, 8)}}
_WEEK_OFFSETS = {"": None, "这": 0, "这个": 0, "本": 0, "下": 1, "下个": 1, "下下": 2, "下下个": 2, "上": -1, "上个": -1}
_MONTH_OFFSETS = {"本月": 0, "这月": 0, "这个月": 0, "下月": 1, "下个月": 1, "下下月": 2, "下下个月": 2}

_ISO = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?(?!\d)")
_MONTH_DAY = re.compile(rf"(?<![\d{CHINESE_DIGITS}])({N})月({N})[日号]?")
_SLASH = re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})(?![\d/])")
#: 12.14, 12-14 where a day is asked: only this month's or next (9.30 may be half past nine).
_DOTTED = re.compile(r"(?<![\d/.\-:])(\d{1,2})[.\-](\d{1,2})(?![\d/.\-:%点时元块])")
_IN_MONTH = re.compile(rf"({'|'.join(sorted(_MONTH_OFFSETS, key=len, reverse=True))})的?({N})[日号]")
#: 一下 is "a moment", not "next": 约一下周五 is this Friday (一下下周五 is next week's).
_WEEKDAY = re.compile(r"((?<!一)下下个?|(?<!一)下个?|这个?|本|上个?)?(?:周|星期|礼拜)([一二三四五六日天七1-7]|末)")
_EN_WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3,
                "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6}
_EN_WEEKDAY = re.compile(r"\b(?:(next|this)\s+)?(" + "|".join(sorted(_EN_WEEKDAYS, key=len, reverse=True)) + r")\b")
_IN_DAYS = re.compile(rf"(?:过({N})天|({N})天(?:以后|之后|后))")
_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}
_EN_IN_DAYS = re.compile(r"\bin\s+(\d{1,2}|" + "|".join(_EN_NUMBERS) + r")\s+days?\b")
_EN_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_EN_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)(?:[a-z]*)\.?"
#: Dec 10, December 10th, 10 Dec, the 10th of December.
_EN_MONTH_DAY = re.compile(rf"\b{_EN_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_EN_MONTH}(?![a-z])")
_DAY_WORD = re.compile("|".join(sorted([*_DAY_WORDS, *_DAY_AND_PART], key=len, reverse=True)))
_BARE_DAY = re.compile(rf"(?<![\d月])({N})[号日](?![码楼窗线院])")  # not 1号窗口, 2号线
_PART = "|".join(sorted(_PARTS, key=len, reverse=True))
#: (A numeral right after 周 / 星期 / 礼拜 is the weekday's: 周五三点 is Friday at three, not 53 o'clock.)
_CLOCK = re.compile(
    rf"(?:({_PART})\s*)?(?:(?<!\d)(?<![周期拜])({N})\s*(?:点|时(?!间))(?:(半)|(一刻)|(三刻)|(\d{{1,2}}|{N})分?)?(钟)?"
    rf"|(?<!\d)(\d{{1,2}}):(\d{{2}})(?!\d)(?:\s*([ap])\.?m\b\.?)?"
    rf"|(?<![\d:])(\d{{1,2}})\s*([ap])\.?m\b\.?)")
_PART_ALONE = re.compile(_PART)
_RANGE = re.compile(r"\s*(?:到|至|-|~|～|—)\s*")
#: Something every date or time above has: most messages have none and skip them all.
_HINT = re.compile(rf"[\d{CHINESE_DIGITS}天日号月周星礼拜今明昨后早晚午晨夜末]|today|tomorrow|tonight|morning|noon|afternoon|evening"
                   r"|mon|tue|wed|thu|fri|sat|sun|days?\b|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec")


def may_hold_time(text: str) -> bool:
    return _HINT.search(text) is not None


def find_dates(text: str, today: date, free: list[bool], bare_days: bool) -> Iterator[Slot]:
    """Dates (and the part of day some words carry: 明早). `bare_days`: whether "5号" alone is a
    day of the month (not when the step asks to pick item 5)."""
    for match in (_ANY_DATE if bare_days else _ANY_DATE_BUT_BARE).finditer(text):
        start, end = match.span()
        if not all(free[start:end]):
            continue
        pattern, read = _DATE_READERS[match.lastgroup]
        found = read(pattern.match(text, start), today)
        if found is None:
            continue
        day, part = found
        for k in range(start, end):
            free[k] = False
        yield Slot(SlotKind.DATE, day, start, end)
        if part is not None:
            yield Slot(SlotKind.TIME, TimeOfDay(part=part), start, end)


def find_times(text: str, free: list[bool]) -> Iterator[Slot]:
    """Clock times (3点半, 下午三点, 15:30) and parts of the day (上午, 下午). A range (两点到三点)
    is its start."""
    previous: Slot | None = None
    for match in _CLOCK.finditer(text):
        start, end = match.span()
        if not all(free[start:end]):
            continue
        at = _clock(match)
        if at is None:
            continue
        for k in range(start, end):
            free[k] = False
        if previous is not None and _RANGE.fullmatch(text, previous.end, start):
            previous = Slot(SlotKind.TIME, previous.value, previous.start, end)
            continue
        if previous is not None:
            yield previous
        previous = Slot(SlotKind.TIME, at, start, end)
    if previous is not None:
        yield previous
    for match in _PART_ALONE.finditer(text):
        start, end = match.span()
        if all(free[start:end]):
            for k in range(start, end):
                free[k] = False
            yield Slot(SlotKind.TIME, TimeOfDay(part=_PARTS[match.group()]), start, end)


def _clock(match: re.Match) -> TimeOfDay | None:
    part_word, hour_text, half, quarter, three_quarters, minute_text, oclock, hh, mm, meridiem, h12, meridiem12 = match.groups()
    part = _PARTS.get(part_word) if part_word else None
    if h12 is not None:  # 3pm, 10 am
        hh, mm, meridiem = h12, "0", meridiem12
    if hh is not None:
        hour, minute = int(hh), int(mm)
        if meridiem == "p" and 1 <= hour < 12:
            hour += 12
        elif meridiem == "a" and hour == 12:
            hour = 0
    else:
        hour = number(hour_text)
        # 一点 alone is mostly "a little" (快一点, 有一点): a time only with more around it.
        if hour == 1 and not hour_text.isdigit() and not (part or half or quarter or three_quarters or minute_text or oclock):
            return None
        minute = 30 if half else 15 if quarter else 45 if three_quarters else (number(minute_text) if minute_text else 0)
        if hour is None or minute is None:
            return None
    if part in ("afternoon", "evening") and 1 <= hour < 12:
        hour += 12
    elif part == "noon" and 1 <= hour <= 2:
        hour += 12
    elif part is None and hh is None and 1 <= hour <= 6:
        hour += 12  # 3点 with nothing else: people mean the afternoon, not the small hours
    if hour == 24:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return TimeOfDay(time(hour, minute), part)


def _day_of(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _iso(match: re.Match, today: date):
    day = _day_of(*map(int, match.groups()))
    return (day, None) if day else None


def _month_day(match: re.Match, today: date):
    month, day = number(match.group(1)), number(match.group(2))
    if month is None or day is None:
        return None
    return _nearest(today, month, day)


def _nearest(today: date, month: int, day: int):
    """The nearest such day, before or after today: 12月5号 said on 12月7日 is two days ago (a booking
    says it has passed; 我12月5号交的材料 is right), 1月5号 said in December is next January."""
    candidates = [d for d in (_day_of(today.year + k, month, day) for k in (-1, 0, 1)) if d is not None]
    found = min(candidates, key=lambda d: (abs((d - today).days), d < today), default=None)
    return (found, None) if found else None


def _slash(match: re.Match, today: date):
    return _month_day(match, today)


def _dotted(match: re.Match, today: date):
    if int(match.group(1)) not in (today.month, today.month % 12 + 1):
        return None
    return _month_day(match, today)


def _in_month(match: re.Match, today: date):
    day = number(match.group(2))
    if day is None or not 1 <= day <= 31:
        return None
    found = today + relativedelta(months=_MONTH_OFFSETS[match.group(1)], day=day)
    return (found, None) if found.day == day else None  # relativedelta stops at the month's end


SUNDAY = 6


def _weekday(match: re.Match, today: date):
    which, name = match.groups()
    weekday = 5 if name == "末" else _WEEKDAYS[name]
    weeks = _WEEK_OFFSETS[which or ""]
    if weeks is None:  # 周五: the next one, today included
        return today + timedelta(days=(weekday - today.weekday()) % 7), None
    monday = today - timedelta(days=today.weekday())
    found = monday + timedelta(weeks=weeks, days=weekday)
    if weeks == 0 and found < today and today.weekday() == SUNDAY:
        found += timedelta(weeks=1)  # 这周六 said on a Sunday, when many start the week: the coming one
    return found, None


def bare_weekday(text: str) -> bool:
    """Whether `text` is a weekday named with no week (周一, 礼拜三, monday; not 下周一, next monday):
    read as "the next one, today included"."""
    match = _WEEKDAY.fullmatch(text) or _EN_WEEKDAY.fullmatch(text)
    return match is not None and match.group(1) is None


def _en_weekday(match: re.Match, today: date):
    """tuesday: the next one, today included; next tuesday: next week's, as 下周二; this tuesday: this week's."""
    which, name = match.groups()
    weekday = _EN_WEEKDAYS[name]
    if which is None:
        return today + timedelta(days=(weekday - today.weekday()) % 7), None
    monday = today - timedelta(days=today.weekday())
    found = monday + timedelta(weeks=1 if which == "next" else 0, days=weekday)
    return (found + timedelta(weeks=1) if found < today and today.weekday() == SUNDAY else found), None  # as 这周六


def _in_days(match: re.Match, today: date):
    days = number(match.group(1) or match.group(2))
    return (today + timedelta(days=days), None) if days is not None and days <= 366 else None


def _en_in_days(match: re.Match, today: date):
    said = match.group(1)
    days = int(said) if said.isdigit() else _EN_NUMBERS[said]
    return today + timedelta(days=days), None


def _en_month_day(match: re.Match, today: date):
    month, day, day_first, month_after = match.groups()
    return _nearest(today, _EN_MONTHS[month or month_after], int(day or day_first))  # as 12月10号


def _day_word(match: re.Match, today: date):
    word = match.group()
    if word in _DAY_AND_PART:
        days, part = _DAY_AND_PART[word]
        return today + timedelta(days=days), part
    return today + timedelta(days=_DAY_WORDS[word]), None


def _bare_day(match: re.Match, today: date):
    day = number(match.group(1))
    if day is None or not 1 <= day <= 31:
        return None
    for months in range(3):  # this month, else the next one that has that day
        found = today + relativedelta(months=months, day=day)
        if found.day == day and found >= today:
            return found, None
    return None


#: Each way of writing a date and how to read it, in the order they are preferred where two
#: could start at the same place (下个月3号 before 3号).
_DATE_READERS = {
    "iso": (_ISO, _iso),
    "in_month": (_IN_MONTH, _in_month),
    "month_day": (_MONTH_DAY, _month_day),
    "slash": (_SLASH, _slash),
    "weekday": (_WEEKDAY, _weekday),
    "en_weekday": (_EN_WEEKDAY, _en_weekday),
    "in_days": (_IN_DAYS, _in_days),
    "en_in_days": (_EN_IN_DAYS, _en_in_days),
    "en_month_day": (_EN_MONTH_DAY, _en_month_day),
    "day_word": (_DAY_WORD, _day_word),
    "bare_day": (_BARE_DAY, _bare_day),
    "dotted": (_DOTTED, _dotted),
}
#: All of them in one pass over the text.
_ANY_DATE = re.compile("|".join(f"(?P<{name}>{pattern.pattern})" for name, (pattern, _) in _DATE_READERS.items()))
_ANY_DATE_BUT_BARE = re.compile("|".join(
    f"(?P<{name}>{pattern.pattern})" for name, (pattern, _) in _DATE_READERS.items() if name not in ("bare_day", "dotted")))
