"""Who someone is, from what they typed: resident ID numbers, mobile phone numbers, names.

Digits are read as the groups people typed (spaces and dashes between them): an ID number or a
phone number is one group or a few consecutive groups that add up to exactly its length and pass
its check (the ID number's check digit; libphonenumber's rules for a mainland mobile number).
Groups are never glued into anything longer, so "张三 110101199003078515 13800138000" is an ID
number and a phone number, and nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import Iterator

import phonenumbers

from dialogs.understand.model import Slot, SlotKind
from dialogs.understand.vocabulary import Vocabulary, words_not_names
from integrations.platform.identifiers import valid_id_number

#: Runs of digit groups: "110101 19900307 8515", "+86 138-0013-8000", "51160219800101123x".
#: Not next to a Latin letter or digit: those belong to a longer code (a case number).
_GROUPS = re.compile(r"(?<![0-9a-z+])\+?\d+x?(?:[ \-]{1,2}\+?\d+x?)*(?![0-9a-z])")
_GROUP = re.compile(r"\+?\d+x?")
_PHONE_PREFIXES = ("+0086", "0086", "+86")
_PHONE_LENGTHS = frozenset(11 + len(prefix) for prefix in ("", *_PHONE_PREFIXES))
_ID_SHAPE = re.compile(r"[1-9]\d{16}[\dX]")
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})
ID_LENGTH = 18
PHONE_LENGTH = 11

#: A Han character (the common blocks) or the middle dot of names such as 买买提·艾力.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_HAN_RUN = re.compile(rf"[{_HAN}](?:[{_HAN}]|[·•](?=[{_HAN}]))*")
_SPACED_NAME = re.compile(rf"[{_HAN}](?: [{_HAN}]){{1,3}}")
_LATIN_NAME = re.compile(r"[a-z][a-z'\-]*(?: [a-z][a-z'\-]*){0,2}")
MAX_NAME = 4  # Han characters, dots aside; names with a dot may be longer
MAX_DOTTED_NAME = 15


@lru_cache(maxsize=1024)
def mobile(digits: str) -> bool:
    """Whether 11 digits are a mainland mobile number (libphonenumber's ranges)."""
    if len(digits) != PHONE_LENGTH or digits[0] != "1":
        return False
    number = phonenumbers.parse(digits, "CN")
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE_TYPES


def _phone_digits(typed: str) -> str:
    for prefix in _PHONE_PREFIXES:
        if typed.startswith(prefix):
            return typed[len(prefix):]
    return typed.lstrip("+")


def find_numbers(text: str) -> Iterator[Slot]:
    """ID numbers and phone numbers, each as the digit groups that make it up."""
    for run in _GROUPS.finditer(text):
        groups = [(g.start(), g.end(), g.group()) for g in _GROUP.finditer(text, run.start(), run.end())]
        i = 0
        while i < len(groups):
            found = _number_from(groups, i)
            if found is None:
                i += 1
                continue
            slot, last = found
            yield slot
            i = last + 1


def _number_from(groups: list[tuple[int, int, str]], i: int) -> tuple[Slot, int] | None:
    """The ID number or phone number that starts at group `i`, and the index of its last group.
    An ID number wins over a phone number made of the same first groups."""
    typed = ""
    phone = mistyped = None
    for j in range(i, len(groups)):
        typed += groups[j][2]
        if "x" in typed[:-1] or ("+" in typed and not typed.startswith("+")):
            break
        digits = typed.upper()
        if len(digits) == ID_LENGTH and _ID_SHAPE.fullmatch(digits):
            if valid_id_number(digits):
                return Slot(SlotKind.ID_NUMBER, digits, groups[i][0], groups[j][1]), j
            if _born(digits):
                mistyped = Slot(SlotKind.ID_NUMBER, digits, groups[i][0], groups[j][1], valid=False), j
        if phone is None and len(typed) in _PHONE_LENGTHS and mobile(number := _phone_digits(typed)):
            phone = Slot(SlotKind.PHONE, number, groups[i][0], groups[j][1]), j
        if len(typed) >= ID_LENGTH + 1:
            break
    return phone or mistyped


def _born(id_number: str) -> bool:
    """Whether an ID number's birth date is a real day: an 18-digit string that has one is an ID
    number typed wrong (rather than some other number)."""
    born = birth_date(id_number)
    return born is not None and 1900 <= born.year


def birth_date(id_number: str) -> date | None:
    """The birth date an ID number holds (its 7th to 14th digits), or None when they are no day."""
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except (ValueError, IndexError):
        return None


# Names ------------------------------------------------------------------------------------


def find_names(text: str, free: list[bool], vocab: Vocabulary, bare: bool) -> Iterator[Slot]:
    """Names after a cue (我叫张三, 姓名：李四, my name is ...) anywhere; when `bare`, also a run of
    2-4 Han characters standing on its own (the step asks for a name, or the message pastes
    other personal details). `free[i]` is False where another slot already took character i."""
    taken: set[int] = set()
    for cue in vocab.cue_pattern.finditer(text):
        start = cue.end()
        while start < len(text) and text[start] in " :：,，是为":
            start += 1
        run = _HAN_RUN.match(text, start)
        if run is None or not free[start]:
            continue
        end = start
        while end < run.end() and free[end]:  # up to where another slot (a date) begins
            end += 1
        name = _name_at_start(text[start:end], vocab)
        if name is not None:
            taken.update(range(start, start + len(name)))
            yield Slot(SlotKind.NAME, name, start, start + len(name))
    for cue in vocab.english_cue_pattern.finditer(text):
        latin = _LATIN_NAME.match(text, cue.end() + (1 if text[cue.end():cue.end() + 1] == " " else 0))
        if latin is not None and all(free[latin.start():latin.end()]):
            yield Slot(SlotKind.NAME, latin.group().title(), latin.start(), latin.end())
    if not bare:
        return
    whole = text.strip()
    if _HAN_RUN.fullmatch(whole) and is_name(whole, vocab):  # 王明天 alone is a name, not 王 and tomorrow
        yield Slot(SlotKind.NAME, whole, text.index(whole), text.index(whole) + len(whole))
        return
    spaced = _SPACED_NAME.fullmatch(text.strip())
    if spaced is not None and is_name(spaced.group().replace(" ", ""), vocab):  # 张 三
        yield Slot(SlotKind.NAME, spaced.group().replace(" ", ""), *spaced.span())
        return
    for run in _HAN_RUN.finditer(text):
        start, end = run.start(), run.end()
        if taken.intersection(range(start, end)):
            continue
        # Split where other slots stand (李四明天 -> 李四, 明天 taken by the date).
        piece_start = start
        for k in range(start, end + 1):
            if k == end or not free[k]:
                piece = text[piece_start:k]
                name = piece if is_name(piece, vocab) else _name_at_start(piece, vocab, guess=False)
                if name:
                    yield Slot(SlotKind.NAME, name, piece_start, piece_start + len(name))
                piece_start = k + 1


def _name_at_start(run: str, vocab: Vocabulary, guess: bool = True) -> str | None:
    """The name at the start of a run of Han characters (after a cue, or in a paste: 张三的身份证):
    the shortest length after which the run ends or a word that cannot be part of a name
    begins; else, when `guess`, its first three characters."""
    if "·" in run or "•" in run:
        return run if is_name(run, vocab) else None
    longest = min(len(run), MAX_NAME)
    for length in range(2, longest + 1):
        candidate = run[:length]
        if length == len(run) or run.startswith(vocab.name_followers, length):
            if not guess and length < len(run) and candidate[:2] in words_not_names():
                return None  # 单位信用代码 in a paste: a word (单位) going on, not 单位信 and 用
            return candidate if is_name(candidate, vocab) else None
    candidate = run[:3]
    return candidate if guess and len(run) >= 3 and is_name(candidate, vocab) else None


def is_name(candidate: str, vocab: Vocabulary) -> bool:
    """Whether a run of Han characters can be a Chinese name: a known surname first, then one to
    three characters that names use, and not a word that means something else."""
    if "·" in candidate or "•" in candidate:  # transliterated names (维吾尔族, 藏族 ...)
        return len(candidate) <= MAX_DOTTED_NAME and not set(candidate) & vocab.never_in_names
    if not 2 <= len(candidate) <= MAX_NAME:
        return False
    if candidate[:2] in vocab.compound_surnames:
        if len(candidate) < 3:
            return False
    elif candidate[0] not in vocab.surnames or len(candidate) > 3 + (candidate[1] in vocab.surnames):
        return False  # four characters only for two surnames (张王小明) or a compound one
    if set(candidate) & vocab.never_in_names or candidate.endswith(vocab.honorifics):
        return False
    return candidate not in words_not_names() and not _is_other_word(candidate, vocab)


def _is_other_word(candidate: str, vocab: Vocabulary) -> bool:
    return (candidate in vocab.small_talk or candidate in vocab.global_words or candidate in vocab.yes
            or candidate in vocab.no or candidate in vocab.labels or candidate in vocab.rating_anywhere
            or candidate in vocab.rating_alone)


#: Words around the 4 digits that only say what they are (手机后四位是0817, 尾号0817).
_DIGITS_SAID = re.compile(r"(?:我的)?(?:手机号?码?|电话号?码?)?(?:的)?(?:后四位|后4位|尾号|末四位|末4位)(?:数字)?(?:是|为)?[:：]?(\d{4})(?:吧|呢)?")


def phone_digits(text: str) -> str | None:
    """The last 4 digits of the phone, typed as 4 digits, as the whole mobile number, or said
    with the words that name them (后四位是0817)."""
    folded = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text))
    if re.fullmatch(r"\d{4}", folded):
        return folded
    if re.fullmatch(r"1[3-9]\d{9}", folded):
        return folded[-4:]
    said = _DIGITS_SAID.fullmatch(folded)
    return said.group(1) if said else None
