"""`understand`: one message read once, before any dialog sees it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from datetime import date, datetime
from functools import lru_cache
from itertools import combinations
from zoneinfo import ZoneInfo

from dialogs.understand import answers, identity, kinds, when
from dialogs.understand.halls import HallNames, asks_how_a_matter_is_done
from dialogs.understand.model import DEFAULT_CASE_PATTERN, Conflict, MessageClass, Slot, SlotKind, Understanding
from dialogs.understand.vocabulary import fold, vocabulary

TZ = ZoneInfo("Asia/Shanghai")
#: Characters of a message that are examined: more is a pasted document, not an answer, and
#: every step below is linear in this.
MAX_EXAMINED = 512
#: Readings kept (`Readings`): people say the same short things over and over (1, 好的, 谢谢,
#: 办护照, the menu's words), and a reading depends on the text and the step's context alone.
READINGS_KEPT = 4096
#: Only messages this short are kept: those are what people repeat, and 4,096 of them stay a few
#: megabytes (a long message, or a stream of new ones, costs no memory past its turn).
KEPT_CHARS = 64
#: Slot kinds that are personal data: a reading holding one is never kept past its message.
PERSONAL = frozenset({SlotKind.NAME, SlotKind.ID_NUMBER, SlotKind.PHONE})


class Readings:
    """The last `size` readings (analyses, understandings) by what they depend on, least
    recently used dropped first. `owners` are objects a reading was made with that are compared
    by identity, not value (the word lists, the halls: large, and replaced, never changed). Only
    a short message's reading that found no personal data is kept (`understand`): a message in
    which an ID number, a phone number or a name was read is read afresh each time and forgotten."""

    def __init__(self, size: int = READINGS_KEPT):
        self.size = size
        self._kept: OrderedDict[Hashable, tuple] = OrderedDict()

    def get(self, key: Hashable, *owners: object):
        found = self._kept.get(key)
        if found is None or any(a is not b for a, b in zip(found[0], owners)):
            return None
        self._kept.move_to_end(key)
        return found[1]

    def keep(self, key: Hashable, value: object, *owners: object) -> None:
        self._kept[key] = (owners, value)
        self._kept.move_to_end(key)
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def clear(self) -> None:
        self._kept.clear()


_ANALYSES = Readings()
_UNDERSTOOD = Readings()


def shanghai_today() -> date:
    return datetime.now(TZ).date()


class Analysis:
    """What a message says whatever step it answers: the text folded, its polite layers, the ID
    and phone numbers in it, whether it is a global word, small talk or junk, its language.
    Built once per message (`analyse`) and shared by every reading of it (`understand`), so a
    message read by the conversation and again by the step it answers is scanned once."""

    __slots__ = ("text", "folded", "short", "shells", "core", "numbers", "free", "timely", "global_word", "small_talk",
                 "language", "_cases", "_junk")

    def __init__(self, text: str):
        vocab = vocabulary()
        self.text = text
        self.folded = folded = fold(text[:MAX_EXAMINED])
        self.short = short = len(folded) <= kinds.MAX_SHORT
        self.shells = shells = kinds.layers(folded, vocab) if short else []
        self.core = shells[-1] if shells else ""
        self.numbers = numbers = tuple(identity.find_numbers(folded))
        self.free = free = [True] * len(folded)  # what the numbers left for the other slots
        for slot in numbers:
            free[slot.start:slot.end] = [False] * (slot.end - slot.start)
        self.timely = when.may_hold_time(folded)
        intent = kinds.global_word(shells, vocab)
        if intent is None and kinds.asks_for_a_person(folded):
            intent = "human"  # 我还是想找个真人问问 上门办证的事: a person, told what about (dialogs.conversation)
        elif intent is None and not numbers and kinds.vents(folded):
            intent = "grievance"  # 我跑了三趟了还没办下来: an apology and a person offered (dialogs.conversation)
        self.global_word = intent
        self.small_talk = kinds.small_talk(folded, vocab) if intent is None and short else None
        self.language = kinds.language(folded, vocab)
        self._cases: tuple[str, list[Slot], list[bool]] | None = None
        self._junk: bool | None = None

    def cases(self, pattern: str) -> tuple[list[Slot], list[bool]]:
        """The case numbers in `pattern`'s format, and what is left free after them (a copy)."""
        if self._cases is None or self._cases[0] != pattern:
            free = list(self.free)
            self._cases = (pattern, list(answers.find_case_numbers(self.folded, pattern, free)), free)
        return self._cases[1], list(self._cases[2])

    @property
    def junk(self) -> bool:
        if self._junk is None:
            self._junk = kinds.is_junk(self.folded, vocabulary())
        return self._junk


def analyse(text: str) -> Analysis:
    """`Analysis(text)`, the same object for the same text while it is kept (`Readings`): its
    lazy parts (case numbers, junk) are worked out once for every message that says it."""
    vocab = vocabulary()
    return _ANALYSES.get(text, vocab) or Analysis(text)  # kept by `understand`


