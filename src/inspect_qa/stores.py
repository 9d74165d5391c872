"""The searchable stores behind an index: dense (FAISS) and token vectors (BM25 is in
:mod:`inspect_qa.lexical`).

All are saved as plain files (``.npy`` and JSON), never pickle. Dense and lexical scores for
every row can be asked for, so hybrid search can fuse exact scores rather than ranks; token
vectors score a chosen few rows by late interaction (MaxSim), to re-rank the best candidates.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .embedding import TokenVectors
from .jit import compiled
from .pages import release, will_need

log = logging.getLogger(__name__)

#: Dense stores of more rows than this search approximately (IVF-PQ), smaller ones exactly.
FLAT_MAX_ROWS = 32_768
#: Sub-vectors (bytes) of an IVF-PQ code, and cells visited per search: at least
#: ``ANN_NPROBE``, and one in ``ANN_CELL_SHARE`` of a store's cells (a large store's cells
#: are more: its sentences' 1,024 where its passages have 512), but no more than it takes
#: to read about ``ANN_SCAN_ROWS`` rows (see :func:`ann_cells`, :func:`ann_visits`).
ANN_SUBVECTORS = 48
ANN_NPROBE = 64
ANN_CELL_SHARE = 8
#: A large store's cells hold about this many rows each (so a store of millions of rows has
#: many, small cells), and a search of a store of more than ``ANN_LARGE_ROWS`` rows reads
#: about ``ANN_SCAN_ROWS`` of them at most. Measured on 1.5 million sentences of near-duplicate
#: copies (docs/benchmarks.md): 4,096 cells, 128 visited, found more of the exact ten (0.966)
#: than four stores of 1,024 cells with 128 visited each (0.953), in a quarter of the time.
#: Up to ``ANN_LARGE_ROWS`` (the sentences of a 65,536-passage segment at 8 a passage), a
#: store is built and searched as before that was measured.
ANN_CELL_ROWS = 384
ANN_SCAN_ROWS = 128 * ANN_CELL_ROWS
ANN_LARGE_ROWS = 1 << 19
#: An IVF-PQ search takes this many times the rows asked for by their codes, then keeps the
#: best by their exact scores (from the stored vectors). At a million passages of near
#: duplicates, the exact ten best are among the hundred a list brings 0.96 (passages) and 0.98
#: (sentences, 128 of 1,024 cells) of the time, against 0.86 with 32 cells and codes alone
#: (docs/benchmarks.md, benchmarks/ann_refine.py).
ANN_REFINE = 4
#: A masked search whose rows are at least this share of another's over the same store is
#: taken from that one's scan (:meth:`DenseStore.approximate_within`), which then keeps
#: ``WITHIN_MARGIN`` times the candidates the share alone would ask for. A longer list costs
#: FAISS more: on the million-passage copy's segments (benchmarks/within_scan.py) the shared
#: scan took 1.6 times the two searches' time at a share of 1/8, as long at 1/4, 0.87 times at
#: 1/3 and 0.57-0.68 times from 1/2.
WITHIN_SHARE = 1 / 3
WITHIN_MARGIN = 1.5
#: Sub-vectors of a compressed word-piece residual (one byte each; see TokenCodec).
TOKEN_SUBVECTORS = 48
#: Most pieces a token codec is trained on (a random sample beyond), and fewest it can be.
TOKEN_TRAIN_MAX = 65536
TOKEN_TRAIN_MIN = 10240


def _ordered(D: np.ndarray, I: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """Each query row's approximate candidates ordered by score, then row (missing ones, -1,
    last): one order whichever heap FAISS filled, so that equal scores are ordered alike by
    every search that finds them."""
    order = np.lexsort((np.where(I >= 0, I, np.iinfo(np.int64).max), -D), axis=1)
    return np.take_along_axis(D, order, 1), np.take_along_axis(I, order, 1)


def _cut_clean(scores: np.ndarray, n: int) -> bool:
    """Whether the best ``n`` of ``scores`` (best first) are the only ``n`` best: no score
    after them equals the last."""
    return len(scores) <= n or bool(scores[n - 1] != scores[n])


def _padded(D: np.ndarray, I: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: E741
    """One query row's ``D`` and ``I`` as FAISS gives ``n`` of them: -1 rows (scored as FAISS
    scores them, the lowest float32) after the found ones."""
    out_d = np.full((1, n), -np.finfo(np.float32).max, dtype=np.float32)
    out_i = np.full((1, n), -1, dtype=np.int64)
    out_d[0, : len(D)], out_i[0, : len(I)] = D, I
    return out_d, out_i


def _release(vectors: np.ndarray | Int8Rows) -> None:
    """Let go of the pages of memory-mapped ``vectors`` (:func:`~inspect_qa.pages.release`)."""
    for a in (vectors.codes, vectors.scales) if isinstance(vectors, Int8Rows) else (vectors,):
        release(a)


def ann_cells(n: int) -> int:
    """IVF cells of a store of ``n`` rows: the power of two nearest ``2 sqrt(n)``, or nearest
    ``n / ANN_CELL_ROWS`` when that is more (cells of 270 to 540 rows; it makes more cells than
    the first past about 1.1 million rows), and at most ``n / 8``."""
    target = max(2 * math.sqrt(n), n / ANN_CELL_ROWS, 64)
    return min(int(2 ** round(math.log2(target))), max(1, n // 8))


def ann_visits(cells: int, n: int) -> int:
    """Cells a search visits in a store of ``cells`` cells and ``n`` rows: one in
    :data:`ANN_CELL_SHARE` (in a store of more than :data:`ANN_LARGE_ROWS` rows, no more than
    it takes to read about :data:`ANN_SCAN_ROWS` rows), and at least :data:`ANN_NPROBE` (all of
    them in a store of fewer)."""
    share = cells // ANN_CELL_SHARE
    if n > ANN_LARGE_ROWS:
        share = min(share, math.ceil(ANN_SCAN_ROWS * cells / n))
    return min(cells, max(ANN_NPROBE, share))


class Int8Rows:
    """Unit vectors kept as int8 codes with one float32 scale each (a vector's largest
    component, in magnitude, is 127): ``d + 4`` bytes a vector instead of float16's ``2 d``.
    Read like an array of float32 rows (``rows[i]``, ``rows[a:b]``, ``rows[indices]``); the
    error of a component is at most half a step, ``scale / 254``."""

    dtype = np.dtype(np.float32)

    def __init__(self, codes: np.ndarray, scales: np.ndarray):
        if codes.ndim != 2 or len(scales) != len(codes):
            raise ValueError("int8 vectors and their scales disagree")
        self.codes = codes
        self.scales = scales
        self.shape = codes.shape

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, key: Any) -> np.ndarray:
        codes = np.asarray(self.codes[key], dtype=np.float32)
        scales = np.asarray(self.scales[key], dtype=np.float32) / np.float32(127)
        return codes * (scales[..., None] if codes.ndim == 2 else scales)

    def dot(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The inner product of ``query`` with each of ``rows``, read from the codes as they
        are: the same as ``self[rows] @ query`` to float32 rounding, without widening the rows
        to float32 first (about ten times faster for thousands of rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.float32)
        if len(rows) and not _int8_dot(self.codes, self.scales,
                                       rows, np.ascontiguousarray(query, dtype=np.float32), out):
            raise IndexError("a row beyond the stored vectors")
        return out

    @staticmethod
    def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(int8 codes, float32 scales) of float ``vectors``. Quantizing what
        :meth:`__getitem__` gives back returns the same codes."""
        x = np.asarray(vectors, dtype=np.float32)
        scales = np.abs(x).max(axis=1, initial=0.0) if len(x) else np.zeros(0, np.float32)
        scales = np.where(scales > 0, scales, 1.0).astype(np.float32)
        codes = np.clip(np.rint(x / scales[:, None] * 127), -127, 127).astype(np.int8)
        return codes, scales


