"""Short answers to what the bot asked, and case numbers: numbered choices (1, 2号, 第二个, ②,
选3), yes / no (好的, 不用了), ratings in stars where 5 is best (五星好评, 4分, ⭐⭐⭐, 满意, 差评),
case numbers in their configured format, and a change of mind in one message (算了不办护照了
就社保卡: what is wanted instead)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator

from dialogs.understand.identity import ID_LENGTH, PHONE_LENGTH, mobile
from dialogs.understand.model import Slot, SlotKind
from dialogs.understand.numerals import number
from dialogs.understand.vocabulary import Vocabulary
from integrations.platform.identifiers import valid_id_number
from integrations.platform.models import RatingLevel

MAX_STARS = 5
#: The platform's five levels (好差评) by stars: 5 is 非常满意.
LEVELS_BY_STARS = {
    5: RatingLevel.very_satisfied, 4: RatingLevel.satisfied, 3: RatingLevel.basically_satisfied,
    2: RatingLevel.dissatisfied, 1: RatingLevel.very_dissatisfied,
}
#: Groups of letters and digits typed as one number, apart by a space or a dash each, as a case
#: number is printed on a receipt (5116 0220 2612 0538 0001).
_RUN = re.compile(r"(?<![0-9a-z])[0-9a-z]+(?:[ \-－—][0-9a-z]+)*(?![0-9a-z])")
_GROUP = re.compile(r"[0-9a-z]+")


def find_case_numbers(text: str, pattern: str, free: list[bool]) -> Iterator[Slot]:
    """Numbers in the configured case number format (dialogs.understand.model.DEFAULT_CASE_PATTERN by
    default), typed whole or in groups; never an ID or phone number, nor glued to one (李晓燕
    511602199305120028 13981234567 is two details, not one case number)."""
    case_number = _case_regex(pattern)
    for start, end, value in number_groups(text):
        value = misread_digits(value.upper())
        if not all(free[start:end]) or case_number.fullmatch(value) is None or whole_identifier(value):
            continue
        for k in range(start, end):
            free[k] = False
        yield Slot(SlotKind.CASE_NUMBER, value, start, end)


#: Letters typed for the digits they look like (O for 0, I or L for 1) in a number's digits.
_LOOK_ALIKE = str.maketrans("OIL", "011")
_PREFIX = re.compile(r"[A-Z]*")


def misread_digits(value: str) -> str:
    """A number with O for 0 (or I, L for 1) among its digits, read as the digits meant
    (5116022026120163OOO1): never a wasted verification try. Letters that lead it (YJS511…) stay."""
    prefix = _PREFIX.match(value).group()
    rest = value[len(prefix):]
    if rest.isdigit() or not rest:
        return value
    fixed = rest.translate(_LOOK_ALIKE)
    return prefix + fixed if fixed.isdigit() else value


def whole_identifier(value: str) -> bool:
    """An ID number or a mobile number, whole."""
    if len(value) == ID_LENGTH:
        return valid_id_number(value.upper())
    return len(value) == PHONE_LENGTH and value.isascii() and value.isdigit() and mobile(value)


def number_groups(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, value) of each number typed in `text` (folded: lower case), its groups glued
    when they are short, as printed (5116 0220 …); a group that is an ID or phone number whole
    stands alone."""
    for run in _RUN.finditer(text):
        base, pending = run.start(), []
        for group in _GROUP.finditer(run.group()):
            if whole_identifier(group.group()):
                yield from _glued(pending, base)
                pending = []
                yield base + group.start(), base + group.end(), group.group()
            else:
                pending.append(group)
        yield from _glued(pending, base)


#: Printed numbers come in short groups (4 digits on a receipt): longer groups are numbers of their own.
MAX_GROUP = 6


