"""Fusion weights that depend on how much a question's own words find (the plain-words issue).

    .venv/bin/python benchmarks/adaptive_fusion.py [--index DIR] [--json FILE]
    .venv/bin/python benchmarks/adaptive_fusion.py --beir ../shared/datasets/scifact \
        --index /tmp/ix_scifact   # as built by benchmarks/approximations.py's commands

A question in a reader's words ("children taken into care") shares almost no word with the
sentence that answers it ("looked after"), so BM25 and word-piece matching bring the wrong
passages up, while the dense signals still point the right way. The retriever measures each
question's lexical strength (its best passage's BM25 over the most its words could score,
``fusion.lexical_strength``) and, below ``FEW_WORDS_GATE``, ranks with ``FEW_WORDS_WEIGHTS``.

This script chooses both, on the training sets only:

1. ``FEW_WORDS_WEIGHTS`` by coordinate ascent (objective: hit@1 / 2 + MRR@10, steps 0.4 to 0.05,
   every weight starting at 0.3, not at the shipped weights) on the answerable questions of
   ``eval/plain.jsonl``, every one of them ranked with those weights;
2. the gate ``(lo, hi)`` on a grid: the best plain-words objective among the gates that keep
   ``eval/gold.jsonl``'s hit@1 and MRR@10 at least at their figures with ``FUSION_WEIGHTS`` alone.

With ``--beir``, it measures instead what the shipped gate does on a BEIR dataset indexed as
reports (SciFact: claims against abstracts): nDCG@10 and recall@50 of ``Retriever.search``
(every passage scored, hybrid) with the gate as shipped and switched off, and the share of
queries it moves.

Then it reports every set, the held-out ones (``eval/holdout.jsonl``,
``eval/plain_holdout.jsonl``) included, which played no part. Ranking is replayed from
evidence computed once per question (as ``benchmarks/fusion_cv.py`` does), and the replay with
the shipped settings is checked against ``Retriever.search``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = ("gold", "holdout", "plain", "plain_holdout")
TRAIN_WORDS, TRAIN_PLAIN = "gold", "plain"
STEPS = (0.4, 0.2, 0.1, 0.05)
START = 0.3
GATE_LOWS = tuple(round(0.06 + 0.02 * i, 2) for i in range(10))  # 0.06 .. 0.24
GATE_WIDTHS = (0.0, 0.02, 0.04, 0.06, 0.1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument("--index", type=Path, help="index to use (default: a fresh temporary one)")
    ap.add_argument("--model", help="embedding model directory (default: the bundled one)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--beir", type=Path, help="measure the shipped gate on this BEIR folder")
    args = ap.parse_args()
    if args.beir:
        return beir(args.beir, args.index, args.json)

    from fusion_cv import coordinate_ascent

    from inspect_qa.search import fusion

    shipped = (dict(fusion.FEW_WORDS_WEIGHTS), fusion.FEW_WORDS_GATE)
    with tempfile.TemporaryDirectory() as tmp:
        cases = collect(args.corpus, args.index or Path(tmp) / "index", args.model)

    def figures(name: str) -> np.ndarray:
        return score(cases[name])

    out: dict = {"questions": {k: len(v) for k, v in cases.items()},
                 "shipped": {"few_words_weights": shipped[0], "gate": list(shipped[1])}}

    # The words-only baseline: FUSION_WEIGHTS for every question.
    fusion.FEW_WORDS_GATE = (-1.0, -1.0)
    baseline = {k: figures(k) for k in SETS}
    out["fusion_weights_only"] = {k: _named(v) for k, v in baseline.items()}

    # 1. The weights, on the plain-words training set, every question with them.
    fusion.FEW_WORDS_GATE = (2.0, 2.0)
    names = list(fusion.FUSION_WEIGHTS)
    w = coordinate_ascent(dict.fromkeys(names, START),
                          lambda trial: _objective(_with(trial, lambda: figures(TRAIN_PLAIN))),
                          STEPS)
    fusion.FEW_WORDS_WEIGHTS = w
    print(f"weights: {w}", file=sys.stderr)

    # 2. The gate: the best for plain words that costs the gold set nothing.
    floor = baseline[TRAIN_WORDS]
    chosen, chosen_value = None, -1.0
    for lo in GATE_LOWS:
        for width in GATE_WIDTHS:
            fusion.FEW_WORDS_GATE = (lo, round(lo + width, 2))
            g = figures(TRAIN_WORDS)
            if g[0] < floor[0] - 1e-9 or g[2] < floor[2] - 1e-9:
                continue
            value = _objective(figures(TRAIN_PLAIN))
            if value > chosen_value + 1e-9:
                chosen, chosen_value = fusion.FEW_WORDS_GATE, value
    if chosen is None:
        print("no gate keeps the gold set's figures", file=sys.stderr)
        return 1
    fusion.FEW_WORDS_GATE = chosen
    print(f"gate: {chosen}", file=sys.stderr)
    out["chosen"] = {"few_words_weights": w, "gate": list(chosen),
                     "figures": {k: _named(figures(k)) for k in SETS}}
    fusion.FEW_WORDS_WEIGHTS, fusion.FEW_WORDS_GATE = shipped
    out["shipped"]["figures"] = {k: _named(figures(k)) for k in SETS}
    _report(out, args.json)
    return 0


def beir(folder: Path, index: Path, out_json: Path | None) -> int:
    """nDCG@10 / recall@50 on ``folder``'s test queries with the gate as shipped and off."""
    from approximations import _measure, _queries

    from inspect_qa import Retriever
    from inspect_qa.eval.beir import read_qrels
    from inspect_qa.search import first_stage, fusion

    qrels = read_qrels(folder / "qrels" / "test.tsv")
    queries = _queries(folder, qrels)
    r = Retriever.load(index)
    first_stage.REFERENCE_ROWS = 10**9  # every passage scored: the exact ranking
    below = 0
    for text in queries.values():
        q = r.analyser.analyse(r.check_question(text), dense=True)
        first = first_stage.run(r.corpus, q, None, dense=True, lexical=True)
        below += fusion.lexical_strength(r.corpus, q, first) < fusion.FEW_WORDS_GATE[1]
    out: dict = {"queries": len(queries), "below_gate": below}
    shipped = fusion.FEW_WORDS_GATE
    for name, gate in (("gate as shipped", shipped), ("gate off", (-1.0, -1.0))):
        fusion.FEW_WORDS_GATE = gate
        means, _ = _measure(r, queries, qrels)
        out[name] = {k: round(v, 4) for k, v in means.items()}
        print(name, out[name], file=sys.stderr, flush=True)
    fusion.FEW_WORDS_GATE = shipped
    _report(out, out_json)
    return 0


