"""The curated lexicon (config/lexicon.toml): how citizens say things, as data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from bot.search.text import normalize, squeeze

DEFAULT_LEXICON = Path(__file__).resolve().parents[2] / "config" / "lexicon.toml"


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

    @classmethod
    def load(cls, path: Path = DEFAULT_LEXICON) -> Lexicon:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        intents = tuple(
            Intent(name, tuple(squeeze(t) for t in spec.get("triggers", [])), tuple(spec.get("marks", [])))
            for name, spec in data.get("intents", {}).items()
        )
        synonyms = {squeeze(k): tuple(squeeze(v) for v in values) for k, values in data.get("synonyms", {}).items()}
        pinyin = data.get("pinyin", {})
        return cls(
            stopwords=frozenset(squeeze(w) for w in data.get("stopwords", {}).get("words", [])),
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
            english={normalize(k): v for k, v in data.get("english", {}).items()},
        )

    def gloss(self, text: str, longest: int = 4) -> str:
        """The Chinese the catalog would use for an English text: its known words and phrases
        (longest first), glossed and joined; '' when none is known."""
        words = normalize(text).split()
        found, i = [], 0
        while i < len(words):
            for n in range(min(longest, len(words) - i), 0, -1):
                chinese = self.english.get(" ".join(words[i:i + n]))
                if chinese:
                    found.append(chinese)
                    i += n
                    break
            else:
                i += 1
        return "".join(dict.fromkeys(found))

    def intent(self, name: str) -> Intent | None:
        return next((i for i in self.intents if i.name == name), None)
