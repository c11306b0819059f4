"""The words the understanding step knows, loaded once per process: the curated vocabulary
(config/understanding.toml), the English word list of pyspellchecker, and the words of jieba's
dictionary that start like a Chinese name but are not one.

`vocabulary()` reads them on first use; `load()` does it ahead, at start-up, so that no message
pays for it. Nothing here downloads anything: both word lists ship inside their wheels.
"""

from __future__ import annotations

import gzip
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from dialogs.understand.numerals import CHINESE_DIGITS, NUMERAL

DEFAULT_VOCABULARY = Path(__file__).resolve().parents[2] / "config" / "understanding.toml"

#: How common (share of the words in pyspellchecker's English corpus) a word must be to count
#: as English: a short token must be a common word (qq, nb, xyz are not), a longer one only a
#: known one (asdfgh is not).
SHORT_WORD_SHARE = 1e-6
LONG_WORD_SHARE = 1e-7
SHORT_WORD = 3

#: jieba's tags for people's names: a dictionary word with another tag is not a name.
_NAME_TAGS = ("nr",)


_NOTHING = re.compile("(?!)")


def _any_of(words) -> str:
    """An alternation of `words`, longest first (a regex takes the first alternative that fits)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


#: Digits said one by one in Chinese, as voice input writes a number (幺三九八二六五一二三四, 五一一六零二…):
#: four or more in a row are that number's digits, one for one (no 十 or 百: 二十三 is a quantity; and
#: never fewer, nor glued to typed digits: 张三 13800… is a name and a phone).
_SPOKEN_DIGITS = re.compile(r"[零〇一二三四五六七八九幺洞两]{4,}")
_DIGIT_OF = str.maketrans("零〇一二三四五六七八九幺洞两", "00123456789102")


def spoken_digits(text: str) -> str:
    """`text` with runs of digits said in Chinese written as digits (the same length)."""
    return _SPOKEN_DIGITS.sub(lambda m: m.group().translate(_DIGIT_OF), text) if _SPOKEN_DIGITS.search(text) else text


def fold(text: str) -> str:
    """What every phrase and message is matched as: NFKC (full-width to half-width), lower case,
    and digits said one by one in Chinese as digits."""
    return spoken_digits(unicodedata.normalize("NFKC", text).lower())


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The curated words, folded and indexed for matching (see config/understanding.toml)."""

    global_words: dict[str, str]  # word -> intent
    leading: tuple[str, ...]  # polite wrapping, longest first
    trailing: tuple[str, ...]
    small_talk: dict[str, str]  # phrase -> kind
    fillers: frozenset[str]
    yes: frozenset[str]
    no: frozenset[str]
    choice_patterns: tuple[str, ...]
    choice_first: frozenset[str]
    choice_last: frozenset[str]
    choice_max: int
    star_marks: tuple[str, ...]
    rating_units: tuple[str, ...]
    rating_leads: tuple[str, ...]
    rating_anywhere: dict[str, int]  # phrase -> stars
    rating_alone: dict[str, int]
    labels: frozenset[str]
    surnames: frozenset[str]
    compound_surnames: frozenset[str]
    name_cues: tuple[str, ...]  # longest first
    english_name_cues: tuple[str, ...]
    name_followers: tuple[str, ...]
    honorifics: tuple[str, ...]
    never_in_names: frozenset[str]
    not_names: frozenset[str]
    english_chat: frozenset[str]
    english_neutral: frozenset[str]
    hall_aliases: dict[str, tuple[str, ...]]
    keyboard_rows: tuple[str, ...]
    # Derived: what small talk and short answers are cut into (kinds.segment).
    talk_lexicon: frozenset[str] = frozenset()
    longest_talk: int = 1
    answer_lexicon: frozenset[str] = frozenset()
    longest_answer: int = 1
    talk_chars: frozenset[str] = frozenset()
    answer_chars: frozenset[str] = frozenset()
    detail_lexicon: frozenset[str] = frozenset()
    detail_chars: frozenset[str] = frozenset()
    keyboard_neighbours: frozenset[str] = frozenset()  # "as", "sa", "aa" ...: keys side by side, or one key twice
    # Derived: the patterns that find them.
    leading_pattern: re.Pattern = _NOTHING
    trailing_pattern: re.Pattern = _NOTHING
    choice_pattern: re.Pattern = _NOTHING
    rating_pattern: re.Pattern = _NOTHING
    stars_pattern: re.Pattern = _NOTHING
    scored_pattern: re.Pattern = _NOTHING
    cue_pattern: re.Pattern = _NOTHING
    english_cue_pattern: re.Pattern = _NOTHING

    def __post_init__(self) -> None:
        thanks = frozenset(p for p, kind in self.small_talk.items() if kind == "thanks")
        talk = frozenset(self.small_talk) | self.fillers
        answer = self.yes | self.no | frozenset(self.trailing) | thanks  # 好的呀, 不用了谢谢; not 你好呀
        choice = "|".join(re.escape(p).replace(r"\{n\}", f"({NUMERAL})") for p in self.choice_patterns)
        units = _any_of(self.rating_units)
        derived = {
            "talk_lexicon": talk, "longest_talk": max(map(len, talk), default=1),
            "answer_lexicon": answer, "longest_answer": max(map(len, answer), default=1),
            "talk_chars": frozenset("".join(talk)), "answer_chars": frozenset("".join(answer)),
            "keyboard_neighbours": frozenset(
                a + b for row in self.keyboard_rows for i, a in enumerate(row) for b in row[max(0, i - 1):i + 2]),
            "detail_lexicon": self.labels | self.fillers, "detail_chars": frozenset("".join(self.labels | self.fillers)),
            "leading_pattern": re.compile(_any_of(self.leading)),
            "trailing_pattern": re.compile(f"(?:{_any_of(self.trailing)})$"),
            "choice_pattern": re.compile(choice),
            "rating_pattern": re.compile(f"(?:{_any_of(self.rating_anywhere)})(?!度)"),  # not 满意度
            "stars_pattern": re.compile(f"(?:(?:{_any_of(self.star_marks)})\ufe0f?)+"),
            # 5星, 4分, 五颗星; not 5分钟, 3星期, 1分钱
            "scored_pattern": re.compile(rf"(?<![\d.])({NUMERAL})\s*(?:{units})(?![钟期钱])"
                                         rf"|(?:{_any_of(self.rating_leads)})\s*:?\s*({NUMERAL})(?![\d{CHINESE_DIGITS}下次个条遍])"),  # not 评价一下
            "cue_pattern": re.compile(_any_of(self.name_cues)),
            "english_cue_pattern": re.compile(_any_of(self.english_name_cues)),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_toml(cls, path: Path = DEFAULT_VOCABULARY) -> Vocabulary:
        with open(path, "rb") as f:
            data = tomllib.load(f)

        def words(values) -> list[str]:
            return [fold(v).strip() for v in values if fold(v).strip()]

        def longest_first(values) -> tuple[str, ...]:
            return tuple(sorted(set(words(values)), key=len, reverse=True))

        small_talk = data["small_talk"]
        phrases: dict[str, str] = {}
        for kind in small_talk["kinds"]:
            for phrase in words(small_talk[kind]["phrases"]):
                phrases.setdefault(phrase, kind)
        ratings = data["ratings"]
        names = data["names"]
        return cls(
            global_words={w: intent for intent, table in data["global"].items() for w in words(table["words"])},
            leading=longest_first(data["wrapping"]["leading"]),
            trailing=longest_first(data["wrapping"]["trailing"]),
            small_talk=phrases,
            fillers=frozenset(words(small_talk["fillers"]["words"])),
            yes=frozenset(words(data["yes_no"]["yes"])),
            no=frozenset(words(data["yes_no"]["no"])),
            choice_patterns=tuple(words(data["choices"]["patterns"])),
            choice_first=frozenset(words(data["choices"]["first"])),
            choice_last=frozenset(words(data["choices"]["last"])),
            choice_max=int(data["choices"]["max"]),
            star_marks=tuple(words(ratings["star_marks"])),
            rating_units=longest_first(ratings["units"]),
            rating_leads=longest_first(ratings["leads"]),
            rating_anywhere={w: int(stars) for stars, table in ratings["anywhere"].items() for w in words(table)},
            rating_alone={w: int(stars) for stars, table in ratings["alone"].items() for w in words(table)},
            labels=frozenset(words(data["details"]["labels"])),
            surnames=frozenset(re.sub(r"\s", "", names["surnames"])),
            compound_surnames=frozenset(words(names["compound_surnames"])),
            name_cues=longest_first(names["cues"]),
            english_name_cues=longest_first(names["english_cues"]),
            name_followers=longest_first(names["followers"]),
            honorifics=longest_first(names["honorifics"]),
            never_in_names=frozenset(names["never_in"]),
            not_names=frozenset(words(names["not_names"])),
            english_chat=frozenset(words(data["english"]["chat_words"])),
            english_neutral=frozenset(words(data["english"]["neutral"])),
            hall_aliases={hall: tuple(words(aliases)) for hall, aliases in data.get("halls", {}).items()},
            keyboard_rows=tuple(words(data["junk"]["rows"])),
        )


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary.from_toml()


@dataclass(frozen=True, slots=True)
class EnglishWords:
    """English words by how common they are (pyspellchecker's English frequency list)."""

    common: frozenset[str]  # for tokens of up to SHORT_WORD letters
    known: frozenset[str]

    def __contains__(self, token: str) -> bool:
        return token in (self.common if len(token) <= SHORT_WORD else self.known)


@cache
def english_words() -> EnglishWords:
    source = resources.files("spellchecker") / "resources" / "en.json.gz"
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        counts: dict[str, int] = json.load(text)
    total = sum(counts.values())
    chat = vocabulary().english_chat
    return EnglishWords(
        common=frozenset(w for w, n in counts.items() if n >= SHORT_WORD_SHARE * total) | chat,
        known=frozenset(w for w, n in counts.items() if n >= LONG_WORD_SHARE * total) | chat,
    )


@cache
def words_not_names() -> frozenset[str]:
    """Words of 2-4 characters that start with a surname but that jieba's dictionary knows as
    something else (明天, 高兴, 广安, 文件), plus the curated ones."""
    import jieba  # only its dictionary file is read; the segmenter is never built here

    vocab = vocabulary()
    starts = "".join(sorted(vocab.surnames | {s[0] for s in vocab.compound_surnames}))
    entry = re.compile(rf"^([{re.escape(starts)}]\S{{1,3}}) \d+ (?!{'|'.join(_NAME_TAGS)})[a-z]+$", re.M)
    text = (Path(jieba.__file__).resolve().parent / "dict.txt").read_text(encoding="utf-8")
    return frozenset(entry.findall(text)) | vocab.not_names


def load() -> None:
    """Read every word list now (at start-up) rather than on the first message that needs it."""
    vocabulary()
    english_words()
    words_not_names()
