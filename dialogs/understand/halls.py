"""Halls by the names people use: the official name, a short one (万盛街道, 万盛, 出入境), a
curated alias (车管所), or the district (广安区: every hall there).

`HallNames` is built once from the halls the platform serves and reused for every message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Iterator

from pypinyin import lazy_pinyin

from dialogs.understand.model import Slot, SlotKind
from dialogs.understand.vocabulary import fold, vocabulary

#: What official names start with (the city, the district) and end with (the kind of office):
#: what is left between is how people name the hall.
_PLACE_PREFIX = re.compile(r"^(?:[\u4e00-\u9fff]{2,3}?[省市])?(?:[\u4e00-\u9fff]{2,3}?[区县])?")
_OFFICE_SUFFIX = re.compile(
    r"(?:公安局)?(?:便民服务中心|政务服务中心|服务中心|服务大厅|业务大厅|接待大厅|办事大厅|管理中心|登记中心|中心|大厅)$")
_LOCALITY = re.compile(r"(街道|镇|乡|社区)$")
#: The street or town a hall's address places it in, and its road (…枣山街道滨河路二段16号: 枣山街道,
#: 滨河路): people name a hall by where they live (我住在枣山街道, 我家在渠江北路，就近办).
_LOCALITY_IN_ADDRESS = re.compile(r"(?<=[区县市])([\u4e00-\u9fff]{2,3}?(?:街道|镇|乡))|(?<=[区县市道镇乡])([\u4e00-\u9fff]{2,4}?(?:大道|路|街))(?=[一二三四五六七八九十\d])")
MIN_ALIAS = 2
MIN_SPELLED = 5  # letters of the shortest pinyin name read (beichen, wansheng): shorter ones hide in English words


@dataclass(frozen=True, slots=True)
class HallName:
    """One hall as the understanding step sees it."""

    id: str
    name: str
    district: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class HallNames:
    """Every name that points at one or more halls, longest first."""

    halls: tuple[HallName, ...]
    _names: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _pattern: re.Pattern | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, halls: Iterable[Any], aliases: Mapping[str, Iterable[str]] | None = None) -> HallNames:
        """From anything with `id`, `name` and `district` (the platform's `Hall`, `HallName`);
        `aliases` by hall id add to those of config/understanding.toml [halls]."""
        curated = vocabulary().hall_aliases
        entries = []
        for hall in halls:
            extra = tuple(getattr(hall, "aliases", ())) + curated.get(hall.id, ()) + tuple((aliases or {}).get(hall.id, ()))
            extra += tuple(place for pair in _LOCALITY_IN_ADDRESS.findall(getattr(hall, "address", "") or "") for place in pair if place)
            entries.append(HallName(hall.id, hall.name, getattr(hall, "district", "") or "", extra))
        return cls(tuple(entries))

    def __post_init__(self) -> None:
        meant: dict[str, list[str]] = {}

        def add(name: str, hall_id: str) -> None:
            name = fold(name).strip()
            if len(name) >= MIN_ALIAS and hall_id not in meant.setdefault(name, []):
                meant[name].append(hall_id)

        derived: dict[str, list[str]] = {}
        for hall in self.halls:
            add(hall.name, hall.id)
            for alias in hall.aliases:
                add(alias, hall.id)
            for short in _short_names(fold(hall.name)):
                derived.setdefault(short, []).append(hall.id)
            if hall.district:
                district = fold(hall.district)
                add(district, hall.id)
                short = district[:-1] if district.endswith(("区", "县")) else ""
                if len(short) >= MIN_ALIAS:
                    derived.setdefault(short, []).append(hall.id)
        for short, ids in derived.items():  # a derived short name shared by halls means each (政务中心: the district's and the city's)
            if short not in meant:
                for hall_id in dict.fromkeys(ids):
                    add(short, hall_id)
        # A place's name in pinyin (the one in Beichen please): a hall's names of two to four
        # characters, spelled, when one hall has them.
        spelled: dict[str, set[str]] = {}
        for name, ids in meant.items():
            if 2 <= len(name) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in name):
                spelled.setdefault("".join(lazy_pinyin(name)), set()).update(ids)
        for spelling, ids in spelled.items():
            if len(spelling) >= MIN_SPELLED and len(ids) == 1 and spelling not in meant:
                add(spelling, next(iter(ids)))
        self._names.update({name: tuple(ids) for name, ids in meant.items()})
        if self._names:
            alternatives = "|".join(re.escape(n) for n in sorted(self._names, key=len, reverse=True))
            object.__setattr__(self, "_pattern", re.compile(alternatives))

    def find(self, text: str, free: list[bool]) -> Iterator[Slot]:
        """The halls named in `text` (folded), longest names first, each as the ids it means."""
        if self._pattern is None:
            return
        for match in self._pattern.finditer(text):
            start, end = match.span()
            if all(free[start:end]):
                for k in range(start, end):
                    free[k] = False
                yield Slot(SlotKind.HALL, self._names[match.group()], start, end)


def _short_names(name: str) -> Iterator[str]:
    """广安区万盛街道便民服务中心 -> 万盛街道便民服务中心, 万盛街道, 万盛; and by its level, as people
    tell a district's hall from the city's: 广安区政务服务中心 -> 区政务服务中心, 区政务中心."""
    place = _PLACE_PREFIX.match(name).end()
    core = name[place:] or name
    yield core
    if 0 < place < len(name) and name[place - 1] in "区县市":
        level = name[place - 1]
        yield level + core
        if "政务服务中心" in core:
            yield level + core.replace("政务服务中心", "政务中心")
    if "政务服务中心" in core:
        yield core.replace("政务服务中心", "政务中心")  # 就去政务中心吧: the district's or the city's
    bare = _OFFICE_SUFFIX.sub("", core)
    if bare != core:
        yield bare
    locality = _LOCALITY.sub("", bare)
    if locality != bare:
        yield locality


#: What people call a hall without naming it, and what they ask about one (服务大厅在哪, 政务中心几点
#:上班); and office hours asked with no hall at all (你们周六上班吗, 几点下班). `asks_about_halls`.
_HALL_WORDS = re.compile(r"大厅|政务服务中心|政务中心|便民服务中心|行政服务中心|服务中心|市民中心|办事处|办事的地方|窗口"
                         r"|\b(?:service (?:hall|centre|center)s?|halls?|offices?|(?:exit-entry|immigration) (?:office|administration)[a-z ]*)\b")
_HALL_ASKS = re.compile(r"在哪|哪里|哪儿|什么地方|啥地方|地址|位置|怎么走|怎么去|咋走|几点|上班|下班|开门|关门|营业|办公|开放|"
                        r"时间|电话|周末|周六|周日|星期|礼拜|中午|午休|节假日|停车|车位|公交|地铁|几路|坐什么车|坐啥车|交通"
                        r"|\bwhere\b|\baddress\b|\bopen(?:ing)?\b|\bhours\b|\bclose[sd]?\b|\bweekends?\b|\bsaturday\b|\bsunday\b")
_HOURS_ASKS = re.compile(r"(几点|什么时候|啥时候|几时)(上班|下班|开门|关门)"
                         r"|(周末|周[一二三四五六日天]|星期[一二三四五六天日]|礼拜[一二三四五六天日]|节假日|中午|午休|今天|明天|后天|过年|春节|国庆)"
                         r".{0,2}(?<![要得在去])(上班|开门|办公|营业|休息|上不上班|开不开门)|(上班|办公|营业|开放)时间"  # not 明天要上班
                         r"|\bopening hours\b|\bwhen (?:is|are) (?:it|they|the [a-z ]+) open\b|\bopen on (?:weekends?|saturdays?|sundays?)\b")
#: A hall question is short: a longer message tells a need (which the search reads).
MAX_HALL_QUESTION = 32
#: Places that are not the city's service halls (人民医院几点开门, 工商银行几点下班): their hours are
#: their own, and listing the halls' answers nothing.
_OTHER_PLACES = re.compile(r"医院|诊所|卫生院|银行|邮局|快递|学校|幼儿园|大学|商场|超市|菜市场|药店|车站|火车站|机场|景区|公园|"
                           r"图书馆|博物馆|体育馆|法院|检察院|营业厅|电信|移动|联通|电力|供电所|自来水公司|燃气公司"
                           r"|\b(?:hospital|clinic|bank|post office|school|kindergarten|university|mall|supermarket|pharmacy|station|airport|library|museum|court)s?\b")


_WHEN = re.compile(r"几点|上班|下班|开门|关门|营业|办公|开放|时间|周末|周六|周日|星期|礼拜|中午|午休|节假日|几时"
                   r"|\bopen(?:ing)?\b|\bhours\b|\bclose[sd]?\b|\bweekends?\b|\bsaturday\b|\bsunday\b")


def _most(folded: str) -> int:
    """The longest a hall question is: English takes about three letters for a Chinese character."""
    return MAX_HALL_QUESTION * 3 if folded.isascii() else MAX_HALL_QUESTION


#: How a matter is done asked about (公积金怎么提取, 出入境要带什么材料): a hall's service word in
#: such a question names the matter, not a hall chosen. Whether a hall does it (北辰街道能办吗),
#: going or changing somewhere (去公积金中心问问怎么提取, 换到出入境) still name the hall.
_DOES_A_MATTER = re.compile(r"(?:怎么|怎样|如何|咋个?)(?:办|弄|搞|申请|提取|取|贷|缴|交|查|开|转|补|领|注销|变更|续|网上)"
                            r"|(?:要|需要|得)(?:带|准备|交)?(?:什么|啥|哪些)(?:材料|资料|证件|手续|东西)?|多少钱|要钱吗|收费")
_GOES_TO_HALL = re.compile(r"去|换|改|到|在")


def asks_how_a_matter_is_done(text: str) -> bool:
    """Whether `text` asks how a matter is done (公积金怎么提取) rather than choosing a hall: its
    service words are the matter's (see _DOES_A_MATTER)."""
    folded = fold(text)
    return _DOES_A_MATTER.search(folded) is not None and _GOES_TO_HALL.search(folded) is None


#: What a person booking at a hall asks about it in passing (地址在哪, 怎么去, 能停车吗, 几点下班,
#: 电话多少, 坐几路车): never a day, a time or a change (those are the step's answers).
_ABOUT_ITS_HALL = re.compile(r"在哪|哪里|哪儿|什么地方|啥地方|地址|位置|怎么走|怎么去|咋走|咋去|怎么过去|导航"
                             r"|(?:几点|什么时候|啥时候|几时)(?:上班|下班|开门|关门)|下班|关门|电话|停车|车位|公交|地铁|几路|坐什么车|坐啥车|交通"
                             r"|\bwhere\b|\baddress\b|\bparking\b|\bpark\b|\bphone number\b|\bget there\b|\bbus\b|\bclose[sd]?\b")
_NOT_ABOUT_ITS_HALL = re.compile(r"[0-9０-９]|改|换|挪|提前|推迟|上午|下午|早上|中午|晚上|今天|明天|后天|周|星期|礼拜|号|月"
                                 r"|材料|带什么|\b(?:change|move|another|instead)\b")
MAX_HALL_ASIDE = 16


def asks_about_its_hall(text: str) -> bool:
    """Whether a message at a booking's step asks where the hall is, how to get there, when it
    closes or whether one can park (地址在哪, 怎么去, 能停车吗): a question about the hall being
    booked, answered there, never a search (地址 read as 变更住所) nor the list of every hall."""
    folded = fold(text).strip()
    return (0 < len(folded) <= (MAX_HALL_ASIDE * 3 if folded.isascii() else MAX_HALL_ASIDE)
            and _ABOUT_ITS_HALL.search(folded) is not None and _NOT_ABOUT_ITS_HALL.search(folded) is None
            and not asks_how_a_matter_is_done(folded))


def asks_hours(text: str) -> bool:
    """Whether a hall question (`asks_about_halls`) asks when they open (你们周六上班吗)."""
    folded = fold(text).strip()
    return len(folded) <= _most(folded) and _WHEN.search(folded) is not None


def asks_about_halls(text: str, names: HallNames | None = None) -> bool:
    """Whether `text` asks where a service hall is or when it opens, not about a matter: a hall
    in general words or by one of `names` (车管所在哪里), or office hours alone."""
    folded = fold(text).strip()
    if len(folded) > _most(folded) or _OTHER_PLACES.search(folded):
        return False
    if _HOURS_ASKS.search(folded):
        return True
    if not _HALL_ASKS.search(folded):
        return False
    return bool(_HALL_WORDS.search(folded)) or (names is not None and next(names.find(folded, [True] * len(folded)), None) is not None)

