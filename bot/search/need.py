"""What a message asks for, at most NEED_CHARS characters of it, and whether it asks anything.

People write letters, not keywords: greetings, who they are, what happened, the question
somewhere in the middle, thanks at the end. Searching the whole letter drowns the question in
circumstance and costs more the longer the letter is. So a long message is cut into clauses,
each clause is weighed by how much it says about matters (the catalog's rare character pairs)
and whether it asks for something (想, 申请, 怎么 ...), and the best clauses, in their original
order, up to NEED_CHARS, are what the search reads (`pieces` gives more of them, best first,
for the search to read a letter's topic clause on its own). Only the first READ_CHARS of a
message are looked at, in one linear pass: a turn's work stays bounded whatever is sent.

`is_junk` says when a message cannot be a request at all: no letters, a few Latin letters
("qq", "hh", "xyz"), keyboard mashing, a goodbye. Those never get a matter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping

from bot.search.text import is_han, normalize, squeeze, syllables_of

NEED_CHARS = 32  # the longest text any search stage reads (a need is rarely half of that)
READ_CHARS = 4000  # the part of a message that is read at all
LATIN_SHARE = 0.25  # of a character, a Latin letter: an English word of four or five letters says about what one character does
CLAUSE_CHARS = 200  # of one clause: a run that long without a comma is not a sentence anyone wrote
SPELLED_CHARS = 40  # Latin letters tried as pinyin to tell a word from junk: nothing longer is junk by letters

# Clause boundaries: punctuation people use, full- and half-width, and line breaks.
_CLAUSES = re.compile(r"[，。！？；：、,.!?;:\n\r~～…]+|\s{2,}")
CLAUSE_MARKS = _CLAUSES  # where a message's clauses part (bot.search.hybrid reads a short one's clauses too)
_LATIN_WORD = re.compile(r"[a-z]+")
_NO_LATIN = str.maketrans("", "", "abcdefghijklmnopqrstuvwxyz ")  # Latin letters and the spaces between words


# Where a spoken clause starts when nobody typed a comma: voice-to-text and hurried letters run
# on (你好我想问一下我妈妈今年七十多了…村里说可以帮她申请低保我不知道要去哪里办). A run of more
# than RUN_ON characters is cut before these words, never into pieces shorter than PIECE_CHARS.
RUN_ON = 20
PIECE_CHARS = 4
_OPENERS = re.compile("|".join((
    "我想", "我要", "想问", "请问", "问一下", "问下", "听说", "听人", "听别人", "听朋友", "听同事", "不知道", "不晓得",
    "不清楚", "搞不懂", "但是", "可是", "不过", "现在", "所以", "结果", "因为", "后来", "然后", "还有", "另外",
    "麻烦", "谢谢", "能不能", "是不是", "可不可以", "要去哪", "去哪", "到哪", "在哪", "要怎么", "怎么办", "咋个",
    "啷个", "他说", "她说", "村里", "社区", "单位", "厂里", "学校", "医院", "老板", "今年", "去年", "前年", "明年",
    "上个月", "下个月", "上周", "前几天", "最近", "以前", "之前", "我是", "我家", "我们", "我在", "我今年", "我老",
    "我爸", "我妈", "我儿", "我女", "我不", "我已经", "我自己", "我也",
)))
_HAN_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")


def clauses(text: str, courtesy: Collection[str] = ()) -> list[str]:
    """A message's clauses: cut at punctuation and line breaks; with no punctuation at all, at
    the spaces between Chinese characters too (voice input: 你好 前几天钱包被偷了 里头有身份证);
    and a long run without either cut before the words that open a spoken clause."""
    parts = [c.strip() for c in _CLAUSES.split(text) if c.strip()]
    if len(parts) == 1:
        parts = [c for c in _HAN_SPACE.split(parts[0]) if c]
    found = []
    for part in parts:
        found += _run_on(part, courtesy) if len(part) > RUN_ON else [part]
    return found


def _run_on(run: str, courtesy: Collection[str]) -> list[str]:
    """A run of speech without punctuation, cut before the words that open a clause; a piece too
    short to say anything stays with the next one, unless it is a greeting (你好我想…: dropped)."""
    start = _opening(run, courtesy)
    pieces = []
    for found in _OPENERS.finditer(run, start + 1):
        at = found.start()
        piece = run[start:at]
        if piece in courtesy:
            start = at
        elif at - start >= PIECE_CHARS and len(run) - at >= PIECE_CHARS:
            pieces.append(piece)
            start = at
    if start < len(run):  # not a run of greetings and nothing else
        pieces.append(run[start:])
    return pieces


_FILLERS = ("喂", "嗯", "呃", "啊", "哎", "那个", "就是", "这个")


def _opening(run: str, courtesy: Collection[str]) -> int:
    """Where a run's words start after the greetings and fillers it opens with (喂你好那个…)."""
    at, longest = 0, max(map(len, courtesy), default=0)
    while at < len(run):
        step = next((n for n in range(min(longest, len(run) - at), 0, -1) if run[at:at + n] in courtesy), 0)
        step = step or next((len(f) for f in _FILLERS if run.startswith(f, at)), 0)
        if not step:
            break
        at += step
    return at


