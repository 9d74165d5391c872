"""Fewer, larger segments: one IVF-PQ searcher over several segments' sentences against each
segment's own, at the first stage's recall.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/segment_size.py SEGMENT_DIR [SEGMENT_DIR ...] \
        [--gold eval/gold.jsonl] [--nlist 2048 4096] [--nprobe 64 128 256]

The SEGMENT_DIRs are large segments of an index built with the test embedder
(``HashingEmbedder(384)``), e.g. the million-passage copy's made by ``benchmarks/million.py``.
Their int8 sentence vectors are decoded and joined; the gold set's questions, embedded by the
same embedder, are the queries. What the first stage needs is measured as it is used: a dense
list's best 100 rows, from ``ANN_REFINE`` times 100 candidates a searcher re-scored exactly,
and of the exact ten best rows (a flat search of all of them) the share among those 100.

- *apart*: each segment's own searcher, as searched today (its cells, visited as
  ``stores.ann_visits`` says), the candidates of all of them re-scored together;
- *joined*: one searcher trained and filled on all the rows (``--nlist`` cells), at each
  ``--nprobe``.

Milliseconds a question (one thread, the best of two passes): the searchers' calls and the
exact re-scoring of their candidates.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from hnsw_segment import decoded_sentences, gold_queries  # benchmarks/: the script's folder

K = 100
TOP = 10


def main() -> None:
    import faiss

    from inspect_qa.stores import ANN_REFINE, ANN_SUBVECTORS, ann_visits

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("segments", nargs="+")
    ap.add_argument("--gold", default="eval/gold.jsonl")
    ap.add_argument("--nlist", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--nprobe", type=int, nargs="+", default=[64, 128, 256])
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    parts = [decoded_sentences(seg) for seg in args.segments]
    starts = np.cumsum([0] + [len(p) for p in parts])
    x = np.concatenate(parts)
    del parts
    n, d = x.shape
    q = gold_queries(args.gold, d)
    flat = faiss.IndexFlatIP(d)
    flat.add(x)
    _, truth = flat.search(q, TOP)
    del flat
    print(f"{n:,} sentences in {len(args.segments)} segments, {len(q)} questions")

    def best(rows: np.ndarray, qi: int) -> np.ndarray:
        rows = np.unique(rows[rows >= 0])
        return rows[np.argsort(-(x[rows] @ q[qi]), kind="stable")[:K]]

    def recall(lists: list[np.ndarray]) -> float:
        return float(np.mean([len(set(lists[i].tolist()) & set(truth[i].tolist())) / TOP
                              for i in range(len(q))]))

    def timed(one: Callable[[int], np.ndarray]) -> tuple[float, float, list[np.ndarray]]:
        passes, found = [], []
        for _ in range(2):
            ms, found = [], []
            for i in range(len(q)):
                t = time.perf_counter()
                found.append(one(i))
                ms.append((time.perf_counter() - t) * 1000)
            passes.append(ms)
        fastest = np.min(passes, axis=0)
        return float(np.percentile(fastest, 50)), float(np.percentile(fastest, 95)), found

    apart = [faiss.read_index(f"{seg}/sentence_ann.faiss") for seg in args.segments]

    def search_apart(i: int) -> np.ndarray:
        rows = []
        for ivf, start in zip(apart, starts[:-1], strict=True):
            nprobe = ann_visits(ivf.nlist, ivf.ntotal)
            params: Any = faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]
            _, found = ivf.search(q[i : i + 1], K * ANN_REFINE, params=params)
            rows.append(np.where(found[0] >= 0, found[0] + start, -1))
        return best(np.concatenate(rows), i)

    p50, p95, found = timed(search_apart)
    cells = "/".join(str(ivf.nlist) for ivf in apart)
    print(f"apart ({cells} cells, as stores.ann_visits says): recall {recall(found):.3f}, "
          f"{p50:.2f} / {p95:.2f} ms")
    rng = np.random.default_rng(0)
    for nlist in args.nlist:
        t0 = time.perf_counter()
        joined = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, ANN_SUBVECTORS, 8,
                                  faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(rng.choice(n, min(n, 64 * nlist), replace=False))
        joined.train(x[sample])
        for a in range(0, n, 65536):
            joined.add(x[a : a + 65536])
        built = time.perf_counter() - t0
        for nprobe in args.nprobe:
            params: Any = faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]

            def search_joined(i: int, params: Any = params, ivf: Any = joined) -> np.ndarray:
                _, found = ivf.search(q[i : i + 1], K * ANN_REFINE, params=params)
                return best(found[0], i)

            p50, p95, found = timed(search_joined)
            print(f"joined ({nlist} cells, {nprobe} visited; built in {built:.0f} s): recall "
                  f"{recall(found):.3f}, {p50:.2f} / {p95:.2f} ms")


if __name__ == "__main__":
    main()