def _glued(groups: list[re.Match], base: int) -> Iterator[tuple[int, int, str]]:
    # groups joined by dashes are one number however long (511602-20261208-290003, as some receipts
    # print it); longer groups apart by spaces are numbers of their own (an ID, then a phone)
    dashed = len(groups) > 1 and all(a.string[a.end():b.start()] in ("-", "－", "—") for a, b in zip(groups, groups[1:]))
    if len(groups) > 1 and not dashed and any(len(g.group()) > MAX_GROUP for g in groups):
        for g in groups:
            yield base + g.start(), base + g.end(), g.group()
    elif groups:
        yield base + groups[0].start(), base + groups[-1].end(), "".join(g.group() for g in groups)


@lru_cache(maxsize=8)
def _case_regex(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def choice(core: str, vocab: Vocabulary) -> int | None:
    """The item a whole reply picks: 1-based, -1 for "the last one"."""
    if core in vocab.choice_first:
        return 1
    if core in vocab.choice_last:
        return -1
    match = vocab.choice_pattern.fullmatch(core)
    if match is None:
        return None
    picked = number(next(g for g in match.groups() if g is not None))
    return picked if picked is not None and 1 <= picked <= vocab.choice_max else None


def yes_or_no(phrases: list[str] | None, vocab: Vocabulary) -> bool | None:
    """True / False when the reply is made of yes words (or no words) and politeness only."""
    if not phrases:
        return None
    said = {True for p in phrases if p in vocab.yes} | {False for p in phrases if p in vocab.no}
    return said.pop() if len(said) == 1 else None


def find_ratings(text: str, shells: list[str], vocab: Vocabulary, free: list[bool], digits: bool) -> Iterator[Slot]:
    """Ratings anywhere in the text (五星, 4分, ⭐⭐⭐, 很满意, 差评), and those that rate only as the
    whole reply (一般, 太差了, 👍), looked up in each of its `shells` (kinds.layers); a bare 1-5
    only when `digits` (the step asks for a rating)."""
    for match in vocab.rating_pattern.finditer(text):
        start, end = match.span()
        if all(free[start:end]):
            yield _claim(free, Slot(SlotKind.RATING, vocab.rating_anywhere[match.group()], start, end))
    for pattern, read in ((vocab.stars_pattern, _count_stars), (vocab.scored_pattern, _scored)):
        for match in pattern.finditer(text):
            stars = read(match)
            start, end = match.span()
            if stars is not None and all(free[start:end]):
                yield _claim(free, Slot(SlotKind.RATING, stars, start, end))
    for shell in shells:
        stars = vocab.rating_alone.get(shell)
        if stars is None and digits and shell is shells[-1] and (value := number(shell) if shell else None) is not None:
            stars = value if 1 <= value <= MAX_STARS else None
        start = text.find(shell) if stars is not None else -1
        if start >= 0 and all(free[start:start + len(shell)]):
            yield _claim(free, Slot(SlotKind.RATING, stars, start, start + len(shell)))
            return


def _claim(free: list[bool], slot: Slot) -> Slot:
    for k in range(slot.start, slot.end):
        free[k] = False
    return slot


def _count_stars(match: re.Match) -> int:
    return min(len(match.group().replace("\ufe0f", "")), MAX_STARS)


def _scored(match: re.Match) -> int | None:
    stars = number(match.group(1) or match.group(2))
    return stars if stars is not None and 1 <= stars <= MAX_STARS else None


# A change of mind in one message (算了不办护照了 就社保卡, 不是结婚登记 是离婚登记): the clause
# that says what is NOT wanted names a matter as strongly as the one that is, and came first. It
# is left out when a clause follows that opens with what is wanted instead (就, 是, 而是, 要, 办,
# 改成 ...). A condition told first (不是本地人，能办社保卡吗) goes on with something else (能)
# and is kept.
_REFUSED = re.compile(
    r"^(?:算了|不对|错了|哦|噢|嗯)?[，,\s]*(?:我|俺)?(?:们)?(?:不(?:是|想|要|用|需要|打算)?(?:办|弄|搞|申请|预约|约|查)?|别(?:办|弄|搞)?)"
    r"[^，。！？；,.!?;\s]{1,16}?(?:了|啦|咯)?"
    r"(?:[，。！？；,.!?;\s]+(?=[^，。！？；,.!?;\s])|(?=而是|我要|我想))"
    r"(?=(?:就|只|而是|是|要|办|改|换|我要|我想|想|还是|帮我)[^，。！？；,.!?;\s])"
)


def without_refused(text: str) -> str:
    """`text` less a first clause that says what is not wanted, when what is wanted follows."""
    found = _REFUSED.match(text)
    if found is None or not found.group().strip("，,。 算了不对错了哦噢嗯"):
        return text
    return text[found.end():]


#: Words of waiting or forgetting (等一下, 身份证没带, 我问下老板): a detail not at hand yet.
#: What a matter about a death is called (身后一件事, 丧葬补助金, 遗属待遇): a search's list shows these
#: only to a message that speaks of a death (bot.search.hybrid) ...
OF_A_DEATH = re.compile(r"身后|丧葬|遗属|死亡|工亡|牺牲|供养亲属")
#: ... and with those also done after one (户口注销): their notices are plain, never 好消息
#: (bot.workers.notifier), and their applicant is the family (dialogs.matters).
AFTER_A_DEATH = re.compile(rf"{OF_A_DEATH.pattern}|户口注销|注销户口|殡")
NEEDS_TIME = re.compile(r"等会|等一会|等一下|等下|稍等|待会|一会儿|马上|找一下|找找|查一下|去拿|没带|忘了带|忘带|不在身边|记不得|记不清|不记得|想不起|"
                        r"(?:我|等我)(?:去|先)?问(?:下|问|一下)(?:我)?(?:老板|领导|财务|会计|家里|家人|同事|老婆|老公|爱人|媳妇|孩子|儿子|女儿|[他她])"
                        r"|(?:我|等我)(?:先)?(?:跟|和)(?:家里|家人|老婆|老公|爱人|媳妇)?商量|考虑一下|想一想|想想|在.{0,6}手机上(?!办|弄|申请|操作|做|交|认证|领|能|可以)|回头|晚点|晚些")


#: A question about the question on screen, or not knowing its answer (这个是什么意思, 定期定额是啥,
#: 不知道, 不清楚, 拿不准): never a no (不知道 starts like 不), explained instead.
WHAT_IT_MEANS = re.compile(r"什么意思|啥意思|是指|指的是|指什么|什么叫|啥叫|是啥|是什么|怎么理解|看不懂|听不懂|看不明白|听不明白"
                           r"|不(?:太|大|是很|怎么|很)?(?:知道|清楚|晓得|确定|明白|懂|了解|理解)|没(?:太)?(?:懂|明白|听懂|看懂)"
                           r"|晓不得|拿不准|说不准|说不好|搞不清|弄不清|^(?:可能|也许|或许|大概)(?:吧|是吧|有吧)?$"
                           r"|\bwhat does (?:it|that|this) mean\b|\bwhat is (?:that|this)\b|\bwhat do you mean\b|\bdon'?t (?:know|understand)\b"
                           r"|\bnot sure\b|\bno idea\b")
WHAT_IT_MEANS_CHARS = 20


def asks_what_it_means(word: str) -> bool:
    """Whether a short message asks what the question on screen means or says its answer is not
    known (normalised `word`)."""
    return len(word) <= (WHAT_IT_MEANS_CHARS * 3 if word.isascii() else WHAT_IT_MEANS_CHARS) and WHAT_IT_MEANS.search(word) is not None


#: Another errand to do first, said with the wait (等下 我先查个办件进度): that errand, not a wait.
_OTHER_ERRAND_FIRST = re.compile(r"进度|办到哪|人工|客服|工作人员")


def needs_time(word: str) -> bool:
    """A detail not at hand: words of waiting or forgetting, and no digits (a number is an answer),
    and no other errand named to do first."""
    return (len(word) <= 30 and NEEDS_TIME.search(word) is not None and not any(ch.isdigit() for ch in word)
            and _OTHER_ERRAND_FIRST.search(word) is None)
