"""Running a gold set through a :class:`~inspect_qa.Retriever` and scoring the results.

Relevance is judged per evidence quote: a passage is a hit when it comes from an evidence source
and holds one whole quote (see :func:`inspect_qa.eval.gold.contains_quote`). For the ranking
metrics each quote is one relevant unit, credited to the first passage that holds it; a later
passage holding the same quote again is not relevant (so a question with two quotes in two
documents needs both for ``recall@10`` = 1). Unanswerable questions have no relevant unit and
count only in latency and abstention figures.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import GoldSetError, InvalidQuery
from .gold import GoldItem, contains_quote
from .metrics import (
    GOLD_METRICS,
    answer_metrics,
    ir_metrics,
    latency,
    mean_by_tag,
    reliability,
)

log = logging.getLogger(__name__)

#: Passages the answer API reads (the CLI's default for ``inspect-qa ask``).
ANSWER_K = 5


@dataclass(frozen=True)
class QuestionRun:
    """What one mode returned for one gold question."""

    id: str
    mode: str
    #: For each returned passage, the evidence it is credited with (``None``: not relevant).
    labels: tuple[int | None, ...]
    chunk_ids: tuple[str, ...]
    latency_ms: float
    answer_latency_ms: float
    found: bool
    correct: bool
    overlap: bool
    answer_text: str
    answer_source: str | None
    #: The answer's confidence, and whether the sentence behind it was right (for an
    #: abstention: the sentence it would have given), for the reliability table.
    confidence: float = 0.0
    right: bool = False

    @property
    def first_hit(self) -> int | None:
        """1-based rank of the first relevant passage, or ``None``."""
        return next((i + 1 for i, lab in enumerate(self.labels) if lab is not None), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def credit(item: GoldItem, passages: Sequence[Any]) -> tuple[int | None, ...]:
    """Evidence credited to each passage: the first quote it holds that no earlier one did."""
    taken: set[int] = set()
    out: list[int | None] = []
    for p in passages:
        label = None
        for i, ev in enumerate(item.evidence):
            if i not in taken and ev.source == p.source and contains_quote(p.text, ev.quote):
                label = i
                taken.add(i)
                break
        out.append(label)
    return tuple(out)


def judge_answer(item: GoldItem, answer: Any) -> tuple[bool, bool]:
    """``(correct, overlap)``: the answer holds a whole quote of its source / touches one."""
    if not answer.found or not item.answerable:
        return False, False
    evs = [e for e in item.evidence if e.source == answer.source]
    correct = any(contains_quote(answer.text, e.quote) for e in evs)
    overlap = any(s < answer.end and answer.start < e_ for e in evs for s, e_ in e.spans)
    return correct, overlap or correct


def run_gold(retriever: Any, items: Sequence[GoldItem], modes: Sequence[str], k: int,
             gold_path: str = "gold") -> dict[str, list[QuestionRun]]:
    """Search and answer every question in every mode; time each search."""
    out: dict[str, list[QuestionRun]] = {}
    for mode in modes:
        retriever.search("warm up", k=1, mode=mode)  # first-call costs are not a question's
        rows = []
        for item in items:
            try:
                t0 = time.perf_counter()
                passages = retriever.search(item.question, k=k, mode=mode)
                t1 = time.perf_counter()
                answer = retriever.answer(item.question, k=ANSWER_K, mode=mode)
                t2 = time.perf_counter()
            except InvalidQuery as exc:
                raise GoldSetError(f"{gold_path}:{item.line}: question {item.id} cannot be "
                                   f"asked ({exc})") from exc
            correct, overlap = judge_answer(item, answer)
            right = correct
            if not answer.found and item.answerable and answer.passages:
                right = judge_answer(item, retriever.answer_candidate(
                    item.question, k=ANSWER_K, mode=mode))[0]
            rows.append(QuestionRun(
                id=item.id, mode=mode, labels=credit(item, passages),
                chunk_ids=tuple(p.chunk_id for p in passages),
                latency_ms=round((t1 - t0) * 1000, 3), answer_latency_ms=round((t2 - t1) * 1000, 3),
                found=bool(answer.found), correct=correct, overlap=overlap,
                answer_text=answer.text, answer_source=answer.source,
                confidence=float(answer.confidence), right=right,
            ))
        log.info("mode %s: %d questions", mode, len(rows))
        out[mode] = rows
    return out


def qrels_and_run(items: Sequence[GoldItem], rows: Sequence[QuestionRun]
                  ) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    """ranx input: each evidence quote is a relevant unit ``<id>#<n>``; other passages keep
    their chunk id. Scores fall with rank so that ranx keeps the retriever's order."""
    qrels = {it.id: {f"{it.id}#{i}": 1 for i in range(len(it.evidence))}
             for it in items if it.answerable}
    run: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.id not in qrels:
            continue
        n = len(r.labels)
        run[r.id] = {
            (f"{r.id}#{lab}" if lab is not None else f"chunk:{cid}"): float(n - rank)
            for rank, (lab, cid) in enumerate(zip(r.labels, r.chunk_ids, strict=True))
        }
    return qrels, run


def summarise(items: Sequence[GoldItem], rows: Sequence[QuestionRun]) -> dict[str, Any]:
    """Metrics, latency, answer figures and the per-tag breakdown for one mode."""
    qrels, run = qrels_and_run(items, rows)
    means, per_query = ir_metrics(qrels, run, GOLD_METRICS)
    by_id = {r.id: r for r in rows}
    answer_recs = [{"answerable": it.answerable, "found": by_id[it.id].found,
                    "correct": by_id[it.id].correct, "overlap": by_id[it.id].overlap}
                   for it in items]
    per_query["latency_ms"] = {r.id: r.latency_ms for r in rows}
    per_query["answer_accuracy"] = {it.id: float(by_id[it.id].correct)
                                    for it in items if it.answerable}
    per_query["abstained"] = {it.id: float(not by_id[it.id].found) for it in items}
    tags = {it.id: it.tags for it in items}
    by_tag = mean_by_tag(per_query, tags)
    for tag, row in by_tag.items():
        ms = [r.latency_ms for r in rows if tag in tags[r.id]]
        row.update(latency(ms))
        row.pop("latency_ms", None)
    return {
        "metrics": {**{m: round(v, 4) for m, v in means.items()},
                    **latency([r.latency_ms for r in rows])},
        "answers": {**answer_metrics(answer_recs),
                    **{f"answer_{k}": v
                       for k, v in latency([r.answer_latency_ms for r in rows]).items()}},
        "by_tag": by_tag,
        "calibration": reliability([r.confidence for r in rows], [r.right for r in rows]),
    }
