"""The index as the search stages read it: per-passage and per-sentence arrays, and what is
derived from the texts (words, numbers, names), computed once and cached.

Nothing here loops over every passage per query: filters become a boolean array over passages
through the passages' document numbers.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..answers import DIGITS, lower_case_words, type_words
from ..confidence import document_words
from ..layout import clean_line
from ..query import DocumentHints
from ..storage import Index

#: Derived values (a sentence's words, names, a document's numbers) kept per kind.
CACHE_ENTRIES = 50_000


class Corpus:
    """Read-only view of one loaded :class:`~inspect_qa.storage.Index` for searching."""

    def __init__(self, index: Index):
        self.index = index
        self.document_ids: list[str] = list(index.chunks.doc_ids)
        #: Document number (in ``document_ids``) of each passage.
        self.chunk_documents = np.asarray(index.chunks.table[:, 0], dtype=np.int64)
        #: First sentence row of each passage, and one past its last.
        self.sentence_starts = np.asarray(index.sentence_offsets, dtype=np.int64)
        self.sentence_ends = np.append(self.sentence_starts[1:], len(index.sentences)).astype(
            np.int64)
        #: Passage row of each sentence.
        self.sentence_chunks = np.asarray(index.sentences.chunks, dtype=np.int64)
        self.sentence_documents = self.chunk_documents[self.sentence_chunks]
        #: Passages of live documents (``None``: every passage is; a deleted document's stay
        #: in their segment until it is merged).
        self.live: np.ndarray | None = index.live
        #: The live passages' rows, ascending.
        self.live_rows = index.live_rows
        self._lock = threading.Lock()
        self._caches: dict[str, OrderedDict[Any, Any]] = {}
        self._lower: frozenset[str] | None = None
        self._hint_columns: tuple[Any, ...] | None = None
        self._document_order: np.ndarray | None = None
        self._id_array: np.ndarray | None = None
        self._once: dict[str, Any] = {}
        self._passage_order: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.chunk_documents)

    # -- order ------------------------------------------------------------------------------
    # A whole build lays passages out by document id, then position. An index changed report
    # by report (new segments appended) does not; ties are broken, and the scaling sample is
    # drawn, in that order rather than the rows', so that both rank alike.

    @property
    def document_order(self) -> np.ndarray:
        """Rank of each document number by document id."""
        if self._document_order is None:
            ids = np.array(self.document_ids, dtype=str)
            order = np.empty(len(ids), dtype=np.int64)
            order[np.argsort(ids, kind="stable")] = np.arange(len(ids))
            self._document_order = order
        return self._document_order

    @property
    def passage_order(self) -> np.ndarray:
        """Rank of each passage by (document id, start)."""
        if self._passage_order is None:
            starts = np.asarray(self.index.chunks.table[:, 1], dtype=np.int64)
            by = np.lexsort((starts, self.document_order[self.chunk_documents]))
            order = np.empty(len(by), dtype=np.int64)
            order[by] = np.arange(len(by))
            self._passage_order = order
        return self._passage_order

    def remembered(self, name: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per loaded index (for what depends on the index alone)."""
        with self._lock:
            if name not in self._once:
                self._once[name] = make()
            return self._once[name]

    def ranking(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Positions of ``scores`` (of passages ``rows``) best first, ties in passage order."""
        return np.lexsort((self.passage_order[rows], -scores))

    # -- rows -------------------------------------------------------------------------------

    def mask(self, allowed: set[str] | None) -> np.ndarray | None:
        """Which live passages the documents ``allowed`` hold (``None``: all, and then
        ``None`` when every passage is live)."""
        if allowed is None:
            return self.live
        if self._id_array is None:
            self._id_array = np.array(self.document_ids, dtype=str)
        docs = (np.isin(self._id_array, np.array(sorted(allowed), dtype=str)) if allowed
                else np.zeros(len(self._id_array), dtype=bool))
        rows = docs[self.chunk_documents] if len(docs) else np.zeros(len(self), dtype=bool)
        return rows if self.live is None else rows & self.live

    def hint_scores(self, hints: DocumentHints) -> np.ndarray:
        """:func:`~inspect_qa.query.hint_match` of each live document, by document number (0
        for a deleted one), from arrays made once: no loop over the documents per question."""
        if self._hint_columns is None:
            info = self.index.documents.info
            rows = [info.get(d) for d in self.document_ids]
            visit = [_int(d.metadata.get("visit_number")) if d else -1 for d in rows]
            dates = [str(d.metadata.get("date") or "") if d else "" for d in rows]
            year = [_int(t[:4]) if len(t) >= 7 else -1 for t in dates]
            month = [_int(t[5:7]) if len(t) >= 7 else -1 for t in dates]
            kinds = [str(d.metadata.get("kind") or "") if d else "" for d in rows]
            names = sorted(set(kinds))
            self._hint_columns = (np.array(visit), np.array(year), np.array(month),
                                  np.array([names.index(k) for k in kinds], dtype=np.int64),
                                  names, np.array([d is not None for d in rows]))
        visit, year, month, kind, names, live = self._hint_columns
        checks = []
        if hints.visits:
            checks.append(np.isin(visit, hints.visits))
        if hints.month_years:
            checks.append(np.any([(month == m) & (year == y) for m, y in hints.month_years],
                                 axis=0))
        if hints.kinds:
            named = np.array([any(k in name for k in hints.kinds) for name in names], dtype=bool)
            checks.append(named[kind] if len(names) else np.zeros(len(kind), bool))
        if not checks:
            return np.zeros(len(self.document_ids), dtype=np.float32)
        return (np.mean(checks, axis=0) * live).astype(np.float32)

    def sentences_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sentence rows of passages ``rows`` (in order), and where each passage's
        sentences start in that array."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.sentence_starts[rows], self.sentence_ends[rows]
        lengths = ends - starts
        firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        total = int(lengths.sum())
        sentences = np.repeat(starts - firsts, lengths) + np.arange(total, dtype=np.int64)
        return sentences, firsts

    def sentence_count(self, passages: np.ndarray) -> int:
        """How many sentences the passages that the boolean ``passages`` allows have: counted
        a run of allowed passages at a time (a report's passages are consecutive rows, and so
        are their sentences), not passage by passage."""
        if not len(passages):
            return 0
        edges = np.flatnonzero(passages[1:] != passages[:-1]) + 1
        cuts = np.concatenate([[0], edges, [len(passages)]])
        firsts, ends = cuts[:-1], cuts[1:]
        on = np.asarray(passages[firsts], dtype=bool)
        return int((self.sentence_ends[ends[on] - 1] - self.sentence_starts[firsts[on]]).sum())

    # -- texts ------------------------------------------------------------------------------

    def document_text(self, doc_id: str) -> str:
        return self.index.documents[doc_id].text

    def sentence_document(self, j: int) -> str:
        return self.document_ids[int(self.sentence_documents[j])]

    def sentence_text(self, j: int) -> str:
        s = self.index.sentences[j]
        return self.document_text(self.sentence_document(j))[s.start : s.end]

    def is_heading(self, j: int) -> bool:
        """Whether sentence ``j`` is a heading (its passage's section name: a unit of its own,
        never read as part of the prose after it)."""
        section = int(self.index.chunks.table[self.sentence_chunks[j], 5])
        return section >= 0 and clean_line(self.sentence_text(j)) == \
            self.index.chunks.sections[section]

    def _cached(self, kind: str, key: Any, make: Any) -> Any:
        """``make()``, remembered under ``key`` among the last :data:`CACHE_ENTRIES` of its
        kind (a server answering for months must not keep every sentence it ever read)."""
        with self._lock:
            cache = self._caches.setdefault(kind, OrderedDict())
            found = cache.get(key)
            if found is not None:
                cache.move_to_end(key)
                return found
        found = make()
        with self._lock:
            cache[key] = found
            while len(cache) > CACHE_ENTRIES:
                cache.popitem(last=False)
        return found

    def sentence_tokens(self, j: int) -> frozenset[str]:
        """The stemmed content words of sentence ``j`` as read (with its context)."""
        def make() -> frozenset[str]:
            text = self.index.sentences[j].read_text(self.document_text(self.sentence_document(j)))
            return frozenset(self.index.lexical.tokenize(text))
        return self._cached("tokens", j, make)

    def lower_case(self) -> frozenset[str]:
        """Words the corpus writes in lower case somewhere: the rest are names."""
        if self._lower is None:
            self._lower = self.index.lower_case or lower_case_words(
                [d.text for d in self.index.documents.values()])
        return self._lower

    def type_words(self, pattern: re.Pattern[str], j: int) -> tuple[frozenset[str], ...]:
        """:func:`~inspect_qa.answers.type_words` of sentence ``j``."""
        return self._cached("type", (pattern.pattern, j), lambda: type_words(
            pattern, self.sentence_text(j), self.lower_case()))

    def document_words(self, doc_id: str) -> frozenset[str]:
        """The lower-cased words of a document."""
        return self._cached("words", doc_id,
                            lambda: document_words(self.document_text(doc_id)))

    def document_numbers(self, doc_id: str) -> frozenset[str]:
        return self._cached("numbers", doc_id,
                            lambda: frozenset(DIGITS.findall(self.document_text(doc_id))))


def _int(value: Any) -> int:
    """``value`` as an int (-1 when it is not one: no metadata matches -1)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
