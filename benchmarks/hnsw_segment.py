"""HNSW against the IVF-PQ searcher of one segment's sentence list, at equal recall.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/hnsw_segment.py SEGMENT_DIR [--gold eval/gold.jsonl]

SEGMENT_DIR is a segment of an index built with the test embedder (``HashingEmbedder(384)``),
e.g. one of the million-passage copy's made by ``benchmarks/million.py``. Its int8 sentence
vectors are decoded; the gold set's questions, embedded by the same embedder, are the queries.
For each searcher: recall@100 of its candidates (``ANN_REFINE`` times 100, or ``efSearch``
when smaller) after exact re-scoring, against an exact flat search; search milliseconds a
question (best of two passes, one thread); and for HNSW its build time and bytes a vector.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

K = 100


def decoded_sentences(segment: str) -> np.ndarray:
    """A segment's int8 sentence vectors, decoded to float32."""
    codes = np.load(f"{segment}/sentence_vectors.npy", mmap_mode="r")
    scales = np.load(f"{segment}/sentence_scales.npy")
    return (np.asarray(codes, np.float32) * (scales[:, None] / 127)).astype(np.float32)


def gold_queries(gold: str, d: int) -> np.ndarray:
    """The gold set's questions embedded by the test embedder of ``d`` dimensions."""
    from inspect_qa import HashingEmbedder

    with open(gold, encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f if line.strip()]
    return HashingEmbedder(d).embed(questions).astype(np.float32)


def main() -> None:
    import faiss

    from inspect_qa.stores import ANN_REFINE, ann_visits

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("segment")
    ap.add_argument("--gold", default="eval/gold.jsonl")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    x = decoded_sentences(args.segment)
    n, d = x.shape
    q = gold_queries(args.gold, d)
    flat = faiss.IndexFlatIP(d)
    flat.add(x)
    _, truth = flat.search(q, K)
    print(f"{n:,} sentences, {len(q)} questions")

    def recall(found: np.ndarray) -> float:
        hits = []
        for i in range(len(q)):
            rows = found[i][found[i] >= 0]
            best = rows[np.argsort(-(x[rows] @ q[i]), kind="stable")[:K]]
            hits.append(len(set(best.tolist()) & set(truth[i].tolist())) / K)
        return float(np.mean(hits))

    def timed(search: Callable[[np.ndarray], Any]) -> tuple[float, float]:
        passes = []
        for _ in range(2):
            ms = []
            for i in range(len(q)):
                t = time.perf_counter()
                search(q[i : i + 1])
                ms.append((time.perf_counter() - t) * 1000)
            passes.append(ms)
        best = np.min(passes, axis=0)
        return float(np.percentile(best, 50)), float(np.percentile(best, 95))

    ivf = faiss.read_index(f"{args.segment}/sentence_ann.faiss")
    nprobe = ann_visits(ivf.nlist, ivf.ntotal)
    params: Any = faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]
    _, found = ivf.search(q, K * ANN_REFINE, params=params)
    p50, p95 = timed(lambda v: ivf.search(v, K * ANN_REFINE, params=params))
    size = os.path.getsize(f"{args.segment}/sentence_ann.faiss")
    print(f"IVF-PQ (as searched today: {ivf.nlist} cells, {nprobe} visited): recall@100 "
          f"{recall(found):.3f}, {p50:.2f} / {p95:.2f} ms, {size / n:.0f} B a vector")
    for m in (16, 32):
        t0 = time.perf_counter()
        hnsw = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 64
        hnsw.train(x)
        hnsw.add(x)
        built = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            faiss.write_index(hnsw, f"{tmp}/h.faiss")
            size = os.path.getsize(f"{tmp}/h.faiss")
        for ef in (64, 128, 256, 512):
            k = min(ef, K * ANN_REFINE)
            hp: Any = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[call-arg]
            _, found = hnsw.search(q, k, params=hp)
            p50, p95 = timed(lambda v, k=k, hp=hp, h=hnsw: h.search(v, k, params=hp))
            print(f"HNSW-SQ8 M={m} efConstruction=64 efSearch={ef}: recall@100 "
                  f"{recall(found):.3f}, {p50:.2f} / {p95:.2f} ms, {size / n:.0f} B a vector, "
                  f"built in {built:.0f} s")


if __name__ == "__main__":
    main()
