"""The two searchable stores behind an index: dense (FAISS) and lexical (bm25s).

Both are saved as plain files (``.npy`` and JSON), never pickle. Scores for every row can be asked
for, so hybrid search can fuse exact scores rather than ranks.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Words, numbers with their decimal point or thousands separator kept ("1.5", "1,200") and
# percentages, so that "84%" and "0.5" stay searchable; single characters count ("5 hours").
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

BM25_PARAMS: dict[str, Any] = {"method": "lucene", "k1": 1.5, "b": 0.75}


class LexicalTokenizer:
    """Lower-cases, splits into words and numbers, drops English stopwords, stems (Snowball)."""

    def __init__(self) -> None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN

        self._stem = Stemmer.Stemmer("english").stemWord
        self._stop = frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        out = []
        for tok in _TOKEN.findall(text.lower().replace("’", "'")):
            if tok in self._stop:
                continue
            out.append(tok if tok[0].isdigit() else self._stem(tok.replace("'s", "")))
        return out


class LexicalStore:
    """BM25 (Lucene variant, k1=1.5, b=0.75) over token lists, with bm25s."""

    def __init__(self, bm25: Any, tokenizer: LexicalTokenizer):
        self._bm25 = bm25
        self._tok = tokenizer
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, texts: list[str]) -> LexicalStore:
        import bm25s

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

    def search(self, xq: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows for each query row: (scores ``D``, row ids ``I``)."""
        k = min(k, len(self))
        if k == 0:
            return np.zeros((len(xq), 0), np.float32), np.zeros((len(xq), 0), np.int64)
        D, I = self._index.search(np.ascontiguousarray(xq, dtype=np.float32), k)  # noqa: E741
        return D, I

    def scores(self, xq: np.ndarray) -> np.ndarray:
        """Exact inner product of one query vector with every row, by FAISS.

        Every row is scored (an exact flat search over all of them) so that hybrid fusion can
        normalise over the whole corpus.
        """
        out = np.zeros(len(self), dtype=np.float32)
        D, I = self.search(np.asarray(xq, dtype=np.float32).reshape(1, -1), len(self))  # noqa: E741
        out[I[0]] = D[0]
        return out
