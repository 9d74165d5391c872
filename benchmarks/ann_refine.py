"""How many IVF cells to visit, and whether to re-score candidates exactly, at a large index.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ann_refine.py INDEX passages|sentences \
        [--questions 60] [--variants 32x1,32x4,64x1,64x4,128x4] [--pooled 64x8]

For the first ``--questions`` gold questions (embedded by the test embedder the index was built
with, as ``scale.py``/``million.py`` build them): the exact ten best rows by dense search over
every stored vector, then, for each variant ``NPROBExFACTOR``, one dense list of 100 per question
as the first stage takes it: every segment's IVF-PQ searched with NPROBE cells for 100 × FACTOR
rows, those re-scored exactly from the stored vectors when FACTOR > 1, the segments' best merged.
Prints the share of the exact ten found among the list's hundred (what the first stage needs:
its candidates are scored exactly afterwards) and the list's p50 milliseconds. ``--pooled``
variants re-score the best 100 × FACTOR of all segments together, by their codes' scores,
instead of each segment's own. One thread (FAISS's and torch's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale


def _variants(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (v.split("x") for v in text.split(",") if v)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", type=Path)
    ap.add_argument("what", choices=("passages", "sentences"))
    ap.add_argument("--questions", type=int, default=60)
    ap.add_argument("--variants", type=_variants, default=_variants("32x1,32x4,64x1,64x4,128x4"))
    ap.add_argument("--pooled", type=_variants, default=_variants("64x8"))
    ap.add_argument("--gold", type=Path, default=scale.ROOT / "eval" / "gold.jsonl")
    args = ap.parse_args()

    import faiss
    import torch

    from inspect_qa import HashingEmbedder
    from inspect_qa.storage import load_index

    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)
    ix = load_index(args.index)
    gold = [json.loads(line)["question"]
            for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = gold[: args.questions]
    xq = np.asarray(HashingEmbedder(scale.DIMENSION).embed(questions), dtype=np.float32)
    vectors = ix.chunk_vectors if args.what == "passages" else ix.sentence_vectors
    dense = ix.dense if args.what == "passages" else ix.sentence_dense
    parts = getattr(dense, "parts", [dense])
    bounds = getattr(dense, "bounds", np.array([0, len(dense)]))
    t0 = time.perf_counter()
    _, want = scale.ExactDense(vectors).search(xq, 10)
    print(f"exact search of {len(questions)} questions over {len(vectors):,} vectors: "
          f"{time.perf_counter() - t0:.1f}s", flush=True)

    def candidates(part, q: np.ndarray, nprobe: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if part._ann is None:  # a small segment: exact
            D, I = part.search(q[None], n)  # noqa: E741
        else:
            D, I = part._ann.search(q[None], n,  # noqa: E741
                                    params=faiss.SearchParametersIVF(nprobe=nprobe))
        keep = I[0] >= 0
        return D[0][keep], I[0][keep].astype(np.int64)

    def run(nprobe: int, factor: int, pooled: bool) -> None:
        found, times = [], []
        for i, q in enumerate(xq):
            t = time.perf_counter()
            rows, scores = [], []
            for k, part in enumerate(parts):
                d, r = candidates(part, q, nprobe, 100 * factor)
                if factor > 1 and not pooled:
                    d = part.score(q, r)
                    best = np.argsort(-d, kind="stable")[:100]
                    d, r = d[best], r[best]
                rows.append(r + bounds[k])
                scores.append(d)
            r, d = np.concatenate(rows), np.concatenate(scores)
            if pooled:
                r = r[np.argsort(-d, kind="stable")[: 100 * factor]]
                d = dense.score(q, r)
            top = r[np.argsort(-d, kind="stable")[:100]]
            times.append(time.perf_counter() - t)
            found.append(len(set(top.tolist()) & set(want[i].tolist())) / 10)
        label = f"{nprobe} cells, {factor}x re-scored {'together' if pooled else 'per segment'}"
        print(f"{label}: exact ten among the hundred {np.mean(found):.3f}, "
              f"p50 {np.median(times) * 1000:.1f} ms", flush=True)

    for nprobe, factor in args.variants:
        run(nprobe, factor, pooled=False)
    for nprobe, factor in args.pooled:
        run(nprobe, factor, pooled=True)


if __name__ == "__main__":
    main()
