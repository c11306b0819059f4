"""一件事一次办 (bundles): one card for a need that joins several matters, ONE material list for
the whole bundle by the person's situation, and ONE booking for all of it.

The search (dialogs.matters) hands a bundle over here. The card says what the bundle covers,
which matters it joins (numbered: a number opens that matter's own guide card), which
departments, the promised time, and where one visit covers everything. 材料清单 asks each
question that changes the list once, even when several matters need its answer (委托他人代办 is
asked once for five matters), and lists every material once: a document several matters ask
for (the same material `code` in their guides, e.g. 身份证) is one line that names the matters
it serves. The bundle's own need settles some questions (config/bundles.toml: 出生一件事 is
about a newborn, so whether the baby's card is for an elderly person is never asked), and joins
documents the matters name differently (the parents' ID cards). 选错了 / 返回 at a question takes
the latest answer back and asks it again; 不对… after the list puts an answer right. 预约 books
the whole bundle in one appointment at a hall that serves all of it (dialogs.booking, with
`bundle` carried); the progress of an application (its YJS number) is dialogs.progress's.

```
card      --text: a matter's number--> (matters: that matter's guide card)
card      --材料清单: situations matter--> situation --answers, one question at a time--> card
card      --材料清单--> card          --预约--> (booking: the whole bundle) | card (not bookable: where to go)
card      --查进度--> (progress: the application's YJS number)
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from dialogs.engine import Dialog, T, normalise
from dialogs.matters import (AGENT_ASKED, AGENT_ASKED_TOO, ASKING, CORRECTION, EN_AGENT_ASKED, EN_AGENT_WORDS, FOLLOW_UP_CHARS, FOLLOW_UP_CUES, FOLLOW_UPS, NONE_FITS, NONE_OF_THESE, TAKE_BACK, ListedAnswers, Question, agent_of, answer_to, correction_of,
                             drop_last_answer, explained, follow_up_asked, materials_for, online_way, questions_for, reopen_listed,
                             situations_key)
from dialogs.understand.answers import asks_what_it_means, needs_time
from dialogs.understand.appointments import booking_query

STATES = ["card", "situation"]
TRANSITIONS = [
    #  trigger  source       dest         when                              then
    T("start", "*",         "card",      "has_bundle",                     "show_card"),
    T("start", "*",         "card",      None,                             "say_unknown"),
    T("text",  "card",      "card",      "picks_matter",                   "open_matter"),
    # after the list: an answer put right (不对，我们没结婚): the list again; 刚才点错了: the last question again
    T("text",  "card",      "situation", "corrects_listed_opening_one",    "say_corrected_and_ask"),  # 没结婚: the father's details now
    T("text",  "card",      "card",      "corrects_listed",                "show_corrected_list"),
    T("text",  "card",      "situation", "takes_back_listed",              "ask_last_again"),
    T("text",  "card",      "situation", "asks_materials_with_situations", "ask"),
    T("text",  "card",      "card",      "asks_materials",                 "show_materials"),
    T("text",  "card",      "card",      "asks_booking",                   "book"),
    T("text",  "card",      "card",      "asks_progress",                  "open_progress"),
    T("text",  "card",      "card",      "asks_time_or_fee",               "show_time_and_fee"),  # 要多少天？要钱不
    T("text",  "card",      "card",      "asks_where",                     "show_where"),         # 在哪办
    T("text",  "card",      "card",      "asks_online",                    "show_online"),        # 能网上办吗
    T("text",  "card",      "card",      "asks_agent",                     "show_agent"),         # 可以找人代办不
    # an earlier answer put right (不对 我们其实没领结婚证, 选错了 应该是随母亲): changed, the question on screen again
    T("text",  "situation", "situation", "corrects_answer",                "say_corrected"),
    T("text",  "situation", "situation", "takes_back_answer",              "ask_again"),  # 选错了: that question again
    T("text",  "situation", "situation", "needs_time",                     "say_take_your_time"),  # 等一下 我问下家里人
    T("text",  "situation", "situation", "asks_what_it_means",             "explain_question"),  # 这是什么意思 / 不知道
    T("text",  "situation", "situation", "none_fits_the_options",          "say_no_option_fits"),  # 否 / 都不是 at a choice
    # what the card tells, asked mid-way (办下来要多久, 在哪里办): told, and the question on screen again
    T("text",  "situation", "situation", "asks_time_or_fee_only",          ["show_time_and_fee", "ask"]),
    T("text",  "situation", "situation", "asks_where_only",                ["show_where", "ask"]),
    T("text",  "situation", "situation", "asks_online_only",               ["show_online", "ask"]),  # 能网上办吗
    T("text",  "situation", "situation", "asks_agent_only",                "show_agent_and_ask"),
    T("text",  "situation", "card",      "answers_last_question",          "show_materials"),
    T("text",  "situation", "situation", "answers_question",               "ask"),
]

MATERIAL_WORDS = frozenset(normalise(w) for w in (FOLLOW_UPS["materials"][0], *FOLLOW_UPS["materials"][1], "合并材料", "一次带齐"))
#: What may stand beside a booking word and name nothing (好的 那预约吧).
_ONLY_AGREEING = re.compile(r"[好的那就行可以嗯吧啊呀哦要我想先，,。！!\s]")


def only_booking(text: str) -> bool:
    """A booking word with nothing else named beside it (我想预约, 好的 那预约吧)."""
    asked = booking_query(text)
    return asked is not None and _ONLY_AGREEING.sub("", asked) == ""


BOOKING_WORDS = frozenset(normalise(w) for w in (FOLLOW_UPS["booking"][0], *FOLLOW_UPS["booking"][1], "一起预约", "一次预约"))
PROGRESS_WORDS = frozenset({"查进度", "进度", "办理进度", "查询进度", "申请进度"})
_A_FEW = re.compile(r"[好这那前过了]几(?:年|个月|个|次|天|岁|十|百|千|万)")
#: The longest message on a bundle's card read as putting an answer of its list right.
CORRECTION_CHARS = 24
#: A fee the guide lists as none (免费, 不收费, 免收): not "收费的有".
FREE = re.compile(r"免费|不收|免收|^0")


@dataclass(frozen=True, slots=True)
class MergedMaterial:
    """One line of a bundle's material list: a document once, however many matters ask for it."""

    name: str
    originals: int
    copies: int
    form: str
    note: str
    matters: tuple[str, ...]  # names of the matters that ask for it


