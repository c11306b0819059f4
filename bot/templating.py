"""User-facing text: Jinja2 templates under templates/, compiled once per process.

templates/ holds the Chinese text; templates/en/ holds English siblings under the same names
(templates/en/menu/menu.j2 beside templates/menu/menu.j2), given the same context. The renderer
is the one place that picks between them: the turn's language (dialogs.language, set before the
turn from the person's profile and what they wrote) asks for English, and a template without an
English sibling is rendered in Chinese. Nothing else (dialogs, services, workers) chooses.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from dialogs.language import ENGLISH, LANGUAGE

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
#: The folder of templates/ that holds the English siblings.
ENGLISH_DIR = "en"

#: People read dates and times in Beijing time, whatever the server's zone.
BEIJING = ZoneInfo("Asia/Shanghai")
_WEEKDAYS = "一二三四五六日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _as_datetime(value: date | datetime | str) -> date | datetime:
    if isinstance(value, str):  # an ISO date or time kept in JSON (sessions, reminders)
        value = datetime.fromisoformat(value) if "T" in value or " " in value.strip() else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(BEIJING) if value.tzinfo else value
    return value


def day(value: date | datetime | str | None, today: date | None = None, english: bool = False) -> str:
    """The one way people see a day: 12月3日（周四）; the year only when it is not this year
    (2027年1月2日（周六））. Every template shows days through this (the `day` filter); the
    English templates' filter writes Thu 3 Dec (Sat 2 Jan 2027)."""
    if not value:
        return ""
    try:
        value = _as_datetime(value)
    except ValueError:  # a day written out before this filter existed (a reminder scheduled then)
        return str(value)
    the_day = value.date() if isinstance(value, datetime) else value
    this_year = (today or datetime.now(BEIJING).date()).year
    if english:
        year = f" {the_day.year}" if the_day.year != this_year else ""
        return f"{_EN_WEEKDAYS[the_day.weekday()]} {the_day.day} {_EN_MONTHS[the_day.month - 1]}{year}"
    year = f"{the_day.year}年" if the_day.year != this_year else ""
    return f"{year}{the_day.month}月{the_day.day}日（周{_WEEKDAYS[the_day.weekday()]}）"


def moment(value: datetime | str | None, today: date | None = None, english: bool = False) -> str:
    """A day and a time of day: 12月3日（周四）14:05 (the `moment` filter)."""
    if not value:
        return ""
    try:
        value = _as_datetime(value)
    except ValueError:
        return str(value)
    clock = f"{value.hour}:{value.minute:02d}" if isinstance(value, datetime) else ""
    if clock and english:
        clock = " " + clock
    return day(value, today, english) + clock


def clock(value) -> str:
    """A time of day as every reply writes it: 9:05 (the `clock` filter; `moment` ends the same)."""
    if not value:
        return ""
    return f"{value.hour}:{value.minute:02d}"


def _environment(directory: Path, english: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=False,  # plain text for chat; XML escaping happens in the channel
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    # The English siblings write dates the English way (Thu 3 Dec); the rest 12月3日（周四）.
    env.filters.update(day=functools.partial(day, english=english), moment=functools.partial(moment, english=english), clock=clock)
    return env


@functools.cache
def compiled(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Every template under `directory`, compiled: once per process, whatever number of apps it
    builds (templates do not change while it runs; a deploy restarts it)."""
    chinese, english = _environment(directory, False), _environment(directory, True)
    return {name: (english if name.startswith(ENGLISH_DIR + "/") else chinese).get_template(name)
            for name in chinese.list_templates(extensions=["j2"])}


class Renderer:
    """Renders a template by name, in the turn's language: its English sibling for a person
    answered in English when it has one, else the Chinese template."""

    def __init__(self, directory: Path = TEMPLATES_DIR):
        every = compiled(directory)
        prefix = ENGLISH_DIR + "/"
        #: The Chinese templates, by name (menu/menu.j2).
        self.templates = {name: t for name, t in every.items() if not name.startswith(prefix)}
        #: The English siblings, by the name of their Chinese template.
        self.english = {name[len(prefix):]: t for name, t in every.items() if name.startswith(prefix)}

    def __call__(self, name: str, **context: Any) -> str:
        template = self.english.get(name) if LANGUAGE.get().code == ENGLISH else None
        return (template or self.templates[name]).render(**context).strip()