def extract(text: str, pairs: Mapping[str, float], markers: Collection[str] = (), courtesy: Collection[str] = (),
            terms: Callable[[str], int] | None = None) -> str:
    """The need in `text`: the text itself when short, else its best clauses (see the module's
    docstring). `pairs` weighs two-character pairs by how much they tell matters apart; an
    English letter (no Chinese in it) is read by `english_pieces`, its clauses weighed by the
    domain terms `terms` counts in them."""
    text = text[:READ_CHARS]
    if len(text) <= NEED_CHARS or size(squeeze(text)) <= NEED_CHARS:
        return text
    if not any(is_han(c) for c in text):
        return "，".join(english_pieces(text, terms))
    return "，".join(pieces(text, pairs, markers, courtesy, NEED_CHARS))


# English letters. A letter in English has no character pairs to weigh: before session 12 its
# need was its first clause ("hello", "I am a teacher from Canada"), which the sentence vectors
# read. An English letter is cut into sentences, and a sentence at a comma or an "and" that opens
# a new clause (", I ...", ", how ...", "and I ..."); greetings and thanks are dropped, a clause
# that asks ("how", "where", "can I", "do I need", "?") is lifted, a self-introduction ("I am a
# teacher from Canada", "my name is Tom"; not "I'm moving ...") is pushed down, and each clause gains by the domain
# terms it names (`terms`: the lexicon's English glossary).
_EN_SENTENCES = re.compile(r"(?<=[.!?;:])\s+|[\n\r]+|\s{2,}")
_EN_CLAUSE_OPENERS = (
    r"i|i'm|i've|i'd|i'll|im|we|we're|we've|my|our|he|she|they|it|how|what|where|which|when|who|whether|"
    r"can|could|may|do|does|did|is|are|should|shall|would|will|please|but|so|now|then|and|also|because"
)
_EN_CLAUSES = re.compile(
    rf",\s*(?=(?:{_EN_CLAUSE_OPENERS})\b)|\s+(?:and|but|so)\s+(?=(?:i|i'm|i've|we|we're|he|she|they|my|our|his|her|their|now|then|recently|just|last)\b)", re.I
)
# Words a greeting or a thank-you is made of: a clause of these alone says nothing of the need.
_EN_COURTESY = frozenset((
    "hello", "hi", "hey", "dear", "greetings", "good", "morning", "afternoon", "evening", "day", "thanks", "thank",
    "thx", "you", "many", "a", "lot", "so", "much", "very", "in", "advance", "for", "your", "help", "time", "kind",
    "kindly", "regards", "best", "wishes", "cheers", "sir", "sirs", "madam", "or", "there", "all", "everyone",
    "sorry", "to", "bother", "bothering", "excuse", "me", "appreciate", "it", "appreciated", "assistance",
    "team", "officer", "staff", "and", "have", "nice", "great", "again", "the", "support", "reply", "answer",
    "look", "forward", "hearing", "from", "of", "ok", "okay", "please", "happy", "i", "would", "be", "grateful",
))
_EN_ASKING = re.compile(
    r"\?|\b(?:how|where|what|which|when|whether|can|could|may|do i|do we|does|should|shall|must|need|needs|"
    r"have to|has to|want|wants|would like|'d like|like to|apply|tell me|wonder|wondering|possible|allowed|eligible|"
    r"required|necessary)\b"
)
_EN_INTRO = re.compile(
    r"^(?:my name is|my name's|this is|(?:i am|i'm|im|we are|we're)(?! \w+ing\b)|i come from|we come from|i work as|"
    r"i work for|i'm working as|i am working as)\b"
)
EN_ASK_LIFT, EN_QUESTION_LIFT, EN_TERM_LIFT, EN_INTRO_DROP = 1.0, 1.0, 1.0, 2.0


