"""Which language a person is answered in: Chinese, or English for those who write English.

The language is a per-turn value (`LANGUAGE`, a context variable: each turn runs in a task of
its own, so one person's choice never reaches another's turn), set once before the turn from
what is remembered of the person (their profile in the conversation store) and what they wrote,
and read in one place: the renderer (bot.templating), which takes a template's English sibling
when there is one and the Chinese template otherwise. Dialogs never look at it.

How the language is chosen (`before_turn`):
- 中文 / English (and the other words of config/understanding.toml's [global.chinese] and
  [global.english]) switch at once, in any state, and pin the choice: what the person writes
  afterwards does not switch it back;
- otherwise, while nothing is in progress and the person has not pinned a language, a message in
  Chinese or in English (dialogs.understand's language detection) sets the language, and a first
  greeting in Latin letters (hello, hi) starts in English;
- a switch word that opens a longer message (English please. I want to …; 算了我还是说中文吧。身份证
  过期了) switches and pins it too, and the rest of the message is answered in the new language;
- mid-dialog the language stays: a Chinese name, hall or "ok" typed into an English booking is
  an answer, not a wish to switch.

长辈模式 (elder mode, 适老化) is kept beside the language, in the same profile and the same
per-turn value (`Language.elder`): 长辈模式 / 大字 / 老人 (and the other words of
config/understanding.toml's [global.elder]) switch it on in any state, 标准模式 ([global.standard])
off; the choice is kept until switched again. In elder mode the renderer answers in Chinese from
templates/elder/ (bot.templating), and the conversation offers it after a confused exchange
(dialogs.smalltalk).
Pure: no I/O once the word lists are loaded (`load()` at start-up).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

from dialogs.understand import kinds
from dialogs.understand.vocabulary import english_words, fold, vocabulary

CHINESE, ENGLISH = "zh", "en"
#: The intents of config/understanding.toml's switch words, and the language each picks.
SWITCHES = {"chinese": CHINESE, "english": ENGLISH}
#: The most choices an answer in 长辈模式 offers (bot.templating caps lists, dialogs.paging pages them).
ELDER_CHOICES = 4
#: The intents of config/understanding.toml's elder-mode words, and whether each switches it on.
MODES = {"elder": True, "standard": False}
#: A Chinese message this short from someone answered in English is a keyword copied from an
#: answer (reply 现场取号 when you arrive), not a wish to switch: a Chinese speaker's sentence is longer.
KEYWORD_CHARS = 24
#: ... which says nothing of its own: no one speaking, no question (社保卡怎么办, 我想办个体户 switch).
_SENTENCE = re.compile(r"[我你您俺吗呢么啥哪咋谁]|怎|什么|多少|能不能|可以|要不要|是不是|[?？]")
#: Profile fields (bot.stores: the person's profile, kept a year): the language, whether the
#: person chose it with a switch word, and whether they chose 长辈模式.
LANGUAGE_FIELD, CHOSEN_FIELD, ELDER_FIELD = "language", "language_chosen", "elder"


@dataclass(frozen=True, slots=True)
class Language:
    code: str = ""  # zh, en, or "" while not known yet (answered in Chinese)
    chosen: bool = False  # picked with 中文 / English: detection leaves it alone
    switched: bool = False  # this turn's message was 中文 / English (the conversation says so)
    elder: bool = False  # 长辈模式: answered from templates/elder/, the renderer's rules applied
    mode_switched: bool = False  # this turn's message was 长辈模式 / 标准模式 (the conversation says so)
    mode_kept: bool = False  # ... asking for the mode already on (字太小了 in 长辈模式: said so, not switched again)

    def remembered(self, profile: dict[str, Any]) -> dict[str, Any] | None:
        """The profile to save when this differs from what `profile` remembers, else None."""
        if (profile.get(LANGUAGE_FIELD, "") == self.code and bool(profile.get(CHOSEN_FIELD)) == self.chosen
                and bool(profile.get(ELDER_FIELD)) == self.elder):
            return None
        changed = {**profile, LANGUAGE_FIELD: self.code, CHOSEN_FIELD: self.chosen}
        if self.elder:
            changed[ELDER_FIELD] = True
        else:
            changed.pop(ELDER_FIELD, None)
        return changed


UNKNOWN = Language()
#: This turn's language. Unset (staff, workers, notices): not known, so Chinese.
LANGUAGE: ContextVar[Language] = ContextVar("language", default=UNKNOWN)


#: Every language a turn can have, made once (a frozen dataclass costs microseconds to build).
_LANGUAGES = {(code, chosen, switched, elder, mode): Language(code, chosen, switched, elder, mode)
              for code in ("", CHINESE, ENGLISH) for chosen in (False, True) for switched in (False, True)
              for elder in (False, True) for mode in (False, True)}
#: The same, for a turn that asked for the mode already on.
_KEPT = {(code, chosen, switched, elder): Language(code, chosen, switched, elder, True, True)
         for code in ("", CHINESE, ENGLISH) for chosen in (False, True) for switched in (False, True) for elder in (False, True)}


def of_profile(profile: dict[str, Any]) -> Language:
    code = profile.get(LANGUAGE_FIELD)
    elder = bool(profile.get(ELDER_FIELD))
    if code not in (CHINESE, ENGLISH):
        return _LANGUAGES["", False, False, elder, False]
    return _LANGUAGES[code, bool(profile.get(CHOSEN_FIELD)), False, elder, False]


def with_mode(language: Language, elder: bool) -> Language:
    """`language` with 长辈模式 switched on or off by this turn's message. Elder mode speaks
    Chinese: switching it on answers in Chinese from then on."""
    code = CHINESE if elder else language.code
    chosen = language.chosen if code == language.code else True
    if language.elder == elder:
        return _KEPT[code, chosen, language.switched, elder]
    return _LANGUAGES[code, chosen, language.switched, elder, True]


_CLAUSE_END = re.compile(r"[。.!！?？,，;；\n]")
_OPENERS = re.compile(r"^(?:算了|好吧|那么|那|嗯|哦)+")


@cache
def _switch_words() -> re.Pattern:
    """Any switch word (of a language or of 长辈模式), anywhere: a message that holds none cannot
    be one once unwrapped (the unwrapping only takes words off its ends), so most messages skip
    the unwrapping."""
    words = [word for word, intent in vocabulary().global_words.items() if intent in SWITCHES or intent in MODES]
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))


#: Bigger text asked for in a sentence (字太小了 能不能把字弄大一点, 字能不能大点): 长辈模式 ...
_BIGGER_TEXT = re.compile(r"(?<![名数文汉打写签])字.{0,3}(?:太小|小了|好小|看不清|看不见|看不到)|(?:把|将)?(?<![名数文汉打写签])字(?:体|号)?(?:能不能|可不可以|可以|能|再)?(?:弄|调|放|变|搞|打)?得?大(?:一?点|些|一些)?(?:吗|嘛|不|呗|吧)?$"
                         r"|(?:把|将)?(?<![名数文汉打写签])字(?:体|号)?(?:能不能|可不可以|可以|能|再)?(?:弄|调|放|变|搞|打)得?大")
#: ... unless the small print is on a paper (身份证上的字看不清了: a card to renew).
_ON_A_PAPER = re.compile(r"证|卡|照|簿|本子|书|表|合同|材料|单子|发票")
BIGGER_TEXT_CHARS = 40


def _switch_intent(text: str) -> str | None:
    """The switch word a whole message is (english, chinese, elder, standard), else None."""
    if len(text) <= BIGGER_TEXT_CHARS and _BIGGER_TEXT.search(folded := fold(text)) and not _ON_A_PAPER.search(folded):
        return "elder"
    if len(text) > kinds.MAX_SHORT:
        return None
    folded = fold(text)
    if _switch_words().search(folded) is None:
        return None
    folded = _OPENERS.sub("", folded) or folded  # 算了我还是说中文吧: the 算了 turns to the switch
    vocab = vocabulary()
    return kinds.global_word(kinds.layers(folded, vocab), vocab)


def switch_word(text: str) -> str | None:
    """The language a whole message asks for (中文, English, "in english", 请说中文吧), else None."""
    return SWITCHES.get(_switch_intent(text) or "")


def mode_word(text: str) -> bool | None:
    """Whether a whole message asks for 长辈模式 (长辈模式, 大字, 我是老人, 字太小了: True) or
    for the standard mode back (标准模式, 普通模式: False); None when it is neither."""
    return MODES.get(_switch_intent(text) or "")


def before_turn(profile: dict[str, Any], text: str | None, at_rest: bool) -> Language:
    """The language of a turn: `profile` is what is remembered of the person, `text` what they
    wrote (None for a click or an event), `at_rest` whether nothing is in progress."""
    known = of_profile(profile)
    if not text:
        return known
    intent = _switch_intent(text)
    if intent in MODES:
        return with_mode(known, MODES[intent])
    asked = SWITCHES.get(intent or "")
    if asked is not None:
        # English ends 长辈模式 (it speaks Chinese): marked as a mode switch so the answer says so.
        return _LANGUAGES[asked, True, True, known.elder and asked == CHINESE, known.elder and asked == ENGLISH]
    # a switch that opens a longer message (算了我还是说中文吧。身份证过期了; English please. I want
    # to renew my ID card): the language is switched, pinned, and the rest is answered in it
    led = _leading_switch(text)
    if led is not None:
        return _LANGUAGES[led, True, False, known.elder and led == CHINESE, False]
    if known.chosen or not at_rest or known.elder:
        return known
    vocab = vocabulary()
    folded = fold(text[:kinds.MAX_SHORT * 4])
    detected = kinds.language(folded, vocab)
    if (detected == CHINESE and known.code == ENGLISH and len(folded.strip()) <= KEYWORD_CHARS
            and _SENTENCE.search(folded) is None):
        # 现场取号, 预约食品经营许可延续: a few characters the English answers told them to reply with
        return known
    if detected:
        return _LANGUAGES[detected, False, False, False, False]
    if not known.code and _latin_greeting(folded, vocab):
        return _LANGUAGES[ENGLISH, False, False, False, False]
    return known


def _leading_switch(text: str) -> str | None:
    """The language a message's first clause asks for, when more follows it, else None."""
    end = _CLAUSE_END.search(text, 0, kinds.MAX_SHORT + 1)
    if end is None or not any(ch.isalnum() for ch in text[end.end():]):
        return None
    head = _OPENERS.sub("", text[:end.start()].strip())
    return SWITCHES.get(_switch_intent(head) or "") if head else None


def _latin_greeting(folded: str, vocab) -> bool:
    """hello, hi, good morning, and the English words that mean the same everywhere (help, menu,
    human): Chinese speakers type them too, so they start English only for a person the bot has
    not yet heard say anything else (a first help was answered with the Chinese help and menu)."""
    word = folded.strip()
    return (folded.isascii() and any(ch.isalpha() for ch in folded)
            and (kinds.small_talk(word, vocab) == "greeting"
                 or (len(word) > 1 and word.replace(" ", "").isalpha() and word in vocab.global_words)))


def load() -> None:
    """Read the word lists now (at start-up) rather than on the first message that needs them."""
    vocabulary()
    english_words()
    _switch_words()
