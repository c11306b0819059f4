"""Fit the search's decision (is the message a matter at all?) on the tuning sets, and say what it costs.

    python -m bench.search_decide                 # about a minute: the evidence of every tuning question, once
    python -m bench.search_decide --write-probe   # and write the domain probe fitted on them all

For every question of the tuning sets (search-dev, -more, -own, -eval-tune, -eval2-tune, and from
session 11 -eval3-tune and -letters-dev, from session 12 -eval4-tune, from session 14 -eval5-tune, from session 18 -eval6-tune, then -eval7-tune, -eval8-tune and from session 22 -eval9-tune) it computes the search's evidence once, then fits the in-domain model of bot/search/hybrid.py
(logistic regression over `domain_features`) on the answerable questions against the
out-of-scope and junk ones the junk filter lets through, and prints:

- the weights in hybrid.py as they are, per threshold (in-sample for the sets they were fitted on);
- leave-one-set-out figures (the model fitted without a set, judged on it: dev and more count as
  one set) per threshold: top-1 / top-3, answerable questions turned away as out of scope (false
  rejects), out-of-scope questions shown a matter (false accepts), junk shown a matter;
- the same with the features of session 8 alone (no out-of-scope topics) and without the domain
  probe (bot/search/probe.py), for comparison. The probe's log-odds a question is read with comes
  from a probe fitted without that question's set (stacking), so the model weighs the probe as
  it does on questions it never saw; `--write-probe` writes the probe fitted on every set;
- the weights fitted on all the tuning sets, to paste into hybrid.py (IN_DOMAIN_BIAS,
  IN_DOMAIN_WEIGHTS), with the threshold the leave-one-set-out objective chose.

The objective weighs a person's cost: top-3 + ½ top-1 + 1 per out-of-scope or junk question
answered with no matter, among the thresholds that give no junk a matter (so a false reject of an answerable question, which loses its top-3
and top-1, costs 1.5, more than a false accept). The held-out half and the blind sets are
never read. Prints figures; asserts nothing.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from bench.search_models import DATA, fit

# Each tuning set and its fold for leave-one-set-out (dev and more count as one set).
FOLD = {"search-dev": 0, "search-more": 0, "search-own": 1, "search-eval-tune": 2, "search-eval2-tune": 3, "search-eval3-tune": 4,
        "search-letters-dev": 5, "search-eval4-tune": 6, "search-eval5-tune": 7, "search-eval6-tune": 8, "search-eval7-tune": 9, "search-eval8-tune": 10, "search-eval9-tune": 11,
        "search-eval10-tune": 12}
SETS = tuple(FOLD)
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
SESSION_8 = 7  # the first seven features: no out-of-scope topics
SESSION_26 = 11  # all but the domain probe
PROBE_L2 = (0.1, 0.3, 1.0, 3.0)  # the probe's penalties tried; the best leave-one-set-out AUC is kept


def collect() -> list[dict]:
    from bot.search.evaluate import read_cases
    from bot.search.hybrid import (BUNDLE_PRIOR, CLEAR, CLEAR_MARGIN, VECTOR_CACHE, W_BM25, W_LEXICAL, W_SEMANTIC, MatterSearch,
                                   domain_features, lead)
    from integrations.platform.simulator.world import World

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    world = World.load()
    search = MatterSearch.build(world.summaries.values(), world.guides, world.bundles.values(), version=world.version,
                                cache_dir=VECTOR_CACHE)
    position = {d.name: i for i, d in enumerate(search.documents)}
    rows = []
    for name in SETS:
        path = DATA / f"{name}.jsonl"
        if not path.exists():
            continue
        for case in read_cases(path):
            row = dict(set=name, category=case.get("category", ""), expect={position[n] for n in case["expect"] if n in position},
                       answerable=bool(case["expect"]))
            evidence = search.evidence(case["query"])
            row["junk"] = evidence is None
            if evidence is not None:
                evidence = search.for_the_writer(evidence, case["query"])  # what the search decides on
                fused = evidence.fused(W_LEXICAL, W_BM25, W_SEMANTIC, BUNDLE_PRIOR)  # what the model reads
                ranked = search.weigh_subject(evidence.ranked(fused), evidence.need)  # what the hits are ordered by, as the search does
                order = np.argsort(-ranked, kind="stable")[:5]
                row["order"] = [int(i) for i in order if ranked[i] > 0]
                best, margin = lead(ranked)
                row["clear"] = best >= CLEAR and margin >= CLEAR_MARGIN
                row["best"], row["margin"] = lead(fused)
                row["x"] = np.array(domain_features(evidence, row["best"], row["margin"]))
                row["vector"] = evidence.vector
            rows.append(row)
    return rows


def tally(rows: list[dict], p: list[float], threshold: float) -> dict:
    from bot.search.hybrid import CLEAR, CLEAR_MARGIN

    t = dict(n=0, top1=0, top3=0, rejected=0, oos_n=0, oos=0, junk_n=0, junk=0)
    for row, prob in zip(rows, p):
        got: list[int] = []
        if not row["junk"] and row["order"] and prob >= threshold:
            got = row["order"][:1] if row["clear"] else row["order"]
        if row["answerable"]:
            t["n"] += 1
            t["top1"] += bool(got) and got[0] in row["expect"]
            t["top3"] += any(i in row["expect"] for i in got[:3])
            t["rejected"] += not got
        elif row["category"] == "junk" or row["junk"]:
            t["junk_n"] += 1
            t["junk"] += not got
        else:
            t["oos_n"] += 1
            t["oos"] += not got
    t["objective"] = t["top3"] + 0.5 * t["top1"] + t["oos"] + t["junk"]
    return t


def line(t: dict) -> str:
    return (f"top-1 {t['top1'] / t['n']:.3f} top-3 {t['top3'] / t['n']:.3f} (n={t['n']}), false rejects {t['rejected']}, "
            f"out of scope with no matter {t['oos']}/{t['oos_n']} (false accepts {t['oos_n'] - t['oos']}), junk {t['junk']}/{t['junk_n']}, "
            f"objective {t['objective']:.1f}")


def train(rows: list[dict], columns: int) -> tuple[np.ndarray, float]:
    scored = [r for r in rows if not r["junk"]]
    x = np.array([r["x"][:columns] for r in scored])
    y = np.array([1.0 if r["answerable"] else 0.0 for r in scored])
    return fit(x, y, 1.0)


def probabilities(rows: list[dict], model: tuple[np.ndarray, float], columns: int) -> list[float]:
    w, b = model
    return [0.0 if r["junk"] else 1 / (1 + math.exp(-(b + float(w @ r["x"][:columns])))) for r in rows]


def auc(scores: np.ndarray, inside: np.ndarray) -> float:
    """The chance an answerable question scores above an out-of-scope one."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(len(scores))
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    return float((ranks[inside].sum() - n_in * (n_in - 1) / 2) / (n_in * n_out))


