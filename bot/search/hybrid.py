"""The matter search as the bot uses it: rank every matter and bundle, then decide what to say.

Three kinds of evidence rank the catalog's matters and 一件事 bundles for what a person wrote:
- the lexicon-driven index (index.py): colloquial phrases, intents, pinyin and typos, read the
  way the curated lexicon says people speak;
- BM25 over character n-grams of every field (bm25.py): whatever words the guides use;
- sentence vectors (semantic.py): meaning across wording and language (English questions).
They are fused by a weighted sum of their normalised scores (weights chosen on the tuning sets,
docs/search.md). Ranking always produces a list; a separate decision says what the list is
worth (`Found.verdict`):
- "junk": the message cannot be a request (bye, qq, emoji): never a matter;
- "matter": one clear winner, shown at once;
- "candidates": in the domain but not sure which: the best few, to choose from;
- "out_of_scope": no evidence that the catalog serves it (weather, stocks, chit-chat), or more
  evidence for a topic the catalog does not serve (config/out_of_scope.toml) than for a matter.

A message is read for its need first (need.py): at most need.NEED_CHARS characters reach any
stage, and of a letter at most LETTER_CLAUSES more clauses (each that short) reach the lexicon
index alone, so a 4,000-character letter costs about what a short question does.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.search import need as need_text
from bot.search import writer
from bot.search.bm25 import CharacterBM25
from bot.search.index import MIN_COVERAGE, MIN_SCORE, Hit, MatterIndex
from bot.search.lexicon import Lexicon, english_sentence
from bot.search.probe import DomainProbe
from bot.search.semantic import Encoder, SemanticIndex, shared_encoder
from bot.search.text import core_name, is_han, squeeze
from dialogs.understand.answers import OF_A_DEATH, without_refused
from integrations.platform.models import Bundle, Guide, MatterSummary, MatterType

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
LIFE_EVENTS = ROOT / "config" / "life_events.toml"
SAID = ROOT / "config" / "said.toml"
OUT_OF_SCOPE_TOPICS = ROOT / "config" / "out_of_scope.toml"
# The lexicon index credits a matter with every character and word of its phrases: a long
# colloquial sentence (老人社保卡密码忘了取不了钱) would credit it with 老人, 取, 钱 for any question.
# It reads said.toml's alias-like phrases only; BM25 and the vectors read them all (measured on
# the tuning sets, docs/search.md).
LEXICON_SAID_CHARS = 6
# Likewise a matter's sentence vectors and its whole-document BM25 read said phrases of up to
# this many characters: a matter is as near a question as its nearest text, and a long sentence of
# circumstance (家里老人住院了我在外地上班…) comes near many questions that are not about it. The
# said phrases' own BM25 (W_SAID) reads them all: there their situation's words count for the
# matter without standing in for it (session 14, docs/search.md).
FIELD_SAID_CHARS = 16
VECTOR_CACHE = ROOT / "var" / "search"

MATTER, CANDIDATES, OUT_OF_SCOPE, JUNK = "matter", "candidates", "out_of_scope", "junk"
BUNDLE_DEPARTMENT = "一件事一次办"  # what a bundle shows where a matter shows its department
BUNDLE_TYPE = MatterType(code=0, name="一件事")

# BM25 field weights: how much a field says about what the matter is.
FIELDS = {"name": 3.0, "alias": 2.0, "keyword": 1.5, "said": 1.5, "result": 1.0, "situation": 0.6, "department": 0.5,
          "question": 0.3, "material": 0.3, "condition": 0.3, "member": 0.5, "description": 0.8}

# Fusion weights and decision thresholds, chosen on the tuning sets (docs/search.md).
W_LEXICAL, W_BM25, W_SEMANTIC = 1.0, 0.5, 2.0
# BM25 over each document's said phrases alone (config/said.toml, life events), relative to the
# best: in the whole-document BM25 a matter's situations are diluted by its name, materials and
# conditions, and an uncommon matter the lexicon index does not know loses to a common one it
# does. Ranking only: the in-domain model reads the fused score without it (docs/search.md,
# "Session 14").
W_SAID = 0.5
# It reads a letter whole (its first LETTER_SAID_CHARS characters), not only the need cut from it:
# the situation a said phrase tells (新建的液化气站验收完了) is in the circumstances, and the question
# is often only 请问是这样吗 (docs/search.md, "Session 15").
LETTER_SAID_CHARS = 200
# And there it counts for more (SAID_LETTER times W_SAID, chosen on the tuning sets: 1.5 to 6 all
# gain, 4 most): the other legs read only the need, which is all a short message says but a small
# part of what a letter does.
SAID_LETTER, SAID_LETTER_FROM = 4.0, 40
SAID_ACCEPTED = 0.5  # of W_SAID, where a lexicon match explains most of the message (孩子上高二 is 高中's, not 幼儿园's)
SEMANTIC_FLOOR = 0.25  # cosine below which a text is no nearer a matter than to anything else
# The in-domain model (`in_domain`): fitted by `python -m bench.search_decide` on the tuning sets.
IN_DOMAIN = 0.5  # `in_domain` below which the catalog has nothing for the message
IN_DOMAIN_FEATURES = ("accepted", "lexical", "semantic", "foreign", "best", "margin", "BM25 share",
                      "topic cosine", "topic lead", "topic share", "length", "domain probe")
IN_DOMAIN_BIAS = -3.019
IN_DOMAIN_WEIGHTS = (0.959, 1.845, 2.583, -0.607, 0.815, 0.542, 1.506, -4.156, -6.925, -5.578, 0.639, 0.373)
TOPIC_LEAD_FLOOR = -0.2  # a topic further than this behind the nearest matter says nothing more
NOT_THEIRS_SHARE = 0.5  # of the best score before, the least left when what cannot serve the writer is left out (writer.py)
FOREIGN_NATIONALS = "foreign_nationals"  # what a foreign writer is told a citizen's matter left out for them is done by (writer.py)
ELSEWHERE = "elsewhere"  # what a need to be met in another city is told (writer.done_elsewhere)
BANKS = "banks"  # what a need only a bank serves is told (writer.asks_a_bank)
FOREIGN_MARRIAGE = "foreign_marriage"  # what a citizen marrying a foreigner is told (writer.marries_a_foreigner)
FOREIGN_PERMITS = "foreign_permits"  # the out-of-scope topic that says where a foreigner's permits are done
TOPIC_TOLD = 0.45  # an out-of-scope message this near its topic is told where that is done (`Topic.told`)
CLEAR = 2.0  # fused score of a winner taken at once ...
CLEAR_MARGIN = 0.5  # ... when it leads the next by this much
POOL = 40  # hits per evidence considered for fusion
EXACT_LIFT = 1.0  # added to the document a message names exactly
BUNDLE_PRIOR = 0.3  # added to a bundle with any evidence (tuned: docs/search.md)
# An English question's lexicon and BM25 evidence read only the words the glossary knows, so they
# explain all of it ("recommend a good hotpot restaurant near here" is 餐饮, fully): below this share
# of its content words read as something the catalog has (Lexicon.english_share), that evidence
# counts in proportion (session 12: measured 0.35, 0.5, 0.65, 0.8 on the tuning sets and our probes).
EN_SHARE = 0.5
LETTER_CHARS = 64  # of a letter's best clauses (the need's among them), the others read one by one
LETTER_CLAUSES = 2  # of those, the most read (the best first): each costs up to 2 ms of CPU
CLAUSE_POOL = 10  # hits per clause: a clause points at few documents
CLAUSE_ACCEPT = True
CLAUSE_SUPPORT = 0.25  # of what a document's other clauses add to its best
SHORT_CLAUSES = 2  # a short message's clauses read alone for acceptance, the longest first (0: none)
ASKED_TAIL_CHARS = 2  # a tail of stopwords this long after the last named word is cut (`_without_asked_tail`)
CANDIDATE_SHARE = 0.4  # of the best hit's score, the least a candidate shown has
#: What a message about a death says: a candidate list shows a bereavement's matters
#: (dialogs.understand.answers.OF_A_DEATH) only with it.
DEATH_CUE = re.compile(r"死|去世|过世|走了|逝|丧|遗|后事|身后|殡|火化|没了|不在了|牺牲|亡|抚恤|供养|老了|died|death|dead|passed away|funeral|deceased|widow")
#: A message asking for every procedure a need takes (开个小饭馆要办哪些手续, 开公司都要办什么): a
#: 一件事 bundle among the first hits that covers the first matter is the answer, ahead of it.
ALL_PROCEDURES = re.compile(r"哪些(?:手续|证|事|事情|流程|东西要办)|办(?:哪些|些什么|些啥|哪几样|哪几个)|都要办|都得办|一共要办|全套手续|所有手续")
#: The same for a child abducted or lost (被拐儿童身份证明, 打拐DNA): shown in a list only when told of.
ABDUCTION_CUE = re.compile(r"拐|失踪|走失|丢失的孩子|孩子丢了|找孩子|寻亲|被偷|被抢|abduct|missing child|trafficked")
OF_AN_ABDUCTION = re.compile(r"被拐|打拐|寻亲")
#: (what the message must say, the matters a list leaves out without it)
SHOWN_ONLY_WHEN_TOLD = ((DEATH_CUE, OF_A_DEATH), (ABDUCTION_CUE, OF_AN_ABDUCTION))
#: Who the business is (session 27): a message that says 公司 and not 个体 is not a sole trader's, and
#: one that says 个体户 and not 公司 is not a company's. 公司 reads as 企业 / 市场主体 to the lexicon,
#: words a sole trader's texts use too, so 我们公司的营业执照要注销了 was a clear 个体工商户注销登记.
#: Ranking only: the documents of the other subject lose SUBJECT_CONFLICT.
SAYS_COMPANY = re.compile(r"公司|有限责任|股份|集团")
SAYS_SOLE_TRADER = re.compile(r"个体|小店|摊")
SOLE_TRADERS = re.compile(r"个体工商户")
COMPANIES = re.compile(r"(?<!非)公司")
SUBJECT_CONFLICT = 0.5
#: A person's own name changed (我想改名字, 给孩子改个名) against a business's or licensee's 名称
#: (探矿权人名称变更登记 led 我想改名字，派出所说要去政务中心？).
SAYS_PERSONAL_NAME = re.compile(r"改名|名字|姓名|改姓|随母姓|随父姓")
SAYS_AN_ENTITY = re.compile(r"公司|企业|单位|店|厂|名称|商号|字号|执照|许可|经营|营业|铺|摊|卖部|协会|学校")
ENTITY_NAME = re.compile(r"名称|更名|单位|学校|社会团体|旅馆|机构")
#: 外地人 are people from elsewhere in China, not foreigners: 租给外地人要去派出所登记吗 listed
#: 对外国人的住宿登记 first (one character apart). A message that speaks of them and of no foreigner
#: ranks the foreigners' matters FOREIGNERS_CONFLICT lower (the whole of a usual best score: such a
#: message is hardly ever a foreigner's).
FOREIGNERS_CONFLICT = 1.0
SAYS_FROM_ELSEWHERE = re.compile(r"外地|外省|外县|外市|异地")
FOREIGNERS = re.compile(r"外国人|外籍|境外")
FIND_CACHE_SIZE = 4096  # distinct (question, top) verdicts kept, the oldest dropped first


@dataclass(frozen=True, slots=True)
class Document:
    """A matter or a bundle, as the search sees it."""

    code: str
    name: str
    department: str
    kind: str = "matter"  # or "bundle"
    members: tuple[str, ...] = ()  # a bundle's matter codes


@dataclass(frozen=True, slots=True)
class Found:
    """What the search made of a message: the verdict, and the ranked hits behind it."""

    verdict: str
    hits: tuple[Hit, ...]
    need: str = ""
    #: Out of scope and nearest a topic that says where it is done instead (config/out_of_scope.toml
    #: `told`: a key of templates/matters/elsewhere.j2; `hall`: a hall id to show with it); beside
    #: matters found, what of the message is met elsewhere (BANKS: a bank card lost with an ID card).
    told: str = ""
    hall: str = ""

    @property
    def shown(self) -> tuple[Hit, ...]:
        """The hits a person is shown: the winner alone, the candidates, or nothing."""
        if self.verdict == MATTER:
            return self.hits[:1]
        return self.hits if self.verdict == CANDIDATES else ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """What each kind of evidence says about every document, for one message."""

    need: str
    lexical: np.ndarray  # the lexicon-driven index's score, 0 where it found nothing
    bm25: np.ndarray  # relative to the best document's
    semantic: np.ndarray  # cosine similarity above SEMANTIC_FLOOR
    accepted: float  # the best lexical score of a match covering most of the message
    bm25_share: float  # the best BM25 score as a share of the most the message's terms allow
    foreign: bool  # no Chinese in it (English): read by the sentence vectors and the lexicon's glosses
    exact: int  # the document the message names exactly (its name or an alias), or -1
    bundles: np.ndarray  # which documents are bundles
    topic_cosine: float = 0.0  # the nearest out-of-scope topic phrase's cosine (config/out_of_scope.toml)
    topic: int = -1  # which topic that is (its index), -1 for none
    topic_share: float = 0.0  # the best topic's BM25 over the message's pairs, as a share of the most they allow
    chars: int = 1  # the message's length as read (at most need.READ_CHARS): a letter is rarely chit-chat
    said: np.ndarray | None = None  # BM25 over the said phrases alone, relative to the best; None without them
    whole_semantic: float | None = None  # the best cosine (above the floor) of the message with what it asks about the matter
    vector: np.ndarray | None = None  # the message's sentence vector (None without the model)
    sounds: float = 0.0  # the domain probe's log-odds that it asks for something the catalog serves (bot/search/probe.py)

    def fused(self, lexical: float, bm25: float, semantic: float, bundle_prior: float = 0.0) -> np.ndarray:
        """The score the in-domain model was fitted on: the three kinds of evidence weighed."""
        fused = lexical * self.lexical + bm25 * self.bm25 + semantic * self.semantic
        # A bundle covers its matters: as likely as the best of them, it is the better answer.
        fused += bundle_prior * (self.bundles & (fused > 0))
        if self.exact >= 0:
            fused[self.exact] += EXACT_LIFT
        return fused

    def ranked(self, fused: np.ndarray, said: float = W_SAID) -> np.ndarray:
        """The score hits are ranked by: `fused` plus the said phrases' BM25."""
        if self.accepted > 0:  # the lexicon understood the message as a whole: its reading leads
            said *= SAID_ACCEPTED
        if self.chars > SAID_LETTER_FROM:
            said *= SAID_LETTER
        return fused + said * self.said if said and self.said is not None else fused


