"""What kind of message a whole message is: a global word, small talk, junk, or something to
search; and which language it is in. Driven by the vocabulary (config/understanding.toml)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Container

from dialogs.understand.pinyin import spaced_syllables
from dialogs.understand.vocabulary import Vocabulary, english_words

#: Longer messages are not small talk, a global word or a short answer: only slots are sought
#: (the caller checks).
MAX_SHORT = 40
#: Junk shows in its first characters: a long message is judged by these.
JUNK_EXAMINED = 120
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
#: Letters glued to digits (5116022026I2O731OOO1: I and O typed for 1 and 0) are no words of a language.
_IN_DIGITS = re.compile(r"[a-z']*\d[a-z\d']*")
_REPEATED = re.compile(r"(.)\1{3,}")
_VOWELS = frozenset("aeiouy")
#: WeChat's own emoticons arrive as text: [微笑], [捂脸], [强].
_WECHAT_FACE = re.compile(r"\[[\u4e00-\u9fffa-z]{1,4}\]")


def _classified_mark(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "PZC" or category in ("Sm", "Sc", "Sk") or ch in "~～"


#: Marks of the Basic Multilingual Plane, looked up rather than classified character by character.
_MARKS = frozenset(ch for ch in map(chr, range(0x10000)) if _classified_mark(ch))


def is_mark(ch: str) -> bool:
    """Punctuation, spaces and symbols other than emoji: nothing said."""
    return ch in _MARKS


def only_of(text: str, chars: frozenset[str]) -> bool:
    """Whether every character of `text` is one of `chars`, a mark or part of an emoji: the cheap
    test that lets most messages skip a segmentation that could not succeed."""
    return all(is_mark(ch) or is_emoji_part(ch) for ch in set(text).difference(chars))


def is_emoji_part(ch: str) -> bool:
    """Emoji and what joins or varies them (variation selectors, skin tones, ZWJ)."""
    return unicodedata.category(ch) in ("So", "Mn", "Cf", "Sk") or 0x1F3FB <= ord(ch) <= 0x1F3FF


def bare(text: str) -> str:
    """The text without its punctuation and spaces at both ends."""
    start, end = 0, len(text)
    while start < end and is_mark(text[start]):
        start += 1
    while end > start and is_mark(text[end - 1]):
        end -= 1
    return text[start:end]


def layers(text: str, vocab: Vocabulary) -> list[str]:
    """The message, then without its polite wrapping, one layer at a time (请帮我转人工吧 ->
    帮我转人工吧 ... -> 转人工). Each is worth looking up: 算了 must not lose its 了."""
    current = text.strip()
    found = [current]  # "?" is a word too
    current = bare(current)
    for _ in range(4):
        before = current
        if current != found[-1]:
            found.append(current)
        lead = vocab.leading_pattern.match(current)
        if lead is not None and lead.end() < len(current):
            current = bare(current[lead.end():])
            found.append(current)
        trail = vocab.trailing_pattern.search(current)
        if trail is not None and trail.start() > 0:
            current = bare(current[:trail.start()])
        if current == before:
            break
    if current != found[-1]:
        found.append(current)
    return found


def global_word(shells: list[str], vocab: Vocabulary) -> str | None:
    """The global word a message is, given its `layers`: the whole message, or clauses that all
    say it or only add politeness (算了，不约了; 不办了，谢谢; 你好，转人工)."""
    for layer in shells:
        intent = vocab.global_words.get(layer)
        if intent is not None:
            return intent
    if (shells and (_RESUME.search(shells[0]) or _BACK_TO.search(shells[0]) or _FINISH.search(shells[0]))
            and not _RESUME_FILLER.sub("", shells[0])):
        return "resume"  # 刚才那个预约继续, 我回来了，继续约, 刚才那个预约呢: nothing but going on with what was left
    return _said_in_clauses(shells[0], vocab) if shells else None


#: Going on with what was left, said around 继续 / 接着 (刚才那个预约继续, 我回来了，继续约): the
#: message is that and only these words.
_RESUME = re.compile(r"继续|接着")
#: ... or asking after it (刚才那个预约呢, 回到刚才的预约): what was left, with nothing new said.
_BACK_TO = re.compile(r"^(?:我|那)?(?:刚才|刚刚|之前)(?:那个|的|我)?(?:在)?(?:预约|约)的?(?:那个)?(?:呢|咋办|怎么办|去哪了|没了)"
                      r"|回到(?:刚才|刚刚|之前)")
#: ... or finishing it first (先把预约弄完, 算了 先约完再说: a booking left for a side question).
_FINISH = re.compile(r"先[^，,。]{0,6}(?:弄|办|约|搞|填|走)完|(?:弄|办|约|搞|填|走)完再说")  # not 办完了: a goodbye
_RESUME_FILLER = re.compile(r"继续|先把|先|把|完|再说|算了|接着|回到|咋办|怎么办|去哪了|没了|呢|我?回来了|又来了|刚才|刚刚|之前|上次|那个|这个|的|预约|约|办理|办|弄|事情|事|吧|了|啊|呀|哈|我|要|想|还是|再|好|嗯|那|就|下去|[\s,，.。!！~～]")


#: A person asked for inside a sentence about something else (我还是想找个真人问问 上门办证的事,
#: 能找个工作人员问下吗, 叫你们领导来, can I talk to a real person about my permit): a request
#: verb right before the person, so 放射工作人员证 is no such request.
_PERSON_ASKED = re.compile(
    r"(?:找|要|转|叫|喊|联系|跟|和|同|让)(?:一?个|一下|下|一次|到|给我|你们的?|你们)?(?:真人|人工|活人|工作人员|客服|领导|负责人)"
    r"(?!证|资格|招聘|培训|考试|体检|健康)|找个人(?=跟|和|给|帮|问|说|聊|讲)"
    r"|\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|some\s+)?(?:real\s+person|real\s+human|human|person|someone|somebody|staff|agent|officer)\b"
    r"|\breal\s+person\b|\bhuman\s+agent\b"
    # I need help from a human, I want a person
    r"|\b(?:need|want|get)\s+(?:some\s+)?(?:help\s+from\s+)?(?:a\s+|an\s+)?(?:human|person|staff\s+member|member\s+of\s+staff|agent)\b"
    # is there someone who speaks English: a person, in English
    r"|\b(?:someone|somebody|anyone|anybody|a\s+person|staff|an?\s+agent)\s+(?:here\s+)?(?:who\s+|that\s+)?(?:can\s+|could\s+)?speaks?\s+english\b")


#: Frustration with the service itself, vented (你们这什么破系统, 我跑了三趟了, 白跑一趟, 气死我了,
#: 能不能说人话): an apology and a person offered, never a search of the words. Strong markers only:
#: 还没办下来 alone asks where a case is.
_VENTS = re.compile(
    r"破系统|什么破|垃圾系统|烂系统|破玩意|跑了(?:[一二两三四五六七八九十几好多]+|\d+)[趟次回]|白跑|冤枉路|气死|太气人|气人|坑人|太坑了"
    r"|什么态度|态度(?:太|很|真|好|非常|极)差|效率(?:太|真|好|极)低|踢皮球|推来推去|推三阻四|说人话|受够了|太离谱|离谱|无语"
    # staff at a window, or the bot itself, complained of (窗口工作人员玩手机不理人, 举报工作人员吃拿卡要,
    # 你们这个机器人真笨); the hotline said not to answer (12345根本打不通)
    r"|(?:工作人员|窗口的人|窗口那个人|办事员|柜台的人|窗口)[^，,。！!？?]{0,6}(?:玩手机|不理人|不搭理|爱理不理|睡觉|骂人|刁难|不作为|乱收费|吵架)"
    r"|举报[^，,。！!？?]{0,6}(?:工作人员|窗口|办事员|干部)|吃拿卡要|索要好处|收红包|要红包"
    r"|(?:机器人|智能客服|小助手|你)(?:真|太|好|咋这么|怎么这么)?(?:笨|蠢|傻|没用|垃圾)|智障|人工智障"
    r"|(?:12345|热线)(?:电话)?(?:根本|一直|总是|老是)?(?:打不通|没人接|占线)"
    r"|\b(?:ridiculous|waste of (?:my )?time|terrible service|so frustrat\w*|fed up|useless bot|stupid bot)\b")


def vents(text: str) -> bool:
    """Whether a message vents frustration with the service (see _VENTS)."""
    return _VENTS.search(text) is not None


def asks_for_a_person(text: str) -> bool:
    return _PERSON_ASKED.search(text) is not None


_CLAUSES = re.compile(r"[,，.。!！?？;；、~～]+")
_FIRST_CLAUSE = re.compile(r"[\s,，.。!！?？;；、~～]+")


def first_clause(text: str) -> str:
    """What `text` says before its first punctuation or space (不是 of 不是 我自己去)."""
    return _FIRST_CLAUSE.split(text, maxsplit=1)[0]
_LATIN = re.compile(r"[a-z]")
#: Small talk that may stand beside a global word without changing it (not a question: 你是谁).
_BESIDE = frozenset({"greeting", "thanks", "ack", "bye", "apology"})
#: A clause that puts the errand off (等体检完再说, 改天再约, 下次吧): beside 不约了 it is the
#: reason for giving up, not something new to search.
_PUTS_OFF = re.compile(r"(?:再说|再约|再来|再办|再弄|再看看?|再讲|再联系|再预约)(?:吧|啊|哈|了|呗)?$|^(?:以后|改天|下次|回头|有空)(?:吧|啊|哈|再说)?$")


def _said_in_clauses(text: str, vocab: Vocabulary) -> str | None:
    """The one global word that clauses of `text` say, when every other clause is politeness, a
    thanks or a short yes / no (好的，不用了，谢谢): None when two global words disagree. A person
    asked for in a clause of its own is asked for whatever else is said (查不到啊 找人工)."""
    # spaces part Chinese clauses (算了 不弄了), not English words (do you speak english)
    clauses = [c for part in _CLAUSES.split(text) for c in (part.split() if not _LATIN.search(part) else [part.strip()]) if c]
    intents = [next((vocab.global_words[layer] for layer in layers(clause, vocab) if layer in vocab.global_words), None)
               for clause in clauses]
    if len(clauses) > 1 and "human" in intents:
        return "human"  # a person asked for beside anything (查不到啊 找人工): what they want now
    said = set()
    for clause, intent in zip(clauses, intents):
        if intent is not None:
            said.add(intent)
        elif len(clauses) > 1 and (small_talk(clause, vocab) in _BESIDE or short_answer(clause, vocab) or _PUTS_OFF.search(clause)):
            continue
        else:  # global words run together with politeness (字太小了看不清, 谢谢转人工)
            lexicon, longest, chars = _global_lexicon(vocab)
            pieces = segment(clause, lexicon, longest) if only_of(clause, chars) else None
            # a word of one character (0 is 菜单) counts only alone: 0000 is no menu
            found = {vocab.global_words[p] for p in pieces or () if p in vocab.global_words and len(p) > 1}
            if not found and pieces and len(clauses) > 1 and all(p in vocab.fillers for p in pieces):
                continue  # 哎 of 哎 还是约吧: a sigh beside the word
            if not found:
                return None
            said |= found
    return said.pop() if len(said) == 1 else None


_GLOBAL_LEXICONS: dict[int, tuple[frozenset[str], int, frozenset[str]]] = {}


def _global_lexicon(vocab: Vocabulary) -> tuple[frozenset[str], int, frozenset[str]]:
    """What a clause of global words is cut into: the words, fillers, and the small talk that may
    stand beside them. Not yes / no words, which only stand beside one as a clause of their own:
    不是老人 is no request for 长辈模式."""
    kept = _GLOBAL_LEXICONS.get(id(vocab))
    if kept is None:
        words = (frozenset(vocab.global_words) | vocab.fillers
                 | frozenset(p for p, kind in vocab.small_talk.items() if kind in _BESIDE))
        kept = _GLOBAL_LEXICONS[id(vocab)] = words, max(map(len, words), default=1), frozenset("".join(words))
    return kept


def segment(text: str, lexicon: Container[str], longest: int, skip=is_mark) -> list[str] | None:
    """`text` cut into phrases of `lexicon`, fewest pieces first; None when it cannot be. Between
    them may stand characters for which `skip(ch)` is true (free), or any emoji (counted as more
    than a piece, so that an emoji that is a phrase, 👍, is read as one)."""
    size = len(text)
    cost: list[float | None] = [None] * (size + 1)
    pieces: list[list[str]] = [[] for _ in range(size + 1)]
    cost[0] = 0
    for i in range(size):
        if cost[i] is None:
            continue
        ch = text[i]
        step = 0 if skip(ch) else 1.5 if is_emoji_part(ch) else None
        if step is not None and (cost[i + 1] is None or cost[i + 1] > cost[i] + step):
            cost[i + 1], pieces[i + 1] = cost[i] + step, pieces[i]
        for j in range(min(size, i + longest), i, -1):
            piece = text[i:j]
            if piece in lexicon and (cost[j] is None or cost[j] > cost[i] + 1):
                cost[j], pieces[j] = cost[i] + 1, [*pieces[i], piece]
    return pieces[size] if cost[size] is not None else None


def small_talk(text: str, vocab: Vocabulary) -> str | None:
    """The kind of small talk a whole message is (the kind of its last phrase), else None."""
    if not only_of(text, vocab.talk_chars):
        return None
    phrases = segment(text, vocab.talk_lexicon, vocab.longest_talk)
    if not phrases:
        return None
    kinds = [vocab.small_talk[p] for p in phrases if p in vocab.small_talk]
    return kinds[-1] if kinds else None


def short_answer(text: str, vocab: Vocabulary) -> list[str] | None:
    """The phrases of a reply made of yes / no words, thanks and politeness (好的谢谢, 不用了)."""
    if not only_of(text, vocab.answer_chars):
        return None
    return segment(text, vocab.answer_lexicon, vocab.longest_answer)


def is_junk(text: str, vocab: Vocabulary) -> bool:
    """Keyboard mashing, emoji runs, lone punctuation, a few random Latin letters."""
    text = text[:JUNK_EXAMINED]
    said = [ch for ch in _WECHAT_FACE.sub("", text) if not is_mark(ch)]
    if not said:
        return True
    if all(is_emoji_part(ch) for ch in said):
        return True
    words = "".join(said)
    if _HAN.search(words) is None and not any(ch.isdigit() for ch in words):
        tokens = _LATIN_WORD.findall(text)
        if tokens and all((ch.isascii() and ch.isalpha()) or ch == "'" for ch in said):
            english = english_words()
            return not any(t in english for t in tokens) and all(
                len(t) <= 3 or _mashed(t, vocab) for t in tokens)
    return _held_key(text, words)


def _held_key(text: str, words: str) -> bool:
    """A key held down (啊啊啊啊啊, ，，，，, 1111aaaa): a run of four or more of one character
    within a word (not made by joining words across a mark: late-eee is no run), not inside a
    longer number (13911112222, a case number), and nothing else said besides: a message that
    also holds two Chinese characters of its own (啊啊啊啊身份证丢了怎么办) says something.
    `words`: the text without marks."""
    if words.isdigit():  # a number, whatever its digits: an answer, a code
        return False
    if not any(not _inside_number(text, m) for m in _REPEATED.finditer(text)):
        return False
    rest = _REPEATED.sub("", words)
    return len(_HAN.findall(rest)) < 2


def _inside_number(text: str, run: re.Match) -> bool:
    """Whether a run of one digit is part of a longer number (the digits around it differ)."""
    if not run.group(1).isdigit():
        return False
    start, end = run.span()
    return (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit())


def _mashed(token: str, vocab: Vocabulary) -> bool:
    """Whether an unknown Latin token looks typed at random: no vowel, a key held down, or
    mostly neighbouring keys of one row (asdf, jkl, qwer)."""
    if not _VOWELS.intersection(token) or _REPEATED.search(token):
        return True
    neighbours = sum(token[i:i + 2] in vocab.keyboard_neighbours for i in range(len(token) - 1))
    return neighbours * 2 >= len(token) - 1


#: English words a message needs around a Chinese term for it to be English (my 居留许可 expires).
ENGLISH_AROUND_CHINESE = 4


def language(text: str, vocab: Vocabulary) -> str:
    """zh when it has Chinese; en when its Latin words are mostly English and not only the ones
    Chinese speakers use too (ok, hi, bye); else ""."""
    tokens = _LATIN_WORD.findall(_IN_DIGITS.sub(" ", text))
    han = len(_HAN.findall(text))
    if han and not (len(tokens) >= ENGLISH_AROUND_CHINESE and han * 2 <= sum(map(len, tokens))
                    and sum(t in english_words() for t in tokens) * 2 >= len(tokens)):
        return "zh"
    # How do I get a work permit (工作许可)?, my 居留许可 expires next month: English, a term quoted in Chinese
    if not tokens:
        return ""
    if spaced_syllables(tokens):
        return "zh"  # wo xiang ban ge ti hu: Chinese without its characters (ban, ge read as English)
    english = english_words()
    known = [t for t in tokens if t in english]
    if not known or all(t in vocab.english_neutral for t in known):
        return ""
    return "en" if len(known) * 2 >= len(tokens) else ""
