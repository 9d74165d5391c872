"""Where a search's time goes in a large index, stage by stage, warm or with the index out of the
page cache; and the first stage's recall by the size of the refinement pool.

    # stages of 100 gold questions, each searched once, the index evicted after loading
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/search_stages.py /tmp/scale1m/million \\
        --op answer --evict
    # the same without announcing reads (madvise) to the kernel
    ... --evict --no-advice
    # warm: a pass first, then the measured one
    ... --warm
    # recall@10 within the first 100 against exact search, by pool size (times k)
    ... --recall-pools 4 8 16 64

The question's model pass is excluded (each question is analysed once before timing).
``--evict`` asks the kernel to drop every file of the index from the page cache
(``posix_fadvise(POSIX_FADV_DONTNEED)``; pages mapped by another process stay) after loading
and again just before the timed pass. One thread for FAISS and torch, as ``scale.py`` measures.
The index is loaded with the model it was built with (``hashing-384`` for ``scale.py``'s and
``million.py``'s).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def evict(root: Path) -> int:
    n = 0
    for p in root.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            n += 1
    return n


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):6.1f}  p95 {np.percentile(ms, 95):6.1f}  mean {ms.mean():6.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--op", choices=("search", "answer"), default="search")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--evict", action="store_true")
    ap.add_argument("--warm", action="store_true", help="one untimed pass first")
    ap.add_argument("--no-advice", action="store_true", help="announce no reads to the kernel")
    ap.add_argument("--slowest", type=int, default=5, help="questions listed with their stages")
    ap.add_argument("--recall-pools", type=int, nargs="*",
                    help="measure first-stage recall with these ACROSS_REFINE values instead")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import faiss
    import torch

    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    import inspect_qa.lexical as lexical
    import inspect_qa.segments as segments
    from inspect_qa import Retriever, pages
    from inspect_qa.search import evidence, first_stage, fusion, selection

    if args.no_advice:
        pages._madvise = None
    questions = [json.loads(line)["question"]
                 for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions[: args.questions]
    t = time.perf_counter()
    r = Retriever.load(args.index)  # with the model the index was built with
    print(f"load {time.perf_counter() - t:.2f} s", flush=True)

    if args.recall_pools:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import scale

        ix = r.index
        xq = np.asarray(r.embedder.embed(questions), dtype=np.float32)
        want = {"passages": scale.ExactDense(ix.chunk_vectors).search(xq, 100)[1],
                "sentences": scale.ExactDense(ix.sentence_vectors).search(xq, 100)[1]}
        for pool in args.recall_pools:
            segments.ACROSS_REFINE = pool
            out = {}
            for what, store in (("passages", ix.dense), ("sentences", ix.sentence_dense)):
                got = [store.search(xq[i : i + 1], 100)[1][0] for i in range(len(questions))]
                out[what] = round(float(np.mean(
                    [len(set(got[i].tolist()) & set(want[what][i, :10].tolist())) / 10
                     for i in range(len(questions))])), 4)
            print(f"pool {pool} x k: recall@10 within 100 {out}", flush=True)
        return

    times: dict[str, list[float]] = {}
    current: dict[str, float] = {}
    lock = threading.Lock()  # the first stage's parts are timed on two threads

    def timed(owner: Any, name: str, key: str) -> None:
        f: Callable[..., Any] = getattr(owner, name)

        def g(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                with lock:
                    current[key] = current.get(key, 0.0) + time.perf_counter() - t0

        setattr(owner, name, g)

    # The first stage's parts run on two threads: their times are work, summed over both.
    timed(first_stage, "run", "first stage")
    timed(lexical.LexicalStore, "part_scores", "  BM25 parts (work)")
    timed(lexical.LexicalScores, "part_top", "  best 100 of BM25 parts (work)")
    timed(segments.SegmentedDense, "search_part", "  dense parts (work)")
    timed(segments.SegmentedDense, "combine", "  dense lists combined (work)")
    timed(first_stage, "named_scopes", "  named reports' scopes")
    if hasattr(first_stage._DenseList, "_score_rows"):  # not in older code
        timed(first_stage._DenseList, "_score_rows", "  named rows scored (work)")
    timed(evidence, "gather", "evidence")
    timed(fusion, "rerank", "re-ranking (with late interaction)")
    timed(selection, "answer_features", "answer features")

    analysed: dict[tuple[str, bool], Any] = {}
    analyse = r.analyser.analyse

    def cached(q: str, dense: bool) -> Any:
        if (q, dense) not in analysed:
            analysed[(q, dense)] = analyse(q, dense)
        return analysed[(q, dense)]

    r.analyser.analyse = cached  # type: ignore[method-assign]
    for q in questions:
        cached(q, True)
    op = getattr(r, args.op)
    if args.warm:
        for q in questions:
            op(q)
    if args.evict:
        print(f"evicted {evict(args.index)} files", flush=True)
    totals, each = [], []
    for q in questions:
        current.clear()
        t = time.perf_counter()
        op(q)
        totals.append(time.perf_counter() - t)
        each.append(dict(current))
        for k, v in current.items():
            times.setdefault(k, []).append(v)
    print(f"{args.op} total: {percentiles(totals)}")
    for k, v in times.items():
        print(f"  {k:38s} {percentiles(v)}")
    print(f"the slowest {args.slowest}:")
    for i in np.argsort(totals)[::-1][: args.slowest]:
        hints = cached(questions[i], True).hints
        stages = ", ".join(f"{k.strip()} {v * 1000:.1f}" for k, v in each[i].items())
        print(f"  {totals[i] * 1000:6.1f} ms {questions[i][:60]!r}"
              f"{' (names a report)' if hints else ''}: {stages}")


if __name__ == "__main__":
    main()
