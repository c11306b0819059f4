"""Accuracy of the matter search over a query set: lines of {"query": ..., "expect": [names]}.
A hit is any expected name among the top-k results; expect [] means nothing should be found."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.search.index import MatterIndex


@dataclass
class Miss:
    query: str
    expect: list[str]
    got: list[str]


@dataclass
class Evaluation:
    answerable: int = 0
    top1: int = 0
    top3: int = 0
    unanswerable: int = 0
    empty: int = 0
    misses: list[Miss] = field(default_factory=list)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.answerable if self.answerable else 1.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.answerable if self.answerable else 1.0

    @property
    def empty_rate(self) -> float:
        return self.empty / self.unanswerable if self.unanswerable else 1.0

    def report(self) -> str:
        lines = [
            f"top-1 accuracy: {self.top1_rate:.3f} ({self.top1}/{self.answerable})",
            f"top-3 accuracy: {self.top3_rate:.3f} ({self.top3}/{self.answerable})",
            f"empty when expected: {self.empty_rate:.3f} ({self.empty}/{self.unanswerable})",
            f"misses: {len(self.misses)}",
        ]
        for miss in self.misses:
            lines.append(f"  {miss.query!r}: expected {miss.expect or 'nothing'}, got {miss.got or 'nothing'}")
        return "\n".join(lines)


def read_cases(path: Path) -> list[dict]:
    cases = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            cases.append(json.loads(line))
    return cases


def evaluate(index: MatterIndex, cases: list[dict]) -> Evaluation:
    result = Evaluation()
    for case in cases:
        expect = list(case["expect"])
        got = [hit.name for hit in index.search(case["query"], top=3)]
        if not expect:
            result.unanswerable += 1
            if got:
                result.misses.append(Miss(case["query"], expect, got))
            else:
                result.empty += 1
            continue
        result.answerable += 1
        if got[:1] and got[0] in expect:
            result.top1 += 1
        if any(name in expect for name in got[:3]):
            result.top3 += 1
        if not (got[:1] and got[0] in expect):
            result.misses.append(Miss(case["query"], expect, got))
    return result
