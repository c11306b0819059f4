"""Pinyin syllables, for telling pinyin typed as letters from English (wo xiang ban ge ti hu is
Chinese written without its characters) and for the search's reading of letters as words."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from pypinyin.pinyin_dict import pinyin_dict


@lru_cache(maxsize=1)
def all_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable, from pypinyin's own table (ü as v)."""
    out = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))
            out.add(plain.replace("ü", "v").replace("u\u0308", "v"))
    return frozenset(s for s in out if s.isascii() and s.isalpha())


def spaced_syllables(tokens: list[str], least: int = 3) -> bool:
    """Whether Latin words are pinyin typed a syllable at a time: at least `least` of them, each
    a syllable (English sentences of pinyin-shaped words only, like "he can", are shorter)."""
    syllables = all_syllables()
    return len(tokens) >= least and all(t in syllables for t in tokens)
