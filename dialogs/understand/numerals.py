"""Numbers as people type them: 3, ３ (folded before), 三, 十二, 二十三, 两, 〇.

cn2an reads the Chinese numerals; what it is given is always one short run of numeral
characters found by `NUMERAL`, so its answers are cached.
"""

from __future__ import annotations

from functools import lru_cache

import cn2an

#: Chinese numeral characters that name small numbers (days, hours, list items, stars).
CHINESE_DIGITS = "零〇一二两三四五六七八九十"
#: A number of up to 2 digits, or up to 3 Chinese numeral characters (二十三).
NUMERAL = rf"(?:\d{{1,2}}|[{CHINESE_DIGITS}]{{1,3}})"


@lru_cache(maxsize=512)
def number(token: str) -> int | None:
    """The value of one numeral run: "12" -> 12, "十二" -> 12, "两" -> 2; None when it is none."""
    if token.isascii():
        return int(token) if token.isdigit() else None
    try:
        value = cn2an.cn2an(token.replace("〇", "零"), "smart")
    except (ValueError, KeyError, IndexError):  # cn2an's ways of saying "not a number"
        return None
    return int(value) if value == int(value) else None
