"""Stage 2, candidates: which passages are scored at all.

Four lists over the whole corpus, each the best :data:`DEPTH` allowed rows: dense passages and
dense sentences (FAISS), BM25 passages and BM25 sentences (postings); a question that names a
report (:mod:`inspect_qa.query`) gets the same four lists again within the reports it names
(scored row by row when those reports are few: exact, and cheaper than a masked search of the
whole corpus).
Their passages, together with an even sample of :data:`REFERENCE_ROWS` passages, are the
candidates: only they are scored further (:mod:`.evidence`).

The sample anchors score scaling: fusion min-max scales each signal over the scored passages,
and the sample stands in for the rest of the corpus there (its lowest scores are about the
corpus's lowest). An index of at most :data:`REFERENCE_ROWS` passages is scored whole, which is
exactly scoring every passage.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..lexical import LexicalScores
from ..storage import Index
from . import analysis
from .analysis import Question
from .corpus import Corpus

#: Rows each first-stage list brings.
DEPTH = 100
#: Passages always scored, spread evenly over the index; an index this small is scored whole.
REFERENCE_ROWS = 1024
#: The passages (and, apart, the sentences) of the reports a question names are scored one by
#: one when they are at most this many, or this share of all: a masked search visits at least
#: an eighth of an IVF index's cells whatever the mask allows. At a million passages (987,830,
#: 5.9 million sentences, one thread) a masked list took 7-11 ms (passages) and 15-27 ms
#: (sentences); scoring each row 0.28 (float16 passages) and 0.075 us (int8 sentences).
EXACT_ROWS = 16_384
EXACT_SHARE = 1 / 32


@dataclass(frozen=True)
class FirstStage:
    """The passages to score, and the evidence the first stage computed whole."""

    #: Candidate passage rows, ascending.
    rows: np.ndarray
    #: The even sample (a subset of ``rows``), ascending.
    reference: np.ndarray
    #: Every passage is a candidate.
    exhaustive: bool
    #: The question vector searched with (moved by feedback when that is on), or ``None``.
    vector: np.ndarray | None
    #: BM25 of every passage and every sentence (an array per segment: the postings score a
    #: question over all rows at once), ``None`` when lexical evidence was not asked for.
    lexical_chunk: LexicalScores | None
    lexical_sentence: LexicalScores | None


def reference_rows(corpus: Corpus) -> np.ndarray:
    """An even sample of ``REFERENCE_ROWS`` of the live passages (all of them when they are
    fewer). It depends only on the index: drawn once, then remembered."""
    def draw() -> np.ndarray:
        live = corpus.live_rows
        if len(live) <= REFERENCE_ROWS:
            return live
        # evenly in (document id, start) order: what a whole build's rows are in
        live = live[np.argsort(corpus.passage_order[live], kind="stable")]
        picks = np.unique(np.linspace(0, len(live) - 1, REFERENCE_ROWS).round().astype(np.int64))
        return np.sort(live[picks])

    return corpus.remembered("reference", draw)


def lexical_scores(index: Index, question: Question) -> tuple[LexicalScores, LexicalScores]:
    """BM25 of the passages and of the sentences for ``question`` (with the report's terms for
    its everyday words, when expansion is on)."""
    lc = index.lexical.question(question.text)
    sl = index.sentence_lexical.question(question.text)
    extra = list(question.expansion) if analysis.EXPANSION_WEIGHT else []
    # Only a question whose own words find little is helped by the report's terms; one that
    # finds its words is only diluted by them.
    if (extra and analysis.EXPAND_BELOW < 1.0
            and lc.max() / index.lexical.ceiling(question.text) >= analysis.EXPAND_BELOW):
        extra = []
    if extra:
        words = " ".join(extra)
        lc = lc.plus(index.lexical.question(words), analysis.EXPANSION_WEIGHT)
        sl = sl.plus(index.sentence_lexical.question(words), analysis.EXPANSION_WEIGHT)
    return lc, sl


def feedback(index: Index, vector: np.ndarray) -> np.ndarray:
    """Dense pseudo-relevance feedback (Rocchio), when on: the question moved towards its best
    passages, whose words are the report's."""
    if not analysis.PRF_BETA or len(index.dense) <= analysis.PRF_DEPTH:
        return vector
    _, top = index.dense.search(vector.reshape(1, -1), analysis.PRF_DEPTH, index.live)
    rows = top[0][top[0] >= 0]  # an approximate search marks missing rows -1
    moved = vector + analysis.PRF_BETA * np.asarray(index.chunk_vectors[rows], np.float32).mean(axis=0)
    return (moved / np.linalg.norm(moved)).astype(np.float32)


