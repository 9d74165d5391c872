"""Snapshot what an index answers, and compare two snapshots: is a change exact?

    .venv/bin/python benchmarks/equivalence.py snap --index index --out /tmp/before.json
    .venv/bin/python benchmarks/equivalence.py snap --index index --out /tmp/after.json
    .venv/bin/python benchmarks/equivalence.py diff /tmp/before.json /tmp/after.json
    .venv/bin/python benchmarks/equivalence.py snap --reference 32 --depth 20 --out /tmp/shallow.json
    .venv/bin/python benchmarks/equivalence.py snap --index IVF_INDEX --reference 32 --depth 20 \
        --exact-rows 0 --out /tmp/masked.json   # named reports by a mask, IVF-PQ segments

A snapshot holds, for every question of the eval sets (gold, holdout, off-topic, plain words),
the ten passages of each search mode with their scores, the answer (text, citation,
confidence) and, for each timeline topic, the timeline's entries. ``diff`` counts what differs:
rankings, scores beyond 1e-4, answers, confidences beyond 1e-3, timelines. Used to show that
reshaping the search path changed nothing at the seed scale, and to measure how far an
approximation (a shallow first stage, compressed vectors) moves the results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = ("gold", "holdout", "offtopic", "offtopic_holdout", "plain", "plain_holdout")


def _questions() -> list[str]:
    out: list[str] = []
    for name in SETS:
        path = ROOT / "eval" / f"{name}.jsonl"
        out += [json.loads(line)["question"] for line in path.read_text().splitlines() if line]
    return out


def snap(index: Path, reference: int | None = None, depth: int | None = None,
         exact_rows: int | None = None) -> dict:
    from inspect_qa import Retriever
    from inspect_qa.search import first_stage

    if reference is not None:  # a shallow first stage on a small index: the path of a large one
        first_stage.REFERENCE_ROWS = reference
    if depth is not None:
        first_stage.DEPTH = depth
    if exact_rows is not None:  # named reports of more rows taken by a mask, as in a large index
        first_stage.EXACT_ROWS, first_stage.EXACT_SHARE = exact_rows, 0.0
    r = Retriever.load(index)
    out: dict = {"search": {}, "answer": {}, "timeline": {}}
    for q in _questions():
        out["search"][q] = {
            mode: [[p.source, p.start, p.end, p.score] for p in r.search(q, k=10, mode=mode)]
            for mode in ("hybrid", "dense", "lexical")}
        a = r.answer(q)
        out["answer"][q] = [a.found, a.text, a.source, a.start, a.confidence]
    topics = [json.loads(line)["topic"]
              for line in (ROOT / "eval" / "timeline.jsonl").read_text().splitlines() if line]
    for t in topics:
        out["timeline"][t] = [[e.source, e.start, e.score] for e in r.timeline(t).entries]
    return out


def diff(a: dict, b: dict) -> dict:
    counts = {"questions": len(a["search"]), "ranking": 0, "scores": 0, "answers": 0,
              "confidence": 0, "timelines": 0, "hybrid_top1": 0}
    for q, modes in a["search"].items():
        other = b["search"].get(q, {})
        for mode, hits in modes.items():
            theirs = other.get(mode, [])
            if [h[:3] for h in hits] != [h[:3] for h in theirs]:
                counts["ranking"] += 1
                if mode == "hybrid" and (not theirs or (hits[:1] and hits[0][:3] != theirs[0][:3])):
                    counts["hybrid_top1"] += 1
            elif any(abs(x[3] - y[3]) > 1e-4 for x, y in zip(hits, theirs, strict=True)):
                counts["scores"] += 1
    for q, ans in a["answer"].items():
        theirs = b["answer"].get(q)
        if theirs is None or ans[:4] != theirs[:4]:
            counts["answers"] += 1
        elif abs(ans[4] - theirs[4]) > 1e-3:
            counts["confidence"] += 1
    for t, entries in a["timeline"].items():
        if [e[:2] for e in entries] != [e[:2] for e in b["timeline"].get(t, [])]:
            counts["timelines"] += 1
    return counts


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snap")
    s.add_argument("--index", type=Path, default=ROOT / "index")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--reference", type=int, help="first_stage.REFERENCE_ROWS to use")
    s.add_argument("--depth", type=int, help="first_stage.DEPTH to use")
    s.add_argument("--exact-rows", type=int,
                   help="first_stage.EXACT_ROWS to use (and EXACT_SHARE 0)")
    d = sub.add_parser("diff")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.cmd == "snap":
        args.out.write_text(json.dumps(snap(args.index, args.reference, args.depth,
                                            args.exact_rows),
                                        ensure_ascii=False))
        return 0
    result = diff(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
