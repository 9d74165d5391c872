"""Fit answer selection and confidence on a gold set: ``python -m inspect_qa.calibrate``.

1. For every gold question, the candidate sentences of the best passages and their features
   (see :mod:`inspect_qa.answers`); a candidate is right when it holds a whole evidence quote.
2. Sentence weights: those that pick a right sentence most often (coordinate ascent).
3. Confidence: logistic regression from the chosen sentence's evidence to "the answer is right"
   (unanswerable questions are never right), so a confidence of c is right about c of the time.
4. Threshold: the highest that keeps wrong abstentions on answerable questions within budget.

Every figure is also reported under k-fold cross-validation (each fold fitted without its
questions), which is the honest estimate for questions the fit never saw.

    python -m inspect_qa.calibrate [--gold eval/gold.jsonl] [--index index] [--corpus seeds]
                                   [--out src/inspect_qa/calibration.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .answers import CONFIDENCE_FEATURES, SENTENCE_FEATURES, Calibration, confidence_features
from .confidence import question_terms
from .errors import InspectQAError
from .eval.metrics import expected_calibration_error

log = logging.getLogger(__name__)

#: Largest share of answerable questions the threshold may send to "not found".
ABSTAIN_BUDGET = 0.05
#: Features whose least value among answerable questions (their GATE_QUANTILE) a question
#: must reach to be answered at all: the best passage's late interaction and the chosen
#: sentence's cosine. Below both the 1st percentile of what the reports answer, a question
#: is about something else (5-fold cross-validated on the fit sets, off-topic, chat,
#: gibberish and injection questions answered: 1.5% without the gates, 0% with them).
GATE_FEATURES = ("top_late_chunk", "dense")
GATE_QUANTILE = 0.01
#: Inverse strength of the confidence model's L2 penalty (scikit-learn's ``C``).
REGULARISATION = 1.0

#: Where the search for sentence weights starts, and its step sizes (coarse to fine).
_START = {"dense": 1.0, "lexical": 0.25, "coverage": 1.0, "type_match": 0.2,
          "two_sentences": -0.2, "late": 1.0}
_STEPS = (0.4, 0.2, 0.1, 0.05)
#: A longer answer holds a quote more often just by being longer. A pair's features are the
#: better of its two sentences' (coverage: of both), so it ties its better sentence at least:
#: the pair pays a penalty of at least 0.05 and must beat the single sentence by more.
_BOUNDS = {"two_sentences": (-2.0, -0.05)}


@dataclass
class Sample:
    """One gold question's candidates."""

    answerable: bool
    feats: np.ndarray  # candidates x SENTENCE_FEATURES
    right: np.ndarray  # candidates: holds a whole evidence quote
    evidence: np.ndarray  # the question-wide part of CONFIDENCE_FEATURES
    #: No content word to look up ("hello"): never answered, whatever the model says, so
    #: left out of the fit and scored as confidence 0.
    no_content: bool = False
    tags: tuple[str, ...] = ()


def collect(retriever: Any, items: list[Any], k: int = 10) -> list[Sample]:
    samples = []
    for item in items:
        ranked = retriever._rank(item.question, k, "hybrid", None, for_answer=True)
        q = ranked.question.text
        cand, feats, evidence = retriever.answer_features(ranked)
        ix = retriever.index
        right = np.array([
            item.answerable
            and item.is_hit(ix.chunks[ix.sentences[a].chunk].doc_id,
                            ix.documents[ix.chunks[ix.sentences[a].chunk].doc_id].text[
                                ix.sentences[a].start : ix.sentences[b].end]) is not None
            for a, b, _ in cand
        ])
        no_content = not question_terms(q, retriever.index.lexical).words
        samples.append(Sample(item.answerable, feats, right, evidence, no_content,
                              tuple(item.tags)))
    return samples


