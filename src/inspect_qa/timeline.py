"""Across reports, over time: what each report says about a topic, verbatim, in date order.

For the candidate sentences (the best by dense and by BM25 evidence over the corpus, and those of
search's even sample: every sentence of a small index), the topic's dense and lexical evidence,
each min-max scaled over them as search does; each report's best few sentences are then
re-scored by late interaction (word-piece MaxSim), and a report's best ``per_report`` sentences
that speak to the topic become its entries: a sentence speaks to it when it holds most of the
topic's words or matches it closely piece by piece (:data:`COVERAGE_FLOOR`,
:data:`LATE_FLOOR`). A report where no sentence does is left out: no weak filler entry, as an
answer abstains. Reports are ordered by their date; a report without a date is
placed after the dated report with the highest lower visit number when it has a visit number
("the seventh visit after the sixth"), else listed last, and its entries say which.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .chunking import normalise
from .confidence import question_terms
from .errors import InvalidQuery
from .layout import page_of
from .search.analysis import Question
from .search.corpus import Corpus
from .search.first_stage import feedback, lexical_scores, sentence_rows
from .search.fusion import minmax

#: Sentences per report re-scored by late interaction.
CANDIDATES_PER_REPORT = 8
#: Reports whose best first-stage sentence ranks among this many are considered at all: a
#: timeline lists at most this many reports. At 300 reports (benchmarks/timeline_scale.py) a
#: timeline took 47 ms p50 with 200, 20 ms with 100, against 8 ms for an answer.
MAX_REPORTS = 100
#: A sentence speaks to the topic when it holds this share of the topic's content words
#: (weighted by rarity), or when its MaxSim reaches LATE_FLOOR (a paraphrase). Both chosen on
#: the odd-numbered topics of eval/timeline.jsonl (best F1 of per-report precision and recall
#: over a grid; 0.75 and "never" tie there); the even-numbered ones are the check.
COVERAGE_FLOOR = 0.75
LATE_FLOOR = 0.6
#: Largest ``per_report``.
MAX_PER_REPORT = 5


@dataclass(frozen=True)
class TimelineEntry:
    """One sentence of one report, cited: ``text`` is ``normalise(doc.text[start:end])``.

    ``placed`` says how the report found its place: ``"date"`` (its own date), ``"visit"``
    (undated, placed after the dated report of the visit before it) or ``"undated"`` (listed
    after the dated reports).
    """

    source: str
    start: int
    end: int
    text: str
    date: str | None
    kind: str | None
    visit_number: int | None
    page: int | None
    section: str | None
    score: float
    title: str
    placed: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Timeline:
    """What each report says about ``topic``, in timeline order (a report's entries together,
    best first)."""

    topic: str
    entries: tuple[TimelineEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "entries": [e.to_dict() for e in self.entries]}

    @property
    def sources(self) -> list[str]:
        """The reports in timeline order, each once."""
        return list(dict.fromkeys(e.source for e in self.entries))


def _day(date: str) -> datetime.date:
    parts = [int(x) for x in date.split("-")] + [1, 1]
    return datetime.date(parts[0], parts[1], parts[2])


def report_order(documents: Mapping[str, Any], ids: list[str]) -> list[tuple[str, str]]:
    """``ids`` in timeline order with how each was placed (see :class:`TimelineEntry`)."""
    dated_visits = {md["visit_number"]: _day(md["date"]) for md in
                    (d.metadata for d in documents.values())
                    if md.get("date") and md.get("visit_number") is not None}

    def key(i: str) -> tuple[datetime.date, int, int, str]:
        md = documents[i].metadata
        if md.get("date"):
            return _day(md["date"]), 0, 0, i
        visit = md.get("visit_number")
        before = [v for v in dated_visits if visit is not None and v < visit]
        if before:  # just after the dated report of the latest visit before it
            return dated_visits[max(before)], 1, int(visit), i
        return datetime.date.max, 2, 0, i

    how = {0: "date", 1: "visit", 2: "undated"}
    return [(i, how[key(i)[1]]) for i in sorted(ids, key=key)]


def check_per_report(per_report: Any) -> int:
    if isinstance(per_report, bool) or not isinstance(per_report, int) or not (
            1 <= per_report <= MAX_PER_REPORT):
        raise InvalidQuery(f"per_report must be a whole number from 1 to {MAX_PER_REPORT}, "
                           f"not {per_report!r}")
    return per_report


def build_timeline(corpus: Corpus, question: Question, allowed: np.ndarray | None,
                   per_report: int) -> Timeline:
    """See :meth:`inspect_qa.Retriever.timeline`: the timeline of the analysed (and encoded)
    ``question`` over the passages ``allowed`` (``None``: all)."""
    q = question.text
    ix = corpus.index
    vector = feedback(ix, question.vector) if question.vector is not None else None
    _, lexical = lexical_scores(ix, question)
    # The sentences scored: the best by each kind of evidence, and a sample of the corpus
    # (every sentence of a small index) that anchors the scaling.
    rows = sentence_rows(corpus, question, allowed, vector, lexical,
                         MAX_REPORTS * CANDIDATES_PER_REPORT)
    dense = (ix.sentence_dense.score(vector, rows) if vector is not None
             else np.zeros(len(rows), dtype=np.float32))
    s = 0.5 * minmax(dense) + 0.5 * minmax(lexical[rows])
    owner = corpus.sentence_documents[rows]
    if allowed is not None:
        s = np.where(allowed[corpus.sentence_chunks[rows]], s, -np.inf)
    # Each report's best CANDIDATES_PER_REPORT sentences, without a Python loop over sentences:
    # sort by (report, -score), then rank within each report.
    reports = corpus.document_order[owner]  # reports by id, whatever their segment
    order = np.lexsort((-s, reports))
    grouped = reports[order]
    first = np.searchsorted(grouped, grouped)  # start of each sentence's report group
    rank = np.arange(len(order)) - first
    cand = order[(rank < CANDIDATES_PER_REPORT) & np.isfinite(s[order])]
    if not len(cand):
        return Timeline(q, ())
    best_per_report = order[(rank == 0) & np.isfinite(s[order])]
    keep_reports = set(owner[best_per_report[np.argsort(-s[best_per_report])][:MAX_REPORTS]])
    cand = cand[np.isin(owner[cand], list(keep_reports))]
    late = np.zeros(len(cand), dtype=np.float32)
    if question.pieces is not None and question.piece_weights is not None:
        late = ix.sentence_tokens.maxsim(question.pieces.vectors, question.piece_weights,
                                         rows[cand])
    final = 0.5 * s[cand] + 0.5 * late
    owner = corpus.sentence_documents
    cand = rows[cand]
    doc_ids = corpus.document_ids
    topic_terms = question_terms(q, ix.lexical)
    if topic_terms.words and len(topic_terms.unknown) == len(
            {w.lower() for w in topic_terms.words}):
        return Timeline(q, ())  # none of the topic's words is used in the reports
    terms = sorted(set(topic_terms.tokens))
    weights = {t: ix.lexical.idf(t) for t in terms}
    total = sum(weights.values()) or 1.0

    def speaks(j: int, late_j: float) -> bool:
        """Whether sentence ``j`` says something about the topic: it holds enough of the
        topic's words (by rarity), or matches it closely piece by piece (a paraphrase). A
        heading ("Changes to the Front Door") names a topic but says nothing about it."""
        sent = ix.sentences[j]
        section = ix.chunks[sent.chunk].section
        if (section and sent.end - sent.start < 2 * len(section) + 8  # cheap test first
                and normalise(ix.documents[doc_ids[owner[j]]].text[sent.start:sent.end])
                == normalise(section)):
            return False
        held = sum(w for t, w in weights.items() if t in corpus.sentence_tokens(j)) / total
        return held >= COVERAGE_FLOOR or late_j >= LATE_FLOOR

    chosen: dict[str, list[tuple[float, int]]] = {}
    for j, score, m in sorted(zip(cand.tolist(), final.tolist(), late.tolist(), strict=True),
                              key=lambda x: -x[1]):
        picked = chosen.setdefault(doc_ids[owner[j]], [])
        if len(picked) < per_report and speaks(j, m):
            picked.append((score, j))
    entries = []
    for doc, how in report_order(ix.documents.info, [d for d, p in chosen.items() if p]):
        document = ix.documents[doc]
        md = document.metadata
        for score, j in chosen[doc]:
            sent = ix.sentences[j]
            chunk = ix.chunks[sent.chunk]
            entries.append(TimelineEntry(
                source=doc, start=sent.start, end=sent.end,
                text=normalise(document.text[sent.start : sent.end]), date=md.get("date"),
                kind=md.get("kind"), visit_number=md.get("visit_number"),
                page=page_of(document.text, sent.start),
                section=chunk.section, score=round(float(score), 6), title=document.title,
                placed=how))
    return Timeline(q, tuple(entries))
