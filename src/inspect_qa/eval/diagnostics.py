"""Why a gold question was missed: what a developer reads to improve retrieval.

For every answerable question whose evidence is not in some mode's top ``ANSWER_K`` passages:
the rank of the evidence under dense, lexical and hybrid search (looking down to ``MAX_K``),
where each quote sits relative to the index's chunks (inside one chunk, split across a chunk
boundary, or partly outside every chunk), and the best passage returned instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .gold import GoldItem, contains_quote
from .runner import ANSWER_K, QuestionRun, credit

ALL_MODES = ("dense", "lexical", "hybrid")


def quote_placement(item: GoldItem, chunks: Sequence[Any]) -> list[str]:
    """For each evidence quote: ``"in-chunk"``, ``"split"`` (across a chunk boundary),
    ``"outside"`` (some of it is in no chunk: dropped as page furniture, a lone heading or a
    too-short segment) or ``"missing"`` (not in the index at all)."""
    out = []
    for ev in item.evidence:
        mine = [c for c in chunks if c.doc_id == ev.source]
        if any(contains_quote(c.text, ev.quote) for c in mine):
            out.append("in-chunk")
            continue
        status = "missing"
        for start, end in ev.spans:
            touching = sorted((c for c in mine if c.start < end and start < c.end),
                              key=lambda c: c.start)
            covered = sum(min(end, c.end) - max(start, c.start) for c in touching)
            # Whitespace between two chunks is in neither; a gap of a few characters still
            # means "split", anything more means part of the quote was not indexed.
            if len(touching) >= 2 and (end - start) - covered <= 3:
                status = "split"
                break
            if touching:
                status = "outside"
        out.append(status)
    return out


def _passage_summary(p: Any) -> dict[str, Any]:
    text = p.text if len(p.text) <= 300 else p.text[:297] + "..."
    return {"source": p.source, "start": p.start, "end": p.end, "section": p.section,
            "score": p.score, "text": text}


def diagnose(retriever: Any, items: Sequence[GoldItem],
             runs: Mapping[str, Sequence[QuestionRun]], depth: int) -> list[dict[str, Any]]:
    """One record per missed question (see the module docstring), in gold order."""
    missed: dict[str, list[str]] = {}
    for mode, rows in runs.items():
        for r in rows:
            first = r.first_hit
            if first is None or first > ANSWER_K:
                missed.setdefault(r.id, []).append(mode)
    out = []
    for item in items:
        if not item.answerable or item.id not in missed:
            continue
        ranks: dict[str, int | None] = {}
        best: dict[str, dict[str, Any]] = {}
        for mode in ALL_MODES:
            passages = retriever.search(item.question, k=depth, mode=mode)
            labels = credit(item, passages)
            ranks[mode] = next((i + 1 for i, lab in enumerate(labels) if lab is not None), None)
            if passages and labels[0] is None:
                best[mode] = _passage_summary(passages[0])
        placement = quote_placement(item, retriever.index.chunks)
        out.append({
            "id": item.id,
            "line": item.line,
            "question": item.question,
            "answer": item.answer,
            "tags": list(item.tags),
            "missed_in": missed[item.id],
            "evidence": [{"source": e.source, "quote": e.quote, "placement": pl}
                         for e, pl in zip(item.evidence, placement, strict=True)],
            "rank": ranks,
            "best_instead": best,
            "causes": causes(item, ranks, placement, best, depth),
        })
    return out


def causes(item: GoldItem, ranks: Mapping[str, int | None], placement: Sequence[str],
           best: Mapping[str, Mapping[str, Any]], depth: int) -> list[str]:
    """General causes of one miss (labels a developer can count across the whole set)."""
    out = []
    if "split" in placement:
        out.append("quote split across a chunk boundary")
    if "outside" in placement or "missing" in placement:
        out.append("quote (partly) not indexed")
    if all(r is None for r in ranks.values()) and "in-chunk" in placement:
        out.append(f"evidence below rank {depth} in every mode")
    hyb = ranks.get("hybrid")
    if hyb is not None and hyb > ANSWER_K:
        out.append(f"evidence ranked {ANSWER_K + 1}-{depth} by hybrid (ranking, not recall)")
    dense, lexical = ranks.get("dense"), ranks.get("lexical")
    if dense is not None and dense <= ANSWER_K and (lexical is None or lexical > ANSWER_K):
        out.append("lexical misses a paraphrase that dense finds")
    if lexical is not None and lexical <= ANSWER_K and (dense is None or dense > ANSWER_K):
        out.append("dense misses what the words match (lexical finds it)")
    sources = {e.source for e in item.evidence}
    top = best.get("hybrid")
    if top is not None:
        out.append("hybrid's top passage is from another document" if top["source"] not in sources
                   else "hybrid's top passage is another part of the right document")
    if len(item.evidence) > 1:
        out.append("needs several passages (multi-quote question)")
    return out


def cause_counts(misses: Sequence[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Each cause with the number of missed questions showing it, most common first."""
    counter: Counter[str] = Counter(c for m in misses for c in m["causes"])
    return counter.most_common()
