"""The matter search index: finds 政务服务事项 from what people type.

A query is read in steps, each one small and driven by the lexicon (config/lexicon.toml):
pinyin letters become the domain words they spell ("sbk" -> 社保卡); homophone and look-alike
typos are corrected against the domain vocabulary (户口牵移 -> 户口迁移); colloquial phrases
become official terms (暂住证 -> 居住证); intent words (丢了, 到期, 不干了, 改) are set apart;
what remains is segmented by jieba and filler words are dropped. Each remaining unit is looked
for in every matter's name, aliases, keywords, department and type.

A matter's score is how much of the query it explains (units weighted by rarity), lifted by how
much of its name the query covers and by whether it is the operation asked for (挂失 rather
than 申领 when something was lost). Matters explaining too little of the query are not results,
so "天气预报" finds nothing rather than the least bad matter.

A query depends on nothing but its normalised text (`squeeze`), so results are kept per index in
a bounded LRU keyed by that text: the benchmark's and real people's questions repeat a lot
(我要办护照), and a repeat costs a dictionary look-up instead of a parse and a scoring pass.
A rebuilt catalog is a new index (or a `build` that starts a new cache): never an old answer."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from dialogs.understand.answers import without_refused
from integrations.platform.models import Guide, MatterSummary

from bot.search import need
from bot.search.lexicon import Lexicon
from dialogs.understand.pinyin import spaced_syllables
from bot.search.text import SoundFolder, all_syllables, core_name, is_han, split_syllables, squeeze, syllables_of, tokenizer

# Field weights: a unit found in the name counts fully, in a keyword or department less.
NAME, ALIAS, KEYWORD, DEPARTMENT, TYPE = 1.0, 1.0, 0.8, 0.5, 0.3
MIN_COVERAGE = 0.6  # share of the query a matter must explain to be a result at all
MIN_SCORE = 0.5
# `rank` (the hybrid search's lexical evidence) keeps weaker matches: another signal may confirm them.
RANK_COVERAGE, RANK_SCORE, RANK_UNEXPLAINED = 0.2, 0.2, 0.3
INTENT_BONUS, INTENT_PENALTY, DEFAULT_BONUS = 0.15, 0.12, 0.04
LITERAL_BONUS = 0.05  # the intent word typed is the one in the name (歇业, not just any 注销)
EXACT_BONUS = 0.25  # the query is, letter for letter, a name or alias of the matter
GUIDE_PRIOR = 0.02  # of two equal matches, prefer the one with a full guide
MAX_PHRASE = 10
MAX_SPELLED = 40  # letters read as pinyin at once: no domain word is spelled longer
_SPACED_RUN = re.compile(r"\b[a-z]{1,6}(?: [a-z]{1,6})+\b")  # wo xiang ban ge ti hu: syllables one by one
UNIT_CACHE_SIZE = 20000
SEARCH_CACHE_SIZE = 4096  # distinct (query, top) results kept per index, least recently used dropped
SEARCH_CACHE_MAX_CHARS = 64  # longer texts are rare and seldom repeat: searched, not kept


@dataclass(frozen=True, slots=True)
class Hit:
    code: str
    name: str
    department: str
    score: float
    kind: str = "matter"  # or "bundle" (一件事一次办)


@dataclass(slots=True)
class _Matter:
    code: str
    name: str
    department: str
    has_guide: bool
    fields: tuple[tuple[str, float], ...]
    precise: tuple[str, ...]  # texts whose coverage by the query is worth rewarding: name, aliases
    marks: frozenset[str]  # intents the name carries (挂失, 注销, 变更 ...)
    exact: frozenset[str]


@dataclass(slots=True)
class _Unit:
    typed: str
    alternatives: tuple[str, ...]

    @property
    def single(self) -> bool:
        """One character standing for nothing longer: weak evidence (领, 办), unlike 砍 -> 采伐."""
        return all(len(a) == 1 for a in self.alternatives)


@dataclass(slots=True)
class ParsedQuery:
    """What the index understood; `explain` shows it."""

    text: str
    corrected: str
    units: list[_Unit] = field(default_factory=list)
    intents: set[str] = field(default_factory=set)
    triggers: list[str] = field(default_factory=list)  # intent words as typed (激活)


class MatterIndex:
    """Search over every matter the platform lists. Build once; rebuild (into a new index) when the
    platform's catalog version changes. `search` is read-only and safe to call from many tasks."""

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or Lexicon.load()
        self.version = ""
        self._matters: list[_Matter] = []
        self._char_credit: dict[str, dict[int, float]] = {}
        self._unit_cache: dict[str, dict[int, float]] = {}
        self._vocabulary: Counter[str] = Counter()
        self._by_spelling: dict[str, str] = {}  # "shebaoka" -> 社保卡
        self._by_initials: dict[str, str] = {}  # "sbk" -> 社保卡
        self._by_sound: dict[str, str] = {}  # folded syllables -> word, for homophone typos
        self._phrases: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # synonyms, intent triggers
        self._stopwords = self.lexicon.stopwords
        # Single-character words that ask (想, 要, 吗): never read as a homophone typo of something else.
        self._asking = frozenset(w for w in self.lexicon.need_markers if len(w) == 1) & frozenset(self._stopwords)
        self._folder = SoundFolder(self.lexicon.fold_initials, self.lexicon.fold_finals)
        self._mark_words = {i.name: i.marks for i in self.lexicon.intents}
        self._pair_weight: dict[str, float] = {}
        self._phrase_use: dict[str, int] = {}  # lexicon phrase -> how many matters' own texts use it
        self._cached_search = self._new_search_cache()

    # Building ------------------------------------------------------------------------------

    @classmethod
    def from_world(cls, world, lexicon: Lexicon | None = None) -> MatterIndex:
        """From the embedded simulator's catalog (integrations.platform.simulator.world.World)."""
        return cls(lexicon).build(world.summaries.values(), world.guides, version=world.version)

    def build(self, summaries: Iterable[MatterSummary], guides: Mapping[str, Guide] | Iterable[Guide] = (), version: str | None = None,
              said: Mapping[str, Iterable[str]] | None = None) -> MatterIndex:
        """`said` adds, per matter code, more ways people speak of it (config/life_events.toml,
        config/said.toml)."""
        summaries = list(summaries)
        said = said or {}
        all_syllables()  # warm: pinyin typed as letters is split against it
        guide_of = dict(guides) if isinstance(guides, Mapping) else {g.code: g for g in guides}
        tk = tokenizer()
        matters: list[_Matter] = []
        vocabulary: Counter[str] = Counter()
        for s in summaries:
            matter = self._matter(s, guide_of.get(s.code), said.get(s.code, ()))
            matters.append(matter)
            for text, weight in matter.fields:
                if weight >= KEYWORD:
                    vocabulary.update(w for w in tk.lcut_for_search(text, HMM=False) if len(w) >= 2)
                    if 2 <= len(text) <= 8:
                        vocabulary[text] += 2
        for key, alternatives in self.lexicon.synonyms.items():
            vocabulary.update(w for w in (key, *alternatives) if 2 <= len(w) <= 8)
        vocabulary.update(w for w in self.lexicon.words if len(w) >= 2)
        for intent in self.lexicon.intents:
            vocabulary.update(w for w in intent.triggers + intent.marks if len(w) >= 2)
        for word, count in vocabulary.items():
            if len(word) <= 5 and all(is_han(c) for c in word):
                tk.add_word(word, max(tk.FREQ.get(word, 0), 2000 + count))
        # Fillers and scene words are dropped or discounted as the segmenter's words: one it does
        # not know (咋个, 莫得, 屋头, 老汉儿) would be cut into characters (莫 + 得), and a character
        # no matter uses counts against every matter. Below the domain's words, which win a tie.
        for word in (*self.lexicon.stopwords, *self.lexicon.weak):
            if 2 <= len(word) <= 5 and all(is_han(c) for c in word) and word not in vocabulary:
                tk.add_word(word, max(tk.FREQ.get(word, 0), 1000))

        char_credit: dict[str, dict[int, float]] = {}
        for i, m in enumerate(matters):
            for text, weight in m.fields:
                for ch in set(text):
                    slot = char_credit.setdefault(ch, {})
                    if slot.get(i, 0.0) < weight:
                        slot[i] = weight

        by_spelling: dict[str, str] = {}
        by_initials: dict[str, str] = {}
        by_sound: dict[str, str] = {}
        for word, _ in vocabulary.most_common():  # most frequent first: it keeps the key
            if not all(is_han(c) for c in word):
                continue
            syllables = syllables_of(word)
            by_spelling.setdefault("".join(syllables), word)
            by_initials.setdefault("".join(s[0] for s in syllables), word)
            by_sound.setdefault(self._folder.key(syllables), word)

        phrases: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # phrase -> (intents, alternatives)
        for intent in self.lexicon.intents:
            for trigger in intent.triggers:
                intents, alternatives = phrases.get(trigger, ((), ()))
                phrases[trigger] = ((*intents, intent.name), alternatives)
        for key, alternatives in self.lexicon.synonyms.items():
            intents, _ = phrases.get(key, ((), ()))
            phrases[key] = (intents, alternatives)

        self._matters = matters
        self._char_credit = char_credit
        self._unit_cache = {}
        self._vocabulary = vocabulary
        self._by_spelling, self._by_initials, self._by_sound = by_spelling, by_initials, by_sound
        self._phrases = phrases
        self._pair_weight = _pair_weights(matters, _asking_pairs(self.lexicon))
        named = ["\n".join(text for text, weight in m.fields if weight >= KEYWORD) for m in matters]
        self._phrase_use = {p: sum(1 for t in named if p in t) for p in phrases if len(p) > 1}
        self.version = version or _digest(summaries)
        self._cached_search = self._new_search_cache()  # answers of the catalog this replaces are gone
        return self

    def _matter(self, s: MatterSummary, guide: Guide | None, said: Iterable[str] = ()) -> _Matter:
        name = squeeze(core_name(s.name))
        fields: list[tuple[str, float]] = [(name, NAME)]
        precise = [name]
        if guide is not None:
            aliases = [squeeze(a) for a in guide.aliases]
            fields += [(a, ALIAS) for a in aliases if a]
            precise += [a for a in aliases if a]
            fields += [(squeeze(k), KEYWORD) for k in guide.keywords if squeeze(k)]
        fields += [(squeeze(w), KEYWORD) for w in said if squeeze(w)]
        fields += [(squeeze(s.department), DEPARTMENT), (squeeze(s.type.name), TYPE)]
        marks = frozenset(i.name for i in self.lexicon.intents if any(mark in name for mark in i.marks))
        return _Matter(s.code, s.name, s.department, s.has_guide or guide is not None, tuple(fields), tuple(precise), marks,
                       frozenset(precise) | {squeeze(s.name)})

    def __len__(self) -> int:
        return len(self._matters)

    # Searching -----------------------------------------------------------------------------

    def search(self, query: str, top: int = 5) -> list[Hit]:
        """The best matters for `query`, best first. Repeats are answered from the index's cache;
        each caller gets its own list (of immutable hits). A long text is searched for its need
        (`need`): at most need.NEED_CHARS characters, whatever was sent."""
        text = squeeze(self.need(query))
        if len(text) > SEARCH_CACHE_MAX_CHARS:
            return list(self._search(text, top))
        return list(self._cached_search(text, top))

    def search_uncached(self, query: str, top: int = 5) -> list[Hit]:
        """`search` computed afresh, bypassing (and not filling) the cache: for tests and tools."""
        return list(self._search(squeeze(self.need(query)), top))

    def rank(self, parsed: ParsedQuery, top: int = 10) -> list[tuple[Hit, float]]:
        """Weaker matches too, each with the share of the query it explains, for the hybrid
        search to weigh against its other evidence. `parsed` is what `parse` made of a need."""
        return self._scored(parsed.text, top, RANK_COVERAGE, RANK_SCORE, parsed, RANK_UNEXPLAINED)

    def need(self, query: str) -> str:
        """The part of a message the search reads: all of a short one, the clauses that ask for a
        matter from a long one (see bot/search/need.py), less a first clause that refuses what
        the next one replaces (算了不办护照了 就社保卡)."""
        return need.extract(without_refused(query), self._pair_weight, self.lexicon.need_markers, self.lexicon.courtesy, self._english_terms)

    def _english_terms(self, clause: str) -> int:
        """How many domain terms an English clause names (the lexicon's glossary)."""
        return len(self.lexicon.glossed(clause))

    def clauses(self, query: str, room: float) -> list[str]:
        """A long message's best clauses, best first, up to `room` characters in all (need.pieces)."""
        return need.pieces(query, self._pair_weight, self.lexicon.need_markers, self.lexicon.courtesy, room, ranked=True)

    def spells(self, letters: str) -> bool:
        """Whether Latin letters read as pinyin of a domain word (shebaoka, sbk)."""
        return self._spell(letters) != letters

    def _new_search_cache(self):
        # functools' C LRU: bounded, and safe to share between coroutines and threads (two that
        # miss the same text at once both compute it; the results are equal).
        return functools.lru_cache(maxsize=SEARCH_CACHE_SIZE)(self._search)

    def _search(self, text: str, top: int) -> tuple[Hit, ...]:
        """Search for an already normalised text (see `squeeze`)."""
        return tuple(hit for hit, _ in self._scored(text, top, MIN_COVERAGE, MIN_SCORE))

    def _scored(self, text: str, top: int, min_coverage: float, min_score: float, parsed: ParsedQuery | None = None,
                unexplained: float = 1.0) -> list[tuple[Hit, float]]:
        """Matters with the share of the query they explain. Words no matter uses count against
        every matter, times `unexplained`: fully for a confident answer, less for a ranking that
        other evidence will weigh (a letter's every detail is not a word of the catalog)."""
        parsed = parsed or self._parse(text)
        if not parsed.units or not self._matters:
            return []
        credits = [self._unit_credit(u) for u in parsed.units]
        n = len(self._matters)
        weights = []
        for unit, credit in zip(parsed.units, credits):
            df = sum(1 for c in credit.values() if c >= 0.5)
            if not df:  # explained by no matter at all: evidence the query is about something else
                weight = math.log(2 * n) * (0.35 if unit.single else 0.8) * unexplained
            else:
                idf = math.log((n + 1) / (df + 0.5))
                weight = min(idf, 3.0) * 0.35 if unit.single else idf
            if unit.typed in self.lexicon.weak:
                weight *= 0.25
            weights.append(weight)
        total = sum(weights)
        coverage: dict[int, float] = {}
        anchored: set[int] = set()  # matters matching more than loose single characters
        for unit, weight, credit in zip(parsed.units, weights, credits):
            for i, c in credit.items():
                coverage[i] = coverage.get(i, 0.0) + weight * c / total
            if not unit.single:
                anchored.update(i for i, c in credit.items() if c >= 0.5)
        candidates = [(cov, i) for i, cov in coverage.items() if cov >= min_coverage and i in anchored]
        if not candidates:
            return []
        candidates.sort(reverse=True)
        matched = [a for unit in parsed.units for a in unit.alternatives] + parsed.triggers
        marks = [w for intent in parsed.intents for w in self._mark_words.get(intent, ())]
        exact = text
        scored = []
        for cov, i in candidates[: max(60, top * 4)]:
            m = self._matters[i]
            score = cov * (0.7 + 0.3 * _precision(m.precise, matched, marks)) + self._intent_fit(m, parsed.intents)
            if any(t in m.precise[0] for t in parsed.triggers):
                score += LITERAL_BONUS
            if exact in m.exact:
                score += EXACT_BONUS
            if m.has_guide:
                score += GUIDE_PRIOR
            if score >= min_score:
                scored.append((-score, len(m.precise[0]), m.code, m, cov))
        scored.sort(key=lambda row: row[:3])
        return [(Hit(m.code, m.name, m.department, round(-neg, 4)), cov) for neg, _, _, m, cov in scored[:top]]

    def _intent_fit(self, m: _Matter, intents: set[str]) -> float:
        if not m.marks:
            return 0.0
        if intents:
            return INTENT_BONUS if m.marks & intents else -INTENT_PENALTY
        if "new" in m.marks:
            return DEFAULT_BONUS
        return -INTENT_PENALTY

    def _unit_credit(self, unit: _Unit) -> dict[int, float]:
        best: dict[int, float] = {}
        for alt in unit.alternatives:
            for i, c in self._alternative_credit(alt).items():
                if c > best.get(i, 0.0):
                    best[i] = c
        return best

    def _alternative_credit(self, alt: str) -> dict[int, float]:
        """How well each matter contains this text: 1 as a substring (times the field's weight),
        less as an abbreviation (失业金 in 失业保险金), nothing otherwise."""
        if len(alt) == 1:
            return self._char_credit.get(alt, {})
        cached = self._unit_cache.get(alt)
        if cached is not None:
            return cached
        pools = [self._char_credit.get(ch) for ch in set(alt)]
        result: dict[int, float] = {}
        if all(pools):
            pools.sort(key=len)
            candidates = set(pools[0]).intersection(*pools[1:])
            loose = re.compile(".{0,3}".join(map(re.escape, alt)))
            for i in candidates:
                best = 0.0
                for text, weight in self._matters[i].fields:
                    if weight <= best:
                        continue
                    if alt in text:
                        best = weight
                    elif len(alt) >= 3:
                        found = loose.search(text)
                        if found:
                            best = max(best, weight * 0.8 * (len(alt) / len(found.group())) ** 0.35)
                if best:
                    result[i] = best
        if len(self._unit_cache) > UNIT_CACHE_SIZE:
            self._unit_cache.clear()
        self._unit_cache[alt] = result
        return result

    # Reading the query -------------------------------------------------------------------

    def parse(self, query: str) -> ParsedQuery:
        return self._parse(squeeze(query))

    def _parse(self, text: str) -> ParsedQuery:
        text = self._from_letters(text).replace(" ", "")
        corrected = self._correct(text)
        parsed = ParsedQuery(text=text, corrected=corrected)
        tk = tokenizer()
        for piece, phrase in self._phrase_spans(corrected):
            if phrase is None:
                for word in tk.lcut(piece, HMM=False):
                    if word.strip() and word not in self._stopwords:
                        parsed.units.append(_Unit(word, (word,)))
                continue
            intents, alternatives = self._phrases[phrase]
            parsed.intents.update(intents)
            parsed.triggers.extend([phrase] if intents else [])
            if alternatives:
                parsed.units.append(_Unit(phrase, (phrase, *[a for a in alternatives if a != phrase])))
        if len(parsed.intents) > 1:
            parsed.intents.discard("new")  # 开 + 到期: the specific operation is what is asked
        if "restore" in parsed.intents:  # 停业了半年, 想恢复营业; 丢了又找到了: what was, not what is asked
            parsed.intents.difference_update(("close", "lost"))
        if "pause" in parsed.intents and not any(t in _CLOSING_WORDS for t in parsed.triggers):
            parsed.intents.discard("close")  # 先关门歇一段时间: a pause (歇业), not a closing (注销)
        return parsed

    def _phrase_spans(self, text: str) -> list[tuple[str, str | None]]:
        """Split text into lexicon phrases and the pieces between them, choosing the phrases that
        cover the most characters (开个体户 -> 开 + 个体户, not 开个 + 体户). A one-character
        phrase (开, 改, 卖) counts only where it stands as a word of its own: not the 卖 of 外卖.
        Of two readings that cover as much, the one whose phrases the matters' own texts use
        more wins: 卖烟花 is 卖 + 烟花 (named in matters), not 卖烟 + 花."""
        n = len(text)
        alone, at = set(), 0
        for word in tokenizer().lcut(text, HMM=False):
            if len(word) == 1:
                alone.add(at)
            at += len(word)
        best: list[tuple[int, int, int]] = [(0, 0, 0)] * (n + 1)  # (covered, -phrases, use in matters) up to position i
        back: list[tuple[int, bool]] = [(0, False)] * (n + 1)
        for i in range(1, n + 1):
            best[i], back[i] = best[i - 1], (i - 1, False)
            for length in range(1, min(MAX_PHRASE, i) + 1):
                phrase = text[i - length:i]
                if phrase in self._phrases and (length > 1 or i - 1 in alone):
                    prev = best[i - length]
                    candidate = (prev[0] + length, prev[1] - 1, prev[2] + self._phrase_use.get(phrase, 0))
                    if candidate > best[i]:
                        best[i], back[i] = candidate, (i - length, True)
        pieces: list[tuple[str, str | None]] = []
        i = n
        while i > 0:
            j, is_phrase = back[i]
            if is_phrase:
                pieces.append((text[j:i], text[j:i]))
            elif pieces and pieces[-1][1] is None:
                pieces[-1] = (text[j:i] + pieces[-1][0], None)
            else:
                pieces.append((text[j:i], None))
            i = j
        pieces.reverse()
        return pieces

    def _from_letters(self, text: str) -> str:
        """Pinyin typed as letters becomes the domain words it spells: full (shebaoka, hukou
        qianyi) or initials (sbk). Letters that spell nothing we know are left as they are."""
        text = _SPACED_RUN.sub(lambda m: self._spell_spaced(m.group().split()), text)
        return re.sub(r"[a-z]+", lambda m: self._spell(m.group()) if len(m.group()) <= MAX_SPELLED else m.group(), text)

    def _spell_spaced(self, tokens: list[str]) -> str:
        """Pinyin typed a syllable at a time (wo xiang ban ge ti hu, shen fen zheng diu le): each
        letter run alone spells nothing, so runs of syllables are read as the words they spell
        together, broken only where the person put a space. Runs that are not all syllables are
        left as typed (English, or pinyin words: yibaoka buban)."""
        if not spaced_syllables(tokens, least=2):
            return " ".join(tokens)
        n = len(tokens)
        best: list[tuple[int, int, str] | None] = [None] * (n + 1)  # (syllables covered, -words, text)
        best[0] = (0, 0, "")
        for i in range(n):
            if best[i] is None:
                continue
            covered, words, out = best[i]
            for j in range(i + 2, min(n, i + 8) + 1):
                word = self._by_spelling.get("".join(tokens[i:j]))
                if word is not None:
                    candidate = (covered + j - i, words - 1, out + word)
                    if best[j] is None or candidate[:2] > best[j][:2]:
                        best[j] = candidate
            if best[i + 1] is None or best[i + 1][:2] < (covered, words):
                best[i + 1] = (covered, words, f"{out} {tokens[i]} ")  # a syllable alone stays as typed
        return best[n][2] if best[n] is not None and best[n][0] else " ".join(tokens)

    def _spell(self, letters: str) -> str:
        if letters in self._phrases:  # ktv, a word of its own
            return letters
        n = len(letters)
        # best[i] = (letters covered, -words) reading letters[:i]; full spellings beat initials
        best: list[tuple[float, int, str] | None] = [None] * (n + 1)
        best[0] = (0.0, 0, "")
        for i in range(n):
            if best[i] is None:
                continue
            covered, words, out = best[i]
            for j in range(i + 1, min(n, i + 30) + 1):
                piece = letters[i:j]
                options = []
                if piece in self._by_spelling and split_syllables(piece):
                    options.append((len(piece), self._by_spelling[piece]))
                if 3 <= len(piece) <= 8 and piece in self._by_initials:
                    options.append((len(piece) * 0.9, self._by_initials[piece]))
                for gain, word in options:
                    candidate = (covered + gain, words - 1, out + word)
                    if best[j] is None or candidate[:2] > best[j][:2]:
                        best[j] = candidate
            if best[i + 1] is None or best[i + 1][0] < covered:
                best[i + 1] = (covered, words, out + letters[i])  # an unknown letter stays
        result = best[n]
        return result[2] if result and result[0] >= n * 0.6 else letters

    def _correct(self, text: str) -> str:
        """Fix homophone and look-alike typos (户口牵移, 结昏, 户口薄) in stretches that neither the
        domain vocabulary nor everyday Chinese explain. A fix keeps at least one character as
        typed and never cuts through a word that is already right."""
        n = len(text)
        known = [False] * n
        words: list[tuple[int, int]] = []
        for i in range(n):
            for length in range(1, min(MAX_PHRASE, n - i) + 1):
                word = text[i:i + length]
                if (length > 1 and word in self._vocabulary) or word in self._phrases or word in self._stopwords:
                    words.append((i, i + length))
                    for k in range(i, i + length):
                        known[k] = True
        if all(known) or not any(is_han(c) for c in text):
            return text
        tk = tokenizer()
        syllables: list[str] | None = None
        replacements: list[tuple[int, int, str]] = []
        for length in (4, 3, 2):
            for i in range(n - length + 1):
                j = i + length
                if all(known[i:j]) or any(a < j and i < b and not (i <= a and b <= j) for a, b in words):
                    continue
                span = text[i:j]
                if not all(is_han(c) for c in span) or tk.FREQ.get(span):
                    continue
                if any(a < j and i < b for a, b, _ in replacements):
                    continue
                look_alike = "".join(self.lexicon.confusables.get(c, c) for c in span)
                if look_alike != span and look_alike in self._vocabulary:
                    replacements.append((i, j, look_alike))
                    continue
                if syllables is None:
                    syllables = syllables_of(text) if all(is_han(c) for c in text) else [syllables_of(c)[0] if is_han(c) else c for c in text]
                word = self._by_sound.get(self._folder.key(syllables[i:j]))
                if word and len(word) == length and any(a == b for a, b in zip(word, span)) \
                        and not any(a != b and b in self._asking for a, b in zip(word, span)):
                    # An asking word typed whole is no typo: 今年想 is not 今年限 (想 / 限 sound alike).
                    replacements.append((i, j, word))
        for a, b, word in sorted(replacements, reverse=True):
            text = text[:a] + word + text[b:]
        return text

    def explain(self, query: str) -> dict:
        parsed = self.parse(query)
        return {
            "text": parsed.text, "corrected": parsed.corrected, "intents": sorted(parsed.intents),
            "units": [{"typed": u.typed, "alternatives": list(u.alternatives)} for u in parsed.units],
        }