def _int8_dot_loop(codes: np.ndarray, scales: np.ndarray, rows: np.ndarray, query: np.ndarray,
                   out: np.ndarray) -> bool:  # pragma: no cover
    """``out[i] = (codes[rows[i]] . query) * scales[rows[i]] / 127``; False at a row outside
    ``codes``. Compiled by numba (:data:`_int8_dot`), which coverage cannot see; the tests
    compare it with the widened rows' product."""
    n, d = codes.shape
    for i in range(len(rows)):
        r = rows[i]
        if r < 0 or r >= n:
            return False
        acc = np.float32(0.0)
        for j in range(d):
            acc += np.float32(codes[r, j]) * query[j]
        out[i] = acc * (np.float32(scales[r]) / np.float32(127))
    return True


_int8_dot = compiled(_int8_dot_loop, fastmath=True)  # summed in SIMD lanes: 7x faster


class DenseStore:
    """Inner product over unit vectors, with FAISS: exact (flat) over a float32 copy while the
    store is small, approximate (IVF-PQ: inverted lists over k-means cells, product-quantised
    vectors) when large. Either way scores are exact, from the stored vectors: the approximate
    search only chooses :data:`ANN_REFINE` times the candidates asked for, and the best of them
    by exact score are returned. The flat copy is made at the first search:
    loading an index to merge or check it makes none."""

    def __init__(self, vectors: np.ndarray | Int8Rows, ann: Any = None):
        self.vectors = vectors
        self._ann = ann
        self._flat_index: Any = None
        self._lock = threading.Lock()

    @property
    def _flat(self) -> Any:
        with self._lock:
            if self._flat_index is None:
                import faiss

                flat = faiss.IndexFlatIP(self.vectors.shape[1])
                for i in range(0, len(self.vectors), 65536):  # a block at a time
                    flat.add(np.ascontiguousarray(self.vectors[i : i + 65536], dtype=np.float32))
                self._flat_index = flat
            return self._flat_index

    @property
    def kind(self) -> str:
        return "flat" if self._ann is None else "ivf-pq"

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @staticmethod
    def build_ann(vectors: np.ndarray | Int8Rows, seed: int = 0) -> Any:
        """An IVF-PQ index of ``vectors``: :func:`ann_cells` cells, codes of
        ``ANN_SUBVECTORS`` bytes (or the largest divisor of the dimension below), trained on a
        sample of at most 64 vectors a cell."""
        import faiss

        n, d = vectors.shape
        nlist = ann_cells(n)
        nbits = int(min(8, max(1, math.log2(max(n // 4, 2)))))  # a small store: fewer codewords
        quantizer = faiss.IndexFlatIP(d)
        subvectors = _divisor(d, ANN_SUBVECTORS)
        ann = faiss.IndexIVFPQ(quantizer, d, nlist, subvectors, nbits,
                               faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, min(n, 64 * nlist), replace=False))
        ann.cp.min_points_per_centroid = 1
        ann.pq.cp.min_points_per_centroid = 1
        ann.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        _release(vectors)
        for i in range(0, n, 65536):  # in blocks: the stored vectors stay float16 on disk
            ann.add(np.ascontiguousarray(vectors[i : i + 65536], dtype=np.float32))
            _release(vectors)  # read: its pages need not count in a build's memory
        ann.nprobe = ANN_NPROBE  # a search says how many it visits (ann_visits)
        return ann

    def search(self, xq: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows for each query row, among the rows ``allowed`` (a boolean array;
        ``None``: all): (scores ``D``, row ids ``I``); fewer when fewer are allowed (an
        approximate search marks missing ones -1)."""
        import faiss

        k = min(k, len(self) if allowed is None else int(allowed.sum()))
        if k == 0:
            return np.zeros((len(xq), 0), np.float32), np.zeros((len(xq), 0), np.int64)
        xq = np.ascontiguousarray(xq, dtype=np.float32)
        if self._ann is not None:
            return self._refine(xq, self.approximate(xq, k, allowed)[1], k)
        sel, _bits = self._selector(allowed)  # the bits live as long as FAISS reads them
        if sel is None:
            D, I = self._flat.search(xq, k)  # noqa: E741
        else:
            params = faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]
            D, I = self._flat.search(xq, k, params=params)  # noqa: E741
        return D, I

    def approximate(self, xq: np.ndarray, k: int, allowed: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The approximate search's candidates for the top ``k`` of each query row:
        :data:`ANN_REFINE` times ``k`` of them, with their approximate scores (rows -1 where
        missing). Only for a store with an approximate searcher."""
        import faiss

        assert self._ann is not None
        sel, _bits = self._selector(allowed)  # the bits live as long as FAISS reads them
        nprobe = ann_visits(int(self._ann.nlist), int(self._ann.ntotal))
        params: Any = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)  # type: ignore[call-arg]
        D, found = self._ann.search(np.ascontiguousarray(xq, dtype=np.float32),
                                    k * ANN_REFINE, params=params)
        return _ordered(D, found)

    def approximate_within(self, xq: np.ndarray, k: int, allowed: np.ndarray | None,
                           k_within: int, within: np.ndarray,
                           counts: tuple[int, int] | None = None
                           ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """:meth:`approximate` for one query row among the rows ``allowed`` (``None``: all) and
        among the rows ``within`` (a subset of them), for ``k`` and ``k_within``: the same two
        results, from one scan of the cells when ``within`` holds at least
        :data:`WITHIN_SHARE` of the rows ``allowed``. The scan keeps enough of the best
        ``allowed`` rows that their best ``within`` are likely among them
        (:data:`WITHIN_MARGIN`). A list is searched again alone when approximate scores tie at
        its cut (where the two searches could choose different rows), and ``within``'s when
        too few of its rows were found. Both searches read the same cells, with the same
        codes, so each row's approximate score is the same in either: the lists are those the two searches
        would give. ``counts``: the rows ``allowed`` and ``within``, when the caller has
        counted them."""
        total, inside = counts if counts is not None else (
            len(self) if allowed is None else int(np.count_nonzero(allowed)),
            int(np.count_nonzero(within)))
        if len(xq) != 1 or inside == 0 or inside < WITHIN_SHARE * total:
            return self.approximate(xq, k, allowed), self.approximate(xq, k_within, within)
        want, want_within = k * ANN_REFINE, k_within * ANN_REFINE
        wide = max(want, math.ceil(want_within * total / inside * WITHIN_MARGIN))
        D, I = self.approximate(xq, -(-wide // ANN_REFINE), allowed)  # noqa: E741
        valid = I[0] >= 0
        every = not valid.all()  # the cells held fewer: every allowed row visited is listed
        d, rows = D[0][valid], I[0][valid]
        if not _cut_clean(d, want):  # ties at the cut: the search alone chooses
            outer = self.approximate(xq, k, allowed)
        else:
            outer = _padded(d[:want], rows[:want], want)
        keep = within[rows]
        d_in, rows_in = d[keep], rows[keep]
        if (len(rows_in) > want_within and _cut_clean(d_in, want_within)) or (
                every and len(rows_in) <= want_within):
            return outer, _padded(d_in[:want_within], rows_in[:want_within], want_within)
        return outer, self.approximate(xq, k_within, within)

    def _selector(self, allowed: np.ndarray | None) -> tuple[Any, np.ndarray | None]:
        """FAISS's selector of the rows ``allowed`` (``None``: all), and the bitmap it points
        into, which the caller must keep until the search is done."""
        if allowed is None:
            return None, None
        import faiss

        bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
        return faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bits)), bits

    @property
    def approximate_search(self) -> bool:
        return self._ann is not None

    def _refine(self, xq: np.ndarray, found: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of each query row's approximate candidates ``found`` (-1: none), by
        their exact scores; rows missing at the end are -1 with score -inf."""
        D = np.full((len(xq), k), -np.inf, dtype=np.float32)
        I = np.full((len(xq), k), -1, dtype=np.int64)  # noqa: E741
        for i in range(len(xq)):
            rows = found[i][found[i] >= 0]
            exact = self.score(xq[i], rows)
            order = np.argsort(-exact, kind="stable")[:k]
            D[i, : len(order)], I[i, : len(order)] = exact[order], rows[order]
        return D, I

    def score(self, xq: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact inner product of one query vector with each of ``rows``."""
        if isinstance(self.vectors, Int8Rows):
            return self.vectors.dot(rows, xq)
        import torch  # widens float16 faster than numpy, on the model's own threads

        block = np.ascontiguousarray(self.vectors[np.asarray(rows, dtype=np.int64)])
        q = torch.from_numpy(np.ascontiguousarray(xq, dtype=np.float32))
        return (torch.from_numpy(block).float() @ q).numpy()


class TokenCodec:
    """Residual compression of word-piece vectors, as ColBERTv2 does it: each vector is stored
    as its nearest of ``k`` centroids (k-means over the index's pieces) and the product-quantised
    residual (``M`` sub-vectors of ``d / M`` dimensions, one byte each): 2 + M bytes a piece
    instead of 2 * d. Trained once per full build (FAISS k-means and product quantiser) and
    saved as plain arrays; decoded with numpy."""

    def __init__(self, centroids: np.ndarray, codebooks: np.ndarray):
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.codebooks = np.ascontiguousarray(codebooks, dtype=np.float32)  # (M, 256, d / M)
        m, ks, dsub = self.codebooks.shape
        if ks != 256 or m * dsub != self.centroids.shape[1] or len(self.centroids) > 65536:
            raise ValueError("token codec centroids and codebooks disagree")

    @property
    def dimension(self) -> int:
        return int(self.centroids.shape[1])

    @classmethod
    def train(cls, vectors: np.ndarray, subvectors: int = TOKEN_SUBVECTORS,
              seed: int = 0) -> TokenCodec:
        import faiss

        x = np.ascontiguousarray(vectors, dtype=np.float32)
        rng = np.random.default_rng(seed)
        if len(x) > TOKEN_TRAIN_MAX:
            x = x[np.sort(rng.choice(len(x), TOKEN_TRAIN_MAX, replace=False))]
        if len(x) < TOKEN_TRAIN_MIN:
            raise ValueError(f"a token codec needs at least {TOKEN_TRAIN_MIN} pieces to train on")
        subvectors = _divisor(x.shape[1], subvectors)
        # At least 40 pieces a centroid (FAISS's advice), at most 1024 centroids.
        k = int(min(1024, 2 ** int(math.log2(len(x) / 40))))
        km = faiss.Kmeans(x.shape[1], k, niter=20, seed=seed, verbose=False)
        km.train(x)
        centroids = np.asarray(km.centroids, dtype=np.float32)
        _, assign = km.index.search(x, 1)
        residual = np.ascontiguousarray(x - centroids[assign[:, 0]])
        pq = faiss.ProductQuantizer(x.shape[1], subvectors, 8)
        pq.verbose = False
        pq.cp.min_points_per_centroid = 1  # a small index trains on what it has, quietly
        pq.train(residual)
        books = faiss.vector_to_array(pq.centroids).reshape(subvectors, 256, -1)
        return cls(centroids, books)

    def encode(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(centroid numbers uint16, residual codes uint8 of shape (n, M))."""
        import faiss

        x = np.ascontiguousarray(vectors, dtype=np.float32)
        m = self.codebooks.shape[0]
        if not len(x):
            return np.zeros(0, np.uint16), np.zeros((0, m), np.uint8)
        flat = faiss.IndexFlatL2(self.dimension)
        flat.add(self.centroids)
        _, assign = flat.search(x, 1)
        residual = np.ascontiguousarray(x - self.centroids[assign[:, 0]])
        codes = self._quantizer().compute_codes(residual).reshape(len(x), m)
        return assign[:, 0].astype(np.uint16), codes.astype(np.uint8)

    def _quantizer(self) -> Any:
        """FAISS's product quantiser over these codebooks (made once): it encodes and decodes
        in compiled code."""
        pq = self.__dict__.get("_pq")
        if pq is None:
            import faiss

            pq = faiss.ProductQuantizer(self.dimension, self.codebooks.shape[0], 8)
            faiss.copy_array_to_vector(self.codebooks.ravel(), pq.centroids)
            self.__dict__["_pq"] = pq
        return pq

    def decode(self, centroids: np.ndarray, codes: np.ndarray) -> np.ndarray:
        residual = self._quantizer().decode(np.ascontiguousarray(codes, dtype=np.uint8))
        return self.centroids[np.asarray(centroids, dtype=np.int64)] + residual

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "centroids.npy", self.centroids, allow_pickle=False)
        np.save(directory / "codebooks.npy", self.codebooks, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> TokenCodec:
        return cls(np.load(directory / "centroids.npy", allow_pickle=False),
                   np.load(directory / "codebooks.npy", allow_pickle=False))


def token_storage(codec: TokenCodec | None) -> str:
    """How word pieces are kept, for a manifest: float16, or the codec's codes."""
    if codec is None:
        return "float16"
    return (f"centroid (of {len(codec.centroids)}) + {codec.codebooks.shape[0]}-byte "
            "product-quantised residual")


class TokenStore:
    """Each row's contextual word-piece vectors, for late interaction ("MaxSim", as ColBERT).

    A question's pieces are each matched to their most similar piece of a row; the row's score
    is the mean of those best similarities, weighted by each question piece's rarity in the
    corpus. A paraphrase ("caseloads" / "cases", "hand her findings" / "report") then counts
    piece by piece, which one vector per passage blurs and BM25 misses.

    Vectors are stored exactly (float16: they are unit length, and the precision lost is far
    below the differences ranked), or compressed by a :class:`TokenCodec`. Either way they are
    memory-mapped when loaded, and only the rows being scored are read and widened to float32.
    The rarity of each piece (the number of rows holding it) is counted when the store is made.
    """

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, vectors: np.ndarray | None = None,
                 codes: tuple[np.ndarray, np.ndarray] | None = None,
                 codec: TokenCodec | None = None,
                 df: tuple[np.ndarray, np.ndarray] | None = None):
        self.ids = ids
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.vectors = vectors
        self.codes = codes
        self.codec = codec
        stored = len(vectors) if vectors is not None else (
            len(codes[0]) if codes is not None and len(codes[0]) == len(codes[1]) else -1)
        if ((vectors is None) == (codes is None) or (codes is not None and codec is None)
                or len(self.offsets) == 0 or self.offsets[0] != 0
                or self.offsets[-1] != len(self.ids) or np.any(np.diff(self.offsets) < 0)
                or len(self.ids) != stored):
            raise ValueError("token ids, vectors and row offsets disagree")
        self._df = df if df is not None else self._count_rows()

    @property
    def compressed(self) -> bool:
        return self.codes is not None

    @property
    def df(self) -> tuple[np.ndarray, np.ndarray]:
        """The piece ids present (ascending), and the number of rows holding each."""
        return self._df

    def _count_rows(self) -> tuple[np.ndarray, np.ndarray]:
        return self.row_counts(np.arange(len(self), dtype=np.int64))

    def row_counts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each piece id found in ``rows``, the number of those rows holding it."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        ids = np.asarray(self.ids[_ranges(self.offsets[rows], lengths)], dtype=np.int64)
        if not len(ids):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        span = int(ids.max()) + 1
        pairs = np.unique(owner * span + ids)
        known, counts = np.unique(pairs % span, return_counts=True)
        return known, counts

    @classmethod
    def build(cls, rows: Sequence[TokenVectors], dimension: int,
              codec: TokenCodec | None = None) -> TokenStore:
        """A store of ``rows``: exact, or compressed with ``codec``."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if not rows or not lengths.sum():
            ids = np.zeros(0, np.uint16)
            if codec is None:
                return cls(ids, offsets, vectors=np.zeros((0, dimension), np.float16))
            return cls(ids, offsets, codes=codec.encode(np.zeros((0, dimension))), codec=codec)
        ids = np.concatenate([r.ids for r in rows])
        ids = ids.astype(_id_dtype(ids))
        if codec is None:
            return cls(ids, offsets, vectors=np.concatenate(
                [np.asarray(r.vectors, dtype=np.float16) for r in rows]))
        parts = [codec.encode(np.concatenate([r.vectors for r in rows[i : i + 1024]]))
                 for i in range(0, len(rows), 1024)]  # a block at a time: no corpus-size copy
        return cls(ids, offsets, codes=(np.concatenate([p[0] for p in parts]),
                                        np.concatenate([p[1] for p in parts])), codec=codec)

    def take(self, rows: np.ndarray) -> TokenStore:
        """A store of ``rows`` of this one, as stored (compressed codes are copied, not
        decoded)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, lengths = self.offsets[rows], np.diff(self.offsets)[rows]
        pieces = _ranges(starts, lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.asarray(self.ids[pieces])
        if self.codes is None:
            assert self.vectors is not None
            return TokenStore(ids, offsets, vectors=np.asarray(self.vectors[pieces]))
        return TokenStore(ids, offsets, codes=(np.asarray(self.codes[0][pieces]),
                                               np.asarray(self.codes[1][pieces])),
                          codec=self.codec)

    @staticmethod
    def concat(stores: Sequence[TokenStore]) -> TokenStore:
        """The rows of ``stores``, one after another (all exact, or all with one codec)."""
        if not stores:
            raise ValueError("nothing to join")
        lengths = np.concatenate([np.diff(s.offsets) for s in stores])
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        ids = np.concatenate([np.asarray(s.ids, dtype=np.int64) for s in stores])
        ids = ids.astype(_id_dtype(ids))
        if all(s.codes is None for s in stores):
            return TokenStore(ids, offsets, vectors=np.concatenate(
                [np.asarray(s.vectors) for s in stores]).astype(np.float16))
        codec = stores[0].codec
        if any(s.codec is not codec for s in stores):
            raise ValueError("token stores compressed with different codecs cannot be joined")
        return TokenStore(ids, offsets, codes=(
            np.concatenate([np.asarray(s.codes[0]) for s in stores if s.codes is not None]),
            np.concatenate([np.asarray(s.codes[1]) for s in stores if s.codes is not None])),
            codec=codec)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _vectors(self, pieces: np.ndarray) -> np.ndarray:
        if self.codes is not None and self.codec is not None:
            return self.codec.decode(self.codes[0][pieces], self.codes[1][pieces])
        assert self.vectors is not None
        return np.asarray(self.vectors[pieces], dtype=np.float32)

    def will_need(self, rows: np.ndarray) -> None:
        """Announce that the pieces of ``rows`` are about to be read (see
        :mod:`inspect_qa.pages`)."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.offsets[rows], self.offsets[rows + 1]
        for a in [self.vectors] if self.codes is None else self.codes:
            will_need(a, starts, stops)

    def first_vectors(self, limit: int) -> np.ndarray:
        """The first ``limit`` pieces' vectors (decoded), for training a codec."""
        return self._vectors(np.arange(min(limit, len(self.ids))))

    def row(self, i: int) -> TokenVectors:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return TokenVectors(np.asarray(self.ids[a:b], dtype=np.int64),
                            self._vectors(np.arange(a, b)), ())

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "ids.npy", np.asarray(self.ids), allow_pickle=False)
        np.save(directory / "offsets.npy", self.offsets, allow_pickle=False)
        np.save(directory / "df_ids.npy", self._df[0], allow_pickle=False)
        np.save(directory / "df_counts.npy", self._df[1], allow_pickle=False)
        if self.codes is None:
            np.save(directory / "vectors.npy", np.asarray(self.vectors), allow_pickle=False)
        else:
            np.save(directory / "centroid_of.npy", np.asarray(self.codes[0]), allow_pickle=False)
            np.save(directory / "residuals.npy", np.asarray(self.codes[1]), allow_pickle=False)

    @staticmethod
    def merge_to(directory: Path, parts: Sequence[TokenStore], keep: Sequence[np.ndarray],
                 block: int = 1 << 20) -> int:
        """Save, as :meth:`save` would, the rows ``keep[k]`` (booleans) of each of ``parts``
        one after another, their pieces copied as stored a block at a time (all exact, or all
        with one codec); returns the number of pieces."""
        directory.mkdir(parents=True, exist_ok=True)
        lengths = [np.diff(p.offsets)[k] for p, k in zip(parts, keep, strict=True)]
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
        total = int(offsets[-1])
        first = parts[0]
        columns: dict[str, tuple[Any, ...]] = {"ids": (np.result_type(*(p.ids.dtype for p in parts)),)}
        if first.codes is None:
            columns["vectors"] = (np.float16, first.vectors.shape[1])  # type: ignore[union-attr]
        else:
            columns["centroid_of"] = (np.uint16,)
            columns["residuals"] = (np.uint8, first.codes[1].shape[1])
        out = {name: NpyWriter(directory / f"{name}.npy", spec[0], (total, *spec[1:]))
               for name, spec in columns.items()}
        known, counts = [], []
        for p, k in zip(parts, keep, strict=True):
            if (p.codes is None) != (first.codes is None) or p.codec is not first.codec:
                raise ValueError("token stores kept differently cannot be merged as stored")
            sources: dict[str, Any] = {"ids": p.ids, "vectors": p.vectors,
                                       "centroid_of": p.codes[0] if p.codes is not None else None,
                                       "residuals": p.codes[1] if p.codes is not None else None}
            mask = np.repeat(k, np.diff(p.offsets))  # which of its pieces stay
            for i in range(0, len(mask), block):
                sel = mask[i : i + block]
                for name, writer in out.items():
                    part = sources[name][i : i + block]
                    writer.write(np.asarray(part)[sel])
                    release(part)  # copied: its pages need not count in the build's memory
            rows = np.flatnonzero(k)
            for i in range(0, len(rows), 8192):  # rows are disjoint: their counts add up
                ids, c = p.row_counts(rows[i : i + 8192])
                known.append(ids)
                counts.append(c)
            release(p.ids)
        for writer in out.values():
            writer.close()
        every = np.concatenate(known) if known else np.zeros(0, np.int64)
        ids, inverse = np.unique(every, return_inverse=True)
        df = np.bincount(inverse, weights=np.concatenate(counts) if counts else None,
                         minlength=len(ids)).astype(np.int64)
        np.save(directory / "offsets.npy", offsets, allow_pickle=False)
        np.save(directory / "df_ids.npy", ids.astype(np.int64), allow_pickle=False)
        np.save(directory / "df_counts.npy", df, allow_pickle=False)
        return total

    @classmethod
    def load(cls, directory: Path, codec: TokenCodec | None = None) -> TokenStore:
        """Offsets and rarities in memory; ids, vectors or codes memory-mapped (the operating
        system keeps the pages a search touches, not the whole store)."""
        def arr(name: str, mmap: bool = True) -> np.ndarray:
            # a plain array view of the mapped file: np.memmap's own indexing is slower
            return np.asarray(np.load(directory / name, allow_pickle=False,
                                      mmap_mode="r" if mmap else None))

        df = (arr("df_ids.npy", False), arr("df_counts.npy", False))
        if (directory / "vectors.npy").exists():
            return cls(arr("ids.npy"), arr("offsets.npy", False), vectors=arr("vectors.npy"),
                       df=df)
        if codec is None:
            raise ValueError(f"{directory.name} is compressed and no codec was given")
        return cls(arr("ids.npy"), arr("offsets.npy", False),
                   codes=(arr("centroid_of.npy"), arr("residuals.npy")), codec=codec, df=df)

    def idf(self, ids: np.ndarray) -> np.ndarray:
        """BM25-style rarity of each piece id over the rows (unseen pieces are the rarest)."""
        return self.rarity(*self._df, len(self), ids)

    @staticmethod
    def rarity(known: np.ndarray, counts: np.ndarray, rows: int, ids: np.ndarray) -> np.ndarray:
        """BM25's idf of pieces ``ids`` among ``rows`` rows, ``counts[i]`` of which hold
        piece ``known[i]`` (``known`` ascending)."""
        ids = np.asarray(ids, dtype=np.int64)
        df = np.zeros(len(ids))
        if len(known):
            pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
            seen = known[pos] == ids
            df[seen] = counts[pos[seen]]
        return np.log((rows - df + 0.5) / (df + 0.5) + 1.0)

    def maxsim(self, query: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Weighted MaxSim of the query's piece vectors with each of ``rows`` (0 for a row
        without pieces, or a query without any)."""
        import torch  # the model's own thread pool: numpy's BLAS threads would fight it

        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        starts, lengths = self.offsets[rows], self.offsets[rows + 1] - self.offsets[rows]
        full = lengths > 0
        if not len(query) or not full.any() or weights.sum() <= 0:
            return out
        starts, lengths = starts[full], lengths[full]
        firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pieces = _ranges(starts, lengths)
        if self.codes is None and self.vectors is not None:  # torch widens float16 fastest
            block = torch.from_numpy(np.ascontiguousarray(self.vectors[pieces])).float()
        else:
            block = torch.from_numpy(np.ascontiguousarray(self._vectors(pieces), dtype=np.float32))
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        sims = (block @ q.T).numpy()  # row pieces x question pieces
        best = np.maximum.reduceat(sims, firsts, axis=0)  # rows x question pieces
        out[full] = (best @ weights) / weights.sum()
        return out


class NpyWriter:
    """A ``.npy`` file of known dtype and shape written a block of rows at a time (plain
    writes: the pages do not stay in the writer's memory, as a memory map's would)."""

    def __init__(self, path: Path, dtype: Any, shape: tuple[int, ...]):
        self.dtype = np.dtype(dtype)
        self.rows = shape[0]
        self.written = 0
        self._fh = path.open("wb")
        np.lib.format.write_array_header_2_0(self._fh, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
            "shape": shape})

    def write(self, rows: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(rows, dtype=self.dtype).tobytes())
        self.written += len(rows)

    def close(self) -> None:
        self._fh.close()
        if self.written != self.rows:
            raise ValueError(f"{self.written} rows written, {self.rows} declared")


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``[start, start + length)``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return (np.repeat(np.asarray(starts, dtype=np.int64) - firsts, lengths)
            + np.arange(int(lengths.sum()), dtype=np.int64))


def _id_dtype(ids: np.ndarray) -> type:
    """The narrowest type holding every id (a tokenizer's ids fit 16 bits; the test embedder's
    hashes do not)."""
    if not len(ids):
        return np.uint16
    low, high = int(np.min(ids)), int(np.max(ids))
    if low >= 0 and high < 2**16:
        return np.uint16
    return np.int32 if low >= -(2**31) and high < 2**31 else np.int64


def _divisor(dimension: int, most: int) -> int:
    """The largest number of sub-vectors, at most ``most``, that divides ``dimension``."""
    return max(m for m in range(1, most + 1) if dimension % m == 0)
