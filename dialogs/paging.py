"""Long numbered lists, a page at a time, so a reply fits a phone screen.

A dialog keeps the page it shows in its data (`PAGE_KEY`), passes `window(items, page)` to its
template, and has a row for `asks_more` (更多 / 下一页) that calls `next_page` and asks again.
Numbers run on across pages (the second page of six starts at 7), so a number means the same
item whichever page is on screen, and any listed number can be typed. A person in 长辈模式 sees
pages of `ELDER_CHOICES` (dialogs.language): `page_size` is this turn's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from dialogs.engine import normalise
from dialogs.language import ELDER_CHOICES, LANGUAGE

PAGE_SIZE = 6
PAGE_KEY = "page"
MORE = frozenset({"更多", "下一页", "下页", "还有吗", "还有呢", "后面的", "more", "next"})


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Any]  # the items on this page
    offset: int  # how many come before them: the first is numbered offset + 1
    left: int  # how many come after them
    total: int


def window(items: Sequence[Any], page: int, size: int | None = None) -> Page:
    """The `page`th page (from 0) of `items`; a page past the end shows the last one."""
    size = size or page_size()
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 0), pages - 1)
    offset = page * size
    shown = items[offset:offset + size]
    return Page(shown, offset, len(items) - offset - len(shown), len(items))


def span(items: Sequence[Any], first: int, count: int, size: int | None = None) -> Page:
    """A page that starts at item `first` (from 0) and shows at most `count` items (no more than
    a page): the afternoon's times of a day's list, keeping the numbers they have in the list."""
    shown = items[first:first + min(count, size or page_size())]
    return Page(shown, first, len(items) - first - len(shown), len(items))


def page_size() -> int:
    """The page size of this turn's lists: PAGE_SIZE, or fewer for a person in 长辈模式
    (dialogs.language), who is shown at most `ELDER_CHOICES` choices at once."""
    return ELDER_CHOICES if LANGUAGE.get().elder else PAGE_SIZE


def elder_window(items: Sequence[Any], page: int) -> Page:
    """A list most people see whole (the halls): paged only in 长辈模式, where no answer offers
    more than `ELDER_CHOICES` numbers to pick from."""
    return window(items, page, page_size() if LANGUAGE.get().elder else max(len(items), 1))


def asks_more(text: str) -> bool:
    return normalise(text) in MORE


def next_page(data: dict[str, Any], total: int, size: int | None = None) -> None:
    """On to the next page; after the last, back to the first."""
    size = size or page_size()
    page = int(data.get(PAGE_KEY, 0)) + 1
    data[PAGE_KEY] = page if page * size < total else 0