def run(corpus: Corpus, question: Question, allowed: np.ndarray | None, dense: bool,
        lexical: bool) -> FirstStage:
    """The candidates for ``question`` among the passages ``allowed`` (``None``: all).

    In a large index the BM25 lists are made on another thread while this one searches the
    dense lists: both spend their time outside the GIL (numba, FAISS), so on two cores a search
    takes about the longer of the two instead of their sum."""
    ix = corpus.index
    vector = feedback(ix, question.vector) if dense and question.vector is not None else None
    reference = reference_rows(corpus)
    if len(corpus.live_rows) <= REFERENCE_ROWS:
        lc = sl = None
        if lexical:
            lc, sl = lexical_scores(ix, question)
        return FirstStage(reference, reference, True, vector, lc, sl)
    if allowed is None:
        allowed = corpus.live
    threaded = lexical and vector is not None
    # The scopes are made on this thread while the worker scores BM25, which needs them only
    # to pick its lists (a named scope's masks over six million sentences take up to 14 ms).
    scoped: Future[list[tuple[Scope, Scope]]] = Future()

    def dense_list(store: Any, scope: Scope, of_sentences: bool) -> np.ndarray:
        assert vector is not None
        rows = _dense_list(store, vector, scope)
        return corpus.sentence_chunks[rows] if of_sentences else rows

    def lexical_lists() -> tuple[LexicalScores, LexicalScores, list[np.ndarray]]:
        lc, sl = lexical_scores(ix, question)
        found = []
        for passages, sentences in scoped.result():
            found.append(_lexical_list(lc, passages))
            found.append(corpus.sentence_chunks[_lexical_list(sl, sentences)])
        return lc, sl, found

    job = None
    if threaded:
        try:
            job = _workers().submit(lexical_lists)
        except RuntimeError:  # the interpreter is shutting down: no new threads, made in turn
            job = None
    try:
        scopes = [(Scope(mask=allowed), Scope(mask=_sentence_mask(corpus, allowed)))]
        named = named_scopes(corpus, question, allowed)
        if named is not None:
            scopes.append(named)
    except BaseException as exc:
        scoped.set_exception(exc)  # the worker waiting for them stops too
        raise
    scoped.set_result(scopes)

    # (store, scope, of sentences): the dense lists
    dense_lists = [(ix.dense, passages, False) for passages, _ in scopes]
    dense_lists += [(ix.sentence_dense, sentences, True) for _, sentences in scopes]
    found = [reference]
    if vector is not None:
        # all on this thread: with segments of up to 1.5 million sentences the dense lists
        # take less time than BM25 (docs/benchmarks.md, run 8)
        for store, scope, of_sentences in dense_lists:
            found.append(dense_list(store, scope, of_sentences))
    lc = sl = None
    if lexical:
        lc, sl, lexical_found = job.result() if job is not None else lexical_lists()
        found.extend(lexical_found)
    rows = np.unique(np.concatenate(found).astype(np.int64))
    return FirstStage(rows, reference, False, vector, lc, sl)


@dataclass(frozen=True)
class Scope:
    """The rows one list is made from: those a boolean ``mask`` over every row allows (``None``:
    all), searched as the whole corpus is; or, when they are few, the ``rows`` themselves
    (ascending), each scored."""

    mask: np.ndarray | None = None
    rows: np.ndarray | None = None


