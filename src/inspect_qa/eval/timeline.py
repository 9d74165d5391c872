"""Timeline gold sets and their scores: ``python -m inspect_qa.eval --timeline eval/timeline.jsonl``.

One JSON object per line: a topic, and for every report of the corpus the verbatim quotes in it
that say something about the topic (``[]``: the report says nothing about it)::

    {"id": "t01", "topic": "caseloads",
     "reports": {"004_c317150f610727ac.txt": ["caseloads of up to 30"], "003_...txt": [], ...}}

and, on any line (the first suffices), ``"order"``: the reports in true timeline order.

For one topic, with ``S`` the reports that say something and ``L`` the reports the timeline
lists, a listed report is right when one of its sentences overlaps one of its quotes:

- ``precision`` = right reports / |L| (a report of ``[]`` listed is wrong)
- ``recall``    = right reports / |S|
- ``silent_left_out`` = reports of ``[]`` not listed / reports of ``[]``
- ``order``     = share of pairs of listed reports in the gold order (1 with fewer than two)

Totals are micro-averaged over topics (sums of counts), ``order`` is averaged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from ..errors import GoldSetError
from .gold import locate


@dataclass(frozen=True)
class TimelineItem:
    id: str
    topic: str
    #: report → spans (start, end) of its quotes in the report's text; empty: says nothing.
    spans: dict[str, tuple[tuple[int, int], ...]]
    line: int


def load_timeline_gold(path: str | Path, documents: Mapping[str, str]
                       ) -> tuple[list[TimelineItem], list[str]]:
    """The topics of a timeline gold file and the gold report order; every quote is looked up
    in its report (a quote that is not there is an error naming the line)."""
    items: list[TimelineItem] = []
    order: list[str] = []
    text = Path(path).read_text(encoding="utf-8")
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            topic, reports = d["topic"], d["reports"]
        except (ValueError, KeyError, TypeError) as exc:
            raise GoldSetError(f"{path}:{n}: not a timeline line ({exc})") from exc
        order = list(d.get("order") or order)
        spans: dict[str, tuple[tuple[int, int], ...]] = {}
        for doc, quotes in reports.items():
            if doc not in documents:
                raise GoldSetError(f"{path}:{n}: unknown report {doc!r}")
            found: list[tuple[int, int]] = []
            for q in quotes:
                where = locate(documents[doc], q)
                if not where:
                    raise GoldSetError(f"{path}:{n}: quote not in {doc}: {q[:60]!r}")
                found.extend(where)
            spans[doc] = tuple(found)
        items.append(TimelineItem(str(d.get("id", n)), topic, spans, n))
    if not order:
        raise GoldSetError(f"{path}: no line gives the reports' \"order\"")
    return items, order


def score_topic(item: TimelineItem, entries: Sequence[Any], order: Sequence[str]
                ) -> dict[str, Any]:
    """Counts and order for one topic's timeline (entries with ``source``, ``start``, ``end``)."""
    listed = list(dict.fromkeys(e.source for e in entries))
    says = {d for d, sp in item.spans.items() if sp}
    silent = {d for d, sp in item.spans.items() if not sp}
    right = {e.source for e in entries if e.source in says
             and any(a < e.end and e.start < b for a, b in item.spans[e.source])}
    ranked = [d for d in listed if d in order]
    pairs = list(combinations(ranked, 2))
    in_order = sum(order.index(a) < order.index(b) for a, b in pairs)
    return {"id": item.id, "topic": item.topic, "listed": listed, "right": sorted(right),
            "says": len(says), "silent": len(silent),
            "silent_listed": len([d for d in listed if d in silent]),
            "order": in_order / len(pairs) if pairs else 1.0}


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    listed = sum(len(r["listed"]) for r in rows)
    right = sum(len(r["right"]) for r in rows)
    says = sum(r["says"] for r in rows)
    silent = sum(r["silent"] for r in rows)
    return {
        "topics": len(rows),
        "precision": round(right / listed, 4) if listed else 0.0,
        "recall": round(right / says, 4) if says else 0.0,
        "silent_left_out": round(1 - sum(r["silent_listed"] for r in rows) / silent, 4)
        if silent else 1.0,
        "order": round(sum(r["order"] for r in rows) / len(rows), 4) if rows else 0.0,
    }


def run_timeline(retriever: Any, items: Sequence[TimelineItem], order: Sequence[str],
                 per_report: int = 2) -> dict[str, Any]:
    """Every topic's timeline, scored; also timed, beside the time of one ``answer``."""
    retriever.timeline("warm up")
    rows, ms, answer_ms = [], [], []
    for item in items:
        t0 = time.perf_counter()
        tl = retriever.timeline(item.topic, per_report=per_report)
        t1 = time.perf_counter()
        retriever.answer(item.topic)
        t2 = time.perf_counter()
        ms.append((t1 - t0) * 1000)
        answer_ms.append((t2 - t1) * 1000)
        rows.append(score_topic(item, tl.entries, order))
    odd = [r for i, r in enumerate(rows) if i % 2 == 0]  # t01, t03, ...: chosen on
    even = [r for i, r in enumerate(rows) if i % 2 == 1]
    import numpy as np

    return {"kind": "timeline", "all": totals(rows), "odd": totals(odd), "even": totals(even),
            "p50_ms": round(float(np.median(ms)), 2),
            "answer_p50_ms": round(float(np.median(answer_ms)), 2), "topics": rows}


def timeline_markdown(result: Mapping[str, Any]) -> str:
    out = [f"# Timeline evaluation: {result['config']['timeline']} on "
           f"{result['config']['corpus']}", "",
           f"- date: {result['environment']['date']}; commit "
           f"{(result['environment'].get('git_commit') or 'unknown')[:12]}", "",
           timeline_table(result, markdown=True), "",
           f"Timeline p50 {result['p50_ms']:.1f} ms; answer p50 {result['answer_p50_ms']:.1f} ms "
           "(the same topics).", "", "| topic | listed (in order) | right | order |",
           "|---|---|---|---|"]
    for r in result["topics"]:
        out.append(f"| {r['id']} {r['topic']} | {', '.join(d[:3] for d in r['listed'])} | "
                   f"{len(r['right'])} of {r['says']} | {r['order']:.2f} |")
    return "\n".join(out) + "\n"


def timeline_table(result: Mapping[str, Any], markdown: bool = False) -> str:
    head = ["topics", "n", "precision", "recall", "silent left out", "order"]
    rows = [[name, str(t["topics"]), f"{t['precision']:.3f}", f"{t['recall']:.3f}",
             f"{t['silent_left_out']:.3f}", f"{t['order']:.3f}"]
            for name, t in (("all", result["all"]), ("odd (chosen on)", result["odd"]),
                            ("even (check)", result["even"]))]
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                         + ["| " + " | ".join(r) + " |" for r in rows])
    return "\n".join("  ".join(f"{c:>16}" for c in r) for r in [head, *rows])