def _precision(texts: tuple[str, ...], matched: list[str], marks: list[str]) -> float:
    """The largest share of one name or alias that the query covers: its words fully, the
    official words for the operation asked for (挂失 for 丢了) a little less."""
    best = 0.0
    for text in texts:
        if not text:
            continue
        covered = [0.0] * len(text)
        for words, value in ((marks, 0.6), (matched, 1.0)):
            for word in words:
                start = text.find(word)
                while start >= 0:
                    for k in range(start, start + len(word)):
                        covered[k] = value
                    start = text.find(word, start + 1)
        share = sum(covered) / len(text)
        if share > best:
            best = share
    return best


def _pair_weights(matters: list[_Matter], asking: Collection[str] = ()) -> dict[str, float]:
    """Inverse document frequency of each Han character pair in the matters' own texts; the pairs
    of asking words (`asking`) weigh nothing."""
    seen: Counter[str] = Counter()
    for m in matters:
        pairs = {text[i:i + 2] for text, weight in m.fields if weight >= KEYWORD for i in range(len(text) - 1)}
        seen.update(p for p in pairs if is_han(p[0]) and is_han(p[1]) and p not in asking)
    n = len(matters) or 1
    return {pair: math.log(1 + n / count) for pair, count in seen.items()}


_QUESTION_WORDS = ("哪", "多少", "多久", "有没有")
_CLOSING_WORDS = frozenset(("注销", "注销掉", "销户", "撤销", "销掉", "销了"))  # a closing asked for by name


def _asking_pairs(lexicon: Lexicon) -> frozenset[str]:
    """The character pairs of the words that ask (the need markers, and the stopwords that contain
    one or a question word: 要什么, 有没有, 准备什么, 哪个部门). A pair of them that is rare in the
    catalog (要什, 有没, 哪些, 准备: a few matters' phrases use them) told a letter's clauses nothing
    about matters and counted twice, with the lift for asking: 想知道要什么条件 outweighed the clause
    that named the child's 自闭症, 费用有没有补助 the one that named 托养 (session 11)."""
    words = [w for w in lexicon.need_markers if len(w) > 1]
    words += [w for w in lexicon.stopwords if len(w) > 1 and any(k in w for k in (*lexicon.need_markers, *_QUESTION_WORDS))]
    return frozenset(w[i:i + 2] for w in words for i in range(len(w) - 1))


def _digest(summaries: list[MatterSummary]) -> str:
    body = "\n".join(sorted(f"{s.code}\t{s.name}\t{s.department}" for s in summaries))
    return hashlib.sha256(body.encode()).hexdigest()[:12]
