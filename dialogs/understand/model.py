"""What the understanding step reports about one message: the slots found in it, the conflicts
among them, its class and its language. Plain frozen values, so they can be cached, compared and
logged without surprises (a `Slot` of personal data masks itself in `repr`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import Any

from integrations.platform.identifiers import mask_id_number, mask_name, mask_phone

#: The platform's case numbers unless settings.case_number_pattern says otherwise: 19-40
#: characters of digits and capitals, eight digits in a row among them.
DEFAULT_CASE_PATTERN = "(?=[0-9A-Z]*[0-9]{8})[0-9A-Z]{19,40}"


class SlotKind(StrEnum):
    """What a piece of a message is. `expects` names these too."""

    NAME = "name"  # str: 张三, 欧阳娜娜, 买买提·艾力, John Smith
    ID_NUMBER = "id_number"  # str: 18 characters, a valid check digit, X upper case
    PHONE = "phone"  # str: 11 digits of a mainland mobile number, no prefix
    DATE = "date"  # datetime.date
    TIME = "time"  # TimeOfDay
    HALL = "hall"  # tuple[str, ...]: the ids of the halls meant (several for a district)
    CASE_NUMBER = "case_number"  # str, upper case, in the configured case number format
    CHOICE = "choice"  # int: 1-based item of a numbered list; -1 for "the last one"
    YES_NO = "yes_no"  # bool
    RATING = "rating"  # int: stars 1-5, 5 best (非常满意)


class MessageClass(StrEnum):
    """What the whole message is, in the order a dialog engine needs to know it."""

    GLOBAL = "global"  # a word that means the same everywhere: `Understanding.global_word` says which
    SMALL_TALK = "small_talk"  # greetings, thanks, 在吗 ...: `Understanding.small_talk` says which
    DETAILS = "details"  # nothing but details (slots), field labels and punctuation
    JUNK = "junk"  # mashing, emoji runs, lone punctuation, random Latin letters
    OTHER = "other"  # a question or a need: for the search and the dialogs


#: Kinds of personal data: their values never show in a `repr`.
PERSONAL = frozenset({SlotKind.NAME, SlotKind.ID_NUMBER, SlotKind.PHONE})
_MASKS = {SlotKind.NAME: mask_name, SlotKind.ID_NUMBER: mask_id_number, SlotKind.PHONE: mask_phone}


@dataclass(frozen=True, slots=True)
class TimeOfDay:
    """A time people named: a clock time (`at`), a part of the day (`part`), or both.
    `part` is one of morning, noon, afternoon, evening, night."""

    at: time | None = None
    part: str | None = None

    def fits(self, other: TimeOfDay) -> bool:
        """Whether both can be meant together (下午 and 3点: yes; 上午 and 3点 (15:00): no)."""
        if self.at is not None and other.at is not None:
            return self.at == other.at
        clock, part = (self.at, other.part) if self.at is not None else (other.at, self.part)
        if clock is None or part is None:
            return self.part == other.part or self.part is None or other.part is None
        return part_of(clock) == part


def part_of(clock: time) -> str:
    """The part of the day a clock time falls in."""
    hour = clock.hour
    if hour < 5:
        return "night"
    if hour < 12:
        return "morning"
    if hour < 13:
        return "noon"
    if hour < 18:
        return "afternoon"
    return "evening"


@dataclass(frozen=True, slots=True)
class Slot:
    """One value found in the message: its kind, the value, and where it stands in
    `Understanding.text` (`start`, `end`, as for slicing). `valid` is False for a value that has
    the shape of its kind but fails its check (an ID number whose check digit is wrong): worth
    telling the person about, never worth using."""

    kind: SlotKind
    value: Any
    start: int
    end: int
    valid: bool = True

    def __repr__(self) -> str:
        mask = _MASKS.get(self.kind)
        shown = mask(self.value) if mask is not None else self.value
        return f"Slot({self.kind.value}, {shown!r}, {self.start}:{self.end}{'' if self.valid else ', invalid'})"


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two or more values of one kind that disagree (two phone numbers): ask, do not guess."""

    kind: SlotKind
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class Understanding:
    """What one message says. `text` is the message folded (full-width to half-width, lower
    case) and cut to what is examined; every span points into it."""

    text: str = field(repr=False)  # may hold personal data: never in a log line
    kind: MessageClass = MessageClass.OTHER
    slots: tuple[Slot, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    global_word: str | None = None  # menu, help, cancel, back, human, resume, english, chinese, elder, standard
    small_talk: str | None = None  # greeting, thanks, ack, identity, bye, presence, laughter, praise, insult, apology, unsure
    language: str = ""  # zh, en, or "" when the message shows none (digits, emoji, "ok")
    truncated: bool = False  # the message was longer than what is examined
    _by_kind: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kind: dict[SlotKind, list[Slot]] = {}
        for slot in self.slots:
            by_kind.setdefault(slot.kind, []).append(slot)
        self._by_kind.update({kind: tuple(found) for kind, found in by_kind.items()})

    def found(self, kind: SlotKind | str) -> tuple[Slot, ...]:
        """Every slot of `kind` (the invalid ones too), in the order they stand in the text."""
        return self._by_kind.get(kind, ())

    def value(self, kind: SlotKind | str) -> Any:
        """The valid value of `kind`, or None when there is none or the values disagree."""
        found = [slot for slot in self._by_kind.get(kind, ()) if slot.valid]
        if not found or self.conflict(kind) is not None:
            return None
        if kind == SlotKind.HALL:  # the narrowest: a hall named inside its district
            return min((slot.value for slot in found), key=len)
        return found[0].value

    def conflict(self, kind: SlotKind | str) -> Conflict | None:
        for conflict in self.conflicts:
            if conflict.kind == kind:
                return conflict
        return None

    def invalid(self, kind: SlotKind | str) -> Slot | None:
        """The first value of `kind` that has its shape but fails its check, when no valid one
        was found: what to explain ("the check digit is wrong") instead of a plain re-ask."""
        found = self._by_kind.get(kind, ())
        if any(slot.valid for slot in found):
            return None
        return found[0] if found else None

    def __contains__(self, kind: object) -> bool:
        """Whether a valid value of `kind` was found."""
        return any(slot.valid for slot in self._by_kind.get(kind, ()))
