"""BM25's summing loop over a large index, as it was and as it is: each row's length term read as
a float64 a row, against read from a table by the row's length (and, for small counts, the
whole share ``tf / (norm + tf)`` read from a table by length and count).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bm25_kernel.py /tmp/scale1m/million \\
        [--questions 178] [--store sentences|passages]

Both loops run alone on one thread, over every segment, for each gold question; the scores are
checked to be the same float32s.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


@numba.njit(nogil=True, cache=True)
def _per_row_norms(out, rows, tf, norms, starts, ends, idfs):  # type: ignore[no-untyped-def]
    """The loop before the change: ``norms`` a float64 for every row."""
    for j in range(len(starts)):
        idf = idfs[j]
        for i in range(starts[j], ends[j]):
            r = rows[i]
            t = np.float64(tf[i])
            out[r] += np.float32(idf * (t / (norms[r] + t)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--questions", type=int, default=178)
    ap.add_argument("--store", choices=("sentences", "passages"), default="sentences")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from inspect_qa.lexical import _accumulate
    from inspect_qa.storage import load_index

    ix = load_index(args.index)
    store = ix.sentence_lexical if args.store == "sentences" else ix.lexical
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()][: args.questions]
    per_row = [store._norms[store._lengths[k]] for k in range(len(store.parts))]
    times = {"per-row norms": 0.0, "tables": 0.0}
    same = True
    for run in range(2):  # the first compiles and warms the pages
        for q in questions:
            words = store.words(q)
            for k, p in enumerate(store.parts):
                local = [(int(store._local[k][g]), idf) for g, idf in words]
                local = [(t, idf) for t, idf in local if t >= 0]
                starts = np.array([p.indptr[t] for t, _ in local], dtype=np.int64)
                ends = np.array([p.indptr[t + 1] for t, _ in local], dtype=np.int64)
                idfs = np.array([idf for _, idf in local], dtype=np.float64)
                rows, tf = np.asarray(p.rows), np.asarray(p.tf)
                a, b = np.zeros(len(p), np.float32), np.zeros(len(p), np.float32)
                t0 = time.perf_counter()
                _per_row_norms(a, rows, tf, per_row[k], starts, ends, idfs)
                t1 = time.perf_counter()
                _accumulate(b, rows, tf, store._lengths[k], store._norms, store._fractions,
                            starts, ends, idfs)
                t2 = time.perf_counter()
                if run:
                    times["per-row norms"] += t1 - t0
                    times["tables"] += t2 - t1
                    same &= bool(np.array_equal(a, b))
    rows = sum(len(p) for p in store.parts)
    print(f"{args.store}: {rows:,} rows in {len(store.parts)} segments, "
          f"{len(questions)} questions")
    for name, t in times.items():
        print(f"  {name:14s} {t / len(questions) * 1000:6.2f} ms a question")
    print(f"  the same scores: {same}")


if __name__ == "__main__":
    main()
