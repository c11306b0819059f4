"""The curated lexicon (config/lexicon.toml): how citizens say things, as data."""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.search.text import normalize, squeeze

DEFAULT_LEXICON = Path(__file__).resolve().parents[2] / "config" / "lexicon.toml"

_POSSESSIVE = re.compile(r"(?<=[a-z])['’‘`]s\b")  # driver's, company's: the word itself (drivers' loses its ' as punctuation)


# Words that end like plurals and are not one (news is not new, means is not mean).
_NOT_PLURAL = frozenset((
    "news", "means", "series", "species", "always", "perhaps", "lens", "thus", "plus", "unless", "across",
    "status", "bonus", "census", "campus", "virus", "basis", "analysis", "crisis", "diabetes", "overseas",
    "does", "goes", "yes", "this", "has", "was", "is", "his", "hers", "ours", "yours", "theirs", "whereas",
))


# Where a foreigner comes from, said as an adjective (a UK driving licence, a German friend, an
# American student): read as "foreign" before a word the glossary's "foreign ..." terms go on with
# (not "let us know"), so "UK driving
# licence" is the "foreign driving licence" the catalog does not serve and "a Korean guest" the
# "foreign guest" of the accommodation registration. Chinese is not among them. (bot/search/writer.py
# reads them too: I'm British says who writes.)
NATIONALITIES = frozenset((
    "us", "usa", "uk", "american", "british", "canadian", "australian", "german", "french", "italian", "spanish",
    "portuguese", "dutch", "swedish", "norwegian", "danish", "finnish", "irish", "scottish", "welsh", "swiss",
    "austrian", "belgian", "polish", "czech", "hungarian", "greek", "russian", "ukrainian", "turkish", "israeli",
    "iranian", "indian", "pakistani", "bangladeshi", "japanese", "korean", "thai", "vietnamese", "filipino",
    "malaysian", "singaporean", "indonesian", "mongolian", "kazakh", "brazilian", "mexican", "argentinian",
    "colombian", "chilean", "peruvian", "egyptian", "moroccan", "nigerian", "kenyan", "ethiopian", "ghanaian",
    "laotian", "burmese", "cambodian", "nepali",
))


# Countries and parts of the world, as nouns (my in-laws from Japan, I came back from Germany,
# studied in the UK): read as "abroad" when the glossary has terms with that word, so they meet
# "from abroad" (外国人) and "came back from abroad" (留学回国); "in" or "to" before one is left out
# (studied in Japan is studied abroad). The UK, the US and the USA are countries after from / in /
# to / back, else nationalities (a UK driving licence).
_COUNTRIES = frozenset((
    "japan", "korea", "america", "britain", "england", "scotland", "wales", "ireland", "canada", "australia",
    "zealand", "germany", "france", "italy", "spain", "portugal", "netherlands", "holland", "sweden", "norway",
    "denmark", "finland", "switzerland", "austria", "belgium", "poland", "czechia", "hungary", "greece", "russia",
    "ukraine", "israel", "iran", "india", "pakistan", "bangladesh", "thailand", "vietnam", "philippines",
    "malaysia", "singapore", "indonesia", "mongolia", "kazakhstan", "brazil", "mexico", "argentina", "colombia",
    "chile", "peru", "egypt", "morocco", "nigeria", "kenya", "ethiopia", "ghana", "europe", "africa",
))
_COUNTRY_INITIALS = frozenset(("uk", "us", "usa"))
# China's other cities and provinces by name (working in Shanghai, our Chengdu office, moving to
# Guangdong): "another city" and "another province" to the glossary, the catalog's 异地 and 跨省.
# Guang'an and Sichuan, where the district is, are not among them.
_CITIES = frozenset((
    "beijing", "shanghai", "chengdu", "chongqing", "shenzhen", "guangzhou", "hangzhou", "nanjing", "wuhan",
    "tianjin", "suzhou", "qingdao", "xiamen", "kunming", "changsha", "zhengzhou", "shenyang", "harbin", "dalian",
    "jinan", "hefei", "fuzhou", "nanning", "guiyang", "lanzhou", "urumqi", "lhasa", "haikou", "sanya", "ningbo",
    "dongguan", "foshan", "wuxi", "nanchong", "mianyang", "deyang", "dazhou", "yibin", "luzhou", "leshan",
    "zigong", "suining", "neijiang", "bazhong", "meishan", "ziyang", "yaan", "panzhihua",
))
_PROVINCES = frozenset((
    "guangdong", "zhejiang", "jiangsu", "fujian", "shandong", "henan", "hebei", "hubei", "hunan", "yunnan",
    "guizhou", "shaanxi", "shanxi", "gansu", "qinghai", "xinjiang", "tibet", "jiangxi", "anhui", "hainan",
    "liaoning", "jilin", "heilongjiang", "guangxi", "ningxia",
))
_TOWARDS = frozenset(("from", "in", "to", "back"))