def english_clauses(text: str) -> list[str]:
    """An English letter's clauses (see above), as written."""
    found = []
    for sentence in _EN_SENTENCES.split(text[:READ_CHARS]):
        found += [c.strip(" ,") for c in _EN_CLAUSES.split(sentence) if c.strip(" ,")]
    return found


def english_courtesy(clause: str) -> bool:
    """A clause of greeting or thanks words only (Hello there, Dear Sir or Madam, Thanks in advance)."""
    words = _LATIN_WORD.findall(normalize(clause))
    return bool(words) and all(w in _EN_COURTESY for w in words)


def english_pieces(text: str, terms: Callable[[str], int] | None = None, room: float = NEED_CHARS) -> list[str]:
    """The best clauses of an English letter, in its order, up to `room` as `size` counts it:
    the clauses that ask, and those that name the most domain terms, before circumstance; a
    self-introduction last; greetings and thanks never."""
    scored = []
    for at, clause in enumerate(english_clauses(text)):
        squeezed = squeeze(clause[:CLAUSE_CHARS])
        if not squeezed or english_courtesy(clause):
            continue
        plain = clause.lower().replace("’", "'").replace("‘", "'")
        asks = len(_EN_ASKING.findall(plain)[:2])
        score = EN_ASK_LIFT * asks + (EN_QUESTION_LIFT if clause.rstrip().endswith("?") else 0.0)
        score += EN_TERM_LIFT * (terms(clause) if terms else 0)
        if _EN_INTRO.match(plain) and not asks:
            score -= EN_INTRO_DROP
        scored.append((score, at, squeezed))
    chosen: list[tuple[int, str]] = []
    for score, at, squeezed in sorted(scored, key=lambda s: (-s[0], s[1])):
        if score <= 0 and chosen:
            break
        if size(squeezed) > room:
            if chosen:
                continue
            squeezed = _best_window(squeezed, int(room), lambda pair, default: default)
        chosen.append((at, squeezed))
        room -= size(squeezed) + 1
    return [piece for _, piece in sorted(chosen)]


def pieces(text: str, pairs: Mapping[str, float], markers: Collection[str] = (), courtesy: Collection[str] = (),
           room: float = NEED_CHARS, ranked: bool = False) -> list[str]:
    """The best clauses of `text`, in their original order, up to `room` characters in all (each
    at most NEED_CHARS: a clause too long for that is cut to its best window). A letter's topic
    (养蜂, 砍树) and its request (这个证在哪个窗口办) are often different clauses: the search reads
    each of these on its own as well as the first NEED_CHARS of them together. `ranked`: best
    first rather than in the letter's order."""
    text = text[:READ_CHARS]
    weigh = pairs.get
    asking = _any_of(frozenset(markers))
    scored = []
    seen: set[str] = set()
    for at, clause in enumerate(clauses(text, courtesy)):
        if clause in seen:
            continue  # a clause said twice says nothing new
        seen.add(clause)
        squeezed = squeeze(clause[:CLAUSE_CHARS])
        if not squeezed or squeezed in courtesy:
            continue
        evidence = sum(weigh(squeezed[i:i + 2], 0.0) for i in range(len(squeezed) - 1))
        # A clause's evidence per character, so a long story does not outweigh a short question,
        # plus a lift for saying what is wanted.
        score = evidence / (len(squeezed) ** 0.5) + _lift(squeezed, asking)
        scored.append((score, at, squeezed))
    chosen: list[tuple[int, str]] = []
    for score, at, squeezed in sorted(scored, key=lambda s: (-s[0], s[1])):
        if score <= 0 and chosen:
            break
        if size(squeezed) > min(room, NEED_CHARS):
            if chosen and size(squeezed) > room:
                continue  # a clause that does not fit whole is left out, not cut into nonsense
            squeezed = _best_window(squeezed, int(min(room, NEED_CHARS)), weigh)
        chosen.append((at, squeezed))
        room -= size(squeezed) + 1
    return [piece for _, piece in (chosen if ranked else sorted(chosen))]