def understand(text: str, today: date, halls: HallNames | None = None,
               expects: Iterable[SlotKind | str] = (), case_pattern: str | None = None,
               analysis: Analysis | None = None) -> Understanding:
    """Read one message: the slots it holds (anywhere in it, several at once), their conflicts,
    what kind of message it is, and its language.

    `today` is the day relative dates count from (`shanghai_today()`); `halls` the halls people
    may name; `expects` the kinds of slot the current step asks for, which settle what is
    otherwise ambiguous: a bare 2-4 character name only when NAME is expected (or the message
    also holds an ID or phone number), "5号" is item 5 rather than a day when CHOICE is expected
    and DATE is not, and a bare 1-5 is a rating only when RATING is expected. `case_pattern` is
    the case number format (settings.case_number_pattern), DEFAULT_CASE_PATTERN when None.
    `analysis`: the message's `analyse(text)`, when it is read more than once.
    """
    vocab = vocabulary()
    expects = slot_kinds(expects if isinstance(expects, frozenset) else tuple(expects))
    key = (text, today, id(halls), expects, case_pattern)
    kept = _UNDERSTOOD.get(key, vocab, halls)
    if kept is not None:
        return kept
    if analysis is None or analysis.text != text:
        analysis = analyse(text)
    understood = _read(text, today, halls, expects, case_pattern, analysis, vocab)
    if len(text) <= KEPT_CHARS and not any(slot.kind in PERSONAL for slot in understood.slots):
        _UNDERSTOOD.keep(key, understood, vocab, halls)
        _ANALYSES.keep(text, analysis, vocab)
    return understood


def _read(text: str, today: date, halls: HallNames | None, expects: frozenset[SlotKind], case_pattern: str | None,
          analysis: Analysis, vocab) -> Understanding:
    folded, shells, numbers = analysis.folded, analysis.shells, analysis.numbers
    cases, free = analysis.cases(case_pattern or DEFAULT_CASE_PATTERN)
    slots: list[Slot] = [*numbers, *cases]
    picks_item = SlotKind.CHOICE in expects and SlotKind.DATE not in expects
    if analysis.timely:
        slots += when.find_dates(folded, today, free, bare_days=not picks_item)
        slots += when.find_times(folded, free)
    if halls is not None and not asks_how_a_matter_is_done(folded):  # 公积金怎么提取 names the matter, not the hall
        slots += halls.find(folded, free)
    slots += answers.find_ratings(folded, shells, vocab, free, digits=SlotKind.RATING in expects)
    bare_names = SlotKind.NAME in expects or any(s.kind in (SlotKind.ID_NUMBER, SlotKind.PHONE) for s in numbers)
    for slot in identity.find_names(folded, free, vocab, bare=bare_names):
        free[slot.start:slot.end] = [False] * (slot.end - slot.start)
        slots.append(slot)
    if analysis.short:
        slots += _whole_reply(folded, analysis.core, vocab, free)
    slots.sort(key=lambda s: (s.start, s.end))

    intent, talk = analysis.global_word, analysis.small_talk
    if intent is not None:
        kind = MessageClass.GLOBAL
    elif talk is not None:
        kind = MessageClass.SMALL_TALK
    elif slots and _only_details(folded, free, vocab):
        kind = MessageClass.DETAILS
    elif analysis.junk:
        kind = MessageClass.JUNK
    else:
        kind = MessageClass.OTHER
    return Understanding(
        text=folded,
        kind=kind,
        slots=tuple(slots),
        conflicts=_conflicts(slots),
        global_word=intent,
        small_talk=talk,
        language=analysis.language,
        truncated=len(text) > MAX_EXAMINED,
    )


@lru_cache(maxsize=64)
def slot_kinds(expects: frozenset | tuple) -> frozenset[SlotKind]:
    """The kinds a step expects, checked (a misspelt kind fails loudly); steps declare a few
    sets, converted once each."""
    return frozenset(SlotKind(kind) for kind in expects)


def _whole_reply(text: str, core: str, vocab, free: list[bool]) -> list[Slot]:
    """A numbered choice and a yes / no: only as the whole reply."""
    found = []
    start = text.find(core) if core else -1
    if start >= 0 and all(free[start:start + len(core)]):
        picked = answers.choice(core, vocab)
        if picked is not None:
            found.append(Slot(SlotKind.CHOICE, picked, start, start + len(core)))
    said = answers.yes_or_no(kinds.short_answer(text, vocab), vocab)
    if said is not None:
        start, end = len(text) - len(text.lstrip()), len(text.rstrip())
        found.append(Slot(SlotKind.YES_NO, said, start, end))
    for slot in found:
        free[slot.start:slot.end] = [False] * (slot.end - slot.start)
    return found


def _only_details(text: str, free: list[bool], vocab) -> bool:
    """Whether what no slot took is only labels (身份证号：), politeness and punctuation."""
    left = "".join(ch if free[i] else " " for i, ch in enumerate(text))
    if not kinds.only_of(left, vocab.detail_chars):
        return False
    return all(kinds.segment(piece, vocab.detail_lexicon, 6) is not None for piece in left.split())


def _conflicts(slots: list[Slot]) -> tuple[Conflict, ...]:
    by_kind: dict[SlotKind, list[Slot]] = {}
    for slot in slots:
        if slot.valid:
            by_kind.setdefault(slot.kind, []).append(slot)
    conflicts = []
    for kind, found in by_kind.items():
        if len(found) < 2:
            continue
        if kind == SlotKind.TIME:
            disagree = any(not a.value.fits(b.value) for a, b in combinations(found, 2))
        elif kind == SlotKind.HALL:  # a hall named inside the district named too is one hall
            narrowest = [s for s in found if not any(set(o.value) < set(s.value) for o in found)]
            disagree = len({s.value for s in narrowest}) > 1
        else:
            disagree = len({s.value for s in found}) > 1
        if disagree:
            conflicts.append(Conflict(kind, tuple(found)))
    return tuple(conflicts)