def domain_features(evidence: Evidence, best: float, margin: float) -> tuple[float, ...]:
    """What the in-domain model reads (IN_DOMAIN_FEATURES): how well the best matter explains the
    message (the lexicon's strict and ranking scores, the cosine, BM25's share, the fused score
    and its lead), and how much nearer the message comes to a topic the catalog does not serve
        than to any matter: a shared domain word (公积金, 养老) is not the catalog having the need; and
    the message's length (log): people who write a letter to the service mostly ask it for
    something, while its evidence is spread over clauses and weaker than a short question's."""
    semantic = float(evidence.semantic.max(initial=0.0)) if evidence.whole_semantic is None else evidence.whole_semantic
    nearest_matter = semantic + SEMANTIC_FLOOR if semantic > 0 else SEMANTIC_FLOOR
    return (evidence.accepted, float(evidence.lexical.max(initial=0.0)), semantic, float(evidence.foreign), best, margin,
            evidence.bm25_share, evidence.topic_cosine, max(evidence.topic_cosine - nearest_matter, TOPIC_LEAD_FLOOR),
            evidence.topic_share, math.log(max(evidence.chars, 1)), evidence.sounds)


# Words that ask about a matter without naming one (材料清单, 具体流程, 相关信息), beside the lexicon's
# stopwords (材料, 手续, 流程, 要带什么 ...).
ASKING_ONLY = frozenset({"清单", "明细", "列表", "一览", "全部", "所有", "详细", "具体", "相关", "信息", "事项", "东西",
                         "都", "哪些", "有哪些", "那些", "这些", "一下", "说说", "告诉我", "列一下", "发我", "看看"})