# Words that say nothing of what is asked about: pronouns, prepositions, auxiliaries, asking words
# and the verbs every request uses (get, do, need, want, help).
_FUNCTION_WORDS = frozenset("""
i me my mine we us our ours you your yours he him his she her hers it its they them their theirs this that these
those there here a an the and or but so if then than as at by for from in into of on onto to with without about
over under after before during up down out off again also too very just only still even not no yes
am is are was were be been being do does did doing done have has had having can could may might must shall
should will would what which who whom whose when where why how whether please thanks thank hello hi dear
get got getting need needs want wants like help know tell let make go going come some any all each every other
another one two three much many more most few lot anything something nothing someone anyone everyone
i'm im i've i'd i'll don't can't isn't doesn't won't m s t d ll ve re
""".split())


# Articles and possessive determiners: they sit inside the terms people write (report the loss,
# lost my job, renew our business licence) and tell nothing about the matter.
_DETERMINERS = frozenset(("a", "an", "the", "my", "our", "your", "his", "her", "their", "its"))


def english_words(text: str) -> list[str]:
    """An English text's words as the gloss reads them: lower case, a possessive 's dropped
    (driver's licence is a driver licence; normalising would leave a stray "s"), punctuation and
    hyphens as spaces (second-hand, ride-hailing), articles and possessive determiners left out
    (report the loss is report loss, so a term is found whichever of them is written)."""
    return [w for w in normalize(_POSSESSIVE.sub("", _without_accents(text.lower()))).split() if w not in _DETERMINERS]


ENGLISH_SENTENCE_WORDS = 2  # function words that make a Latin text English, not pinyin


def english_sentence(text: str) -> bool:
    """Whether a Latin text reads as English sentences (my son, how to, we are: ENGLISH_SENTENCE_WORDS
    function words or more), not pinyin that spells a few Chinese words (shebaoka mima chongzhi)."""
    return sum(w in _FUNCTION_WORDS for w in re.findall(r"[a-z']+", text.lower())) >= ENGLISH_SENTENCE_WORDS


_ACCENTED = re.compile(r"[\u00c0-\u024f]+")


def _without_accents(text: str) -> str:
    """Latin letters without their accents (café, naïve, résumé: the glossary's words have none)."""
    return _ACCENTED.sub(lambda m: "".join(c for c in unicodedata.normalize("NFKD", m.group()) if not unicodedata.combining(c)), text)


def _english_glosses(data: dict[str, str]) -> dict[str, str]:
    """[english] keyed by their words joined with single spaces; a hyphenated term is also known
    written as one word (second-hand, secondhand; non-profit, nonprofit)."""
    glosses: dict[str, str] = {}
    for term, chinese in data.items():
        glosses[" ".join(english_words(term))] = chinese
    for term, chinese in data.items():
        if "-" in term and " " not in term:
            glosses.setdefault("".join(english_words(term)), chinese)
    return glosses


