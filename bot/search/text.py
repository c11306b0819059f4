"""Text plumbing for the search: normalising, word segmentation (jieba) and pinyin (pypinyin)."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import jieba
from pypinyin import lazy_pinyin

from dialogs.understand.pinyin import all_syllables  # the table lives with the language detection, which reads it too

# jieba's full dictionary (349k words) takes over a second to load; the everyday words in it
# (frequency >= this) are enough to segment what people type, and load ~10x faster.
GENERAL_MIN_FREQ = 100

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_QUALIFIER = re.compile(r"[（(][^（()）]*(?:县级|市级|省级|省政府|权限|行使|下放)[^（()）]*[）)]")
_INNER_SPACES = re.compile(r"(?<=[^a-z0-9 ]) +|(?<=[a-z0-9]) +(?=[^a-z0-9 ])")  # not between two Latin words
_LOCK = threading.Lock()
_TOKENIZER: jieba.Tokenizer | None = None


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, punctuation to single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _PUNCT.sub(" ", text).replace("_", " ").strip()


def squeeze(text: str) -> str:
    """Normalised, without spaces between Chinese characters (people type 户口 迁移)."""
    return _INNER_SPACES.sub("", normalize(text))


def core_name(name: str) -> str:
    """A matter's name without the administrative qualifiers nobody types: （县级行使） and the like."""
    return _QUALIFIER.sub("", name)


def is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def tokenizer() -> jieba.Tokenizer:
    """The process's word segmenter, loaded once, quietly."""
    global _TOKENIZER
    with _LOCK:
        if _TOKENIZER is None:
            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer(str(_general_dictionary()))
            tk.tmp_dir = tempfile.gettempdir()
            tk.initialize()
            _TOKENIZER = tk
        return _TOKENIZER


def _general_dictionary() -> Path:
    """jieba's dictionary trimmed to everyday words, written once next to jieba's own cache."""
    path = Path(tempfile.gettempdir()) / f"ywtb-jieba-{jieba.__version__}-f{GENERAL_MIN_FREQ}.txt"
    if path.exists():
        return path
    source = Path(jieba.__file__).resolve().parent / "dict.txt"
    kept = []
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and int(parts[1]) >= GENERAL_MIN_FREQ:
                kept.append(f"{parts[0]} {parts[1]}\n")
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_text("".join(kept), encoding="utf-8")
    os.replace(partial, path)
    return path


def syllables_of(text: str) -> list[str]:
    """Toneless pinyin, one syllable per Han character (ü as v)."""
    return lazy_pinyin(text)


def split_syllables(letters: str) -> list[str] | None:
    """'shebaoka' -> ['she', 'bao', 'ka']; None when the letters are not all pinyin.
    Prefers fewer, longer syllables (xian, not xi an)."""
    known = all_syllables()
    n = len(letters)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(min(n, i + 6), i, -1):
            piece = letters[i:j]
            if piece in known and (best[j] is None or len(best[j]) > len(best[i]) + 1):
                best[j] = best[i] + [piece]
    return best[n]


class SoundFolder:
    """Folds syllables that people confuse (zh/z, in/ing, n/l ...) onto one key."""

    def __init__(self, initials: dict[str, str], finals: dict[str, str]):
        self.initials = sorted(initials.items(), key=lambda kv: -len(kv[0]))
        self.finals = sorted(finals.items(), key=lambda kv: -len(kv[0]))

    @lru_cache(maxsize=4096)
    def fold(self, syllable: str) -> str:
        head, tail = "", syllable
        for a, b in self.initials:
            if syllable.startswith(a):
                head, tail = b, syllable[len(a):]
                break
        for a, b in self.finals:
            if tail.endswith(a):
                tail = tail[: -len(a)] + b
                break
        return head + tail

    def key(self, syllables: list[str] | tuple[str, ...]) -> str:
        return " ".join(self.fold(s) for s in syllables)