@functools.lru_cache(maxsize=4)
def _asking_words(stopwords: frozenset[str]) -> tuple[frozenset[str], int]:
    """The request words and the longest of them, once per lexicon."""
    words = stopwords | ASKING_ONLY
    return words, max(map(len, words), default=0)


def _only_asks(text: str, stopwords: frozenset[str]) -> bool:
    """Whether a squeezed text is made only of request words (a longest-first cover of it by the
    stopwords and ASKING_ONLY), so it names nothing to search for."""
    words, longest = _asking_words(stopwords)
    i = 0
    while i < len(text):
        for size in range(min(longest, len(text) - i), 0, -1):
            if text[i:i + size] in words:
                i += size
                break
        else:
            return False
    return True


def lead(scores: np.ndarray) -> tuple[float, float]:
    """The best score and how far it leads the second (all of it when there is no second)."""
    if len(scores) < 2:
        best = float(scores.max(initial=0.0))
        return best, best
    second, first = np.partition(scores, -2)[-2:]
    return float(first), float(first - second)


def in_domain(evidence: Evidence, best: float, margin: float) -> float:
    """How likely the catalog serves the message at all (0..1): a logistic model of the
    evidence, fitted on the tuning sets' answerable, out-of-scope and junk questions."""
    x = IN_DOMAIN_BIAS + sum(w * f for w, f in zip(IN_DOMAIN_WEIGHTS, domain_features(evidence, best, margin)))
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class LifeEvent:
    name: str
    says: tuple[str, ...]
    matters: tuple[str, ...]
    bundles: tuple[str, ...]
    lexicon_chars: int | None = None  # the lexicon index reads only phrases this short (None: all)


