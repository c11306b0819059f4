"""Would a learned re-ranker of the search's best candidates find the right matter more often?

    python -m bench.search_rerank            # a minute or two: the evidence of every tuning question, once
    python -m bench.search_rerank --cached   # reuse var/search-rerank.pkl from the last run

The search ranks by a weighted sum of three scores (lexicon index, BM25, sentence cosine; four
weights chosen by a grid, docs/search.md). This asks whether more of what the search already
knows per candidate, weighed by a model fitted on the tuning sets, would rank better: each
candidate of the fused top POOL gets features (the three scores and their ranks, the raw cosine
and its gap to the best, the cosine of the matter's name alone and of its said phrases alone,
BM25 over its name and aliases alone and over its said phrases alone, whether it has a guide,
whether it is a bundle or named exactly), and a linear scorer is fitted with a listwise softmax
loss (the right candidates' share of the probability), L2-regularised, by gradient descent.

Figures are leave one set out (the scorer fitted without a set, judged on it; dev and more are
one set), on the tuning sets only (search_decide.FOLD): per set, top-1 / top-3 of the answerable
questions as ranked (no decision) and as shown (the search's own verdict: a clear winner shows
one hit), for the search as it is and re-ranked. The held-out half and the blind sets are never
read. Prints figures; asserts nothing.

What it found (session 14, docs/search.md): on the sets the search was tuned on there is nothing
to learn; on a fresh set it gained two or three questions in 135, mostly through one feature, BM25
over a matter's said phrases alone, which the search now ranks by (`hybrid.W_SAID`); with that,
the re-ranker gains nothing. Kept to test the next idea for a feature before building it in.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import time
from pathlib import Path

import numpy as np

from bench.search_decide import FOLD, SETS
from bench.search_models import DATA

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "search-rerank.pkl"
POOL = 20  # candidates re-ranked per question


def collect(said_phrases: bool = True, sets: tuple[str, ...] = SETS) -> list[dict]:
    from bot.search.bm25 import CharacterBM25
    from bot.search.evaluate import read_cases
    from bot.search.hybrid import (BUNDLE_PRIOR, CLEAR, CLEAR_MARGIN, FIELDS, IN_DOMAIN, VECTOR_CACHE, W_BM25, W_LEXICAL,
                                   W_SEMANTIC, MatterSearch, SemanticIndex, _said, in_domain, lead, load_life_events, load_said)
    from bot.search.text import core_name, squeeze
    from integrations.platform.simulator.world import World

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    world = World.load()
    events = (*load_life_events(), *load_said()) if said_phrases else load_life_events()
    search = MatterSearch.build(world.summaries.values(), world.guides, world.bundles.values(), version=world.version,
                                cache_dir=VECTOR_CACHE, life_events=events)
    docs = search.documents
    guides = world.guides
    said = _said(events, list(world.summaries.values()), list(world.bundles.values()))
    bundles = {b.code: b for b in world.bundles.values()}
    names, said_texts, name_fields, said_fields = [], [], [], []
    for d in docs:
        aliases = bundles[d.code].aliases if d.kind == "bundle" else (guides[d.code].aliases if d.code in guides else ())
        names.append([core_name(d.name), *aliases])
        said_texts.append(list(said.get(d.code, ())))
        name_fields.append([(squeeze(core_name(d.name)), FIELDS["name"]), *((squeeze(a), FIELDS["alias"]) for a in aliases)])
        said_fields.append([(squeeze(w), 1.0) for w in said.get(d.code, ())])
    encoder = search._encoder
    name_vectors = SemanticIndex.build(names, encoder, VECTOR_CACHE)
    said_vectors = SemanticIndex.build(said_texts, encoder, VECTOR_CACHE)
    name_bm25, said_bm25 = CharacterBM25(name_fields), CharacterBM25(said_fields)
    has_guide = np.array([d.code in guides for d in docs], dtype=np.float32)
    n_said = np.log1p(np.array([len(t) for t in said_texts], dtype=np.float32))

    seen: dict[str, np.ndarray] = {}  # the query vector the search computed, and its raw cosines
    encode = encoder.encode_query
    similarities = search._semantic.similarities

    def spy_encode(text: str) -> np.ndarray:
        seen["vector"] = v = encode(text)
        return v

    def spy_similarities(vector: np.ndarray) -> np.ndarray:
        seen["cosine"] = c = similarities(vector)
        return c

    encoder.encode_query = spy_encode
    search._semantic.similarities = spy_similarities
    position = {d.name: i for i, d in enumerate(docs)}
    rows = []
    for name in sets:
        path = DATA / f"{name}.jsonl"
        if not path.exists():
            continue
        for case in read_cases(path):
            seen.clear()
            row = dict(set=name, category=case.get("category", ""), expect={position[n] for n in case["expect"] if n in position},
                       answerable=bool(case["expect"]))
            evidence = search.evidence(case["query"])
            if evidence is None:
                row["junk"] = True
                rows.append(row)
                continue
            row["junk"] = False
            calibrated = evidence.fused(W_LEXICAL, W_BM25, W_SEMANTIC, BUNDLE_PRIOR)
            fused = evidence.ranked(calibrated)
            order = np.argsort(-fused, kind="stable")
            pool = [int(i) for i in order[:POOL] if fused[i] > 0]
            best, margin = lead(fused)
            verdict = "out" if not pool or in_domain(evidence, *lead(calibrated)) < IN_DOMAIN else (
                "matter" if best >= CLEAR and margin >= CLEAR_MARGIN else "candidates")
            cosine = seen.get("cosine", np.zeros(len(docs), np.float32))
            vector = seen.get("vector")
            name_cos = name_vectors.similarities(vector) if vector is not None else np.zeros(len(docs), np.float32)
            said_cos = said_vectors.similarities(vector) if vector is not None else np.zeros(len(docs), np.float32)
            text = squeeze(evidence.need)
            nb, _ = name_bm25.scores(text)
            sb, _ = said_bm25.scores(text)
            nb = nb / nb.max() if nb.max() > 0 else nb
            sb = sb / sb.max() if sb.max() > 0 else sb

            def ranks(values: np.ndarray) -> np.ndarray:
                r = np.empty(len(values), np.float32)
                r[np.argsort(-values, kind="stable")] = np.arange(len(values))
                return 1.0 / (1.0 + r)

            rl, rb, rs = ranks(evidence.lexical), ranks(evidence.bm25), ranks(cosine)
            top_cos = float(cosine.max())
            top_lex = float(evidence.lexical.max())
            x = []
            for k, i in enumerate(pool):
                x.append([fused[i], evidence.lexical[i], evidence.bm25[i], evidence.semantic[i], cosine[i], cosine[i] - top_cos,
                          evidence.lexical[i] - top_lex, float(i == evidence.exact), float(evidence.bundles[i]),
                          max(name_cos[i], 0.0), max(said_cos[i], 0.0), nb[i], sb[i], has_guide[i], n_said[i], 1.0 / (1.0 + k),
                          rl[i], rb[i], rs[i], float(evidence.lexical[i] > 0 and evidence.semantic[i] > 0),
                          float(evidence.foreign) * cosine[i], float(evidence.chars > 32) * evidence.lexical[i]])
            row.update(pool=pool, x=np.array(x, dtype=np.float64).reshape(len(pool), len(FEATURES)), verdict=verdict)
            rows.append(row)
    return rows


FEATURES = ("fused", "lexical", "bm25", "semantic", "cosine", "cosine gap", "lexical gap", "exact", "bundle", "name cosine",
            "said cosine", "name bm25", "said bm25", "has guide", "log said", "fused rank", "lexical rank", "bm25 rank",
            "cosine rank", "lexical and semantic", "foreign cosine", "letter lexical")


def fit(rows: list[dict], columns: list[int], l2: float = 0.01, steps: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A linear scorer over the candidates, by a listwise softmax loss (Adam)."""
    data = [(r["x"][:, columns], np.array([i in r["expect"] for i in r["pool"]])) for r in rows
            if r["answerable"] and not r["junk"] and any(i in r["expect"] for i in r["pool"])]
    stacked = np.vstack([x for x, _ in data])
    mean, std = stacked.mean(0), stacked.std(0) + 1e-6
    data = [((x - mean) / std, y) for x, y in data]
    w = np.zeros(len(columns))
    w[0] = 1.0  # start from the fused score
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, steps + 1):
        grad = l2 * w
        for x, y in data:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            q = p * y
            q /= q.sum()
            grad += x.T @ (p - q) / len(data)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= 0.05 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return w, mean, std


