"""Several immutable segments read as one index: rows numbered one segment after another.

An index is a list of segments (:mod:`inspect_qa.storage`), each holding some documents'
passages, sentences, vectors and word pieces. The classes here present them as the single
stores the search stages read, so that no stage knows how many segments there are:

- :class:`Stacked`: vectors, one array after another (rows gathered from their segments);
- :class:`SegmentedDense`: dense search in every segment, the best merged; exact scores;
- :class:`SegmentedTokens`: late interaction on rows of any segment, with the rarity of each
  word piece counted over every live row;
- :class:`Documents`: the live documents by id, each read from its segment.

Rows of a deleted document stay in their segment until it is merged (``inspect-qa
optimize``): searches never return them (the index's ``live`` mask), and the statistics that
weigh words (BM25's, the word pieces' rarity) leave them out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .documents import Document
from .embedding import TokenVectors
from .stores import ANN_REFINE, DenseStore, TokenCodec, TokenStore
from .tables import DocumentInfo, DocumentsById, DocumentStore

#: Over several segments searched approximately, the best ``k`` times this many of all their
#: candidates by approximate score are scored exactly (see :meth:`SegmentedDense.search`).
ACROSS_REFINE = 16


class VectorSearch(Protocol):
    """What a dense store offers the search stages (:class:`~inspect_qa.stores.DenseStore`,
    :class:`SegmentedDense`, or another backend beside them): the best ``k`` allowed rows,
    and exact scores of chosen rows."""

    @property
    def kind(self) -> str: ...

    def __len__(self) -> int: ...

    def search(self, xq: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def score(self, xq: np.ndarray, rows: np.ndarray) -> np.ndarray: ...


class LateInteraction(Protocol):
    """What a word-piece store offers the search stages and the builds
    (:class:`~inspect_qa.stores.TokenStore`, :class:`SegmentedTokens`): MaxSim of chosen
    rows, each piece's rarity, and rows copied as stored into a new segment."""

    @property
    def compressed(self) -> bool: ...

    @property
    def codec(self) -> TokenCodec | None: ...

    def __len__(self) -> int: ...

    def idf(self, ids: np.ndarray) -> np.ndarray: ...

    def maxsim(self, query: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray: ...

    def will_need(self, rows: np.ndarray) -> None:
        """Announce that the pieces of ``rows`` are about to be read (advice only)."""

    def take(self, rows: np.ndarray) -> TokenStore: ...

    def first_vectors(self, limit: int) -> np.ndarray: ...

    def row(self, i: int) -> TokenVectors: ...


def split_rows(rows: np.ndarray, bounds: np.ndarray) -> Iterator[tuple[int, np.ndarray,
                                                                        np.ndarray]]:
    """For each segment holding some of ``rows``: (segment, positions in ``rows``, its local
    rows). ``bounds`` is each segment's first row, and one past the last.

    Ascending rows (a scope's, a list of candidates) are cut where each segment starts: no
    pass that sorts them (at a million passages, 100,000 sentence rows took 4.3 ms to split by
    their segments' numbers, and the scores 13 ms in all)."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(bounds) == 2:
        if len(rows):
            yield 0, np.arange(len(rows)), rows
        return
    if (len(rows) and rows[0] >= bounds[0] and rows[-1] < bounds[-1]
            and bool((rows[1:] >= rows[:-1]).all())):
        cuts = np.searchsorted(rows, bounds).tolist()
        for k in range(len(bounds) - 1):
            if cuts[k + 1] > cuts[k]:
                yield k, np.arange(cuts[k], cuts[k + 1]), rows[cuts[k] : cuts[k + 1]] - bounds[k]
        return
    owner = np.searchsorted(bounds, rows, side="right") - 1
    for k in np.unique(owner).tolist():
        where = np.flatnonzero(owner == k)
        yield k, where, rows[where] - bounds[k]


def bounds_of(sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


class Stacked:
    """Arrays of equal width, one after another, read as one (rows gathered on demand: a
    memory-mapped segment is not copied)."""

    def __init__(self, parts: Sequence[Any]):
        self.parts = list(parts)
        self.bounds = bounds_of([len(p) for p in self.parts])
        self.dtype = self.parts[0].dtype
        self.shape = (int(self.bounds[-1]), *self.parts[0].shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            key = np.arange(*key.indices(len(self)))
        elif isinstance(key, (int, np.integer)):
            return self[np.array([int(key)])][0]
        rows = np.asarray(key, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        for k, where, local in split_rows(rows, self.bounds):
            out[where] = self.parts[k][local]
        return out


@dataclass(frozen=True)
class PartFound:
    """One segment's candidates in a :class:`SegmentedDense` search: scores (``-inf`` where
    none) and rows of the whole index (-1 where none), an array per query row; ``approximate``
    when the scores are its searcher's estimates, still to be refined."""

    approximate: bool
    scores: np.ndarray
    rows: np.ndarray


