"""The domain probe: how much a message SOUNDS like something the catalog serves, read from its
sentence vector alone.

The in-domain model (bot/search/hybrid.py, `in_domain`) judges a message by how well the best
matter explains it. That misses the questions that share a matter's words but ask for something
the city's catalog does not do (独生子女证丢了, 公司去银行开对公账户, 执业医师资格考试报名): the
nearest matter is near. Those questions have a sound of their own (private services, exams,
other authorities, advice), and a linear reading of the sentence vector learns it from the tuning
sets' answerable questions against their out-of-scope ones. Its log-odds is one more feature of
the in-domain model (docs/search.md, "Session 27").

The weights are data (bot/search/domain_probe.json), fitted by `python -m bench.search_decide
--write-probe` for one sentence model; with another model (a different name or size) the probe
says nothing (0.0).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

PROBE = Path(__file__).with_name("domain_probe.json")


class DomainProbe:
    """A logistic reading of a sentence vector: `logit(vector)` is its log-odds of being in domain."""

    def __init__(self, model: str, weights: np.ndarray, bias: float):
        self.model = model
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = float(bias)

    @classmethod
    def load(cls, path: Path = PROBE) -> DomainProbe | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["model"], np.array(data["weights"], dtype=np.float32), data["bias"])

    def save(self, path: Path = PROBE) -> None:
        data = {"model": self.model, "bias": round(self.bias, 5), "weights": [round(float(w), 5) for w in self.weights]}
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")

    def reads(self, model: str, size: int) -> bool:
        """Whether it was fitted on this sentence model's vectors."""
        return model == self.model and size == len(self.weights)

    def logit(self, vector: np.ndarray) -> float:
        return float(self.weights @ vector) + self.bias


def fit(vectors: np.ndarray, inside: np.ndarray, model: str, l2: float = 0.3, steps: int = 30) -> DomainProbe:
    """Logistic regression with an L2 penalty (Newton's method: 512 weights, a few thousand rows)."""
    x = np.hstack([vectors.astype(np.float64), np.ones((len(vectors), 1))])
    y = inside.astype(np.float64)
    penalty = l2 * np.diag(np.r_[np.ones(x.shape[1] - 1), 0.0])  # the bias is not penalised
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        w -= np.linalg.solve(hessian, gradient)
    return DomainProbe(model, w[:-1], w[-1])
