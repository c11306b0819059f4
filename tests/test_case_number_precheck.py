"""find_case_number skips folding and searching when a message cannot hold a case number (fewer
than eight digits under the default pattern); it must find exactly what the full search finds,
for any configured pattern."""

from __future__ import annotations

import json
import random
import re
import unicodedata
from pathlib import Path
from types import SimpleNamespace

from bench.generator import MIX
from dialogs.progress import DEFAULT_CASE_PATTERN, find_case_number
from dialogs.understand.answers import misread_digits, whole_identifier

DATA = Path(__file__).parent / "data"


def reference(text: str, settings=None) -> str | None:
    """find_case_number as it was before the pre-check: always fold, always search."""
    if len(text) > 120:
        return None
    folded = unicodedata.normalize("NFKC", text)
    # an ID or mobile number typed whole is never glued to the groups beside it
    folded = re.sub(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|1\d{10})(?![0-9A-Za-z])",
                    lambda m: f"|{m[0]}|" if whole_identifier(m[0]) else m[0], folded)
    pattern = getattr(settings, "case_number_pattern", None) or DEFAULT_CASE_PATTERN
    regex = re.compile(rf"(?<![0-9A-Z])(?:{pattern})(?![0-9A-Z])")
    for token in folded.split():  # a number typed whole is never glued to what follows it (<number> 8071)
        if (whole := regex.fullmatch(misread_digits(re.sub(r"[\s\-－—]", "", token).upper()))) is not None:
            return whole.group(0)
    folded = re.sub(r"[\s\-－—]", "", folded).upper()
    match = regex.search(folded)
    return misread_digits(match.group(0)) if match else None  # O for 0, I for 1 among the digits


DIGITS = "0123456789"
WIDE_DIGITS = "０１２３４５６７８９"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SEPARATORS = [" ", "  ", "\t", "\u3000", "-", "－", "—", "\n"]
# Characters NFKC or upper() turn into ASCII digits or letters, and digits it leaves alone.
TRICKY = "①②⑳¹²³⁴½¼⒈㉑𝟎𝟗٣۴०ßſﬁｚａＺ"
CHINESE = "我要查一下办件编号进度是护照社保卡密码忘了谢谢，。！？"
PATTERNS = [
    None,  # no settings: the default pattern
    DEFAULT_CASE_PATTERN,
    "[A-Z]{2}[0-9]{6}",  # fewer than eight digits: the pre-check must not apply
    "[0-9]{4}",
    "(?=[0-9A-Z]*[0-9]{8})[0-9A-Z]{19,40}|YW[0-9]{3}",
    "[A-Z]+",
]


def case_like(rng: random.Random) -> str:
    """Something shaped like a case number, near the default pattern's edges."""
    size = rng.choice([7, 8, 9, 18, 19, 20, 25, 40, 41])
    run = rng.choice([6, 7, 8, 9, 12, 20])
    chars = [rng.choice(DIGITS) for _ in range(min(run, size))]
    chars += [rng.choice(UPPER + DIGITS) for _ in range(size - len(chars))]
    if rng.random() < 0.5:
        rng.shuffle(chars)
    out = []
    for ch in chars:
        if ch in DIGITS and rng.random() < 0.3:
            ch = WIDE_DIGITS[int(ch)]
        elif ch in UPPER and rng.random() < 0.3:
            ch = ch.lower()
        out.append(ch)
        if rng.random() < 0.12:
            out.append(rng.choice(SEPARATORS))
    return "".join(out)


def noise(rng: random.Random, size: int) -> str:
    pool = CHINESE + TRICKY + DIGITS + WIDE_DIGITS + UPPER + "".join(SEPARATORS) + "abc.,;:#/"
    return "".join(rng.choice(pool) for _ in range(size))


def messages(rng: random.Random, count: int) -> list[str]:
    out = []
    for _ in range(count):
        shape = rng.random()
        if shape < 0.4:
            out.append(noise(rng, rng.randint(0, 12)) + case_like(rng) + noise(rng, rng.randint(0, 12)))
        elif shape < 0.6:
            out.append(case_like(rng) + rng.choice(SEPARATORS + [""]) + case_like(rng))
        else:
            out.append(noise(rng, rng.randint(0, 130)))
    return out


def real_messages() -> list[str]:
    texts = list(MIX)
    for name in ("search-dev.jsonl", "search-more.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line)["query"])
    texts += [
        "查一下５１１６０２２０２６１１２８４７０００１", "5116 0220 2611 2847 0001", "5116-0220-2611-2847-0001",
        "5116－0220—2611 2847\u30000001", "办件编号 YW2026112847000100001 进度", "51160220261128470001谢谢",
        "11010519491231002X", "91511602R2MAYK76D5", "ABCDEFGHIJKLMNOPQRSTUV", "1234567", "12345678",
        "1", "5", "非常满意", "", " ", "查进度", "电话13800138000", "2026年11月28日提交的",
    ]
    return texts


def test_the_pre_checked_search_finds_what_the_full_search_finds():
    rng = random.Random(20261128)
    texts = real_messages() + messages(rng, 6000)
    found = 0
    for pattern in PATTERNS:
        settings = None if pattern is None else SimpleNamespace(case_number_pattern=pattern)
        for text in texts:
            expected = reference(text, settings)
            assert find_case_number(text, settings) == expected, (pattern, text)
            found += expected is not None
    assert found > 1000  # the random inputs do reach case numbers, not only misses