def stack_probe(rows: list[dict], write: bool) -> None:
    """Put each question's probe log-odds, from a probe fitted without its set, in its features;
    fit the probe on every set (and write it when asked)."""
    from bot.search.probe import fit as fit_probe
    from bot.search.semantic import MODEL

    scored = [r for r in rows if not r["junk"] and r.get("vector") is not None]
    vectors = np.stack([r["vector"] for r in scored])
    inside = np.array([r["answerable"] for r in scored])
    folds = np.array([FOLD[r["set"]] for r in scored])
    best = None
    for l2 in PROBE_L2:
        held = np.zeros(len(scored))
        for fold in sorted(set(folds)):
            probe = fit_probe(vectors[folds != fold], inside[folds != fold], MODEL, l2)
            held[folds == fold] = vectors[folds == fold] @ probe.weights + probe.bias
        score = auc(held, inside)
        print(f"  domain probe, L2 {l2}: leave-one-set-out AUC {score:.4f} (answerable against out of scope)")
        if best is None or score > best[0]:
            best = (score, l2, held)
    _, l2, held = best
    for row, logit in zip(scored, held):
        row["x"][-1] = logit
    probe = fit_probe(vectors, inside, MODEL, l2)
    if write:
        probe.save()
        print(f"  wrote bot/search/domain_probe.json (L2 {l2}, {len(scored)} questions)")


def main() -> None:
    import argparse

    from bot.search.hybrid import IN_DOMAIN_FEATURES

    parser = argparse.ArgumentParser(description="fit the search's in-domain decision on the tuning sets")
    parser.add_argument("--write-probe", action="store_true", help="write bot/search/domain_probe.json fitted on every tuning set")
    options = parser.parse_args()
    started = time.perf_counter()
    rows = collect()
    print(f"evidence for {len(rows)} questions of {', '.join(sorted({r['set'] for r in rows}))} in {time.perf_counter() - started:.0f} s")
    from bot.search.hybrid import IN_DOMAIN_BIAS, IN_DOMAIN_WEIGHTS

    current = probabilities(rows, (np.array(IN_DOMAIN_WEIGHTS), IN_DOMAIN_BIAS), len(IN_DOMAIN_WEIGHTS))
    print("\n== the weights in bot/search/hybrid.py as they are (fitted before some of these sets existed)")
    for threshold in THRESHOLDS:
        print(f"  threshold {threshold:.2f}: {line(tally(rows, current, threshold))}")
    print("\n== the domain probe")
    stack_probe(rows, options.write_probe)
    chosen = None
    for title, columns in (("session 8's features", SESSION_8), ("with the out-of-scope topics", SESSION_26),
                           ("with the domain probe", len(IN_DOMAIN_FEATURES))):
        held = [0.0] * len(rows)  # each question's probability from a model fitted without its set
        for fold in sorted(set(FOLD.values())):
            model = train([r for r in rows if FOLD[r["set"]] != fold], columns)
            for i, row in enumerate(rows):
                if FOLD[row["set"]] == fold:
                    held[i] = probabilities([row], model, columns)[0]
        print(f"\n== {title}, leave one set out")
        best = None
        for threshold in THRESHOLDS:
            t = tally(rows, held, threshold)
            print(f"  threshold {threshold:.2f}: {line(t)}")
            for name in ("search-eval-tune", "search-eval2-tune", "search-eval3-tune", "search-eval4-tune"):
                part = [(r, p) for r, p in zip(rows, held) if r["set"] == name]
                if part:
                    print(f"      {name}: {line(tally([r for r, _ in part], [p for _, p in part], threshold))}")
            if t["junk"] == t["junk_n"] and (best is None or t["objective"] > best[0]):  # junk never gets a matter
                best = (t["objective"], threshold)
        chosen = (columns, best[1])
    columns, threshold = chosen
    w, b = train(rows, columns)
    print(f"\n== fitted on all the tuning sets; threshold {threshold} (the best leave-one-set-out objective)")
    print(f"IN_DOMAIN = {threshold}")
    print(f"IN_DOMAIN_BIAS = {b:.3f}")
    print(f"IN_DOMAIN_WEIGHTS = ({', '.join(f'{v:.3f}' for v in w)})  # {', '.join(IN_DOMAIN_FEATURES)}")
    print("  in-sample:", line(tally(rows, probabilities(rows, (w, b), columns), threshold)))


if __name__ == "__main__":
    main()
