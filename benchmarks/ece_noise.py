"""How large an expected calibration error (ECE) sampling noise alone gives on a set this size.

A perfectly calibrated model whose answers are right with exactly the probability it states
still shows an ECE above 0 on a finite set. This draws "right" from each question's stated
confidence, as such a model would, many times over, and prints the ECE's median and 90th
percentile: a measured ECE inside that range is calibration within noise.

    python benchmarks/ece_noise.py eval/results/gold-seeds-...json [--mode hybrid] [--runs 2000]

The confidences are each question's, as saved in the results (older results: each bin's
questions at the bin's mean confidence), so the figure is for the set as evaluated.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from inspect_qa.eval.metrics import expected_calibration_error


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="results JSON files of python -m inspect_qa.eval")
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for path in args.results:
        with open(path, encoding="utf-8") as f:
            result = json.load(f)
        if result.get("kind") != "gold":
            continue  # a BEIR or timeline result has no confidences
        cal = result["modes"][args.mode]["calibration"]
        per_question = [q["confidence"][args.mode] for q in result.get("questions", [])
                        if "confidence" in q]
        conf = (np.array(per_question) if len(per_question) == cal["n"] else
                np.concatenate([[b["mean_confidence"]] * b["n"] for b in cal["bins"]]))
        sims = [expected_calibration_error(conf, rng.random(len(conf)) < conf)
                for _ in range(args.runs)]
        print(f"{path}: {len(conf)} questions, measured ECE {cal['ece']:.3f}; a calibrated "
              f"model: median {np.median(sims):.3f}, 90th percentile {np.quantile(sims, 0.9):.3f}")


if __name__ == "__main__":
    main()