def bundle_questions(guides) -> list[Question]:
    """The questions that change the bundle's material list, each once: a yes/no situation
    several matters share (the same situation code) is asked once; a choice among situations is
    shared only when the choice is the same (the same situations to choose from), else each
    matter's choice is asked with the matter's name."""
    asked: dict[str, Question] = {}
    for guide in guides:
        for question in questions_for(guide):
            if question.options:
                key = "g:" + ",".join(s.code for s in question.options)
                text = f"「{guide.name}」：{question.text}"
            else:
                key, text = question.key, question.text
            asked.setdefault(key, Question(key, text, question.options))
    return list(asked.values())


def chosen_situations(answers: dict[str, str]) -> set[str]:
    """The situation codes that apply, from answers keyed as `Question.key`."""
    chosen = {value for key, value in answers.items() if key.startswith("g:")}
    return chosen | {key[2:] for key, value in answers.items() if key.startswith("s:") and value == "yes"}


SETTLED = Path(__file__).resolve().parents[1] / "config" / "bundles.toml"


@dataclass(frozen=True, slots=True)
class Settled:
    """What a bundle's need settles about its matters' situations (config/bundles.toml)."""

    given: frozenset[str] = frozenset()
    ruled_out: frozenset[str] = frozenset()
    exclusive: tuple[frozenset[str], ...] = ()
    same: tuple[frozenset[str], ...] = ()
    #: (name, note, material names): documents that are one here, listed once under `name`
    one: tuple[tuple[str, str, frozenset[str]], ...] = ()

    def expand(self, chosen: set[str]) -> set[str]:
        """`chosen` with each situation's `same` partner."""
        return chosen.union(*(pair for pair in self.same if pair & chosen))

    def possible(self, code: str, chosen: set[str]) -> bool:
        """Whether `code` can still apply when `chosen` do."""
        return code not in self.ruled_out and not any(code in pair and (pair - {code}) & chosen for pair in self.exclusive)


@cache
def settled_by_bundle(path: Path = SETTLED) -> dict[str, Settled]:
    """Bundle name -> what its need settles, read once."""
    with open(path, "rb") as f:
        entries = tomllib.load(f).get("bundle", [])
    return {entry["name"]: Settled(frozenset(entry.get("given", ())), frozenset(entry.get("ruled_out", ())),
                                   tuple(frozenset(p) for p in entry.get("exclusive", ())),
                                   tuple(frozenset(p) for p in entry.get("same", ())),
                                   tuple((one["name"], one.get("note", ""), frozenset(one["materials"])) for one in entry.get("one", ())))
            for entry in entries}