def load_life_events(path: Path = LIFE_EVENTS) -> tuple[LifeEvent, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(LifeEvent(e["name"], tuple(e.get("says", ())), tuple(e.get("matters", ())), tuple(e.get("bundles", ())))
                 for e in data.get("event", []))


@dataclass(frozen=True)
class Topic:
    """A family of needs the catalog does not serve (config/out_of_scope.toml), and where such a
    need is met instead when there is one place to say (`told`, `hall`)."""

    name: str
    says: tuple[str, ...]
    told: str = ""
    hall: str = ""


def load_topics(path: Path = OUT_OF_SCOPE_TOPICS) -> tuple[Topic, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(Topic(t["name"], tuple(t.get("says", ())), t.get("told", ""), t.get("hall", "")) for t in data.get("topic", []))


def load_said(path: Path = SAID) -> tuple[LifeEvent, ...]:
    """How people speak of each matter and bundle (config/said.toml), as one-document events:
    every leg of the search reads them exactly as it reads a life event's phrases."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(LifeEvent(f"said of {e['name']}", tuple(e.get("says", ())), (e["name"],), (), LEXICON_SAID_CHARS)
                 for e in [*data.get("matter", []), *data.get("bundle", [])])


class MatterSearch:
    """The whole search over one catalog version. Build once (in a thread: it takes seconds);
    `find` is read-only and safe from many threads."""

    def __init__(self, lexical: MatterIndex, documents: list[Document], bm25: CharacterBM25, semantic: SemanticIndex | None,
                 encoder: Encoder | None, exact: dict[str, int], topics: tuple[CharacterBM25, SemanticIndex | None] | None = None,
                 said_bm25: CharacterBM25 | None = None, topic_list: tuple[Topic, ...] = (), probe: DomainProbe | None = None):
        self.lexical = lexical
        self.documents = documents
        self.version = lexical.version
        self._bm25 = bm25
        self._said_bm25 = said_bm25
        self._semantic = semantic
        self._encoder = encoder
        self._position = {d.code: i for i, d in enumerate(documents)}
        self._bundles = {d.code: d for d in documents if d.kind == "bundle"}
        self._is_bundle = np.array([d.kind == "bundle" for d in documents], dtype=bool)
        self._exact = exact
        self._topic_bm25, self._topic_vectors = topics or (None, None)
        self._topics = topic_list
        self._permits_topic = next((t for t in topic_list if t.told == FOREIGN_PERMITS), None)
        self._sole_trader = np.array([bool(SOLE_TRADERS.search(d.name)) for d in documents], dtype=bool)
        self._company = np.array([bool(COMPANIES.search(d.name)) and not SOLE_TRADERS.search(d.name) for d in documents], dtype=bool)
        self._foreigners = np.array([bool(FOREIGNERS.search(d.name)) for d in documents], dtype=bool)
        self._entity_name = np.array([bool(ENTITY_NAME.search(d.name)) for d in documents], dtype=bool)
        named: set[tuple[str, str]] = set()
        self._first_of_name = np.array([(d.name, d.department) not in named and not named.add((d.name, d.department))
                                        for d in documents], dtype=np.float32)
        self._citizens_only = np.array([bool(writer.CITIZENS_ONLY.search(d.name)) for d in documents], dtype=bool)
        self._between_citizens = np.array([bool(writer.BETWEEN_CITIZENS.search(d.name)) for d in documents], dtype=bool)
        self._probe = probe if probe is not None and encoder and probe.reads(encoder.name, encoder.dimensions) else None
        # Verdicts already reached: written by the one thread that searches, read by the event
        # loop before it hands a question to that thread (`known`). Plain dict reads and writes
        # are atomic, so the loop needs no lock; oldest first out keeps it bounded.
        self._verdicts: dict[tuple[str, int], Found] = {}

    # Building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, summaries: Iterable[MatterSummary], guides: Mapping[str, Guide] | Iterable[Guide] = (),
              bundles: Iterable[Bundle] = (), version: str | None = None, *, lexicon: Lexicon | None = None,
              encoder: Encoder | None | bool = True, cache_dir: Path | None = VECTOR_CACHE,
              life_events: Sequence[LifeEvent] | None = None, topics: Sequence[Topic] | None = None,
              probe: DomainProbe | bool | None = True) -> MatterSearch:
        """`encoder=True` uses the process's shared sentence encoder, None searches without one.
        `life_events=None` reads config/life_events.toml and config/said.toml, `topics=None`
        config/out_of_scope.toml; `probe=True` bot/search/domain_probe.json (None: no probe)."""
        summaries = list(summaries)
        bundles = list(bundles)
        guide_of = dict(guides) if isinstance(guides, Mapping) else {g.code: g for g in guides}
        events = (*load_life_events(), *load_said()) if life_events is None else life_events
        said = _said(events, summaries, bundles)
        short = _said(events, summaries, bundles, lexical=True)
        fielded = {code: [w for w in phrases if len(w) <= FIELD_SAID_CHARS] for code, phrases in said.items()}
        # Bundles are read by the lexicon index too, as matters named by their name and aliases.
        as_matters = [MatterSummary(code=b.code, name=b.name, department=BUNDLE_DEPARTMENT, type=BUNDLE_TYPE) for b in bundles]
        lexical_said = {**short, **{b.code: [*b.aliases, *short.get(b.code, ())] for b in bundles}}
        lexical = MatterIndex(lexicon).build([*summaries, *as_matters], guide_of, version=version, said=lexical_said)

        documents: list[Document] = []
        fields: list[list[tuple[str, float]]] = []
        texts: list[list[str]] = []
        aliases: list[Sequence[str]] = []
        for s in summaries:
            documents.append(Document(s.code, s.name, s.department))
            aliases.append(guide_of[s.code].aliases if s.code in guide_of else ())
            f, t = _matter_fields(s, guide_of.get(s.code), fielded.get(s.code, ()))
            fields.append(f)
            texts.append(t)
        names = {s.code: s.name for s in summaries}
        for b in bundles:
            members = tuple(code for code in b.matters if code in names)
            documents.append(Document(b.code, b.name, BUNDLE_DEPARTMENT, "bundle", members))
            f = [(squeeze(b.name), FIELDS["name"]), (squeeze(b.description), FIELDS["description"])]
            f += [(squeeze(a), FIELDS["alias"]) for a in b.aliases]
            f += [(squeeze(core_name(names[c])), FIELDS["member"]) for c in members]
            f += [(squeeze(w), FIELDS["said"]) for w in fielded.get(b.code, ())]
            fields.append(f)
            texts.append([b.name, *b.aliases, *fielded.get(b.code, ())])
            aliases.append(b.aliases)
        bm25 = CharacterBM25(fields)
        said_bm25 = CharacterBM25([[(squeeze(w), 1.0) for w in said.get(d.code, ())] for d in documents])
        if encoder is True:
            encoder = shared_encoder()
        semantic = SemanticIndex.build(texts, encoder, cache_dir) if encoder else None
        topics = load_topics() if topics is None else topics
        topic_bm25 = CharacterBM25([[(squeeze(w), 1.0) for w in t.says] for t in topics])
        topic_vectors = SemanticIndex.build([t.says for t in topics], encoder, cache_dir) if encoder and topics else None
        return cls(lexical, documents, bm25, semantic, encoder, _exact_names(documents, aliases), (topic_bm25, topic_vectors),
                   said_bm25, tuple(topics), DomainProbe.load() if probe is True else probe or None)

    def __len__(self) -> int:
        return len(self.documents)

    def bundle(self, code: str) -> Document | None:
        return self._bundles.get(code)

    # Searching -----------------------------------------------------------------------------

    def search(self, query: str, top: int = 5) -> list[Hit]:
        """The hits a person would be shown for `query` (none for junk or out of scope)."""
        return list(self.find(query, top).shown)

    def find(self, query: str, top: int = 5) -> Found:
        """The verdict on `query` and the ranked hits behind it; repeats are answered from a
        bounded cache. Blocks while the sentence model loads (the first seconds after a start
        with cached vectors) and encodes the question (milliseconds): call it off the event
        loop, from one thread, after `known` found nothing."""
        found = self._verdicts.get((query, top))
        if found is None:
            found = self._find(query, top)
            verdicts = self._verdicts
            if len(verdicts) >= FIND_CACHE_SIZE:
                del verdicts[next(iter(verdicts))]
            verdicts[(query, top)] = found
        return found

    def known(self, query: str, top: int = 5) -> Found | None:
        """The verdict on `query` if it was reached before (a dict read: safe on the event loop,
        where the usual questions are answered without a hop to the search thread)."""
        return self._verdicts.get((query, top))

    def warm(self) -> MatterSearch:
        """Load the sentence model now (seconds), not on the first question after a start: a
        build from cached vectors does not need it."""
        if self._encoder is not None:
            self._encoder.load()
        return self

    def _find(self, query: str, top: int = 5) -> Found:
        evidence = self.evidence(query)
        if evidence is None:
            return Found(JUNK, ())
        if evidence.foreign:
            lexicon = self.lexical.lexicon
            unserved = lexicon.unserved(evidence.need)
            permits = [t for t in unserved if writer.PERMITS.search(t)]
            told = self._permits_topic if permits and self._permits_topic is not None else None
            if told is not None and writer.SAYS_FOREIGN.search(query) is not None:
                # I'm a foreigner, how do I get a work permit: the residence registration and the
                # citizens' residence card come near its words, but it is exit-entry's.
                return Found(OUT_OF_SCOPE, (), evidence.need, told.told, told.hall)
            if unserved and not lexicon.english_share(evidence.need, things_only=True):
                # Can I convert my UK driving licence to a Chinese one, how to renew my residence
                # permit: only what the catalog does not serve is named (renew, convert are what is
                # wanted done), and the taxis' and driving schools' matters only share its words.
                return Found(OUT_OF_SCOPE, (), evidence.need, *((told.told, told.hall) if told is not None else ()))
        if writer.done_elsewhere(query):
            # 我户口在成都，想在成都办护照，成都的出入境在哪里 was a clear card for this city's
            # exit-entry hall: what is done in another city is that city's.
            return Found(OUT_OF_SCOPE, (), evidence.need, ELSEWHERE)
        if writer.asks_a_bank(query):
            # 老伴银行卡的密码我不知道，里面的钱怎么取出来 listed the housing fund and the social
            # security card's password: a bank card's money is the bank's. What else the message
            # asks (我身份证掉了，钱包一起丢的，银行卡也没了) is still searched: the ID card's.
            rest = writer.without_bank_clauses(query)
            if rest and len(rest) < len(query) - 2:
                found = self._find(rest, top)
                if found.verdict in (MATTER, CANDIDATES):
                    return Found(found.verdict, found.hits, found.need, BANKS)  # the bank card's place said too
            return Found(OUT_OF_SCOPE, (), evidence.need, BANKS)
        if writer.marries_a_foreigner(query):
            # 我要和外国人结婚，在哪登记: the registrations here are between mainland citizens, and
            # what is left near its words (对外国人的住宿登记) is not what is asked.
            return Found(OUT_OF_SCOPE, (), evidence.need, FOREIGN_MARRIAGE)
        theirs = self.for_the_writer(evidence, query)
        fused = theirs.fused(W_LEXICAL, W_BM25, W_SEMANTIC, BUNDLE_PRIOR)
        found = self.decide(theirs, self.weigh_subject(theirs.ranked(fused, W_SAID), theirs.need), top, calibrated=fused)
        if theirs is not evidence and found.verdict != MATTER:
            # The message was about what was left out (I want to marry my Chinese girlfriend: the
            # marriage registrations, then 户口登记 and 参保登记 at a third of their score): what
            # is left is not a list to offer. A foreigner's own passport or marriage to a citizen
            # is said where it is done.
            was = float(evidence.fused(W_LEXICAL, W_BM25, W_SEMANTIC, BUNDLE_PRIOR).max(initial=0.0))
            if found.verdict == OUT_OF_SCOPE or float(fused.max(initial=0.0)) < NOT_THEIRS_SHARE * was:
                found = Found(OUT_OF_SCOPE, found.hits, found.need, FOREIGN_NATIONALS)  # it names each place
        if (evidence.foreign and theirs is evidence and found.verdict in (MATTER, CANDIDATES) and not found.told
                and writer.CITIZENS_ONLY.search(found.hits[0].name) and writer.SAYS_SOMEONE_ELSE.search(query) is None):
            # "I lost my passport", in English and saying nothing of whose: the citizen's passport,
            # and beside it where a foreigner's own is replaced (their embassy; the police first)
            found = Found(found.verdict, found.hits, found.need, FOREIGN_NATIONALS)
        if found.verdict in (MATTER, CANDIDATES) and found.hits[0].kind == "matter" and ALL_PROCEDURES.search(query):
            covering = next((h for h in found.hits[:3] if h.kind == "bundle" and found.hits[0].code in self._bundles[h.code].members), None)
            if covering is not None:
                found = Found(found.verdict, (covering, *(h for h in found.hits if h is not covering)), found.need, found.told, found.hall)
        if found.verdict == CANDIDATES:
            # 老婆坐月子 本人去不了 listed 身后一件事, 孩子满月了 想给他办个身份证 listed 被拐儿童身份证明:
            # offered to new parents, a bereavement's or an abducted child's matters hurt; a list shows
            # them only when the message speaks of one.
            lowered = query.lower()
            for cue, of_it in SHOWN_ONLY_WHEN_TOLD:
                kept = tuple(h for h in found.hits if of_it.search(h.name) is None) if cue.search(lowered) is None else ()
                if kept:
                    found = Found(CANDIDATES, kept, found.need, found.told)
        return found

    def for_the_writer(self, evidence: Evidence, query: str) -> Evidence:
        """The evidence without the documents that cannot serve whoever writes (bot/search/writer.py:
        a foreign national asking for a citizen's passport or marriage registration), so what is
        decided is whether the catalog has anything for them."""
        mask = writer.not_theirs(query, self._citizens_only, self._between_citizens)
        if mask is None or not mask.any():
            return evidence
        if not (evidence.lexical[mask].any() or evidence.bm25[mask].any() or evidence.semantic[mask].any()):
            return evidence  # none of those was in it
        keep = ~mask
        lexical, bm25, semantic = evidence.lexical * keep, evidence.bm25 * keep, evidence.semantic * keep
        said = evidence.said * keep if evidence.said is not None else None
        # What a left-out document explained no longer counts: the strict lexicon score is capped
        # at the best left, BM25's share scales with the best left (its scores are relative to
        # the best), the best cosine is the best left.
        best_left = float(lexical.max(initial=0.0))
        return dataclasses.replace(
            evidence, lexical=lexical, bm25=bm25, semantic=semantic, said=said, accepted=min(evidence.accepted, best_left),
            bm25_share=evidence.bm25_share * float(bm25.max(initial=0.0)), whole_semantic=float(semantic.max(initial=0.0)),
            exact=evidence.exact if evidence.exact < 0 or keep[evidence.exact] else -1)

    def weigh_subject(self, ranked: np.ndarray, need: str) -> np.ndarray:
        """The ranking less SUBJECT_CONFLICT for the documents of the business the message is not,
        and less FOREIGNERS_CONFLICT for foreigners' matters when it speaks of people from elsewhere
        in China."""
        if SAYS_FROM_ELSEWHERE.search(need) is not None and writer.NAMES_FOREIGNERS.search(need) is None:
            ranked = ranked - FOREIGNERS_CONFLICT * self._foreigners
        if SAYS_PERSONAL_NAME.search(need) is not None and SAYS_AN_ENTITY.search(need) is None:
            # 我想改名字: one's own name, not a licensee's 名称 or a business's registration
            ranked = ranked - SUBJECT_CONFLICT * (self._entity_name | self._company | self._sole_trader)
        company, sole = SAYS_COMPANY.search(need) is not None, SAYS_SOLE_TRADER.search(need) is not None
        if company == sole or not SUBJECT_CONFLICT:
            return ranked
        return ranked - SUBJECT_CONFLICT * (self._sole_trader if company else self._company)

    def evidence(self, query: str) -> Evidence | None:
        """Everything the search knows about `query`, per document; None for junk."""
        lexicon = self.lexical.lexicon
        if need_text.is_junk(query, lexicon.farewells, self.lexical.spells):
            return None
        query = without_refused(query)  # 算了不办护照了 就社保卡: what is wanted instead
        need = self.lexical.need(query)
        text = squeeze(need)
        if not text or _only_asks(text, lexicon.stopwords):
            return None  # 材料清单, 要带什么材料: what is needed for no matter named; the dialog asks which
        n = len(self.documents)
        lexical = np.zeros(n, dtype=np.float32)
        accepted = 0.0
        parsed = self.lexical.parse(text)
        # English, say. A pinyin place name in an English sentence (we moved here from Chengdu)
        # reads as Chinese; a sentence of English function words is still English.
        foreign = not any(is_han(c) for c in parsed.corrected) or (
            not any(is_han(c) for c in text) and english_sentence(need))
        if foreign:  # its need read through the lexicon's English glosses (a letter: the clauses that ask, need.english_pieces)
            parsed = self.lexical.parse(need_text.cut(lexicon.gloss(need), need_text.NEED_CHARS))
        for hit, coverage in self.lexical.rank(parsed, top=POOL) if parsed.text else ():
            lexical[self._position[hit.code]] = min(hit.score, 1.5)
            if coverage >= MIN_COVERAGE and hit.score >= MIN_SCORE:
                accepted = max(accepted, min(hit.score, 1.5))
        # The lexicon explains all it read of English, but it read only the words it knows (EN_SHARE).
        read_share = min(1.0, lexicon.english_share(need) / EN_SHARE) if foreign and EN_SHARE else 1.0
        accepted *= read_share
        lexical *= read_share
        if not foreign and need != query and LETTER_CHARS:
            lexical, clause_accepted = self._clause_evidence(query, need, lexical)
            accepted = max(accepted, clause_accepted)
        elif not foreign and SHORT_CLAUSES and not accepted:
            accepted = self._clause_accepted(need)
        named = parsed.corrected if foreign else _without_asked_tail(parsed, lexicon.asked)
        expanded = " ".join([named, *(a for u in parsed.units for a in u.alternatives[1:])])
        bm25, ceiling = self._bm25.scores(expanded)
        best_bm25 = float(bm25.max()) if n else 0.0
        if best_bm25 > 0:
            bm25 /= best_bm25
        bm25_share = (best_bm25 / ceiling if ceiling > 0 else 0.0) * read_share
        semantic = np.zeros(n, dtype=np.float32)
        topic_cosine = whole_semantic = sounds = 0.0
        topic = -1
        vector = None
        if self._semantic is not None:
            sentence = parsed.corrected if not foreign and _spelled(text, parsed.corrected) else need
            vector = self._encoder.encode_query(sentence)
            semantic = np.maximum(self._semantic.similarities(vector) - SEMANTIC_FLOOR, 0.0)
            if self._topic_vectors is not None:
                near = self._topic_vectors.similarities(vector)
                topic = int(np.argmax(near)) if len(near) else -1
                topic_cosine = max(float(near[topic]), 0.0) if topic >= 0 else 0.0
            whole_semantic = float(semantic.max(initial=0.0))
            sounds = self._probe.logit(vector) if self._probe is not None else 0.0
            if named != parsed.corrected:
                semantic = np.maximum(self._semantic.similarities(self._encoder.encode_query(named)) - SEMANTIC_FLOOR, 0.0)
        topic_share = self._topic_bm25.pair_share(text) if self._topic_bm25 is not None else 0.0
        said = None
        if self._said_bm25 is not None:
            said, _ = self._said_bm25.scores(squeeze(query[:LETTER_SAID_CHARS]) if need != query else text)
            best_said = float(said.max()) if n else 0.0
            if best_said > 0:
                said /= best_said
        return Evidence(need, lexical, bm25, semantic, accepted, bm25_share, foreign, self._exact.get(text, -1), self._is_bundle,
                        topic_cosine, topic, topic_share, min(len(query), need_text.READ_CHARS), said, whole_semantic, vector, sounds)

    def _clause_accepted(self, need: str) -> float:
        """A short message of several clauses (办签证要用，想开一张完睡证明): whether one of them,
        read alone, a matter explains (the same test as a whole question's), as a letter's may.
        Read whole, its other clause's words count against every matter."""
        clauses = [c for c in need_text.CLAUSE_MARKS.split(need) if len(c) >= 2]
        if len(clauses) < 2:
            return 0.0
        accepted = 0.0
        for clause in sorted(clauses, key=len, reverse=True)[:SHORT_CLAUSES]:
            parsed = self.lexical.parse(squeeze(clause))
            for hit, coverage in self.lexical.rank(parsed, top=CLAUSE_POOL) if parsed.text else ():
                if coverage >= MIN_COVERAGE and hit.score >= MIN_SCORE:
                    accepted = max(accepted, min(hit.score, 1.5))
        return accepted

    def _clause_evidence(self, query: str, need: str, lexical: np.ndarray) -> tuple[np.ndarray, float]:
        """A letter's lexicon evidence, clause by clause: its topic (养蜂, 砍树) and its request
        (这个证在哪个窗口办) are often different clauses, and the need read whole keeps only
        NEED_CHARS of them. Its best clauses up to LETTER_CHARS in all that the need left out are
        read one by one, the best LETTER_CLAUSES of them (about 2 ms of CPU each); a document takes the best of the need's
        score and each clause's, plus a share of what the others add."""
        best = lexical.copy()
        total = lexical.copy()
        accepted = 0.0
        inside = set(need.split("，"))  # read together already
        outside = [c for c in self.lexical.clauses(query, LETTER_CHARS) if len(c) >= 2 and c not in inside]
        for clause in outside[:LETTER_CLAUSES]:
            parsed = self.lexical.parse(clause)
            for hit, coverage in self.lexical.rank(parsed, top=CLAUSE_POOL) if parsed.text else ():
                i = self._position[hit.code]
                score = min(hit.score, 1.5)
                if CLAUSE_ACCEPT and coverage >= MIN_COVERAGE and hit.score >= MIN_SCORE:
                    accepted = max(accepted, score)
                best[i] = max(best[i], score)
                total[i] += score
        return np.minimum(best + CLAUSE_SUPPORT * (total - best), 1.5), accepted

    def decide(self, evidence: Evidence, fused: np.ndarray, top: int, calibrated: np.ndarray | None = None) -> Found:
        """Rank by the `fused` scores and say what they are worth: whether the catalog serves the
        message at all is read from the `calibrated` scores (those the in-domain model was fitted
        on; `fused` when not given), whether one hit is clear from the ranking."""
        need = evidence.need
        # Two catalog entries of one name and department (求职创业补贴申领 twice) are one choice to a
        # person: a list showing both reads as a mistake; the later is never shown (nor counted as a
        # rival of the first).
        fused = fused * self._first_of_name
        if calibrated is not None:
            calibrated = calibrated * self._first_of_name
        order = np.argsort(-fused, kind="stable")[:max(top, 2)]
        hits = tuple(self._hit(int(i), float(fused[i])) for i in order[:top] if fused[i] > 0)
        if not hits:
            return Found(OUT_OF_SCOPE, (), need)
        best, margin = lead(fused)
        if in_domain(evidence, *(lead(calibrated) if calibrated is not None else (best, margin))) < IN_DOMAIN:
            topic = self._topics[evidence.topic] if 0 <= evidence.topic < len(self._topics) else None
            if topic is not None and topic.told and evidence.topic_cosine >= TOPIC_TOLD:
                return Found(OUT_OF_SCOPE, hits, need, topic.told, topic.hall)
            return Found(OUT_OF_SCOPE, hits, need)
        if calibrated is not None:  # one hit is clear on the score the thresholds were set on, when it leads there too
            best, margin = lead(calibrated) if int(np.argmax(calibrated)) == int(order[0]) else (0.0, 0.0)
        if best >= CLEAR and margin >= CLEAR_MARGIN:
            return Found(MATTER, hits, need)
        # Candidates a good deal weaker than the best are noise beside it (结昏证: 婚姻登记 2.2, then
        # 身后一件事 0.8): a person reads the list top down, and a stray one there confuses.
        floor = CANDIDATE_SHARE * hits[0].score
        return Found(CANDIDATES, tuple(h for k, h in enumerate(hits) if k < 2 or h.score >= floor), need)

    def _hit(self, i: int, score: float) -> Hit:
        d = self.documents[i]
        return Hit(d.code, d.name, d.department, round(score, 4), d.kind)


def _without_asked_tail(parsed, asked: frozenset[str]) -> str:
    """The message less what it asks ABOUT the matter it names, after naming it (护照要多久能办完,
    结婚登记要预约吗): the words after the last the lexicon read as naming something (a unit or an
    intent) are all stopwords, and when they include one of the lexicon's [asked] words they only
    said how long, how much or where. BM25 and the
    sentence vector read them as meaning (要多久 is near 延续's and 预约's texts) and drew the
    ranking to the matter whose own text mentions time or booking."""
    text = parsed.corrected
    end = max((text.rfind(w) + len(w) for w in (*(u.typed for u in parsed.units), *parsed.triggers) if w in text),
              default=0)
    tail = text[end:]
    return text[:end] if end >= 2 and len(tail) >= ASKED_TAIL_CHARS and any(w in tail for w in asked) else text


def _spelled(text: str, corrected: str) -> bool:
    """Whether reading pinyin turned every Latin letter into Chinese (shebaoka, sbk buban): then
    the Chinese is the meaning. Letters left over mean another language (English): as typed."""
    return any("a" <= c <= "z" for c in text) and not any("a" <= c <= "z" for c in corrected)


def _matter_fields(s: MatterSummary, guide: Guide | None, said: Sequence[str]) -> tuple[list[tuple[str, float]], list[str]]:
    """A matter's BM25 fields and the texts its sentence vectors are made of."""
    name = core_name(s.name)
    fields = [(squeeze(name), FIELDS["name"]), (squeeze(s.department), FIELDS["department"])]
    texts = [name]
    if guide is not None:
        fields += [(squeeze(a), FIELDS["alias"]) for a in guide.aliases]
        fields += [(squeeze(k), FIELDS["keyword"]) for k in guide.keywords]
        fields.append((squeeze(guide.result), FIELDS["result"]))
        fields += [(squeeze(x.name), FIELDS["situation"]) for x in guide.situations]
        fields += [(squeeze(x.question), FIELDS["question"]) for x in guide.situations if x.question]
        fields += [(squeeze(m.name), FIELDS["material"]) for m in guide.materials]
        fields += [(squeeze(c), FIELDS["condition"]) for c in guide.conditions]
        texts += [*guide.aliases, *guide.keywords]
    fields += [(squeeze(w), FIELDS["said"]) for w in said]
    texts += list(said)
    return fields, texts


def _exact_names(documents: list[Document], aliases: list[Sequence[str]]) -> dict[str, int]:
    """Names and aliases that name exactly one document: whoever types one means it."""
    owners: dict[str, set[int]] = {}
    for i, d in enumerate(documents):
        for text in (d.name, core_name(d.name), *aliases[i]):
            owners.setdefault(squeeze(text), set()).add(i)
    return {text: next(iter(found)) for text, found in owners.items() if text and len(found) == 1}


def _said(events: Sequence[LifeEvent], summaries: list[MatterSummary], bundles: list[Bundle],
          lexical: bool = False) -> dict[str, list[str]]:
    """Per matter or bundle code, the phrases that lead to it (for the lexicon index: those it reads)."""
    by_name: dict[str, list[str]] = {}
    for s in summaries:
        by_name.setdefault(s.name, []).append(s.code)
    for b in bundles:
        by_name.setdefault(b.name, []).append(b.code)
    said: dict[str, list[str]] = {}
    for event in events:
        for name in (*event.matters, *event.bundles):
            for code in by_name.get(name, ()):
                limit = event.lexicon_chars if lexical else None
                said.setdefault(code, []).extend(w for w in event.says if limit is None or len(w) <= limit)
    return said

