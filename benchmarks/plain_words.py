"""The plain-words methods, one by one, on the plain-words and gold sets (hybrid).

    python benchmarks/plain_words.py [--sets plain,plain_holdout,gold,holdout]

Each variant sets the constants in ``inspect_qa.retriever`` (weight of the glossary and acronym
expansion in BM25, its use in the dense question, its shortest phrase, dense pseudo-relevance
feedback) and runs the evaluation harness on each set. Prints hit@1 / hit@5 / MRR@10 / answer
accuracy per set.
"""

from __future__ import annotations

import argparse

import inspect_qa.search.analysis as R
from inspect_qa.eval.cli import run_gold_eval

VARIANTS = {
    "none": {},
    "expansion 0.5": {"EXPANSION_WEIGHT": 0.5},
    "expansion 0.3": {"EXPANSION_WEIGHT": 0.3},
    "expansion 0.5, phrases of 2+ words": {"EXPANSION_WEIGHT": 0.5, "EXPAND_MIN_TOKENS": 2},
    "expansion 0.5, dense too": {"EXPANSION_WEIGHT": 0.5, "EXPAND_DENSE": True},
    "feedback 0.5": {"PRF_BETA": 0.5},
    "expansion 0.3 + feedback 0.5": {"EXPANSION_WEIGHT": 0.3, "PRF_BETA": 0.5},
    "expansion 0.5 when words find little": {"EXPANSION_WEIGHT": 0.5, "EXPAND_BELOW": 0.35},
}
DEFAULTS = {"EXPANSION_WEIGHT": 0.0, "EXPAND_DENSE": False, "EXPAND_MIN_TOKENS": 1,
            "PRF_BETA": 0.0, "EXPAND_BELOW": 1.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="plain,plain_holdout,gold,holdout")
    args = ap.parse_args()
    for name, settings in VARIANTS.items():
        for key, value in {**DEFAULTS, **settings}.items():
            setattr(R, key, value)
        row = []
        for gold in args.sets.split(","):
            ns = argparse.Namespace(gold=f"eval/{gold}.jsonl", corpus="seeds", index="index",
                                    modes="hybrid", k=10, model=None)
            res = run_gold_eval(ns)["modes"]["hybrid"]
            m = {**res["metrics"], **res["answers"]}
            row.append(f"{gold} {m['hit@1']:.3f}/{m['hit@5']:.3f}/{m['mrr@10']:.3f}/"
                       f"{m['answer_accuracy']:.3f}")
        print(f"{name:36} " + "  ".join(row), flush=True)


if __name__ == "__main__":
    main()
