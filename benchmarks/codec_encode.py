"""Where a build's word-piece compression spends its time, and a faster way it could encode.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/codec_encode.py [--pieces 50000]

A large build compresses every word piece with :class:`inspect_qa.stores.TokenCodec` (its
nearest of up to 1,024 centroids, then 48 product-quantised bytes of the residual). This trains
a codec on random unit vectors (384 dimensions, as the bundled model's), then times, on
``--pieces`` vectors: ``encode`` as the build calls it; its two parts (the centroid search,
FAISS's ``ProductQuantizer.compute_codes``); and the residual codes found instead by one BLAS
nearest-neighbour search per sub-quantiser (FAISS ``IndexFlatL2``), with the share of codes that
differ (float rounding can break a near tie the other way).
"""

from __future__ import annotations

import argparse
import json
import time

import faiss
import numpy as np

from inspect_qa.stores import TokenCodec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((65_536 + args.pieces, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    codec = TokenCodec.train(x[:65_536])
    y = np.ascontiguousarray(x[65_536:])
    out: dict[str, float] = {}

    t0 = time.perf_counter()
    codec.encode(y)
    out["encode_s"] = time.perf_counter() - t0

    flat = faiss.IndexFlatL2(codec.dimension)
    flat.add(codec.centroids)
    t0 = time.perf_counter()
    _, assign = flat.search(y, 1)
    out["centroid_search_s"] = time.perf_counter() - t0
    residual = np.ascontiguousarray(y - codec.centroids[assign[:, 0]])
    m, _, dsub = codec.codebooks.shape
    t0 = time.perf_counter()
    codes = codec._quantizer().compute_codes(residual).reshape(len(y), m)
    out["pq_compute_codes_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    other = np.empty_like(codes)
    for i in range(m):
        sub = faiss.IndexFlatL2(dsub)
        sub.add(np.ascontiguousarray(codec.codebooks[i]))
        _, near = sub.search(np.ascontiguousarray(residual[:, i * dsub : (i + 1) * dsub]), 1)
        other[:, i] = near[:, 0]
    out["pq_flat_per_subquantiser_s"] = time.perf_counter() - t0
    out["codes_that_differ"] = float((other != codes).mean())
    print(json.dumps({k: round(v, 7) for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
