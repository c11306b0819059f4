"""BM25 over character n-grams of every field a matter has.

The lexicon-driven index (index.py) understands the words it knows; this one needs no words at
all: a text is its characters and character pairs, so a phrasing nobody wrote into the lexicon
still meets the matter whose guide uses the same characters (a situation's name, a material, a
condition). Fields count by how much they say about the matter: the name and aliases fully, the
materials and conditions a little (BM25F-style weighted term frequency).

Each term's contribution to each document is computed once at build time; a query adds up a few
precomputed arrays with numpy, so its cost grows with its own (capped) length only.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

K1, B = 1.2, 0.75
UNIGRAM_WEIGHT = 0.3  # a character alone says little (证, 办); pairs carry the meaning
_LATIN = re.compile(r"[a-z0-9]{2,}")


def terms(text: str) -> list[str]:
    """A normalised text's terms: Han characters and adjacent pairs, Latin or digit words."""
    out: list[str] = []
    for run in re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff]+", text):
        out.extend(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    out.extend(_LATIN.findall(text))
    return out


class CharacterBM25:
    """BM25 over documents made of weighted fields: `documents[i]` is [(text, weight)]."""

    def __init__(self, documents: Sequence[Iterable[tuple[str, float]]]):
        self.size = len(documents)
        frequencies: list[dict[str, float]] = []
        for fields in documents:
            tf: dict[str, float] = defaultdict(float)
            for text, weight in fields:
                for term in terms(text):
                    tf[term] += weight
            frequencies.append(tf)
        lengths = np.array([sum(tf.values()) for tf in frequencies] or [0.0], dtype=np.float64)
        average = float(lengths.mean()) or 1.0
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for i, tf in enumerate(frequencies):
            norm = K1 * (1 - B + B * lengths[i] / average)
            for term, f in tf.items():
                docs, values = postings[term]
                docs.append(i)
                values.append(f * (K1 + 1) / (f + norm))
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.idf: dict[str, float] = {}
        for term, (docs, values) in postings.items():
            idf = math.log(1 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5))
            if len(term) == 1:
                idf *= UNIGRAM_WEIGHT
            self.idf[term] = idf
            self._postings[term] = (np.array(docs, dtype=np.int64), np.array(values, dtype=np.float32) * idf)
        self._unknown = math.log(1 + (self.size + 0.5) / 0.5)  # what a pair no document has would weigh

    def scores(self, text: str) -> tuple[np.ndarray, float]:
        """Each document's BM25 score for the query text (a term counted once), and the most a
        document could score: every known term at its best, every unknown pair at what it would
        weigh (a query full of words no matter uses is about something else)."""
        out = np.zeros(self.size, dtype=np.float32)
        ceiling = 0.0
        for term in dict.fromkeys(terms(text)):
            posting = self._postings.get(term)
            if posting is not None:
                out[posting[0]] += posting[1]
                ceiling += float(posting[1].max())
            elif len(term) == 2:
                ceiling += self._unknown
        return out, ceiling

    def pair_share(self, text: str) -> float:
        """The best document's score from the text's pairs and words alone, as a share of the
        most they allow (pairs no document has count in that ceiling): how much of what the text
        says one document says too. Single characters are left out: 开 alone says nothing."""
        out = np.zeros(self.size, dtype=np.float32)
        ceiling = 0.0
        for term in dict.fromkeys(terms(text)):
            if len(term) < 2:
                continue
            posting = self._postings.get(term)
            if posting is not None:
                out[posting[0]] += posting[1]
                ceiling += float(posting[1].max())
            else:
                ceiling += self._unknown
        return float(out.max()) / ceiling if ceiling > 0 and self.size else 0.0

    def weight(self, term: str) -> float:
        """How much a term tells documents apart (0 for one no document has)."""
        return self.idf.get(term, 0.0)