def settled_for(bundle) -> Settled:
    """What `bundle`'s need settles (nothing, for a bundle config/bundles.toml does not name)."""
    return settled_by_bundle().get(bundle.name, Settled()) if bundle is not None else Settled()


def settle(guides, settled: Settled, answers: dict[str, str]) -> tuple[set[str], list[Question]]:
    """(the situations that apply so far, the questions still open), in the bundle's order.
    A question the need or an earlier answer settles is not open: a yes/no whose situation is
    given, ruled out or excluded; a choice one of whose options applies already, or with one
    option left (that one applies). A choice's impossible options are not offered."""
    chosen = settled.expand(chosen_situations(answers) | settled.given)
    open_questions = []
    for question in bundle_questions(guides):
        if question.key in answers:
            continue
        if not question.options:
            code = question.key[2:]
            if code not in chosen and settled.possible(code, chosen):
                open_questions.append(question)
            continue
        if any(option.code in chosen for option in question.options):
            continue
        left = tuple(option for option in question.options if settled.possible(option.code, chosen))
        if len(left) == 1:
            chosen = settled.expand(chosen | {left[0].code})
        elif left:
            open_questions.append(Question(question.key, question.text, left))
    return chosen, open_questions


def merged_materials(guides, chosen: set[str], settled: Settled | None = None) -> list[MergedMaterial]:
    """Every material the bundle's matters need in this situation, once each: materials with the
    same standard code are one (the larger count of originals and copies), and so are those the
    bundle's `one` lines join (named as that line says); a material without a code is one per name.
    `settled`: what the bundle's need settles (its given situations apply whatever was answered)."""
    settled = settled or Settled()
    chosen = settled.expand(set(chosen) | settled.given)
    joined = {material: (name, note) for name, note, materials in settled.one for material in materials}
    merged: dict[str, dict] = {}
    for guide in guides:
        for m in materials_for(guide, chosen):
            name, note = joined.get(m.name, (None, m.note))
            key = f"one:{name}" if name else f"code:{m.code}" if m.code else f"name:{m.name}"
            line = merged.get(key)
            if line is None:
                merged[key] = {"name": name or m.name, "originals": m.originals, "copies": m.copies, "form": m.form, "note": note, "matters": [guide.name]}
                continue
            line["originals"] = max(line["originals"], m.originals)
            line["copies"] = max(line["copies"], m.copies)
            if guide.name not in line["matters"]:
                line["matters"].append(guide.name)
    return [MergedMaterial(**{**line, "matters": tuple(line["matters"])}) for line in merged.values()]


def agent_asked(text: str) -> bool:
    """可以找人代办不, 能让我儿子帮我去办吗, can my husband do it for me: whether the bundle may be
    done on one's behalf (it was searched: 找人 found 招聘服务)."""
    if text.isascii():
        return len(text.split()) <= EN_AGENT_WORDS and EN_AGENT_ASKED.search(text) is not None
    return len(text) <= FOLLOW_UP_CHARS and (AGENT_ASKED.search(text) or AGENT_ASKED_TOO.search(text)) is not None


def agent_help(guides) -> dict:
    """For bundles/agent.j2: the matters whose guides let someone else do them (a 委托他人代办
    situation), what an agent brings besides the list (each document once), and whether all do."""
    allowed, extra = [], {}
    for guide in guides:
        of_it = agent_of(guide)
        if of_it["allowed"]:
            allowed.append(guide.name)
            for m in of_it["materials"]:
                extra.setdefault(m.name, m)
    return {"allowed": allowed, "materials": list(extra.values()), "every": len(allowed) == len(guides)}


def paid_fees(guides) -> list:
    """(matter name, fee) for each fee the bundle's guides list that is not none (免费, 不收)."""
    return [(g.name, f) for g in guides for f in g.fees if not FREE.search(f.amount)]


def bundle_guides(catalog, bundle) -> list:
    """The guides of the bundle's matters, in the bundle's order (a matter without one is left out)."""
    return [g for g in (catalog.guide(code) for code in bundle.matters) if g is not None]


