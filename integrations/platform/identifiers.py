"""Check digits of the identifiers people type: resident ID numbers (GB 11643) and unified
social credit codes (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

import re

_ID = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT = re.compile(f"[{CREDIT_ALPHABET}]{{18}}")
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def valid_id_number(value: str) -> bool:
    value = value.upper()
    return bool(_ID.fullmatch(value)) and id_check_digit(value[:17]) == value[17]


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def valid_credit_code(value: str) -> bool:
    value = value.upper()
    return bool(_CREDIT.fullmatch(value)) and credit_check_char(value[:17]) == value[17]


def mask_id_number(value: str) -> str:
    return value[:3] + "*" * 11 + value[-4:] if len(value) == 18 else "*" * len(value)


def mask_name(name: str) -> str:
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else name


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) == 11 else "*" * len(phone)


def mask_phone_tail(phone: str) -> str:
    """A phone shown to someone not yet known to speak for its owner (where an enterprise's code
    is texted): its last digits hidden too, for a number's last 4 digits are what opens its cases
    (138****1234 told anyone who typed the credit code how to open the company's cases)."""
    return phone[:3] + "*" * 8 if len(phone) == 11 else "*" * len(phone)


# An ID number or a mobile number inside a message, spaced or not (as people paste them).
_ID_IN_TEXT = re.compile(r"(?<![\dXx])\d{6}[ -]?\d{8}[ -]?\d{3}[\dXx](?![\dXx])")
_PHONE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")


# A bank card's number (银行卡 6222 0212 3456 7890 123) or a passport's (护照号E12345678), told as
# what it is: the words before it say so.
_CARD_IN_TEXT = re.compile(r"(?:银行卡|信用卡|储蓄卡|借记卡|卡号|bank card|card number)[^\d]{0,6}(\d[\d -]{10,22}\d)", re.IGNORECASE)
_PASSPORT_IN_TEXT = re.compile(r"(?:护照|passport)[^\d]{0,16}?(?<![A-Za-z])([A-Za-z]{1,2}\d{6,9})(?!\d)", re.IGNORECASE)


def tells_card_number(text: str) -> bool:
    """Whether a message tells a bank card's number as one (银行卡6222…): not a case number."""
    return _CARD_IN_TEXT.search(text) is not None


def _mask_number(value: str) -> str:
    """Any other personal number (a bank card's, a passport's): its last 4 characters shown."""
    value = re.sub(r"[ -]", "", value)
    return "*" * (len(value) - 4) + value[-4:]


def _masked_group(match: re.Match) -> str:
    start, end = match.span(1)
    return match[0][:start - match.start()] + _mask_number(match[1]) + match[0][end - match.start():]


def mask_told_numbers(text: str) -> str:
    """A bank card's or a passport's number told as such (银行卡6222…, 护照号E1234…) masked to its last 4."""
    return _PASSPORT_IN_TEXT.sub(_masked_group, _CARD_IN_TEXT.sub(_masked_group, text))


def mask_in_text(text: str) -> str:
    """A message with the ID numbers and mobile numbers in it masked as a card shows them
    (511***********0236, 139****5678), and a bank card's or a passport's number told as such to its
    last 4: for quoting a person's words back to them."""
    text = mask_told_numbers(text)
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(re.sub(r"[ -]", "", m[0])), text)
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"[ -]", "", m[0])), text)


def carries_personal_number(text: str) -> bool:
    """Whether a message holds an ID number, a mobile number, or a bank card's or a passport's
    number told as such: what `mask_in_text` would mask."""
    return any(pattern.search(text) for pattern in (_ID_IN_TEXT, _PHONE_IN_TEXT, _CARD_IN_TEXT, _PASSPORT_IN_TEXT))


def mask_licence_no(value: str) -> str:
    """A personal licence's number as a chat may show it: its first 2 and last 4 letters or digits,
    the ASCII ones between starred (川（2026）广安市不动产权第0000123号 -> 川（20**）广安市不动产权第***0123号).
    Short numbers are starred all but the last 2. The licence's own page (亮证) shows it whole."""
    places = [i for i, ch in enumerate(value) if ch.isascii() and ch.isalnum()]
    if len(places) <= 6:
        hidden = set(places[:-2])
    else:
        hidden = set(places[2:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))