def collect(corpus: Path, index: Path, model: str | None = None) -> dict[str, list[tuple]]:
    """The cases of every set (:func:`cases_of`), with an index of ``corpus`` built or updated
    at ``index``."""
    from inspect_qa.retriever import Retriever

    embedder = None
    if model:
        from inspect_qa.embedding import load_embedder

        embedder = load_embedder(model)
    return cases_of(Retriever.build(corpus, index, embedder=embedder, progress=True))


def cases_of(r: Any) -> dict[str, list[tuple]]:
    """Per set, per answerable question: its evidence on every candidate, late interaction of
    every candidate, which candidates hold an evidence quote, its lexical strength and its
    text. Checks the replay against the retriever ``r`` (with the settings as shipped)."""
    from inspect_qa.eval.gold import load_gold
    from inspect_qa.search import evidence, first_stage, fusion

    ix = r.index
    docs = {d: x.text for d, x in ix.documents.items()}
    cases: dict[str, list[tuple]] = {}
    for name in SETS:
        cases[name] = []
        for it in load_gold(ROOT / "eval" / f"{name}.jsonl", docs):
            if not it.answerable:
                continue
            q = r.analyser.analyse(r.check_question(it.question), dense=True)
            first = first_stage.run(r.corpus, q, None, dense=True, lexical=True)
            every = np.arange(len(first.rows))
            ev = evidence.late_interaction(r.corpus, q, evidence.gather(r.corpus, q, first),
                                           every)
            labels = np.array([it.is_hit(ix.chunks[i].doc_id, ix.chunks[i].text) is not None
                               for i in first.rows])
            case = (ev, fusion.late_evidence(r.corpus, ev, every, q.text), labels,
                    fusion.lexical_strength(r.corpus, q, first), q.text)
            cases[name].append(case)
            expect = [p.chunk_id for p in r.search(it.question, k=10)]
            got = [ix.chunks[first.rows[i]].id for i in ranking(case)[:10]]
            if got != expect:
                raise SystemExit(f"replay differs from Retriever.search on {it.id}")
    return cases


def ranking(case: tuple) -> np.ndarray:
    """Retriever._rank's hybrid order (positions among the candidates), replayed with the
    fusion module's current settings."""
    from inspect_qa.search import fusion

    ev, late, strength = case[0], case[1], case[3]
    weights = fusion.question_weights(strength)
    s = fusion.combine(ev, "hybrid", weights)
    top = np.argsort(-s, kind="stable")[:fusion.RERANK_DEPTH]
    s = s.copy()
    s[top] += fusion.late_bonus(tuple(None if e is None else e[top] for e in late), weights)
    return np.argsort(-s, kind="stable")


def score(cases: list[tuple]) -> np.ndarray:
    """hit@1, hit@5, MRR@10 (a passage is right when it holds an evidence quote; overlapping
    passages are not merged here, as the retriever does, which only ever lowers these)."""
    total = np.zeros(3)
    for case in cases:
        top = case[2][ranking(case)[:10]]
        total += (float(top[0]), float(top[:5].any()),
                  1.0 / (int(np.argmax(top)) + 1) if top.any() else 0.0)
    return total / max(len(cases), 1)


def _with(weights: dict[str, float], run):
    from inspect_qa.search import fusion

    saved = fusion.FEW_WORDS_WEIGHTS
    fusion.FEW_WORDS_WEIGHTS = weights
    try:
        return run()
    finally:
        fusion.FEW_WORDS_WEIGHTS = saved


def _report(out: dict, path: Path | None) -> None:
    text = json.dumps(out, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def _objective(v: np.ndarray) -> float:
    return float(v[0] / 2 + v[2])


def _named(v: np.ndarray) -> dict[str, float]:
    return {"hit@1": round(float(v[0]), 3), "hit@5": round(float(v[1]), 3),
            "mrr@10": round(float(v[2]), 3)}


if __name__ == "__main__":
    sys.exit(main())
