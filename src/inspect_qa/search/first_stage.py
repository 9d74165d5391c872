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
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..lexical import LexicalScores
from ..segments import SegmentedDense
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
#: Those sentences are scored in pieces of at most this many (tasks the two threads share).
PIECE_ROWS = 32_768


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
    words = " ".join(_expansion(question))
    return _expanded(index, question, lc, sl, lambda: (index.lexical.question(words),
                                                       index.sentence_lexical.question(words)))


def _expansion(question: Question) -> list[str]:
    """The report's terms for the question's everyday words, when expansion is on."""
    return list(question.expansion) if analysis.EXPANSION_WEIGHT else []


def _expanded(index: Index, question: Question, lc: LexicalScores, sl: LexicalScores,
              more: Callable[[], tuple[LexicalScores, LexicalScores]]
              ) -> tuple[LexicalScores, LexicalScores]:
    """``lc`` and ``sl`` with the BM25 of the expansion's terms (``more()``) added, when the
    question has such terms and its own words find little."""
    if not _expansion(question):
        return lc, sl
    # Only a question whose own words find little is helped by the report's terms; one that
    # finds its words is only diluted by them.
    if (analysis.EXPAND_BELOW < 1.0
            and lc.max() / index.lexical.ceiling(question.text) >= analysis.EXPAND_BELOW):
        return lc, sl
    mc, ms = more()
    return (lc.plus(mc, analysis.EXPANSION_WEIGHT), sl.plus(ms, analysis.EXPANSION_WEIGHT))


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

    In a large index each list is made a segment at a time, and the segments' parts are
    shared between this thread and a worker (:class:`_Shared`): the worker's are BM25's,
    this thread's the dense ones, and each helps with the other's when its own are done.
    The parts spend their time outside the GIL (numba, FAISS), so on two cores the lists take
    less than the longer of the two kinds. In two rounds: every segment's BM25 scores and
    dense candidates; then the lists, which need all of a kind's parts. BM25 alone (no
    question vector) is made on this thread, one part after another."""
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

    # Round one. BM25 needs no scope: its parts are taken while this thread makes the scopes
    # (a named report's over millions of sentences takes milliseconds).
    bm25 = _Bm25(ix, question) if lexical else None
    work = _Shared()
    if bm25 is not None:
        work.add(bm25.tasks(), WORKER)
    if vector is not None:  # BM25 alone: one part after another (two at once are slower)
        work.start()
    try:
        scopes = [(Scope(mask=allowed),
                   Scope(mask=_sentence_mask(corpus, allowed)) if allowed is corpus.live
                   else Scope(passages=allowed))]
        named = named_scopes(corpus, question, allowed)
        if named is not None:
            scopes.append(named)
        dense_lists: list[_DenseList] = []
        tasks: list[tuple[int, Task]] = []
        if vector is not None:
            for kind, store in ((1, ix.sentence_dense), (0, ix.dense)):
                of_kind = [_DenseList(store, both[kind], vector, corpus, bool(kind))
                           for both in scopes]
                dense_lists += of_kind
                tasks += _DenseList.tasks_of(of_kind)  # a named mask searched in the same scans
        work.add((task for _, task in sorted(tasks, key=lambda t: -t[0])), OWN)
    except BaseException:
        work.abandon()
        raise
    work.finish()

    # Round two: the lists.
    lc = sl = None
    lists: list[_DenseList | _LexicalList] = list(dense_lists)
    if bm25 is not None:
        lc, sl = bm25.scores()
        lists += [_LexicalList(scores, both[kind], corpus, bool(kind))
                  for kind, scores in ((1, sl), (0, lc)) for both in scopes]
    work = _Shared()
    for each in lists:
        work.add(each.last_tasks(), OWN if isinstance(each, _DenseList) else WORKER)
    if vector is not None:
        work.start()
    work.finish()
    rows = np.unique(np.concatenate([reference] + [each.passages() for each in lists])
                     .astype(np.int64))
    return FirstStage(rows, reference, False, vector, lc, sl)


@dataclass(frozen=True)
class Scope:
    """The rows one list is made from: those a boolean ``mask`` over every row allows (``None``:
    all), searched as the whole corpus is; or, when they are few, the ``rows`` themselves
    (ascending), each scored. A scope of sentences may instead name the ``passages`` (a mask
    over them) whose sentences it allows: its mask is made a segment at a time, as the lists
    read it (:meth:`part`)."""

    mask: np.ndarray | None = None
    rows: np.ndarray | None = None
    passages: np.ndarray | None = None
    _parts: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, compare=False,
                                                      repr=False)

    def part(self, corpus: Corpus, a: int, b: int) -> np.ndarray | None:
        """The mask of rows ``a:b`` (``None``: all of them)."""
        if self.passages is None:
            return None if self.mask is None else self.mask[a:b]
        got = self._parts.get((a, b))
        if got is None:  # two threads may both make it: the same array, kept once
            got = self._parts[a, b] = self.passages[corpus.sentence_chunks[a:b]]
        return got


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
    # Their rows are listed only when they are few: listing half a million takes milliseconds.
    few = int(np.count_nonzero(in_named)) <= exact_limit(len(corpus))
    rows = np.flatnonzero(in_named) if few else None
    passages = Scope(rows=rows) if few else Scope(mask=in_named)
    if corpus.sentence_count(in_named) > exact_limit(len(corpus.sentence_chunks)):
        return passages, Scope(passages=in_named)
    if rows is None:
        rows = np.flatnonzero(in_named)
    return passages, Scope(rows=corpus.sentences_of(rows)[0])


Task = Callable[[], None]


class _Bm25:
    """BM25 of every passage and every sentence for a question, scored a segment at a time."""

    def __init__(self, index: Index, question: Question):
        self.index, self.question = index, question
        self.stores = (index.lexical, index.sentence_lexical)
        words = [question.text]
        # scored ahead only when it is always added; else once it is known to be
        self.extra = " ".join(_expansion(question))
        if self.extra and analysis.EXPAND_BELOW >= 1.0:
            words.append(self.extra)
        self.words = [[store.words(w) for store in self.stores] for w in words]
        self.scored: dict[tuple[int, int, int], np.ndarray] = {}

    def tasks(self) -> list[Task]:
        """One task a segment, for each kind of row and each set of words; sentences (the
        most rows) first, and the largest segments."""
        return [self._task(w, kind, k) for kind in (1, 0)
                for k in _largest_first(self.stores[kind].bounds)
                for w in range(len(self.words))]

    def _task(self, w: int, kind: int, k: int) -> Task:
        def task() -> None:
            self.scored[w, kind, k] = self.stores[kind].part_scores(k, self.words[w][kind])
        return task

    def _scores(self, w: int) -> tuple[LexicalScores, LexicalScores]:
        lc, sl = (LexicalScores([self.scored[w, kind, k] for k in range(len(store.parts))],
                                store.bounds) for kind, store in enumerate(self.stores))
        return lc, sl

    def scores(self) -> tuple[LexicalScores, LexicalScores]:
        """The passages' and the sentences' scores (once every task is done): what
        :func:`lexical_scores` gives."""
        lc, sl = self._scores(0)

        def more() -> tuple[LexicalScores, LexicalScores]:
            if len(self.words) > 1:
                return self._scores(1)
            return (self.index.lexical.question(self.extra),
                    self.index.sentence_lexical.question(self.extra))
        return _expanded(self.index, self.question, lc, sl, more)


class _DenseList:
    """The :data:`DEPTH` rows of ``scope`` nearest ``vector`` in ``store`` (of sentences when
    ``of_sentences``; their passages are the candidates): each segment searched in a task,
    then the best of all."""

    def __init__(self, store: Any, scope: Scope, vector: np.ndarray, corpus: Corpus,
                 of_sentences: bool):
        self.store, self.scope, self.vector, self.corpus = store, scope, vector, corpus
        self.of_sentences = of_sentences
        self.found: list[Any] = []
        self.pieces: list[tuple[np.ndarray, np.ndarray]] = []
        self.rows = np.zeros(0, np.int64)

    def tasks(self) -> list[tuple[int, Task]]:
        """(rows, task): a task for each segment, or for each piece of a scope's rows."""
        xq = self.vector.reshape(1, -1)
        scope = self.scope
        if scope.rows is not None:
            def piece(rows: np.ndarray) -> Task:
                return lambda: self._score_rows(rows)
            # A sentence's score does not depend on the rows scored with it (int8 rows, each
            # scored alone); a passage's, from a matrix product, can in its last bits.
            count = max(1, -(-len(scope.rows) // PIECE_ROWS)) if self.of_sentences else 1
            return [(len(rows), piece(rows)) for rows in np.array_split(scope.rows, count)]
        if not isinstance(self.store, SegmentedDense):
            def whole() -> None:
                _, found = self.store.search(xq, DEPTH, scope.part(self.corpus, 0,
                                                                  len(self.store)))
                self.rows = found[0][found[0] >= 0].astype(np.int64)
            return [(len(self.store), whole)]
        bounds = self.store.bounds
        self.found = [None] * len(self.store.parts)

        def part(k: int) -> Task:
            def task() -> None:
                mask = scope.part(self.corpus, int(bounds[k]), int(bounds[k + 1]))
                self.found[k] = self.store.search_part(k, xq, DEPTH, mask)
            return task
        return [(int(bounds[k + 1] - bounds[k]), part(k)) for k in _largest_first(bounds)]

    @staticmethod
    def tasks_of(lists: list[_DenseList]) -> list[tuple[int, Task]]:
        """The tasks of ``lists`` of one store: of the whole scope's list and a named scope's
        mask (a subset of it), one task a segment that searches both from one scan
        (:meth:`~inspect_qa.segments.SegmentedDense.search_parts_within`); else each list's."""
        if (len(lists) != 2 or not isinstance(lists[0].store, SegmentedDense)
                or lists[1].scope.rows is not None):
            return [t for d in lists for t in d.tasks()]
        outer, inner = lists
        store, xq, corpus = outer.store, outer.vector.reshape(1, -1), outer.corpus
        bounds = store.bounds
        outer.found = [None] * len(store.parts)
        inner.found = [None] * len(store.parts)

        def part(k: int) -> Task:
            def task() -> None:
                a, b = int(bounds[k]), int(bounds[k + 1])
                within = inner.scope.part(corpus, a, b)
                assert within is not None  # a named scope's mask
                outer.found[k], inner.found[k] = store.search_parts_within(
                    k, xq, DEPTH, outer.scope.part(corpus, a, b), within)
            return task
        return [(int(bounds[k + 1] - bounds[k]), part(k)) for k in _largest_first(bounds)]

    def _score_rows(self, rows: np.ndarray) -> None:
        """The best of ``rows`` by exact score, kept as a piece of the list."""
        self.pieces.append(_top(self.store.score(self.vector, rows), rows))

    def last_tasks(self) -> list[Task]:
        """The segments' candidates made one list (once :meth:`tasks` are done)."""
        if not self.found:
            return []

        def combine() -> None:
            _, found = self.store.combine(self.vector.reshape(1, -1), DEPTH, self.found)
            self.rows = found[0][found[0] >= 0].astype(np.int64)
        return [combine]

    def passages(self) -> np.ndarray:
        if self.pieces:  # the best of the pieces' best
            self.rows = _top(np.concatenate([s for _, s in self.pieces]),
                             np.concatenate([r for r, _ in self.pieces]))[0]
        return self.corpus.sentence_chunks[self.rows] if self.of_sentences else self.rows


class _LexicalList:
    """The :data:`DEPTH` rows of ``scope`` with the best positive BM25 ``scores``: each
    segment's best in a task (or, for a scope's rows, their scores), then the best of all."""

    def __init__(self, scores: LexicalScores, scope: Scope, corpus: Corpus, of_sentences: bool):
        self.scores, self.scope, self.corpus = scores, scope, corpus
        self.of_sentences = of_sentences
        self.found: list[tuple[np.ndarray, np.ndarray]] = []
        self.rows: np.ndarray | None = None

    def last_tasks(self) -> list[Task]:
        scores, scope = self.scores, self.scope
        if scope.rows is not None:
            rows = scope.rows

            def scored() -> None:
                self.rows = _best(scores[rows], rows, positive=True)
            return [scored]

        def part(k: int) -> Task:
            def task() -> None:
                mask = scope.part(self.corpus, int(scores.bounds[k]), int(scores.bounds[k + 1]))
                self.found.append(scores.part_top(k, DEPTH, mask))
            return task
        return [part(k) for k in _largest_first(scores.bounds)]

    def passages(self) -> np.ndarray:
        rows = self.rows if self.rows is not None else LexicalScores.best_of(self.found, DEPTH)
        return self.corpus.sentence_chunks[rows] if self.of_sentences else rows


def _largest_first(bounds: np.ndarray) -> list[int]:
    """The segments of ``bounds`` (each's first row, and one past the last), largest first."""
    return np.argsort(-np.diff(bounds), kind="stable").tolist()


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
    return _top(scores, rows, positive)[0]


def _top(scores: np.ndarray, rows: np.ndarray, positive: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_best`'s rows, best first, and their scores. Only the rows scoring at least the
    :data:`DEPTH`-th best are sorted."""
    if positive:
        keep = scores > 0
        scores, rows = scores[keep], rows[keep]
    if len(scores) > DEPTH:
        ranked = np.where(np.isnan(scores), -np.inf, scores)  # as the sort below: NaN last
        cut = np.partition(ranked, len(ranked) - DEPTH)[len(ranked) - DEPTH]
        keep = (ranked >= cut) if cut > -np.inf else np.ones(len(ranked), dtype=bool)
        scores, rows = scores[keep], rows[keep]
    order = np.lexsort((rows, -scores))[:DEPTH]
    return rows[order], scores[order]


#: The lanes of :class:`_Shared`: the worker's (BM25's parts), and this thread's (dense).
WORKER, OWN = 0, 1


class _Shared:
    """Tasks run once each, by this thread and a worker (:func:`_workers`). Each takes the
    next task of its own lane (add the longest first), then, when its lane is empty, the last
    of the other's. Tasks may be added until :meth:`finish`; the worker waits for them.

    The lanes keep the kinds apart while both have work: two BM25 parts at once each took
    more than twice as long as one alone (both write scores all over arrays of millions of
    rows), where a BM25 part beside a dense one takes about as long as alone. At the end of
    a lane the other thread still helps: forbidding it made the p95 no better."""

    def __init__(self) -> None:
        self._lanes: tuple[deque[Task], deque[Task]] = (deque(), deque())
        self._sealed = self._stopped = False
        self._ready = threading.Condition()
        self._helper: Future[None] | None = None

    def add(self, tasks: Iterable[Task], lane: int) -> None:
        with self._ready:
            self._lanes[lane].extend(tasks)
            self._ready.notify_all()

    def start(self) -> None:
        """A worker starts taking tasks (none when the interpreter is shutting down: this
        thread then runs them all)."""
        try:
            self._helper = _workers().submit(self._run, WORKER)
        except RuntimeError:
            self._helper = None

    def finish(self) -> None:
        """No more tasks are added: this thread takes them too until none is left, then waits
        for the worker's last. A task's exception is raised here."""
        with self._ready:
            self._sealed = True
            self._ready.notify_all()
        try:
            self._run(OWN)
        except BaseException:
            self.abandon()
            raise
        if self._helper is not None and not self._helper.cancel():
            self._helper.result()

    def abandon(self) -> None:
        """No task is started any more; returns once the worker has stopped."""
        self._stop()
        if self._helper is not None and not self._helper.cancel():
            wait([self._helper])

    def _stop(self) -> None:
        with self._ready:
            self._stopped = True
            self._ready.notify_all()

    def _take(self, lane: int) -> Task | None:
        own, other = self._lanes[lane], self._lanes[1 - lane]
        with self._ready:
            while not self._stopped and not self._sealed and not own and not other:
                self._ready.wait()
            if self._stopped:
                return None
            if own:
                return own.popleft()
            return other.pop() if other else None

    def _run(self, lane: int) -> None:
        while (task := self._take(lane)) is not None:
            try:
                task()
            except BaseException:
                self._stop()
                raise


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """The threads that take a share of a search's first stage (one per core this process may
    use: concurrent searches each get one)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0)) or 2,
                                       thread_name_prefix="inspect-qa-search")
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
