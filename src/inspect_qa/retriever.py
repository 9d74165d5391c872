"""The public search API: :class:`Retriever`, a thin facade over the search stages.

It checks the arguments, turns filters into the passages they allow, runs the stages of
:mod:`inspect_qa.search` in order and makes their results into :class:`Passage` and
:class:`~inspect_qa.answers.Answer` values.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from .answers import Answer, Calibration, confidence_features, default_calibration
from .chunking import Chunk, ChunkSettings, normalise
from .confidence import (
    NO_CONTENT_HINT,
    NO_MATCHING_DOCUMENT,
    QuestionTerms,
    question_terms,
    reason_not_found,
)
from .embedding import Embedder, load_embedder
from .errors import IndexIncompatible, InvalidQuery
from .filters import Filters, allowed_documents, undated_note
from .index import build_index, resolve_config
from .layout import clean_line, page_of
from .passages import Passage, search_dict
from .search import analysis, evidence, first_stage, fusion, selection
from .search.analysis import MAX_QUESTION_CHARS, Question
from .search.corpus import Corpus
from .search.evidence import Evidence
from .search.first_stage import FirstStage
from .search.fusion import FUSION_WEIGHTS, RERANK_DEPTH
from .storage import Index, load_index
from .timeline import Timeline, build_timeline, check_per_report

log = logging.getLogger(__name__)

__all__ = ["FUSION_WEIGHTS", "MAX_K", "MAX_QUESTION_CHARS", "MODES", "RERANK_DEPTH", "Filters",
           "Mode", "Passage", "Ranked", "Retriever", "search_dict"]

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[str, ...] = ("dense", "lexical", "hybrid")
#: Largest ``k`` accepted by :meth:`Retriever.search`.
MAX_K = 50


class Ranked(NamedTuple):
    """One ranking, stage by stage: the analysed question, the first stage's candidates, their
    evidence and fused scores, and the positions (among the candidates) and rows of the
    passages picked, best first. ``allowed`` is the passages the filters allow (``None``: all).
    """

    question: Question
    first: FirstStage
    evidence: Evidence
    scores: np.ndarray
    picked: list[int]
    rows: list[int]
    allowed: np.ndarray | None


class Retriever:
    """Searches one index with one embedder. Thread-safe for concurrent searches.

    Build or update with :meth:`build`, open with :meth:`load`.
    """

    def __init__(self, index: Index, embedder: Embedder,
                 calibration: Calibration | None = None):
        if index.manifest["model"]["fingerprint"] != embedder.fingerprint():
            raise IndexIncompatible(
                f"index {str(index.path)!r} was built with model "
                f"{index.manifest['model']['name']!r} (another fingerprint than the embedder "
                f"given); rebuild it with `inspect-qa index CORPUS --out {index.path}`"
            )
        self.index = index
        self.embedder = embedder
        self.corpus = Corpus(index)
        self.analyser = analysis.Analyser(
            embedder, index.lexical, index.chunk_tokens,
            lambda: [d.text for d in index.documents.values()])
        cal = calibration or default_calibration()
        model = index.manifest["model"]
        fitted_for = cal.provenance.get("model")
        fitted_print = cal.provenance.get("model_fingerprint")
        other = (fitted_print != model["fingerprint"] if fitted_print
                 else fitted_for != model["name"])
        if calibration is None and fitted_for and other:
            # The gates are similarities of the model the calibration was fitted with; another
            # model's scale differs, and they would refuse every question.
            log.warning("the answer confidence was fitted for %s, not %s: it is approximate; "
                        "refit it with `python -m inspect_qa.calibrate`", fitted_for,
                        model["name"])
            cal = replace(cal, gates={})
        self.calibration: Calibration = cal

    @classmethod
    def build(
        cls,
        corpus_dir: str | Path = "seeds",
        index_dir: str | Path = "index",
        *,
        embedder: Embedder | None = None,
        settings: ChunkSettings | None = None,
        progress: bool = False,
        strict: bool = False,
    ) -> Retriever:
        """Build (or update) the index of ``corpus_dir`` in ``index_dir`` and open it.

        Without ``embedder``/``settings``, an existing index keeps the model and settings it was
        built with; a new one gets the bundled model and default settings. Files that cannot be
        read are skipped (logged; ``strict``: :class:`CorpusError`); :func:`build_index` returns
        the full report.
        """
        embedder, settings = resolve_config(index_dir, embedder, settings)
        rep = build_index(corpus_dir, index_dir, embedder=embedder, settings=settings,
                          progress=progress, strict=strict)
        for doc_id, reason in rep.skipped:
            log.warning("not indexed: %s: %s", doc_id, reason)
        return cls.load(index_dir, embedder=embedder)

    @classmethod
    def load(cls, index_dir: str | Path = "index", *, embedder: Embedder | None = None) -> Retriever:
        """Open a built index. The embedder defaults to the model named in its manifest."""
        index = load_index(index_dir)
        return cls(index, embedder or load_embedder(index.model_name))

    # -- input checks --------------------------------------------------------------------------

    def check_question(self, question: Any, what: str = "question") -> str:
        return analysis.check_question(question, self.embedder, what)

    @staticmethod
    def check_k(k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise InvalidQuery(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        if not 1 <= int(k) <= MAX_K:
            raise InvalidQuery(f"k must be from 1 to {MAX_K}, not {k}")
        return int(k)

    @staticmethod
    def check_mode(mode: Any) -> str:
        if mode not in MODES:
            raise InvalidQuery(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        return str(mode)

    def check_filters(self, filters: Filters) -> None:
        """Raise :class:`InvalidQuery` when ``filters`` name what the index does not hold."""
        allowed_documents(filters, self.index.documents.info)

    def allowed(self, filters: Filters | None) -> np.ndarray | None:
        """Which passages ``filters`` allow, as a boolean array (``None``: all); checked."""
        return self.corpus.mask(allowed_documents(filters, self.index.documents.info))

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        question: str,
        k: int = 5,
        mode: Mode | str = "hybrid",
        *,
        filters: Filters | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first.

        Args:
            question: a question in plain words (at most ``MAX_QUESTION_CHARS`` characters).
            k: how many passages, 1 to ``MAX_K``. Fewer come back when fewer match; never padded.
            mode: ``"hybrid"`` (dense and lexical fused), ``"dense"`` or ``"lexical"``.
            filters: restrict to some documents or dates.

        Raises:
            InvalidQuery: empty or over-long question, ``k`` out of range, unknown mode or filter.
        """
        ranked = self._rank(question, k, mode, filters, for_answer=False)
        return [self.passage(self.index.chunks[r], float(ranked.scores[p]))
                for p, r in zip(ranked.picked, ranked.rows, strict=True)]

    def _rank(self, question: Any, k: Any, mode: Any, filters: Filters | None,
              for_answer: bool) -> Ranked:
        """Check the arguments and run the stages: the ``k`` best passages."""
        q = self.check_question(question)
        k = self.check_k(k)
        mode = self.check_mode(mode)
        allowed = self.allowed(filters)
        # An answer scores sentences on both kinds of evidence, whatever the mode.
        both = for_answer or mode == "hybrid"
        dense, lexical = both or mode == "dense", both or mode == "lexical"
        question_ = self.analyser.analyse(q, dense)
        first = first_stage.run(self.corpus, question_, allowed, dense, lexical)
        ev = evidence.gather(self.corpus, question_, first)
        weights = (fusion.question_weights(fusion.lexical_strength(self.corpus, question_,
                                                                   first))
                   if mode == "hybrid" else fusion.FUSION_WEIGHTS)
        s = fusion.combine(ev, mode, weights)
        if allowed is not None:
            s = np.where(allowed[ev.rows], s, -np.inf)
        if dense and both:
            ev, s, order = fusion.rerank(self.corpus, question_, ev, s, mode == "hybrid",
                                         weights)
        else:
            order = self.corpus.ranking(s, ev.rows)
        picked = self._select(order, s, ev.rows, k)
        rows = [int(ev.rows[p]) for p in picked]
        return Ranked(question_, first, ev, s, picked, rows, allowed)

    def _select(self, order: Sequence[int] | np.ndarray, s: np.ndarray, rows: np.ndarray,
                k: int) -> list[int]:
        """The first ``k`` positions of ``order`` with a finite score, never two passages
        overlapping."""
        picked: list[int] = []
        taken: list[Chunk] = []
        for p in order:
            if len(picked) >= k or not np.isfinite(s[p]):
                break
            c = self.index.chunks[int(rows[p])]
            if any(t.doc_id == c.doc_id and t.start < c.end and c.start < t.end for t in taken):
                continue  # never two overlapping passages of the same region
            taken.append(c)
            picked.append(int(p))
        return picked

    def passage(self, chunk: Chunk, score: float) -> Passage:
        doc = self.index.documents[chunk.doc_id]
        return Passage(
            text=chunk.text,
            source=chunk.doc_id,
            start=chunk.start,
            end=chunk.end,
            score=round(score, 6),
            title=doc.title,
            date=doc.date,
            section=chunk.section,
            page=chunk.page,
            chunk_id=chunk.id,
            page_end=chunk.page_end,
        )

    # -- timeline ------------------------------------------------------------------------------

    def timeline(self, topic: str, filters: Filters | None = None,
                 per_report: int = 2) -> Timeline:
        """What each report says about ``topic``: its best ``per_report`` sentences (1 to 5),
        verbatim and cited, reports in date order; reports that say nothing are left out.

        Raises:
            InvalidQuery: empty or over-long topic, bad ``per_report`` or filters.
        """
        q = self.check_question(topic, "topic")
        per_report = check_per_report(per_report)
        allowed = self.allowed(filters)
        return build_timeline(self.corpus, self.analyser.analyse(q, dense=True), allowed,
                              per_report)

    # -- answer --------------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        k: int = 5,
        mode: Mode | str = "hybrid",
        *,
        filters: Filters | None = None,
    ) -> Answer:
        """The sentence that answers ``question``, with its cited passages, or an abstention.

        Takes the same arguments as :meth:`search` and raises the same errors. The passages are
        those :meth:`search` returns; the answer is a sentence of one of the first
        ``ANSWER_PASSAGES`` of them.
        """
        candidate, terms = self._candidate(question, k, mode, filters)
        threshold = self.calibration.threshold
        if candidate.reason:  # no document matches the filters: already said
            return replace(candidate, reason=candidate.reason + self._undated_note(filters))
        if not terms.words:  # nothing to look up ("hello", "???"): say what to ask instead
            return replace(candidate, found=False, text="", source=None, start=None, end=None,
                           page=None, confidence=0.0, passage_index=None,
                           reason=NO_CONTENT_HINT)
        if not candidate.found or candidate.confidence < threshold:
            return replace(candidate, found=False, text="", source=None, start=None, end=None,
                           page=None, passage_index=None,
                           reason=reason_not_found(terms, candidate.confidence, threshold)
                           + self._undated_note(filters))
        heading = candidate.passages[candidate.passage_index].section \
            if candidate.passage_index is not None else None
        if heading and clean_line(candidate.text) == heading:
            # A heading names what follows and answers nothing ("What needs to improve").
            return replace(candidate, found=False, text="", source=None, start=None, end=None,
                           page=None, passage_index=None,
                           reason=f"The closest match is a heading, “{heading}”, not a sentence "
                                  "that answers; what it heads is in the passages below.")
        return candidate

    def _undated_note(self, filters: Filters | None) -> str:
        note = undated_note(filters, self.index.documents.info)
        return " " + note if note else ""

    def answer_candidate(
        self,
        question: str,
        k: int = 5,
        mode: Mode | str = "hybrid",
        *,
        filters: Filters | None = None,
    ) -> Answer:
        """The answer :meth:`answer` would give if it never abstained, with its confidence.

        For evaluation and calibration: it says whether the sentence behind a low confidence
        was right. ``found`` is False only when no passage matched at all.
        """
        return self._candidate(question, k, mode, filters)[0]

    def answer_features(self, ranked: Ranked) -> tuple[list[tuple[int, int, int]], np.ndarray,
                                                        np.ndarray]:
        """Candidate answers of a ranking, their features and the question-wide evidence (see
        :func:`inspect_qa.search.selection.answer_features`)."""
        return selection.answer_features(self.corpus, ranked.question, ranked.first,
                                         ranked.evidence, ranked.scores, ranked.picked,
                                         ranked.allowed)

    def _candidate(self, question: Any, k: Any, mode: Any, filters: Filters | None
                   ) -> tuple[Answer, QuestionTerms]:
        ranked = self._rank(question, k, mode, filters, for_answer=True)
        q = ranked.question.text
        terms = question_terms(q, self.index.lexical)
        passages = tuple(self.passage(self.index.chunks[r], float(ranked.scores[p]))
                         for p, r in zip(ranked.picked, ranked.rows, strict=True))
        if not ranked.rows:
            nothing = ranked.allowed is not None and not ranked.allowed.any()
            return Answer(q, False, "", None, None, None, 0.0, passages,
                          reason=NO_MATCHING_DOCUMENT if nothing else ""), terms
        cand, feats, evidence_ = self.answer_features(ranked)
        cal = self.calibration
        scores = cal.sentence_score(feats)
        best = int(np.argmax(scores))
        first, last, rank = cand[best]
        x = confidence_features(float(scores[best]), feats[best], evidence_)
        confidence = round(cal.probability(x), 4)
        start, end = self.index.sentences[first].start, self.index.sentences[last].end
        src = passages[rank].source
        doc_text = self.index.documents[src].text
        text = normalise(doc_text[start:end])
        return Answer(q, True, text, src, start, end, confidence, passages, rank,
                      page=page_of(doc_text, start)), terms
