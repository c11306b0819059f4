"""The understanding step: each message is read once, before any dialog sees it.

`understand(text, today, halls, expects)` returns an `Understanding`: the message folded, the
slots found anywhere in it (names, ID numbers, phone numbers, dates, times, halls, case numbers,
numbered choices, yes / no, ratings) with their spans, the conflicts among them (two different
phone numbers: ask, do not guess), the class of the whole message (a global word, small talk,
details, junk, or other) and its language. Pure and channel-neutral: no I/O after the word lists
are loaded (`load()` at start-up), no Redis, no network, nothing downloaded at run time.

The words are data (config/understanding.toml). Libraries do what they are good at: cn2an reads
Chinese numerals, libphonenumber (phonenumberslite) validates mobile numbers, dateutil does the
month arithmetic, emoji-aware Unicode categories tell emoji runs, pyspellchecker's English word
frequencies tell words from random letters, and jieba's dictionary tells a name from a common
word. docs/understanding.md says why these and not jionlp or dateparser, with the measurements.
"""

from dialogs.understand.answers import LEVELS_BY_STARS
from dialogs.understand.halls import HallName, HallNames
from dialogs.understand.model import Conflict, MessageClass, Slot, SlotKind, TimeOfDay, Understanding
from dialogs.understand.reading import MAX_EXAMINED, Analysis, analyse, shanghai_today, understand
from dialogs.understand.vocabulary import load

__all__ = [
    "LEVELS_BY_STARS", "MAX_EXAMINED", "Analysis", "Conflict", "HallName", "HallNames", "MessageClass", "Slot", "SlotKind", "TimeOfDay",
    "Understanding", "analyse", "load", "shanghai_today", "understand",
]
