"""What every part of the simulated platform shares: its time zone and region, its clock (which
the simulator's controls can move, so tests reach a hall's opening hours or a licence's last week
at any hour), working-day arithmetic, and the refusal that carries a contract error code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from integrations.platform.models import ErrorCode

DATA = Path(__file__).resolve().parent.parent / "data"
TZ = ZoneInfo("Asia/Shanghai")
REGION = "511602"  # 广安区
#: The county-level divisions of 广安市 (GB/T 2260), where residents are registered.
DISTRICTS = {"511602": "广安区", "511603": "前锋区", "511621": "岳池县", "511622": "武胜县", "511623": "邻水县", "511681": "华蓥市"}


class Refusal(Exception):
    """A request the platform refuses, with the contract's error code."""

    def __init__(self, code: ErrorCode, message: str, status: int = 422):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Clock:
    """The platform's now: real time shifted by an offset, so time keeps flowing after a shift."""

    offset: timedelta = field(default_factory=timedelta)

    def now(self) -> datetime:
        return datetime.now(TZ) + self.offset

    def today(self) -> date:
        return self.now().date()

    def set(self, at: datetime) -> None:
        self.offset = at.astimezone(TZ) - datetime.now(TZ)


def working_days_after(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days from start (exclusive) to end (inclusive); negative when end is past."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for i in range(1, (end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)


def birth_date_of(id_number: str) -> date:
    """GB 11643: digits 7-14 are the date of birth."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def age_on(born: date, day: date) -> int:
    """周岁: full years lived on `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def read_data(name: str, data: Path = DATA) -> list:
    path = data / name
    return json.loads(path.read_text()) if path.exists() else []


@dataclass(frozen=True)
class Service:
    """What a slot, an appointment or a queue ticket is for: one matter, or every matter of a bundle."""

    key: str  # the matter's code, or the bundle's
    name: str
    matter_code: str  # the matter, or the bundle's first
    department: str
    matters: tuple[str, ...]
    bundle_code: str | None = None
