"""User-facing text: Jinja2 templates under templates/, compiled once per process."""

from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

#: People read dates and times in Beijing time, whatever the server's zone.
BEIJING = ZoneInfo("Asia/Shanghai")
_WEEKDAYS = "一二三四五六日"


def _as_datetime(value: date | datetime | str) -> date | datetime:
    if isinstance(value, str):  # an ISO date or time kept in JSON (sessions, reminders)
        value = datetime.fromisoformat(value) if "T" in value or " " in value.strip() else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(BEIJING) if value.tzinfo else value
    return value


def day(value: date | datetime | str | None, today: date | None = None) -> str:
    """The one way people see a day: 12月3日（周四）; the year only when it is not this year
    (2027年1月2日（周六））. Every template shows days through this (the `day` filter)."""
    if not value:
        return ""
    try:
        value = _as_datetime(value)
    except ValueError:  # a day written out before this filter existed (a reminder scheduled then)
        return str(value)
    the_day = value.date() if isinstance(value, datetime) else value
    this_year = (today or datetime.now(BEIJING).date()).year
    year = f"{the_day.year}年" if the_day.year != this_year else ""
    return f"{year}{the_day.month}月{the_day.day}日（周{_WEEKDAYS[the_day.weekday()]}）"


def moment(value: datetime | str | None, today: date | None = None) -> str:
    """A day and a time of day: 12月3日（周四）14:05 (the `moment` filter)."""
    if not value:
        return ""
    try:
        value = _as_datetime(value)
    except ValueError:
        return str(value)
    clock = f"{value.hour}:{value.minute:02d}" if isinstance(value, datetime) else ""
    return day(value, today) + clock


@functools.cache
def compiled(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Every template under `directory`, compiled: once per process, whatever number of apps it
    builds (templates do not change while it runs; a deploy restarts it)."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=False,  # plain text for chat; XML escaping happens in the channel
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters.update(day=day, moment=moment)
    return {name: env.get_template(name) for name in env.list_templates(extensions=["j2"])}


class Renderer:
    """Renders a template by name."""

    def __init__(self, directory: Path = TEMPLATES_DIR):
        self.templates = compiled(directory)

    def __call__(self, name: str, **context: Any) -> str:
        return self.templates[name].render(**context).strip()