@dataclass(frozen=True, slots=True)
class Intent:
    """What a person wants done to a matter: said with `triggers`, named in matters by `marks`."""

    name: str
    triggers: tuple[str, ...]
    marks: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    stopwords: frozenset[str] = frozenset()
    intents: tuple[Intent, ...] = ()
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    words: tuple[str, ...] = ()
    weak: frozenset[str] = frozenset()
    confusables: dict[str, str] = field(default_factory=dict)
    fold_initials: dict[str, str] = field(default_factory=dict)
    fold_finals: dict[str, str] = field(default_factory=dict)
    need_markers: frozenset[str] = frozenset()
    courtesy: frozenset[str] = frozenset()
    farewells: frozenset[str] = frozenset()
    english: dict[str, str] = field(default_factory=dict)  # "id card" -> 身份证
    asked: frozenset[str] = frozenset()  # what is asked about a named matter (要多久, 要预约吗): stopwords too

    @classmethod
    def load(cls, path: Path = DEFAULT_LEXICON) -> Lexicon:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        intents = tuple(
            Intent(name, tuple(squeeze(t) for t in spec.get("triggers", [])), tuple(spec.get("marks", [])))
            for name, spec in data.get("intents", {}).items()
        )
        synonyms = {squeeze(k): tuple(squeeze(v) for v in values) for k, values in data.get("synonyms", {}).items()}
        pinyin = data.get("pinyin", {})
        asked = frozenset(squeeze(w) for w in data.get("asked", {}).get("words", []))
        return cls(
            stopwords=frozenset(squeeze(w) for w in data.get("stopwords", {}).get("words", [])) | asked,
            intents=intents,
            synonyms=synonyms,
            words=tuple(data.get("words", {}).get("list", [])),
            weak=frozenset(squeeze(w) for w in data.get("weak", {}).get("words", [])),
            confusables=dict(data.get("confusables", {})),
            fold_initials=dict(pinyin.get("initials", {})),
            fold_finals=dict(pinyin.get("finals", {})),
            need_markers=frozenset(squeeze(w) for w in data.get("need", {}).get("markers", [])),
            courtesy=frozenset(squeeze(w) for w in data.get("courtesy", {}).get("clauses", [])),
            farewells=frozenset(squeeze(w).replace(" ", "") for w in data.get("junk", {}).get("words", [])),
            english=_english_glosses(data.get("english", {})),
            asked=asked,
        )

    @functools.cached_property
    def _operation_words(self) -> frozenset[str]:
        """The intents' words (到期, 换领, 变更, 补办 ...): what is wanted done, naming no matter."""
        return frozenset(w for intent in self.intents for w in (*intent.triggers, *intent.marks))

    @functools.cached_property
    def _english_vocabulary(self) -> frozenset[str]:
        return frozenset(w for term in self.english for w in term.split())

    def _english_word(self, word: str) -> str:
        """A word as the glossary has it: a plural the glossary knows in the singular (cards,
        licences, certificates, companies, businesses, seniors) read as that singular, a singular
        known only in the plural (wage, seed) as that plural, a verb's -ing form (retiring, moving) as
        the form the glossary has. Only words the glossary
        has are ever produced, so an unknown word stays itself."""
        known = self._english_vocabulary
        if word in known or len(word) < 4 or word in _NOT_PLURAL:
            return word
        candidates = []
        if word.endswith("ing") and len(word) > 5:  # retiring, moving, registering, stopping
            candidates += [word[:-3], word[:-3] + "e", word[:-4]]
        if word.endswith("ies"):
            candidates.append(word[:-3] + "y")
        if word.endswith("es"):
            candidates.append(word[:-2])
        if word.endswith("s") and not word.endswith("ss"):
            candidates.append(word[:-1])
        candidates.append(word + "s")
        return next((c for c in candidates if c in known), word)

    def english_share(self, text: str, longest: int = 4, things_only: bool = False) -> float:
        """The share of an English text's content words (not function words nor asking words) that
        the glossary reads as something the catalog has (a term glossed to "" does not count).
        `things_only`: what is wanted done (renew, change, lost: the intents' words) counts neither way."""
        content = glossed = 0
        for words, chinese in self._terms(text, longest):
            if things_only and chinese and chinese in self._operation_words:
                continue
            size = sum(1 for w in words if w not in _FUNCTION_WORDS)
            content += size
            glossed += size if chinese else 0
        return glossed / content if content else 0.0

    def unserved(self, text: str, longest: int = 4) -> list[str]:
        """The terms of an English text the glossary marks as not served ("" : a visa, a work
        permit, a foreign driving licence)."""
        return [" ".join(words) for words, chinese in self._terms(text, longest) if chinese == ""]

    def gloss(self, text: str, longest: int = 4) -> str:
        """The Chinese the catalog would use for an English text: its known words and phrases
        (longest first), glossed and joined; '' when none is known."""
        return "".join(dict.fromkeys(self.glossed(text, longest)))

    def _english_read(self, words: list[str]) -> list[str]:
        """Words as the glossary has them (`_english_word`), a country named as a place read as
        "abroad" (see _COUNTRIES), another Chinese city or province as "another city" / "another
        province", a nationality before a foreign term as "foreign"."""
        read: list[str] = []
        abroad = "abroad" in self._english_vocabulary
        for at, word in enumerate(words):
            if abroad and (word in _COUNTRIES or (word in _COUNTRY_INITIALS and read and read[-1] in _TOWARDS)):
                if read and read[-1] in ("in", "to"):
                    read.pop()
                read.append("abroad")
            elif (word in _CITIES or word in _PROVINCES) and "another" in self._english_vocabulary:
                read += ["another", "city" if word in _CITIES else "province"]
            elif word in NATIONALITIES and at + 1 < len(words) and self._english_word(words[at + 1]) in self._after_foreign:
                read.append("foreign")  # a UK driving licence, a Korean guest (not "let us know")
            else:
                read.append(self._english_word(word))
        return read

    @functools.cached_property
    def _after_foreign(self) -> frozenset[str]:
        """The words that follow "foreign" in the glossary's terms (guest, driving, licence ...)."""
        return frozenset(t.split()[1] for t in self.english if t.startswith("foreign ") and " " in t)

    def glossed(self, text: str, longest: int = 4) -> list[str]:
        """The glosses of an English text's known words and phrases, in order (longest first). A
        term glossed to "" names something the catalog does not serve (a work visa): its words are
        read as that term and gloss to nothing, rather than one by one (work, permit)."""
        return [chinese for _, chinese in self._terms(text, longest) if chinese]

    def _terms(self, text: str, longest: int) -> Iterator[tuple[list[str], str | None]]:
        """An English text read left to right, longest known term first: each term's words and its
        gloss ("" for what the catalog lacks), or a single unknown word and None."""
        words = self._english_read(english_words(text))
        i = 0
        while i < len(words):
            for n in range(min(longest, len(words) - i), 0, -1):
                chinese = self.english.get(" ".join(words[i:i + n]))
                if chinese is not None:
                    yield words[i:i + n], chinese
                    i += n
                    break
            else:
                yield words[i:i + 1], None
                i += 1

    def intent(self, name: str) -> Intent | None:
        return next((i for i in self.intents if i.name == name), None)
