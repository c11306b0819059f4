"""Accuracy of the matter search over a question set, as a person meets it.

Lines of {"query": ..., "expect": [names], "persona": ..., "category": ...}; persona and category
are optional. A question is answered right at top-k when an expected matter or bundle is among
the first k hits the person is SHOWN (a clear match shows one, candidates up to five, out of
scope and junk none). `expect: []` means the catalog has nothing for it: any shown hit is a
false accept. The report breaks the figures down by category and by persona.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Miss:
    query: str
    expect: list[str]
    got: list[str]
    category: str = ""


@dataclass
class Tally:
    answerable: int = 0
    top1: int = 0
    top3: int = 0
    unanswerable: int = 0
    empty: int = 0

    def add(self, expect: list[str], got: list[str]) -> bool:
        """Count one question; whether it was answered right (top 3, or nothing when nothing fits)."""
        if not expect:
            self.unanswerable += 1
            self.empty += not got
            return not got
        self.answerable += 1
        self.top1 += bool(got) and got[0] in expect
        right = any(name in expect for name in got[:3])
        self.top3 += right
        return right

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.answerable if self.answerable else 1.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.answerable if self.answerable else 1.0

    @property
    def empty_rate(self) -> float:
        return self.empty / self.unanswerable if self.unanswerable else 1.0

    def line(self) -> str:
        parts = []
        if self.answerable:
            parts.append(f"top-1 {self.top1_rate:.3f}  top-3 {self.top3_rate:.3f}  (n={self.answerable})")
        if self.unanswerable:
            parts.append(f"no matter {self.empty_rate:.3f} (n={self.unanswerable})")
        return "   ".join(parts)


@dataclass
class Evaluation(Tally):
    categories: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    personas: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    verdicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    misses: list[Miss] = field(default_factory=list)

    @property
    def false_accepts(self) -> int:
        return self.unanswerable - self.empty

    def report(self, show_misses: bool = True) -> str:
        lines = [
            f"top-1 accuracy: {self.top1_rate:.3f} ({self.top1}/{self.answerable})",
            f"top-3 accuracy: {self.top3_rate:.3f} ({self.top3}/{self.answerable})",
            f"empty when expected: {self.empty_rate:.3f} ({self.empty}/{self.unanswerable})",
            f"false accepts: {self.false_accepts} of {self.unanswerable} questions the catalog has nothing for",
            "verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(self.verdicts.items())),
        ]
        for title, table in (("by category", self.categories), ("by persona", self.personas)):
            if len(table) > 1 or (table and "" not in table):
                lines.append(f"{title}:")
                lines += [f"  {name or '-':14} {tally.line()}" for name, tally in sorted(table.items())]
        lines.append(f"misses: {len(self.misses)}")
        if show_misses:
            for miss in self.misses:
                label = f"[{miss.category}] " if miss.category else ""
                lines.append(f"  {label}{miss.query!r}: expected {miss.expect or 'nothing'}, got {miss.got or 'nothing'}")
        return "\n".join(lines)


def read_cases(path: Path) -> list[dict]:
    cases = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            cases.append(json.loads(line))
    return cases


def evaluate(search, cases: list[dict]) -> Evaluation:
    """`search` is a bot.search.MatterSearch (its verdicts count: what a person is shown) or a
    bare lexical MatterIndex (its hits are what is shown)."""
    result = Evaluation()
    for case in cases:
        expect = list(case["expect"])
        if hasattr(search, "find"):
            found = search.find(case["query"], 5)
            result.verdicts[found.verdict] += 1
            got = [hit.name for hit in found.shown]
        else:
            got = [hit.name for hit in search.search(case["query"], top=3)]
        category, persona = case.get("category", ""), case.get("persona", "")
        right = result.add(expect, got)
        result.categories[category].add(expect, got)
        result.personas[persona].add(expect, got)
        if not right or (expect and got[:1] and got[0] not in expect):
            result.misses.append(Miss(case["query"], expect, got[:3], category))
    return result
