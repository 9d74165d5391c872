"""The public search API: :class:`Retriever` and the :class:`Passage` values it returns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .answers import Answer, Calibration
from .chunking import Chunk, ChunkSettings, normalise
from .embedding import Embedder, load_embedder
from .errors import IndexIncompatible, InvalidQuery
from .index import Index, build_index, load_index

log = logging.getLogger(__name__)

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[str, ...] = ("dense", "lexical", "hybrid")
#: Largest ``k`` accepted by :meth:`Retriever.search`.
MAX_K = 50
#: Longest question accepted, in characters (it must also fit the model's window).
MAX_QUESTION_CHARS = 1000
#: Weight of the dense score in hybrid fusion (the lexical score gets ``1 - DENSE_WEIGHT``).
DENSE_WEIGHT = 0.5
#: Candidates taken from each retriever before fusion.
CANDIDATES = 100


@dataclass(frozen=True)
class Passage:
    """A cited passage: verbatim text and where it stands in its source document.

    ``text`` is ``normalise(document.text[start:end])``; ``source`` is the document id (path
    relative to the corpus folder); ``score`` is the retrieval score (higher is better; its
    scale depends on the mode).
    """

    text: str
    source: str
    start: int
    end: int
    score: float
    title: str
    date: str | None
    section: str | None
    page: int | None
    chunk_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents or a date range (ISO dates, inclusive)."""

    sources: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    def is_empty(self) -> bool:
        return not self.sources and not self.date_from and not self.date_to


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x) if hi <= 0 else np.ones_like(x)
    return (x - lo) / (hi - lo)


