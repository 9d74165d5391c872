"""A named report's masked dense search taken from the whole scope's scan, against the two
searches made apart: time per segment, by the share of the segment the named reports hold.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/within_scan.py /tmp/scale1m/million \\
        [--questions 178] [--repeat 3]

For every gold question that names reports whose rows are taken by a mask (not scored one by
one), and every IVF-PQ segment of the passages' and the sentences' dense stores: the best of
``--repeat`` timings of ``DenseStore.approximate`` for the whole scope then for the named mask,
and of ``DenseStore.approximate_within`` for both, with ``WITHIN_SHARE`` set to 0 so that the
shared scan is always tried. Checks that both ways give the same lists. One thread for FAISS.
Prints a table by share bin: segments, ms apart, ms shared, and how often the shared scan had
to search a list again (the named mask when too few of its rows were found; either list when
scores tied at its cut). Both sides are the store's calls alone: the masks are made and counted
before the timing, and an all-true named mask is searched with its bitmap (``search_part``
would search it without). Used to choose ``stores.WITHIN_SHARE``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BINS = (0.0, 1 / 16, 1 / 8, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1.01)


def best_of(repeat: int, fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _apart(part, vector, k, outer, k_within, within):  # type: ignore[no-untyped-def]
    return part.approximate(vector, k, outer), part.approximate(vector, k_within, within)


def _counted(calls: list[int], real, *args):  # type: ignore[no-untyped-def]
    calls.append(1)
    return real(*args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--questions", type=int, default=178)
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--random-share", type=float,
                    help="instead of the named reports, a random share of the whole scope's "
                         "reports, for every question")
    ap.add_argument("--exact-rows", type=int,
                    help="first_stage.EXACT_ROWS to use, and EXACT_SHARE 0 (a small index)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import faiss

    faiss.omp_set_num_threads(1)
    from inspect_qa import Retriever, stores
    from inspect_qa.search import first_stage

    stores.WITHIN_SHARE = 0.0
    if args.exact_rows is not None:
        first_stage.EXACT_ROWS, first_stage.EXACT_SHARE = args.exact_rows, 0.0
    questions = [json.loads(line)["question"]
                 for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    r = Retriever.load(args.index)
    corpus, ix = r.corpus, r.index
    rows: dict[int, list[tuple[float, float, bool]]] = defaultdict(list)
    again = 0
    named = 0
    rng = np.random.default_rng(0)
    for q in questions[: args.questions]:
        question = r.analyser.analyse(q, True)
        if args.random_share is not None:  # reports drawn at random, as if named
            drawn = rng.random(len(corpus.document_ids)) < args.random_share
            mask = drawn[corpus.chunk_documents]
            if corpus.live is not None:
                mask &= corpus.live
            scopes = (first_stage.Scope(mask=mask), first_stage.Scope(passages=mask))
        else:
            scopes = first_stage.named_scopes(corpus, question, corpus.live)
        if scopes is None or question.vector is None:
            continue
        vector = first_stage.feedback(ix, question.vector).reshape(1, -1)
        whole = (first_stage.Scope(mask=corpus.live),
                 first_stage.Scope(mask=first_stage._sentence_mask(corpus, corpus.live)))
        taken = False
        for kind, store in ((0, ix.dense), (1, ix.sentence_dense)):
            inner = scopes[kind]
            if inner.rows is not None or not hasattr(store, "parts"):
                continue
            taken = True
            for k, part in enumerate(store.parts):
                if not part.approximate_search:
                    continue
                a, b = int(store.bounds[k]), int(store.bounds[k + 1])
                outer = whole[kind].part(corpus, a, b)
                within = inner.part(corpus, a, b)
                if outer is not None and outer.all():
                    outer = None
                total = len(part) if outer is None else int(outer.sum())
                inside = int(within.sum())
                if not inside or not total:
                    continue
                kk = min(first_stage.DEPTH, total)
                kw = min(first_stage.DEPTH, inside)
                apart_s, apart = best_of(args.repeat, functools.partial(
                    _apart, part, vector, kk, outer, kw, within))
                calls: list[int] = []
                part.approximate = functools.partial(_counted, calls, part.approximate)
                shared_s, shared = best_of(args.repeat, functools.partial(
                    part.approximate_within, vector, kk, outer, kw, within))
                del part.approximate
                again += len(calls) > args.repeat
                for (d1, i1), (d2, i2) in zip(apart, shared, strict=True):  # type: ignore[call-overload]
                    assert np.array_equal(i1, i2) and np.array_equal(d1, d2)
                share = inside / total
                rows[int(np.searchsorted(BINS, share, side="right")) - 1].append(
                    (apart_s, shared_s, len(calls) > args.repeat))
        named += taken
    print(f"{named} questions with named reports taken by a mask; "
          f"{again} segment searches needed the mask searched again")
    print("| share of the segment | segment searches | apart ms p50 | shared ms p50 | "
          "shared / apart (p50 of ratios) | searched again |")
    print("|---|---:|---:|---:|---:|---:|")
    for i in sorted(rows):
        x = np.array([(a, s) for a, s, _ in rows[i]]) * 1000
        print(f"| {BINS[i]:.3f}–{min(BINS[i + 1], 1):.3f} | {len(x)} | {np.median(x[:, 0]):.2f} | "
              f"{np.median(x[:, 1]):.2f} | {np.median(x[:, 1] / x[:, 0]):.2f} | "
              f"{sum(g for _, _, g in rows[i])} |")


if __name__ == "__main__":
    main()