def exact_limit(rows: int) -> int:
    """Most rows of ``rows`` that a list scores one by one rather than by a masked search."""
    return max(EXACT_ROWS, int(rows * EXACT_SHARE))


def named_scopes(corpus: Corpus, question: Question, allowed: np.ndarray | None
                 ) -> tuple[Scope, Scope] | None:
    """The passages and the sentences of the allowed reports ``question`` names (``None``
    when it names none): each its rows when they are few (:func:`exact_limit`), else a mask."""
    if not question.hints:
        return None
    named = corpus.hint_scores(question.hints) > 0
    if not named.any():
        return None
    in_named = named[corpus.chunk_documents]
    if allowed is not None:
        in_named &= allowed
    rows = np.flatnonzero(in_named)
    passages = (Scope(rows=rows) if len(rows) <= exact_limit(len(corpus))
                else Scope(mask=in_named))
    sentence_count = int((corpus.sentence_ends[rows] - corpus.sentence_starts[rows]).sum())
    sentences = (Scope(rows=corpus.sentences_of(rows)[0])
                 if sentence_count <= exact_limit(len(corpus.sentence_chunks))
                 else Scope(mask=in_named[corpus.sentence_chunks]))
    return passages, sentences


def _dense_list(store: Any, vector: np.ndarray, scope: Scope) -> np.ndarray:
    """The :data:`DEPTH` rows of ``scope`` nearest ``vector``."""
    if scope.rows is not None:
        return _best(store.score(vector, scope.rows), scope.rows)
    _, rows = store.search(vector.reshape(1, -1), DEPTH, scope.mask)
    return rows[0][rows[0] >= 0].astype(np.int64)


def _lexical_list(scores: LexicalScores, scope: Scope) -> np.ndarray:
    """The :data:`DEPTH` rows of ``scope`` with the best positive BM25 ``scores``."""
    if scope.rows is not None:
        return _best(scores[scope.rows], scope.rows, positive=True)
    return scores.top(DEPTH, scope.mask)


def _sentence_mask(corpus: Corpus, mask: np.ndarray | None) -> np.ndarray | None:
    """``mask`` over passages, as a mask over their sentences (the live rows' made once)."""
    if mask is None:
        return None
    if mask is corpus.live:
        return corpus.remembered("live sentences", lambda: mask[corpus.sentence_chunks])
    return mask[corpus.sentence_chunks]


def _best(scores: np.ndarray, rows: np.ndarray, positive: bool = False) -> np.ndarray:
    """The :data:`DEPTH` of ``rows`` with the best ``scores`` (only positive ones when
    ``positive``); of equal scores, the first rows."""
    order = np.lexsort((rows, -scores))[:DEPTH]
    if positive:
        order = order[scores[order] > 0]
    return rows[order]


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """The threads BM25 lists are made on (one per core this process may use: concurrent
    searches each get one)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0)) or 2,
                                       thread_name_prefix="inspect-qa-bm25")
        return _pool


def _forget_workers() -> None:
    """In a forked child: the parent's threads are not there; make new ones when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


def sentence_rows(corpus: Corpus, question: Question, allowed: np.ndarray | None,
                  vector: np.ndarray | None, lexical_sentence: LexicalScores, depth: int
                  ) -> np.ndarray:
    """Candidate sentences of a timeline: the best ``depth`` allowed by dense and by BM25 over
    every sentence, and those of the reference passages (every sentence of a small index)."""
    reference = reference_rows(corpus)
    own, _ = corpus.sentences_of(reference)
    if len(corpus.live_rows) <= REFERENCE_ROWS:
        return own
    if allowed is None:
        allowed = corpus.live
    mask = _sentence_mask(corpus, allowed)
    found = [own, lexical_sentence.top(depth, mask)]
    if vector is not None:
        _, srows = corpus.index.sentence_dense.search(vector.reshape(1, -1), depth, mask)
        found.append(srows[0][srows[0] >= 0].astype(np.int64))
    return np.unique(np.concatenate(found).astype(np.int64))