class Retriever:
    """Searches one index with one embedder. Thread-safe for concurrent searches.

    Build or update with :meth:`build`, open with :meth:`load`.
    """

    def __init__(self, index: Index, embedder: Embedder):
        if index.manifest["model"]["fingerprint"] != embedder.fingerprint():
            raise IndexIncompatible(
                f"index {str(index.path)!r} was built with model "
                f"{index.manifest['model']['name']!r} (another fingerprint than the embedder "
                f"given); rebuild it with `inspect-qa index CORPUS --out {index.path}`"
            )
        self.index = index
        self.embedder = embedder

    @classmethod
    def build(
        cls,
        corpus_dir: str | Path = "seeds",
        index_dir: str | Path = "index",
        *,
        embedder: Embedder | None = None,
        settings: ChunkSettings | None = None,
        progress: bool = False,
    ) -> Retriever:
        """Build (or update) the index of ``corpus_dir`` in ``index_dir`` and open it."""
        embedder = embedder or load_embedder()
        build_index(corpus_dir, index_dir, embedder=embedder, settings=settings,
                    progress=progress)
        return cls.load(index_dir, embedder=embedder)

    @classmethod
    def load(cls, index_dir: str | Path = "index", *, embedder: Embedder | None = None) -> Retriever:
        """Open a built index. The embedder defaults to the model named in its manifest."""
        index = load_index(index_dir)
        return cls(index, embedder or load_embedder(index.model_name))

    # -- input checks --------------------------------------------------------------------------

    def check_question(self, question: Any) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuery("the question is empty: type a question")
        q = " ".join(question.split())
        if len(q) > MAX_QUESTION_CHARS:
            raise InvalidQuery(
                f"the question is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}: "
                "shorten it"
            )
        if self.embedder.count_tokens(q) > self.embedder.max_tokens:
            raise InvalidQuery(
                f"the question is longer than the model reads ({self.embedder.max_tokens} word "
                "pieces): shorten it"
            )
        return q

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

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        docs = self.index.documents
        if filters.sources:
            unknown = [s for s in filters.sources if s not in docs]
            if unknown:
                raise InvalidQuery(f"unknown document(s) {unknown}: choose from {sorted(docs)}")
        allowed = set()
        for doc_id, doc in docs.items():
            if filters.sources and doc_id not in filters.sources:
                continue
            date = doc.date
            if filters.date_from and (not date or date < filters.date_from):
                continue
            # "2016-07" is inside a range ending "2016-07-31": compare on the shorter prefix.
            if filters.date_to and (not date or date[: len(filters.date_to)] > filters.date_to):
                continue
            allowed.add(doc_id)
        return np.array([c.doc_id in allowed for c in self.index.chunks], dtype=bool)

    # -- search --------------------------------------------------------------------------------

    def scores(self, question: str, mode: str = "hybrid") -> np.ndarray:
        """Score of every chunk for an already-checked question (higher is better)."""
        if mode == "lexical":
            return self.index.lexical.scores(question)
        xq = self.embedder.embed([question])[0]
        dense = self.index.dense.scores(xq)
        if mode == "dense":
            return dense
        return self._fuse(dense, self.index.lexical.scores(question))

    @staticmethod
    def _fuse(dense: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        # Normalised-score fusion over the union of both candidate lists: each score is
        # min-max scaled within the candidates, so the two scales become comparable.
        n = len(dense)
        top = min(CANDIDATES, n)
        cand = np.union1d(np.argpartition(-dense, top - 1)[:top],
                          np.argpartition(-lexical, top - 1)[:top])
        fused = np.full(n, -1.0, dtype=np.float32)
        fused[cand] = DENSE_WEIGHT * _minmax(dense[cand]) + (1 - DENSE_WEIGHT) * _minmax(
            lexical[cand]
        )
        return fused

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
        q = self.check_question(question)
        k = self.check_k(k)
        mode = self.check_mode(mode)
        mask = self._mask(filters)
        s = self.scores(q, mode)
        if mode == "lexical":
            s = np.where(s > 0, s, -np.inf)  # no shared word: not a match
        if mask is not None:
            s = np.where(mask, s, -np.inf)
        order = np.argsort(-s, kind="stable")
        return self._passages(order, s, k)

    def _passages(self, order: Sequence[int] | np.ndarray, s: np.ndarray, k: int) -> list[Passage]:
        out: list[Passage] = []
        taken: list[Chunk] = []
        for row in order:
            if len(out) >= k or not np.isfinite(s[row]):
                break
            c = self.index.chunks[int(row)]
            if any(t.doc_id == c.doc_id and t.start < c.end and c.start < t.end for t in taken):
                continue  # never two overlapping passages of the same region
            taken.append(c)
            out.append(self.passage(c, float(s[row])))
        return out

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
        )

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

        Takes the same arguments as :meth:`search` and raises the same errors.
        """
        q = self.check_question(question)
        passages = self.search(q, k=k, mode=mode, filters=filters)
        if not passages:
            return Answer(q, False, "", None, None, None, 0.0, ())
        qv = self.embedder.embed([q])[0]
        qtoks = set(self.index.lexical.query_tokens(q))
        best: tuple[float, int, int, np.ndarray] | None = None
        rows = {c.id: i for i, c in enumerate(self.index.chunks)}
        sent_rows = self._sentence_rows()
        for rank, p in enumerate(passages):
            for j in sent_rows.get(rows[p.chunk_id], []):
                s = self.index.sentences[j]
                dense = float(self.index.sentence_vectors[j] @ qv)
                text = self.index.documents[p.source].text[s.start : s.end]
                stoks = set(self.index.lexical.query_tokens(text))
                overlap = len(qtoks & stoks) / max(1, len(qtoks))
                feats = np.array([dense, overlap, 1.0 / (1 + rank)])
                score = float(np.dot(feats, (1.0, 1.0, 0.3)))
                if best is None or score > best[0]:
                    best = (score, rank, j, feats)
        if best is None:
            return Answer(q, False, "", None, None, None, 0.0, tuple(passages))
        _, rank, j, feats = best
        cal = Calibration()
        conf = cal.probability(feats)
        s = self.index.sentences[j]
        src = passages[rank].source
        if conf < cal.threshold:
            return Answer(q, False, "", None, None, None, round(conf, 4), tuple(passages))
        text = normalise(self.index.documents[src].text[s.start : s.end])
        return Answer(q, True, text, src, s.start, s.end, round(conf, 4), tuple(passages), rank)

    def _sentence_rows(self) -> dict[int, list[int]]:
        cache = getattr(self, "_sent_rows_cache", None)
        if cache is None:
            cache = {}
            for j, s in enumerate(self.index.sentences):
                cache.setdefault(s.chunk, []).append(j)
            self._sent_rows_cache = cache
        return cache