def tally(rows: list[dict], model: tuple[np.ndarray, np.ndarray, np.ndarray] | None, columns: list[int]) -> dict:
    t = dict(n=0, r1=0, r3=0, s1=0, s3=0)
    for r in rows:
        if not r["answerable"]:
            continue
        t["n"] += 1
        if r["junk"] or not r["pool"]:
            continue
        order = list(r["pool"])
        if model is not None:
            w, mean, std = model
            s = ((r["x"][:, columns] - mean) / std) @ w
            order = [r["pool"][k] for k in np.argsort(-s, kind="stable")]
        t["r1"] += order[0] in r["expect"]
        t["r3"] += any(i in r["expect"] for i in order[:3])
        shown = [] if r["verdict"] == "out" else order[:1] if r["verdict"] == "matter" else order[:5]
        t["s1"] += bool(shown) and shown[0] in r["expect"]
        t["s3"] += any(i in r["expect"] for i in shown[:3])
    return t


def line(t: dict) -> str:
    n = t["n"]
    return f"ranked {t['r1'] / n:.3f} / {t['r3'] / n:.3f}   shown {t['s1'] / n:.3f} / {t['s3'] / n:.3f}   (n={n})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cached", action="store_true")
    parser.add_argument("--l2", type=float, default=0.01)
    parser.add_argument("--no-said", action="store_true", help="build the search without config/said.toml")
    parser.add_argument("--drop", default="", help="comma-separated features to leave out")
    args = parser.parse_args()
    started = time.perf_counter()
    cache = CACHE.with_suffix(".no-said.pkl") if args.no_said else CACHE
    if args.cached and cache.exists():
        rows = pickle.loads(cache.read_bytes())
    else:
        rows = collect(not args.no_said)
        cache.parent.mkdir(exist_ok=True)
        cache.write_bytes(pickle.dumps(rows))
    print(f"{len(rows)} questions in {time.perf_counter() - started:.0f} s; "
          f"right matter in the pool of {POOL}: {sum(1 for r in rows if r['answerable'] and not r['junk'] and r['expect'] & set(r['pool']))}"
          f" of {sum(r['answerable'] for r in rows)} answerable")
    drop = {d.strip() for d in args.drop.split(",") if d.strip()}
    columns = [k for k, f in enumerate(FEATURES) if f not in drop]
    folds = sorted(set(FOLD.values()))
    total_now, total_new = dict(n=0, r1=0, r3=0, s1=0, s3=0), dict(n=0, r1=0, r3=0, s1=0, s3=0)
    for fold in folds:
        test = [r for r in rows if FOLD[r["set"]] == fold]
        model = fit([r for r in rows if FOLD[r["set"]] != fold], columns, args.l2)
        now, new = tally(test, None, columns), tally(test, model, columns)
        for k in total_now:
            total_now[k] += now[k]
            total_new[k] += new[k]
        sets = ",".join(sorted({r["set"] for r in test}))
        print(f"{sets:32} now {line(now)}\n{'':32} new {line(new)}")
    print(f"{'all, leave one set out':32} now {line(total_now)}\n{'':32} new {line(total_new)}")
    w, mean, std = fit(rows, columns, args.l2)
    print("weights fitted on all (standardised features):")
    for k, c in enumerate(columns):
        print(f"  {FEATURES[c]:22} {w[k]:+.3f}")


def transfer(l2: float = 0.01, judge: tuple[str, ...] = ()) -> None:
    """Fit on the search built without said.toml (less tuned to these sets), judge on the search as it is."""
    plain = pickle.loads(CACHE.with_suffix(".no-said.pkl").read_bytes())
    full = pickle.loads(CACHE.read_bytes())
    if judge:
        full = collect(True, judge)
        print("right matter in the pool:", sum(1 for r in full if r["answerable"] and not r["junk"] and r["expect"] & set(r["pool"])),
              "of", sum(r["answerable"] for r in full))
    columns = list(range(len(FEATURES)))
    model = fit(plain, columns, l2)
    tuned = fit(pickle.loads(CACHE.read_bytes()), columns, l2)
    if judge:
        print(f"{'fitted on the full search':24} new {line(tally(full, tuned, columns))}")
    for name in judge or SETS:
        part = [r for r in full if r["set"] == name]
        if part:
            print(f"{name:24} now {line(tally(part, None, columns))}\n{'':24} new {line(tally(part, model, columns))}")
    print(f"{'all':24} now {line(tally(full, None, columns))}\n{'':24} new {line(tally(full, model, columns))}")


if __name__ == "__main__":
    main()