def _rough(scores: np.ndarray, rows: np.ndarray, first: int) -> PartFound:
    """A segment's approximate candidates (``rows`` its own, -1 where none), numbered as the
    whole index's rows from its ``first``."""
    return PartFound(True, np.where(rows >= 0, scores, -np.inf),
                     np.where(rows >= 0, rows + first, -1))


class SegmentedDense:
    """Dense search over several segments' stores: each searched (with its part of the
    allowed rows), the best ``k`` of all kept. Each segment's store is exact or IVF-PQ by its
    own size; scores are exact either way."""

    def __init__(self, parts: Sequence[DenseStore]):
        self.parts = list(parts)
        self.bounds = bounds_of([len(p) for p in self.parts])

    @property
    def kind(self) -> str:
        kinds = {p.kind for p in self.parts}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def search(self, xq: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        found = [self.search_part(i, xq, k, None if allowed is None
                                  else allowed[self.bounds[i] : self.bounds[i + 1]])
                 for i in range(len(self.parts))]
        return self.combine(xq, k, found)

    def search_part(self, i: int, xq: np.ndarray, k: int, mask: np.ndarray | None
                    ) -> PartFound | None:
        """Segment ``i``'s part of :meth:`search` among its rows ``mask`` allows (``None``:
        all): its candidates, numbered as the whole index's rows (``None`` when the mask
        allows none). The parts are independent: they can be searched on different threads,
        then combined (:meth:`combine`)."""
        part, a = self.parts[i], int(self.bounds[i])
        if mask is not None and not mask.any():
            return None
        if mask is not None and mask.all():
            mask = None  # the same rows, searched without checking each against a bitmap
        if part.approximate_search:
            return _rough(*part.approximate(xq, min(k, len(part) if mask is None
                                                    else int(np.count_nonzero(mask))), mask), a)
        D, I = part.search(xq, k, mask)  # noqa: E741
        return PartFound(False, np.where(I >= 0, D, -np.inf), np.where(I >= 0, I + a, -1))

    def search_parts_within(self, i: int, xq: np.ndarray, k: int, mask: np.ndarray | None,
                            within: np.ndarray) -> tuple[PartFound | None, PartFound | None]:
        """:meth:`search_part` among the rows ``mask`` allows and among the rows ``within``
        (a subset of them): the same two parts, from one scan of segment ``i``'s cells when it
        is searched approximately and ``within`` holds enough of its rows
        (:meth:`~inspect_qa.stores.DenseStore.approximate_within`, ``WITHIN_SHARE``)."""
        part, a = self.parts[i], int(self.bounds[i])
        if not part.approximate_search or not within.any():
            return self.search_part(i, xq, k, mask), self.search_part(i, xq, k, within)
        if mask is not None and mask.all():
            mask = None  # as search_part; ``within`` allows some, so ``mask`` does
        total = len(part) if mask is None else int(np.count_nonzero(mask))
        inside = int(np.count_nonzero(within))
        outer, inner = part.approximate_within(xq, min(k, total), mask, min(k, inside), within,
                                               counts=(total, inside))
        return _rough(*outer, a), _rough(*inner, a)

    def combine(self, xq: np.ndarray, k: int, found: Sequence[PartFound | None]
                ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of the parts' candidates ``found`` (:meth:`search_part`): those of
        approximate searchers refined together by exact score (:meth:`_refine`)."""
        rough = [f for f in found if f is not None and f.approximate]
        scores = [f.scores for f in found if f is not None and not f.approximate]
        rows = [f.rows for f in found if f is not None and not f.approximate]
        if rough:
            D, I = self._refine(xq, np.concatenate([f.scores for f in rough], axis=1),  # noqa: E741
                                np.concatenate([f.rows for f in rough], axis=1), k,
                                min(ACROSS_REFINE, ANN_REFINE * len(rough)))
            scores.append(D)
            rows.append(I)
        if not scores:
            return np.zeros((len(xq), 0), np.float32), np.zeros((len(xq), 0), np.int64)
        D, I = np.concatenate(scores, axis=1), np.concatenate(rows, axis=1)  # noqa: E741
        k = min(k, D.shape[1])
        order = np.argsort(-D, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(D, order, 1), np.take_along_axis(I, order, 1)

    def _refine(self, xq: np.ndarray, rough: np.ndarray, rows: np.ndarray, k: int,
                times: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of each query row's approximate candidates (``rows``, -1 where none,
        with their approximate scores ``rough``) from every segment, by exact score. Only the
        ``times`` times ``k`` best of them by approximate score are scored, whichever
        segments they are in (each segment's searcher has its own codebooks, but they all
        estimate the same inner product): at most :data:`ACROSS_REFINE` times ``k``, so that a
        search reads as many vectors from disk whatever the number of segments, where scoring
        each segment's own candidates read :data:`~inspect_qa.stores.ANN_REFINE` times ``k``
        a segment."""
        D = np.full((len(xq), k), -np.inf, dtype=np.float32)
        I = np.full((len(xq), k), -1, dtype=np.int64)  # noqa: E741
        for i in range(len(xq)):
            best = np.argsort(-rough[i], kind="stable")[: k * times]
            found = rows[i][best]
            found = found[found >= 0]
            exact = self.score(xq[i], found)
            order = np.argsort(-exact, kind="stable")[:k]
            D[i, : len(order)], I[i, : len(order)] = exact[order], found[order]
        return D, I

    def score(self, xq: np.ndarray, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        for k, where, local in split_rows(rows, self.bounds):
            out[where] = self.parts[k].score(xq, local)
        return out


class SegmentedTokens:
    """Word pieces of several segments' :class:`~inspect_qa.stores.TokenStore`, with each
    piece's rarity counted over the live rows of all of them (``deleted[k]``: the rows of
    segment ``k`` that no longer count, or ``None``)."""

    def __init__(self, parts: Sequence[TokenStore],
                 deleted: Sequence[np.ndarray | None] | None = None):
        self.parts = list(parts)
        self.bounds = bounds_of([len(p) for p in self.parts])
        deleted = list(deleted) if deleted is not None else [None] * len(self.parts)
        ids, counts, live = [], [], 0
        for part, gone in zip(self.parts, deleted, strict=True):
            known, count = part.df
            ids.append(np.asarray(known, dtype=np.int64))
            counts.append(np.asarray(count, dtype=np.int64))
            live += len(part)
            if gone is not None and gone.any():
                lost, lost_count = part.row_counts(np.flatnonzero(gone))
                ids.append(lost)
                counts.append(-lost_count)
                live -= int(gone.sum())
        every = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        known, inverse = np.unique(every, return_inverse=True)
        total = np.bincount(inverse, weights=np.concatenate(counts) if counts else None,
                            minlength=len(known)).astype(np.int64)
        self._known, self._counts, self._rows = known, total, live

    @property
    def compressed(self) -> bool:
        return any(p.compressed for p in self.parts)

    @property
    def codec(self) -> TokenCodec | None:
        return next((p.codec for p in self.parts if p.codec is not None), None)

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def idf(self, ids: np.ndarray) -> np.ndarray:
        return TokenStore.rarity(self._known, self._counts, self._rows, ids)

    def maxsim(self, query: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        for k, where, local in split_rows(rows, self.bounds):
            out[where] = self.parts[k].maxsim(query, weights, local)
        return out

    def will_need(self, rows: np.ndarray) -> None:
        for k, _, local in split_rows(np.asarray(rows, dtype=np.int64), self.bounds):
            self.parts[k].will_need(local)

    def take(self, rows: np.ndarray) -> TokenStore:
        rows = np.asarray(rows, dtype=np.int64)
        pieces = [(where, self.parts[k].take(local))
                  for k, where, local in split_rows(rows, self.bounds)]
        if not pieces:
            return self.parts[0].take(rows)
        if any(np.any(np.diff(where) != 1) for where, _ in pieces) or any(
                a[0][-1] > b[0][0] for a, b in itertools.pairwise(pieces)):
            raise ValueError("rows taken from segments must be in segment order")
        return TokenStore.concat([p for _, p in pieces])

    def first_vectors(self, limit: int) -> np.ndarray:
        out, n = [], 0
        for p in self.parts:
            if n >= limit:
                break
            out.append(p.first_vectors(limit - n))
            n += len(out[-1])
        return np.concatenate(out)

    def row(self, i: int) -> TokenVectors:
        k = int(np.searchsorted(self.bounds, i, side="right") - 1)
        return self.parts[k].row(i - int(self.bounds[k]))


class Documents(DocumentsById):
    """The live documents by id, each read from its segment's
    :class:`~inspect_qa.tables.DocumentStore`; ``info`` holds what is kept of each without
    its text."""

    def __init__(self, stores: Sequence[DocumentStore], live: Sequence[Sequence[str]]):
        self._where: dict[str, DocumentStore] = {}
        self.info: dict[str, DocumentInfo] = {}
        for store, ids in zip(stores, live, strict=True):
            for doc_id in ids:
                self._where[doc_id] = store
                self.info[doc_id] = store.info[doc_id]

    def __getitem__(self, key: str) -> Document:
        return self._where[key][key]

    def verify(self, key: str) -> bool:
        return self._where[key].verify(key)