def _choose(samples: list[Sample], w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence features and correctness of the sentence each sample would answer with."""
    xs, ys = [], []
    for smp in samples:
        scores = smp.feats @ w
        b = int(np.argmax(scores))
        xs.append(confidence_features(float(scores[b]), smp.feats[b], smp.evidence))
        ys.append(bool(smp.right[b]))
    return np.array(xs), np.array(ys)


def fit_sentence_weights(samples: list[Sample]) -> np.ndarray:
    """Weights that pick a right sentence most often: coordinate ascent from ``_START``.

    The dense weight stays 1 (scores only compare within a question, so scale is free); each
    other weight moves by a step while that strictly raises the share of right sentences.
    """
    answerable = [s for s in samples if s.answerable]

    def accuracy(w: np.ndarray) -> float:
        return float(np.mean(_choose(answerable, w)[1])) if answerable else 0.0

    w = np.array([_START[f] for f in SENTENCE_FEATURES], dtype=float)
    best = accuracy(w)
    for step in _STEPS:
        improved = True
        while improved:
            improved = False
            for j in range(1, len(w)):
                for delta in (step, -step):
                    trial = w.copy()
                    lo, hi = _BOUNDS.get(SENTENCE_FEATURES[j], (-np.inf, np.inf))
                    trial[j] = min(hi, max(lo, round(trial[j] + delta, 4)))
                    acc = accuracy(trial)
                    if acc > best + 1e-12:
                        w, best, improved = trial, acc, True
    return w


def fit(samples: list[Sample]) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    w = fit_sentence_weights(samples)
    x, y = _choose([s for s in samples if not s.no_content], w)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    # With ~440 questions (the off-topic ones too) the penalty matters little: 5-fold
    # cross-validated (3 splits) at C = 0.1 / 1 / 3, calibration error 0.033 / 0.040 / 0.051,
    # near-topic questions answered 0.29 / 0.27 / 0.26, the same answer accuracy (0.77).
    model = LogisticRegression(C=REGULARISATION, max_iter=5000).fit((x - mean) / scale, y)
    answerable = np.array([s.answerable for s in samples if not s.no_content])
    gates = {f: float(np.quantile(x[answerable, CONFIDENCE_FEATURES.index(f)], GATE_QUANTILE))
             for f in GATE_FEATURES} if answerable.any() else {}
    cal = Calibration(tuple(map(float, w)), tuple(map(float, model.coef_[0])),
                      float(model.intercept_[0]), tuple(map(float, mean)),
                      tuple(map(float, scale)), 0.5, gates=gates)
    probs = np.array([cal.probability(row) for row in x])
    threshold = _threshold(probs, answerable)
    return replace(cal, threshold=threshold)


_MIN_THRESHOLD = 1e-6


def _threshold(probs: np.ndarray, answerable: np.ndarray) -> float:
    """Highest threshold that abstains on at most ABSTAIN_BUDGET of the answerable questions."""
    p = np.sort(probs[answerable])
    allowed = int(np.floor(ABSTAIN_BUDGET * len(p)))
    if allowed >= len(p):
        return 1.0
    # Abstaining below p[allowed] leaves exactly `allowed` answerable questions out.
    below = p[allowed - 1] if allowed > 0 else 0.0
    t = float((below + p[allowed]) / 2) if allowed > 0 else float(p[0] - 1e-6)
    # A gated question's confidence is 0: it is never answered, however many are gated.
    return max(t, _MIN_THRESHOLD)


def score(cal: Calibration, samples: list[Sample]) -> dict[str, float]:
    x, y = _choose(samples, np.array(cal.sentence_weights))
    probs = np.array([0.0 if s.no_content else cal.probability(row)
                      for s, row in zip(samples, x, strict=True)])
    found = probs >= cal.threshold
    answerable = np.array([s.answerable for s in samples])
    una = ~answerable
    ece = expected_calibration_error(probs, y)
    off = una & np.array([bool(OFF_TOPIC_KINDS.intersection(s.tags)) for s in samples])
    near = una & np.array([bool(NEAR_TOPIC_KINDS.intersection(s.tags)) for s in samples])
    on = una & ~off & ~near

    def share(x: np.ndarray, where: np.ndarray) -> float:
        return float(np.mean(x[where])) if where.any() else 0.0

    return {
        "answered_off_topic": share(found, off),
        "answered_near_topic": share(found, near),
        "abstained_on_topic_unanswerable": share(~found, on),
        "answer_accuracy": float(np.mean(y[answerable] & found[answerable])),
        "chosen_sentence_right": float(np.mean(y[answerable])),
        "abstained_unanswerable": float(np.mean(~found[una])) if una.any() else 0.0,
        "abstained_answerable": float(np.mean(~found[answerable])),
        "expected_calibration_error": float(ece),
    }


#: Kinds of unanswerable question (gold-set tags) that are not about the reports' subject,
#: and those beside it (another service, council or year); the rest are on-topic.
OFF_TOPIC_KINDS = frozenset(("general-knowledge", "chat", "gibberish", "injection",
                             "other-domain"))
NEAR_TOPIC_KINDS = frozenset(("neighbouring-service", "other-council", "other-year"))


def cross_validate(samples: list[Sample], folds: int = 5, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(samples))
    parts = np.array_split(order, folds)
    held: list[dict[str, float]] = []
    weights = []
    for part in parts:
        train = [samples[i] for i in order if i not in set(part)]
        test = [samples[i] for i in part]
        cal = fit(train)
        held.append(score(cal, test))
        weights.append(len(test))
    return {key: float(np.average([h[key] for h in held], weights=weights)) for key in held[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inspect_qa.calibrate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", action="append", default=None,
                    help="a gold set to fit on (repeatable; default: eval/gold.jsonl and "
                         "eval/offtopic.jsonl, the questions the reports do not answer)")
    ap.add_argument("--corpus", default="seeds")
    ap.add_argument("--index", default="index")
    ap.add_argument("--out", default=str(Path(__file__).with_name("calibration.json")))
    ap.add_argument("-k", type=int, default=10, help="passages retrieved per question")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        from .eval.gold import load_gold
        from .retriever import Retriever

        r = Retriever.build(args.corpus, args.index, progress=True)
        docs = {d: doc.text for d, doc in r.index.documents.items()}
        golds = args.gold or ["eval/gold.jsonl", "eval/offtopic.jsonl"]
        items = [it for g in golds for it in load_gold(g, docs)]
        samples = collect(r, items, k=args.k)
        cv = cross_validate(samples)
        cal = fit(samples)
        fitted = score(cal, samples)
    except InspectQAError as exc:
        print(f"calibrate: error: {exc}", file=sys.stderr)
        return 2
    out = cal.to_dict()
    out["provenance"] = {
        "gold": golds, "questions": len(items), "k": args.k,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": r.index.manifest["model"]["name"],
        "model_fingerprint": r.index.manifest["model"]["fingerprint"],
        "features": {"sentence": list(SENTENCE_FEATURES), "confidence": list(CONFIDENCE_FEATURES)},
        "in_sample": fitted, "cross_validated": cv,
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"in_sample": fitted, "cross_validated_5fold": cv}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
