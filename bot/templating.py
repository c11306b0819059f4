"""User-facing text: Jinja2 templates under templates/, compiled once per process.

templates/ holds the Chinese text; templates/en/ holds English siblings under the same names
(templates/en/menu/menu.j2 beside templates/menu/menu.j2), given the same context, and
templates/elder/ the 长辈模式 (elder mode) siblings: shorter, one question at a time, no Latin
letters. The renderer is the one place that picks between them: the turn's language
(dialogs.language, set before the turn from the person's profile and what they wrote) asks for
English or for elder mode, and a template without such a sibling is rendered from the Chinese
one. Nothing else (dialogs, services, workers) chooses.

Elder mode's rules hold for every reply, sibling or not, because they are applied here: a list
of choices passes the `choices` filter (at most `ELDER_CHOICES` in elder mode), and `elder_turn`
(called once per turn by the dispatcher) numbers only the last list of a turn's answer, at most
four, and ends the answer with the hotline, 人工 and voice (templates/elder/ending.j2).
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from dialogs.language import ELDER_CHOICES, ENGLISH, LANGUAGE
from integrations.platform.identifiers import mask_licence_no

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
#: The folder of templates/ that holds the English siblings.
ENGLISH_DIR = "en"
#: The folder of templates/ that holds the 长辈模式 siblings.
ELDER_DIR = "elder"
#: The ending every elder-mode answer has (templates/elder/common/ending.j2: elder mode only).
ELDER_ENDING = "common/ending.j2"

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


def _environment(directory: Path, english: bool, elder: bool = False) -> Environment:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=False,  # plain text for chat; XML escaping happens in the channel
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    # The English siblings write dates the English way (Thu 3 Dec); the rest 12月3日（周四）.
    env.filters.update(day=functools.partial(day, english=english), moment=functools.partial(moment, english=english), clock=clock,
                       mask_licence=mask_licence_no, choices=_first_choices if elder else _all_choices)
    return env


def _all_choices(items):
    return items


def _first_choices(items):
    """In elder mode a list of choices shows its first `ELDER_CHOICES` (the likeliest first)."""
    return list(items)[:ELDER_CHOICES]


@functools.cache
def compiled(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Every template under `directory`, compiled: once per process, whatever number of apps it
    builds (templates do not change while it runs; a deploy restarts it). The Chinese templates
    are compiled a second time for elder mode, under elder/ (where an elder sibling, if there is
    one, takes their place), so that their `choices` filter caps the lists they show."""
    chinese, english, elder = _environment(directory, False), _environment(directory, True), _environment(directory, False, elder=True)
    names = chinese.list_templates(extensions=["j2"])
    every = {name: (english if name.startswith(ENGLISH_DIR + "/") else elder if name.startswith(ELDER_DIR + "/") else chinese).get_template(name)
             for name in names}
    for name in names:
        if not name.startswith((ENGLISH_DIR + "/", ELDER_DIR + "/")) and f"{ELDER_DIR}/{name}" not in every:
            every[f"{ELDER_DIR}/{name}"] = elder.get_template(name)
    return every


class Renderer:
    """Renders a template by name, in the turn's language: its English sibling for a person
    answered in English when it has one, its elder sibling (or the Chinese template with elder
    mode's filters) for a person in 长辈模式, else the Chinese template."""

    def __init__(self, directory: Path = TEMPLATES_DIR):
        every = compiled(directory)
        en, old = ENGLISH_DIR + "/", ELDER_DIR + "/"
        #: The Chinese templates, by name (menu/menu.j2).
        self.templates = {name: t for name, t in every.items() if not name.startswith((en, old))}
        #: The English siblings, by the name of their Chinese template.
        self.english = {name[len(en):]: t for name, t in every.items() if name.startswith(en)}
        #: Elder mode's templates, by the name of their Chinese template: its sibling, or itself.
        self.elder = {name[len(old):]: t for name, t in every.items() if name.startswith(old)}

    def __call__(self, name: str, **context: Any) -> str:
        language = LANGUAGE.get()
        if language.code == ENGLISH:
            template = self.english.get(name) or self.templates[name]
        elif language.elder:
            template = self.elder[name]
        else:
            template = self.templates[name]
        return template.render(**context).strip()

    def elder_turn(self, texts: list[str]) -> list[str]:
        """A turn's answer as elder mode shows it (the renderer's one place for the rules that
        hold across replies): only its last list is numbered, and at most `ELDER_CHOICES` of it;
        an earlier list, or a longer one, is a list to read, shown with dots; then the ending.
        Unchanged outside elder mode, and an empty answer stays empty."""
        language = LANGUAGE.get()
        if not language.elder or language.code == ENGLISH or not any(t.strip() for t in texts):
            return texts
        # an answer that says voice cannot be heard ends without the offer to send voice
        return elder_numbering(texts) + [self.elder[ELDER_ENDING].render(voice=not any("语音" in t for t in texts)).strip()]


#: A numbered line of a list: "3. 预约办事", "  2) 户口簿", "4、…".
_NUMBERED = re.compile(r"^(\s*)(\d{1,3})\s*[.．、)）](?!\d)\s*(?=\S)")


def elder_numbering(texts: list[str]) -> list[str]:
    """Number only the last run of numbered lines across `texts` (the choices of the question the
    answer ends with) when it has at most `ELDER_CHOICES` lines; every other numbered line becomes
    a dotted one, so that no answer offers more than `ELDER_CHOICES` numbers to pick from."""
    lines = [text.split("\n") for text in texts]
    runs: list[list[tuple[int, int]]] = []  # runs of numbered lines: (text, line) positions
    for t, text_lines in enumerate(lines):
        in_run = False  # each text (each template rendered) starts afresh
        for i, line in enumerate(text_lines):
            if _NUMBERED.match(line):
                if not in_run:
                    runs.append([])
                runs[-1].append((t, i))
                in_run = True
            elif not line.strip() or not line.startswith((" ", "\u3000")):
                in_run = False  # a blank line or a line of text ends it; an indented one belongs to the item above
    kept = runs[-1] if runs and len(runs[-1]) <= ELDER_CHOICES else []
    for run in runs:
        if run is kept:
            continue
        for t, i in run:
            lines[t][i] = _NUMBERED.sub(lambda m: m.group(1) + "· ", lines[t][i], count=1)
    return ["\n".join(text_lines) for text_lines in lines]
