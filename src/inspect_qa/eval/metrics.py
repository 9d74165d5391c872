"""Retrieval, latency and answer metrics.

The standard ranking metrics are computed by ranx (a well-kept IR metrics library) under the names
used in every report and JSON file here. For one query with relevant set ``R`` and ranked list
``d_1, d_2, ...`` (``rel_i`` = 1 when ``d_i`` is in ``R``, else 0):

- ``hit@k``     = 1 if any of ``d_1..d_k`` is relevant, else 0 (ranx ``hit_rate@k``)
- ``mrr@k``     = 1 / (rank of the first relevant document within the top ``k``), else 0
- ``ndcg@k``    = DCG@k / IDCG@k with DCG@k = Σ_{i≤k} rel_i / log2(i + 1), IDCG the DCG of the
  ideal ranking (all of ``R`` first)
- ``recall@k``  = |relevant in the top ``k``| / |R|

Each is averaged over queries. Latency percentiles use linear interpolation (numpy's default).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: Metrics reported for a gold set, per mode (names as in the JSON results).
GOLD_METRICS = ("hit@1", "hit@3", "hit@5", "mrr@10", "ndcg@10", "recall@10")
#: Metrics reported for a BEIR dataset.
BEIR_METRICS = ("ndcg@10", "recall@100")
LATENCY_METRICS = ("p50_ms", "p95_ms")
ANSWER_METRICS = ("answer_accuracy", "answer_overlap", "abstention_precision",
                  "abstention_recall")


def ranx_name(metric: str) -> str:
    """ranx's name for one of ours: ``hit@k`` is ranx's ``hit_rate@k``; the rest are the same."""
    name, _, k = metric.partition("@")
    if name == "hit" and k.isdigit():
        return f"hit_rate@{k}"
    if name in ("mrr", "ndcg", "recall", "precision", "map") and k.isdigit():
        return metric
    raise ValueError(f"unknown metric {metric!r}")


def ir_metrics(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query values of ``metrics`` for the queries of ``qrels``.

    ``run`` maps each query to ``{doc_id: score}`` (higher score ranks first); a query of
    ``qrels`` missing from ``run`` scores 0 on everything. Returns ``(means, per_query)`` where
    ``per_query[metric][query_id]`` is that query's value.
    """
    if not qrels:
        return {m: 0.0 for m in metrics}, {m: {} for m in metrics}
    from ranx import Qrels, Run, evaluate

    names = {m: ranx_name(m) for m in metrics}
    kept = {q: dict(docs) for q, docs in run.items() if q in qrels and docs}
    if not kept:
        return {m: 0.0 for m in metrics}, {m: dict.fromkeys(qrels, 0.0) for m in metrics}
    ranx_qrels = Qrels({q: dict(docs) for q, docs in qrels.items()})
    ranx_run = Run(kept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's unsafe-cast notices inside ranx
        means = evaluate(ranx_qrels, ranx_run, list(names.values()), make_comparable=True)
    if isinstance(means, float | int | np.floating):
        means = {next(iter(names.values())): means}
    per_query = {
        m: {q: float(ranx_run.scores[r].get(q, 0.0)) for q in qrels} for m, r in names.items()
    }
    return {m: float(means[r]) for m, r in names.items()}, per_query


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100), linear interpolation; 0.0 for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), p)) if len(values) else 0.0


def latency(ms: Sequence[float]) -> dict[str, float]:
    """``p50_ms`` and ``p95_ms`` of per-question latencies in milliseconds."""
    return {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2)}


def answer_metrics(records: Iterable[Mapping[str, Any]]) -> dict[str, float | int]:
    """Answer quality from per-question records.

    Each record has ``answerable`` (bool), ``found`` (the API answered rather than abstained),
    ``correct`` (the answer text holds a whole evidence quote of its source) and ``overlap``
    (the answer's characters overlap an evidence quote's).

    - ``answer_accuracy``      = correct answers / answerable questions
    - ``answer_overlap``       = answers overlapping evidence / answerable questions
    - ``abstention_precision`` = abstentions on unanswerable / all abstentions
    - ``abstention_recall``    = abstentions on unanswerable / unanswerable questions
    - ``wrong_abstention_rate`` = abstentions on answerable / answerable questions

    A ratio with nothing to count (no abstentions, say) is 0.0.
    """
    recs = list(records)
    answerable = [r for r in recs if r["answerable"]]
    unanswerable = [r for r in recs if not r["answerable"]]
    abstained = [r for r in recs if not r["found"]]
    right_abstentions = sum(1 for r in unanswerable if not r["found"])

    def ratio(a: int, b: int) -> float:
        return round(a / b, 4) if b else 0.0

    return {
        "answer_accuracy": ratio(sum(1 for r in answerable if r["correct"]), len(answerable)),
        "answer_overlap": ratio(sum(1 for r in answerable if r["overlap"]), len(answerable)),
        "abstention_precision": ratio(right_abstentions, len(abstained)),
        "abstention_recall": ratio(right_abstentions, len(unanswerable)),
        "abstained_on_answerable": sum(1 for r in answerable if not r["found"]),
        "wrong_abstention_rate": ratio(sum(1 for r in answerable if not r["found"]),
                                       len(answerable)),
        "wrong_answer": sum(1 for r in answerable if r["found"] and not r["correct"]),
        "answered_unanswerable": len(unanswerable) - right_abstentions,
    }


def mean_by_tag(
    per_query: Mapping[str, Mapping[str, float]], tags: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, float]]:
    """Mean of each metric over the queries carrying each tag, with the count as ``n``."""
    out: dict[str, dict[str, float]] = {}
    for tag in sorted({t for ts in tags.values() for t in ts}):
        qids = [q for q, ts in tags.items() if tag in ts]
        row: dict[str, float] = {"n": len(qids)}
        for metric, values in per_query.items():
            vals = [values[q] for q in qids if q in values]
            if vals:
                row[metric] = round(float(np.mean(vals)), 4)
        out[tag] = row
    return out


def expected_calibration_error(confidence: Sequence[float] | np.ndarray,
                               right: Sequence[bool] | np.ndarray,
                               bins: int = 10) -> float:
    """ECE = Σ_b (n_b / n) · |mean confidence in b − share right in b| over ``bins`` equal-width
    confidence bins ([0, 0.1), [0.1, 0.2), ..., [0.9, 1.0]); 0.0 for no questions."""
    return reliability(confidence, right, bins)["ece"]


def reliability(confidence: Sequence[float] | np.ndarray, right: Sequence[bool] | np.ndarray,
                bins: int = 10
                ) -> dict[str, Any]:
    """The reliability table behind :func:`expected_calibration_error`: for each non-empty
    confidence bin, its bounds, ``n``, mean confidence and the share of answers that were
    right; and ``ece``. "70% confident" is calibrated when about 70% of such answers are
    right."""
    c = np.asarray(confidence, dtype=float)
    y = np.asarray(right, dtype=float)
    which = np.clip((c * bins).astype(int), 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        if not n:
            continue
        conf, share = float(c[inside].mean()), float(y[inside].mean())
        ece += n / len(c) * abs(conf - share)
        rows.append({"low": round(b / bins, 2), "high": round((b + 1) / bins, 2), "n": n,
                     "mean_confidence": round(conf, 4), "share_right": round(share, 4)})
    return {"bins": rows, "ece": round(ece, 4) if len(c) else 0.0, "n": len(c)}
