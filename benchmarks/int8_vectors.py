"""What keeping sentence vectors as int8 (one scale a vector) changes, against float16.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/int8_vectors.py VECTORS.npy \
        --queries ../shared/datasets/scifact/queries.jsonl [--depth 100]

``VECTORS.npy``: float16 unit vectors as an index stores them (the sentence vectors of a
SciFact index built before format 5, say). Each query is embedded with the bundled model and
the vectors are ranked by inner product twice, as stored (float16) and after
:class:`inspect_qa.stores.Int8Rows` quantization; prints the share of the float16 top 10 and
top ``depth`` that int8 finds, how often the first row is the same, the largest and mean
absolute score change, and the bytes per vector of each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from inspect_qa.embedding import load_embedder
from inspect_qa.stores import Int8Rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vectors", type=Path)
    ap.add_argument("--queries", type=Path, required=True)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--limit", type=int, default=300, help="queries used (the first N)")
    args = ap.parse_args()
    exact = np.load(args.vectors, mmap_mode="r")
    x = np.asarray(exact, dtype=np.float32)
    packed = Int8Rows(*Int8Rows.quantize(x))
    approx = packed[0 : len(packed)]
    lines = args.queries.read_text(encoding="utf-8").splitlines()[: args.limit]
    queries = [json.loads(line)["text"] for line in lines]
    q = load_embedder("bundled:all-MiniLM-L6-v2").embed(queries)
    a, b = q @ x.T, q @ approx.T
    top10 = top_d = first = 0.0
    for i in range(len(q)):
        ea, eb = np.argsort(-a[i]), np.argsort(-b[i])
        top10 += len(set(ea[:10]) & set(eb[:10])) / 10
        top_d += len(set(ea[: args.depth]) & set(eb[: args.depth])) / args.depth
        first += float(ea[0] == eb[0])
    n = len(q)
    print(json.dumps({
        "vectors": len(x), "queries": n,
        "recall@10 against float16": round(top10 / n, 4),
        f"recall@{args.depth} against float16": round(top_d / n, 4),
        "same first": round(first / n, 4),
        "max |score change|": float(np.abs(a - b).max()),
        "mean |score change|": float(np.abs(a - b).mean()),
        "bytes a vector": {"float16": 2 * x.shape[1], "int8": x.shape[1] + 4},
    }, indent=1))


if __name__ == "__main__":
    main()
