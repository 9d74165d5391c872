"""Timeline against answer time on a larger corpus: ``python benchmarks/timeline_scale.py``.

Copies the seed reports ``--copies`` times (each copy gets a line of its own, so every file is a
distinct report; 60 copies = 300 reports), builds the index with the model-free
``HashingEmbedder(384)`` (so the model's time is not what is measured, only the index work), and
times ``answer`` and ``timeline`` on the same topics: p50 and p95 of each, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from inspect_qa import HashingEmbedder, Retriever

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=60)
    ap.add_argument("--timeline-gold", default=str(ROOT / "eval" / "timeline.jsonl"))
    args = ap.parse_args()
    topics = [json.loads(x)["topic"] for x in
              Path(args.timeline_gold).read_text(encoding="utf-8").splitlines() if x.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        for i in range(args.copies):
            d = corpus / f"copy{i:03d}"
            d.mkdir(parents=True)
            for f in sorted((ROOT / "seeds").glob("*.txt")):
                (d / f.name).write_text(f.read_text(encoding="utf-8") + f"\nCopy {i}.\n",
                                        encoding="utf-8")
        t0 = time.perf_counter()
        r = Retriever.build(corpus, Path(tmp) / "index", embedder=HashingEmbedder(384))
        build = time.perf_counter() - t0
        for t in topics[:3]:  # warm caches
            r.answer(t)
            r.timeline(t)
        ans, tl = [], []
        for t in topics:
            t0 = time.perf_counter()
            r.answer(t)
            t1 = time.perf_counter()
            r.timeline(t)
            t2 = time.perf_counter()
            ans.append((t1 - t0) * 1000)
            tl.append((t2 - t1) * 1000)
        shutil.rmtree(corpus)
    print(json.dumps({
        "reports": len(r.index.documents), "chunks": len(r.index.chunks),
        "sentences": len(r.index.sentences), "build_s": round(build, 1), "topics": len(topics),
        "answer_ms": {"p50": round(float(np.median(ans)), 1),
                      "p95": round(float(np.percentile(ans, 95)), 1)},
        "timeline_ms": {"p50": round(float(np.median(tl)), 1),
                        "p95": round(float(np.percentile(tl, 95)), 1)},
        "ratio_p50": round(float(np.median(tl) / np.median(ans)), 2),
    }, indent=2))


if __name__ == "__main__":
    main()
