"""Seed-corpus speed: cold index build, warm search/answer latency per mode, chunk sizes.

    .venv/bin/python benchmarks/seed_speed.py [--runs 200] [--json benchmarks/out/seed_speed.json]

Cold build = a fresh index directory, model loading included. Latency = wall time of
``search``/``answer`` after one warm-up call, over the gold questions repeated to ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1000, q))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from inspect_qa import Retriever
    from inspect_qa.embedding import SentenceTransformerEmbedder

    questions = [json.loads(line)["question"]
                 for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        emb = SentenceTransformerEmbedder()
        r = Retriever.build(ROOT / "seeds", Path(tmp) / "index", embedder=emb)
        cold = time.perf_counter() - t0
        out: dict = {"cold_build_s": round(cold, 2), "modes": {}}
        for mode in ("dense", "lexical", "hybrid"):
            r.search(questions[0], mode=mode)
            times = []
            for i in range(args.runs):
                t = time.perf_counter()
                r.search(questions[i % len(questions)], k=5, mode=mode)
                times.append(time.perf_counter() - t)
            out["modes"][f"search/{mode}"] = {"p50_ms": round(_pct(times, 50), 2),
                                             "p95_ms": round(_pct(times, 95), 2)}
        r.answer(questions[0])
        times = []
        for i in range(args.runs):
            t = time.perf_counter()
            r.answer(questions[i % len(questions)], k=5)
            times.append(time.perf_counter() - t)
        out["modes"]["answer/hybrid"] = {"p50_ms": round(_pct(times, 50), 2),
                                         "p95_ms": round(_pct(times, 95), 2)}
        chars = [len(c.text) for c in r.index.chunks]
        toks = [emb.count_tokens(c.text) for c in r.index.chunks]
        out["chunks"] = {
            "count": len(chars),
            "sentences": len(r.index.sentences),
            "chars": {"min": min(chars), "median": statistics.median(chars), "max": max(chars),
                      "p90": float(np.percentile(chars, 90))},
            "tokens": {"min": min(toks), "median": statistics.median(toks), "max": max(toks),
                       "p90": float(np.percentile(toks, 90))},
            "per_document": {d: sum(c.doc_id == d for c in r.index.chunks)
                             for d in r.index.documents},
        }
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