# Asking words that name nothing (什么, 要, 准备, 哪些, 材料 ...): a clause of them alone (不知道要先准备哪些
# 东西, 是不是要老家那边先开什么证明) asks, but which matter is said elsewhere. They lift a clause less
# than the other markers (想, 申请, 怎么, 补办 ...).
GENERIC_ASKING = frozenset((
    "什么", "要", "准备", "哪些", "材料", "手续", "吗", "啥", "可以", "能不能", "需要", "可不可以", "开", "领",
))
ASK_LIFT, GENERIC_LIFT = 1.5, 1.0
# A wish with its object (想把户口迁过来, 想给他改名字, 要办…, 想申请…, 准备补…): the request itself,
# lifted above a clause that only asks. Session 11: the need of a letter that says 想把我和老婆的户口都
# 迁过来 kept 按揭买了套小房子 and 是不是要…开什么证明, and the catalog's 户口迁移审批 was not shown.
_DESIRE = re.compile(
    "(?:想|要|打算|准备|申请|帮)(?:把|给|帮|办|申请|换|补|改|迁|转|开|领|查|注销|变更|登记|报|续|延|恢复|注册|上|落|交|缴|提取|认定|备案)"
)
DESIRE_LIFT = 1.0


def _lift(squeezed: str, asking: re.Pattern | None) -> float:
    """How much a clause says that something is wanted: its first two asking words (those that
    name nothing lift less) and a wish with its object."""
    found = asking.findall(squeezed)[:2] if asking else []
    lift = sum(GENERIC_LIFT if word in GENERIC_ASKING else ASK_LIFT for word in found)
    return lift + (DESIRE_LIFT if _DESIRE.search(squeezed) else 0.0)


def size(text: str) -> float:
    """A text's length as the search's cost sees it: a Latin letter, and a space (which squeeze
    keeps only between Latin words), is LATIN_SHARE of a Chinese character (an English question
    cut at 64 letters lost its object: "before we close the company" without "a certificate
    showing we owe no taxes"; the sentence model reads 128 letters for about what it reads 32
    characters for). Spaces counted whole made an English need about 14 words, not 25: a foreign
    guest's question kept "my friend is visiting from abroad" and lost "register with the police"."""
    return len(text) - (1 - LATIN_SHARE) * (len(text) - len(text.translate(_NO_LATIN)))


def cut(text: str, width: float) -> str:
    """The start of `text` up to `width` as `size` counts it."""
    if size(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits
        mid = (low + high + 1) // 2
        if size(text[:mid]) <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low]


@functools.lru_cache(maxsize=8)
def _any_of(words: frozenset[str]) -> re.Pattern | None:
    return re.compile("|".join(map(re.escape, sorted(words, key=len, reverse=True)))) if words else None


def _best_window(text: str, width: int, weigh: Callable[[str, float], float]) -> str:
    """The `width` characters of a long clause with the most evidence (a sliding sum); Latin
    text (which has no character pairs to weigh) is cut at the end of its first words."""
    if size(text) < len(text):
        cut = text[: int(width / LATIN_SHARE)]
        while size(cut) > width and " " in cut:
            cut = cut.rsplit(" ", 1)[0]
        return cut if size(cut) <= width else cut[:width]
    weights = [weigh(text[i:i + 2], 0.0) for i in range(len(text) - 1)] + [0.0]
    window = sum(weights[:width - 1])
    best, best_at = window, 0
    for start in range(1, len(text) - width + 1):
        window += weights[start + width - 2] - weights[start - 1]
        if window > best:
            best, best_at = window, start
    return text[best_at:best_at + width]


