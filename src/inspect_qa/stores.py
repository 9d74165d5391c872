"""The searchable stores behind an index: dense (FAISS), lexical (bm25s) and token vectors.

All are saved as plain files (``.npy`` and JSON), never pickle. Dense and lexical scores for
every row can be asked for, so hybrid search can fuse exact scores rather than ranks; token
vectors score a chosen few rows by late interaction (MaxSim), to re-rank the best candidates.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from .embedding import TokenVectors

log = logging.getLogger(__name__)

# Words, numbers with their decimal point or thousands separator kept ("1.5", "1,200") and
# percentages, so that "84%" and "0.5" stay searchable; single characters count ("5 hours").
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

BM25_PARAMS: dict[str, Any] = {"method": "lucene", "k1": 1.5, "b": 0.75}
#: English stopwords (bm25s's list): not searched for, lexically or by late interaction.
STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN)


class LexicalTokenizer:
    """Lower-cases, splits into words and numbers, drops English stopwords, stems (Snowball)."""

    def __init__(self) -> None:
        import Stemmer

        self._stem = Stemmer.Stemmer("english").stemWord
        self._stop = STOPWORDS

    def __call__(self, text: str) -> list[str]:
        out = []
        for tok in _TOKEN.findall(text.lower().replace("’", "'")):
            if tok in self._stop:
                continue
            out.append(tok if tok[0].isdigit() else self._stem(tok.replace("'s", "")))
        return out


def _quiet_bm25s() -> None:
    # bm25s sets its logger to DEBUG, so its "Building index from tokens" reaches any handler
    # a program installs: terminal output is for people, not library internals.
    logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalStore:
    """BM25 (Lucene variant, k1=1.5, b=0.75) over token lists, with bm25s."""

    def __init__(self, bm25: Any, tokenizer: LexicalTokenizer):
        self._bm25 = bm25
        self._tok = tokenizer
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, texts: list[str]) -> LexicalStore:
        import bm25s

        _quiet_bm25s()
        tok = LexicalTokenizer()
        corpus = [tok(t) or [""] for t in texts]
        bm25 = bm25s.BM25(**BM25_PARAMS)
        bm25.index(corpus, show_progress=False)
        return cls(bm25, tok)

    def save(self, directory: Path) -> None:
        self._bm25.save(str(directory))

    @classmethod
    def load(cls, directory: Path) -> LexicalStore:
        import bm25s

        _quiet_bm25s()
        bm25 = bm25s.BM25.load(str(directory), mmap=False)
        return cls(bm25, LexicalTokenizer())

    def query_tokens(self, question: str) -> list[str]:
        return [t for t in self._tok(question) if t in self._vocab]

    @property
    def vocabulary(self) -> dict[str, int]:
        return self._vocab

    def tokenize(self, text: str) -> list[str]:
        """Stemmed content words of ``text``, known to the index or not."""
        return self._tok(text)

    def idf(self, token: str) -> float:
        """Lucene's BM25 idf of a token; a token the corpus lacks counts as rarest (df = 0)."""
        n = int(self._bm25.scores["num_docs"])
        tid = self._vocab.get(token)
        df = 0 if tid is None else int(self._df[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @property
    def _df(self) -> np.ndarray:
        # bm25s stores scores as a token-major sparse matrix: row pointer differences are the
        # number of documents holding each token.
        cached = getattr(self, "_df_cache", None)
        if cached is None:
            cached = np.diff(np.asarray(self._bm25.scores["indptr"]))
            self._df_cache = cached
        return cached

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every row for ``question`` (zeros when no query word is indexed)."""
        toks = self.query_tokens(question)
        n = int(self._bm25.scores["num_docs"])
        if not toks:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(toks), dtype=np.float32)


class DenseStore:
    """Inner product over unit vectors: exact (flat) search with FAISS."""

    def __init__(self, vectors: np.ndarray):
        import faiss

        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._index = faiss.IndexFlatIP(self.vectors.shape[1])
        if len(self.vectors):
            self._index.add(self.vectors)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def search(self, xq: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows for each query row, among the rows ``allowed`` (a boolean array;
        ``None``: all): (scores ``D``, row ids ``I``); fewer when fewer are allowed."""
        import faiss

        k = min(k, len(self) if allowed is None else int(allowed.sum()))
        if k == 0:
            return np.zeros((len(xq), 0), np.float32), np.zeros((len(xq), 0), np.int64)
        xq = np.ascontiguousarray(xq, dtype=np.float32)
        if allowed is None:
            D, I = self._index.search(xq, k)  # noqa: E741
        else:
            bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bits))
            D, I = self._index.search(xq, k, params=faiss.SearchParameters(sel=sel))  # type: ignore[call-arg]  # noqa: E741
        return D, I

    def score(self, xq: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner product of one query vector with each of ``rows``."""
        return np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)] @ xq, dtype=np.float32)


class TokenStore:
    """Each row's contextual word-piece vectors, for late interaction ("MaxSim", as ColBERT).

    A question's pieces are each matched to their most similar piece of a row; the row's score
    is the mean of those best similarities, weighted by each question piece's rarity in the
    corpus. A paraphrase ("caseloads" / "cases", "hand her findings" / "report") then counts
    piece by piece, which one vector per passage blurs and BM25 misses. Vectors are stored as
    float16 (they are unit length; the precision lost is far below the differences ranked) and
    memory-mapped when loaded; only the rows being scored are read and widened to float32.
    """

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, offsets: np.ndarray):
        self.ids = np.asarray(ids, dtype=np.int64)
        self.vectors = np.asarray(vectors, dtype=np.float16)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        if (len(self.offsets) == 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.ids)
                or np.any(np.diff(self.offsets) < 0) or len(self.ids) != len(self.vectors)):
            raise ValueError("token ids, vectors and row offsets disagree")
        self._df: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(cls, rows: Sequence[TokenVectors], dimension: int) -> TokenStore:
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if not rows or not lengths.sum():
            return cls(np.zeros(0), np.zeros((0, dimension)), offsets)
        return cls(np.concatenate([r.ids for r in rows]),
                   np.concatenate([r.vectors for r in rows]), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> TokenVectors:
        a, b = self.offsets[i], self.offsets[i + 1]
        return TokenVectors(self.ids[a:b], self.vectors[a:b].astype(np.float32), ())

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "ids.npy", self.ids, allow_pickle=False)
        np.save(directory / "vectors.npy", self.vectors, allow_pickle=False)
        np.save(directory / "offsets.npy", self.offsets, allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> TokenStore:
        """Ids and offsets in memory; vectors memory-mapped (the operating system keeps the
        pages a search touches, not the whole store)."""
        return cls(np.load(directory / "ids.npy", allow_pickle=False),
                   np.load(directory / "vectors.npy", allow_pickle=False, mmap_mode="r"),
                   np.load(directory / "offsets.npy", allow_pickle=False))

    def idf(self, ids: np.ndarray) -> np.ndarray:
        """BM25-style rarity of each piece id over the rows (unseen pieces are the rarest)."""
        if self._df is None:
            per_row = [np.unique(self.ids[a:b]) for a, b in itertools.pairwise(self.offsets)]
            joined = np.concatenate(per_row) if per_row else np.zeros(0, np.int64)
            self._df = np.unique(joined, return_counts=True)
        known, counts = self._df
        ids = np.asarray(ids, dtype=np.int64)
        df = np.zeros(len(ids))
        if len(known):
            pos = np.clip(np.searchsorted(known, ids), 0, len(known) - 1)
            seen = known[pos] == ids
            df[seen] = counts[pos[seen]]
        n = len(self)
        return np.log((n - df + 0.5) / (df + 0.5) + 1.0)

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
        pieces = np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))
        block = torch.from_numpy(self.vectors[pieces]).float()
        q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float32))
        sims = (block @ q.T).numpy()  # row pieces x question pieces
        best = np.maximum.reduceat(sims, firsts, axis=0)  # rows x question pieces
        out[full] = (best @ weights) / weights.sum()
        return out