class Bundles(ListedAnswers, Dialog):
    name = "bundles"
    title = "一件事一次办"
    JUST_LOOKING = True
    STATES = STATES
    TRANSITIONS = TRANSITIONS
    PROMPTS = {"card": "bundles/follow_ups.j2", "situation": "matters/question.j2"}
    EXPECTS = {"card": frozenset({"choice"}), "situation": frozenset({"choice", "yes_no"})}
    DONE = frozenset({"card"})
    #: On the card, 查进度 asks about this bundle's application, not about a case in general, and
    #: 材料清单 / 预约 are the card's commands whatever the search makes of them mid-dialog (four
    #: characters of catalog words: the search may offer candidates for them).
    OWN_WORDS = PROGRESS_WORDS | MATERIAL_WORDS | BOOKING_WORDS

    @classmethod
    def claims(cls, state: str, text: str) -> bool:
        """At a situation question, a message that asks nothing of its own (不是 在医院生的, 单位在职,
        宝宝当然未满啊) is for the question: an answer, or the question again; never searched, which
        lost the answers given so far to a list of matters (as dialogs.matters does)."""
        word = normalise(text)
        if state == "card" and len(word) <= CORRECTION_CHARS and (CORRECTION.search(word) or TAKE_BACK.search(word)):
            return True  # 不对，我们没结婚 / 刚才点错了 after the list: an answer put right, not a search for 结婚
        if agent_asked(word):
            return True  # 可以找人代办不: asked of this bundle, not a search (找人: 招聘服务)
        if state == "card" and only_booking(text):
            return True  # 我想预约 on the card: this bundle's booking, never a search for matters named 预约
        # 几 of an amount (打过几年工, 交了几个月) asks nothing
        return state == "situation" and ASKING.search(_A_FEW.sub("", word)) is None and "一件事" not in word  # 企业开办一件事: another bundle

    def prompt_context(self):
        bundle = self._bundle()
        return {"bundle": bundle, "question": self._next_question(), "bookable": bool(getattr(bundle, "bookable", False))}

    def _bundle(self):
        code = self.data.get("bundle")
        catalog = self.services.catalog
        return catalog.bundles.get(code) if code and catalog is not None else None

    def _guides(self) -> list:
        bundle = self._bundle()
        return bundle_guides(self.services.catalog, bundle) if bundle is not None else []

    def _settle(self, answers: dict[str, str] | None = None) -> tuple[set[str], list[Question]]:
        """`settle` for this bundle with `answers` (the ones recorded so far by default)."""
        return settle(self._guides(), settled_for(self._bundle()), self.data.get("answers", {}) if answers is None else answers)

    # The card ----------------------------------------------------------------------------------

    def has_bundle(self) -> bool:
        return self._bundle() is not None

    def say_unknown(self):
        self.say("bundles/unknown.j2")
        self.finish()

    def show_card(self):
        bundle = self._bundle()
        for key in ("answers", "listed", "chosen"):
            self.data.pop(key, None)
        catalog = self.services.catalog
        halls = [catalog.halls[h] for h in getattr(bundle, "halls", []) if h in catalog.halls]
        parts = getattr(bundle, "parts", None) or [catalog.summary(code) for code in bundle.matters if catalog.summary(code)]
        self.say("bundles/card.j2", bundle=bundle, parts=parts, halls=halls,
                 departments=getattr(bundle, "departments", None) or list(dict.fromkeys(p.department for p in parts)),
                 separate_days=sum(getattr(p, "promised_days", 0) for p in parts))
        self.ask()

    def _time_and_fee_asked(self) -> set[str]:
        """Which of the card's 承诺时限 and the fees a short question asks about (要多少天能办下来？要钱不)."""
        text = self.word
        if text.isascii():  # how long does it take, how much is it: the card's own follow-ups in English
            key = follow_up_asked(text)
            return {key} if key in ("time", "fee") else set()
        if len(text) > 24:
            return set()
        asked = {key for key in ("time", "fee") if any(cue in text for cue in FOLLOW_UP_CUES[key])}
        others = any(cue in text for key in ("materials", "process", "where", "online", "booking") for cue in FOLLOW_UP_CUES[key])
        return set() if others else asked

    def asks_time_or_fee(self) -> bool:
        return bool(self._time_and_fee_asked())

    def asks_time_or_fee_only(self) -> bool:
        """At a question: how long or how much, and no answer to it beside (办下来要多久)."""
        return self.asks_time_or_fee() and not self.answers_question()

    def show_time_and_fee(self):
        asked = self._time_and_fee_asked()
        fees = paid_fees(self._guides())
        self.say("bundles/time_and_fee.j2", bundle=self._bundle(), time="time" in asked, fee="fee" in asked, fees=fees)

    def asks_where(self) -> bool:
        return follow_up_asked(self.word) == "where"

    def asks_where_only(self) -> bool:
        return self.asks_where() and not self.answers_question()

    def show_where(self):
        bundle, halls = self._bundle(), self.services.catalog.halls
        self.say("bundles/where.j2", bundle=bundle, halls=[halls[h] for h in getattr(bundle, "halls", []) if h in halls])

    def asks_online(self) -> bool:
        return follow_up_asked(self.word) == "online"

    def asks_online_only(self) -> bool:
        return self.asks_online() and not self.answers_question()

    def show_online(self):
        """The bundle is done at one window; which of its matters can be applied for online (by the
        card's numbers: a number opens that matter, whose card gives its entry)."""
        bundle, catalog = self._bundle(), self.services.catalog
        guides = [catalog.guide(code) for code in bundle.matters]
        online = [(n, g.name, online_way(g)) for n, g in enumerate(guides, 1) if g is not None and online_way(g) != "offline"]
        self.say("bundles/online.j2", bundle=bundle, online=online)

    def asks_agent(self) -> bool:
        return agent_asked(self.word)

    def asks_agent_only(self) -> bool:
        """能代办吗 at a question (even at 是由他人代您办理吗？, which would read it as 是): answered,
        and the question asked again; 让我儿子去办 there is its answer."""
        return self.asks_agent() and (ASKING.search(self.word) is not None or not self.answers_question())

    def show_agent(self):
        """Which of its matters the guides let someone else do (their 委托他人代办 situation) and
        what an agent brings besides the list, each document once; or that the guides do not say."""
        self.say("bundles/agent.j2", bundle=self._bundle(), **agent_help(self._guides()))

    def show_agent_and_ask(self):
        self.show_agent()
        Dialog.ask(self)  # not `ask`: at 是由他人代您办理吗？ it would record 能代办吗 as 是

    def _said(self, words: frozenset[str]) -> bool:
        return self.word in words

    def picks_matter(self) -> bool:
        return self._picked() is not None

    def _picked(self) -> str | None:
        text = self.word
        bundle = self._bundle()
        matters = bundle.matters if bundle is not None else []
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(matters):
            return matters[int(text) - 1]
        return None

    def open_matter(self):
        self.start("matters", code=self._picked(), from_bundle=self._bundle().code)  # 返回 there: this card

    # The material list ---------------------------------------------------------------------------

    def asks_materials(self) -> bool:
        return self._said(MATERIAL_WORDS) or follow_up_asked(self.word) == "materials"  # 要带啥, 材料有哪些

    def asks_materials_with_situations(self) -> bool:
        return self.asks_materials() and bool(self._settle()[1])

    def _next_question(self) -> Question | None:
        return next(iter(self._settle()[1]), None)

    def answers_question(self) -> bool:
        return self._reading() is not None

    def _correction(self) -> tuple[str, str, str] | None:
        """(key, new answer, what it now says) when this message puts an earlier answer right: it
        names another option of an earlier choice with a correction word, or denies an earlier
        yes/no in that question's words (dialogs.matters.flipped_answer)."""
        answers = self.data.get("answers") or {}
        if not answers:
            return None
        return correction_of(self.word, bundle_questions(self._guides()), answers, self._next_question())

    def corrects_answer(self) -> bool:
        return self._correction() is not None

    def say_corrected(self):
        key, answer, said = self._correction()
        self.data["answers"][key] = answer
        self.say("matters/corrected.j2", option=said)
        Dialog.ask(self)  # not `ask`: this message is no answer to the question on screen

    def takes_back_answer(self) -> bool:
        return TAKE_BACK.search(self.word) is not None

    def needs_time(self) -> bool:
        return self._reading() is None and needs_time(self.word)

    def say_take_your_time(self):
        self.say("booking/take_your_time.j2", step="situation")
        Dialog.ask(self)

    def asks_what_it_means(self) -> bool:
        return self._reading() is None and asks_what_it_means(self.word) and self._next_question() is not None

    def explain_question(self):
        self.say("matters/explained.j2", **explained(self._next_question(), self._guides()))
        Dialog.ask(self)

    def none_fits_the_options(self) -> bool:
        """否, 都不是, 没有这种情况 at one matter's choice of situations (it was 没太明白, again and
        again): none of its options is this person's."""
        question = self._next_question()
        if question is None or len(question.options) < 2 or self._reading() is not None:
            return False
        return self.word in NONE_FITS or NONE_OF_THESE.search(self.word) is not None or self.slot("yes_no") is False

    def say_no_option_fits(self):
        text = self._next_question().text
        matter = text[1:text.index("」")] if text.startswith("「") and "」" in text else ""
        self.say("bundles/no_option_fits.j2", matter=matter)
        Dialog.ask(self)

    def ask_again(self):
        self.say("matters/asked_again.j2", earlier=drop_last_answer(self.data))
        Dialog.ask(self)  # not `ask`: it would record this message as an answer to that question

    def step_back(self) -> bool:
        """返回 at a situation question: the question before it again (the card, from the first);
        at the card just after the list: the list's last question."""
        if self.state == "card" and self.data.get("listed"):
            reopen_listed(self.data)
            self.state = "situation"
            return True
        return self.state == "situation" and drop_last_answer(self.data)

    def _listed_correction(self) -> tuple[str, str, str] | None:
        listed = self.data.get("listed")
        return correction_of(self.word, bundle_questions(self._guides()), listed, None) if listed else None

    def corrects_listed_opening_one(self) -> bool:
        """The answer put right opens a question the earlier one settled (没结婚: 父亲的信息…)."""
        corrected = self._listed_correction()
        return corrected is not None and bool(self._settle({**self.data["listed"], corrected[0]: corrected[1]})[1])

    def say_corrected_and_ask(self):
        self.say("matters/corrected.j2", option=reopen_listed(self.data, self._listed_correction()))
        Dialog.ask(self)  # not `ask`: this message is no answer to the question it opened

    def answers_last_question(self) -> bool:
        reading = self._reading()
        if reading is None:
            return False
        return not self._settle({**self.data.get("answers", {}), reading[0]: reading[1]})[1]

    def _reading(self) -> tuple[str, str] | None:
        """(question key, answer) when this message answers the current question."""
        question = self._next_question()
        if question is None:
            return None
        answer = answer_to(question, self)
        return None if answer is None else (question.key, answer)

    def ask(self):
        if self.state == "situation":
            reading = self._reading() if self.incoming.kind == "text" else None
            if reading is not None:  # this message answered the question before: record it, ask the next
                self.data.setdefault("answers", {})[reading[0]] = reading[1]
        super().ask()

    def show_materials(self):
        """The merged list; reached with the last answer still unrecorded (guards never write)."""
        reading = self._reading() if self.incoming.kind == "text" else None
        answers = self.data.pop("answers", {})
        if reading is not None:
            answers[reading[0]] = reading[1]
        self.data["listed"] = answers  # what the list was made from: 不对… or 返回 after it reopens them
        chosen = self._settle(answers)[0]
        guides = self._guides()
        # What the person said, each once (两个事项 name 父母已婚 differently: one code, one name);
        # what the bundle's need gives goes without saying.
        told = chosen - settled_for(self._bundle()).given
        names: dict[str, str] = {}
        for guide in guides:
            for situation in guide.situations:
                if situation.code in told:
                    names.setdefault(situation.code, situation.name)
        situations = list(names.values())
        self.data["chosen"] = sorted(chosen)  # a booking made next brings this list
        self.remember(situations_key(self._bundle().code), sorted(chosen))  # and one made later in the session
        materials = merged_materials(guides, chosen, settled_for(self._bundle()))
        asked_for = sum(len(materials_for(g, chosen)) for g in guides)
        self.say("bundles/materials.j2", bundle=self._bundle(), materials=materials, situations=situations, saved=asked_for - len(materials))
        self.ask()

    # Booking and progress ----------------------------------------------------------------------

    def asks_booking(self) -> bool:
        """预约, and 我想预约 / 好的 那预约吧 (they were searched: 结婚登记预约, 离婚登记预约 …): nothing
        else named beside the booking word."""
        return self._said(BOOKING_WORDS) or follow_up_asked(self.word) == "booking" or only_booking(self.text)

    def book(self):
        """One appointment for every matter of the bundle, where the platform allows it; else
        where to go (the halls that handle its matters)."""
        bundle = self._bundle()
        if getattr(bundle, "bookable", False):
            self.start("booking", bundle=bundle.code, chosen=self.data.get("chosen"))
            return
        self.say("bundles/not_bookable.j2", bundle=bundle)
        self.ask()

    def asks_progress(self) -> bool:
        return self._said(PROGRESS_WORDS)

    def open_progress(self):
        self.start("progress")