def is_junk(text: str, farewells: Collection[str] = (), spells: Callable[[str], bool] = lambda letters: False) -> bool:
    """A message that cannot be asking for a matter: nothing but symbols or emoji, digits only, a
    word of farewell or laughter, one Chinese character repeated, or a few Latin letters that
    spell no pinyin we know (2-3 letters are too short to carry meaning; `spells` says whether
    letters read as domain pinyin)."""
    plain = normalize(text[:READ_CHARS])
    if not plain:
        return True
    if _STICKER.search(text[:READ_CHARS]) and not normalize(_STICKER.sub(" ", text[:READ_CHARS])):
        return True  # [捂脸][强], [语音], [图片]: stickers and what WeChat shows for a message it cannot quote
    squeezed = plain.replace(" ", "")
    if squeezed in farewells or _repeats_a_word(squeezed, farewells):
        return True
    if (bare := _DIGITS.sub("", squeezed)) != squeezed and bare in farewells:
        return True  # test123, ok1, hello 2: such a word with a number tacked on
    words = [w for w in _CLAUSES.split(plain.replace(" ", "  ")) if w.strip()]
    if len(words) > 1 and all(w.replace(" ", "") in farewells for w in words):
        return True  # 没了 谢谢, 好的，谢谢: each part a word of nothing
    if any(is_han(c) for c in squeezed):
        # One character said over and over (发发发发, 嗯嗯嗯嗯, 啊啊啊) names nothing.
        han = {c for c in squeezed if is_han(c)}
        if len(han) == 1 and sum(map(is_han, squeezed)) >= 3 and not any(c.isalnum() and not is_han(c) for c in squeezed):
            return True
        return _typed_mash(squeezed)
    if squeezed.isdigit():
        return True
    letters = "".join(_LATIN_WORD.findall(squeezed))
    if len(set(letters)) == 1:
        return True  # zzz, aaaa: one letter held down
    if len(letters) <= 3:
        return not (len(letters) == 3 and spells(letters))
    words = _LATIN_WORD.findall(plain)
    if all(len(set(w)) == 1 for w in words) or _LATIN_REPEAT.fullmatch(letters):
        return True  # zzzzzz, aaa bbb; a few letters over and over (sdsdsd, lalala, hahahaha)
    if len(letters) > SPELLED_CHARS or spells(letters):
        return False
    if all(_mashed(w) or not re.search(r"[aeiouy]", w) for w in words):
        return True  # asdfgh, qwer zxcv, sdfghjkl, xkcd
    return len(words) == 1 and len(letters) <= 4  # a word too short to say what is wanted (abcd, lolz)


def _repeats_a_word(squeezed: str, words: Collection[str]) -> bool:
    """A word that never asks for a matter, said again and again (测试测试, 好的好的, okok) or with
    its letters drawn out (hmmm, byeee, okkk): it asks for nothing either."""
    for size in range(1, len(squeezed) // 2 + 1):
        if len(squeezed) % size == 0 and squeezed[:size] * (len(squeezed) // size) == squeezed and squeezed[:size] in words:
            return True
    return squeezed.isascii() and isinstance(words, frozenset) and _DOUBLED.sub(r"\1", squeezed) in _undoubled(words)


_DOUBLED = re.compile(r"([a-z])\1+")
_DIGITS = re.compile(r"\d+")
_LATIN_REPEAT = re.compile(r"([a-z]{1,3})\1+")


@functools.lru_cache(maxsize=4)
def _undoubled(words: frozenset[str]) -> frozenset[str]:
    """The Latin words with every doubled letter single (hmm -> hm, good -> god), once per list."""
    return frozenset(_DOUBLED.sub(r"\1", w) for w in words if w.isascii() and w.isalpha())


# A WeChat sticker or placeholder as it arrives in a text message: [捂脸], [语音], [Facepalm].
_STICKER = re.compile(r"\[[^\[\]\s]{1,12}\]")


def _typed_mash(squeezed: str) -> bool:
    """Keys mashed through a pinyin keyboard (asdfs becomes 阿斯顿发生, qwer 请问额日): Chinese
    characters only, four or more, whose initials slide along a keyboard row. No matter's name
    and no question of our sets reads so (measured when this was added)."""
    if len(squeezed) < 4 or not all(is_han(c) for c in squeezed):
        return False
    return _mashed("".join(s[0] for s in syllables_of(squeezed) if s and s[0].isascii() and s[0].isalpha()))


# Letters in keyboard order (asdf, qwer, jkl): typed by a hand sliding along a row.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _mashed(letters: str) -> bool:
    runs = sum(1 for a, b in zip(letters, letters[1:]) if any(a + b in row or b + a in row for row in _ROWS))
    return len(letters) >= 3 and runs >= len(letters) - 2
