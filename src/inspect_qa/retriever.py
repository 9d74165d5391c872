"""The public search API: :class:`Retriever` and the :class:`Passage` values it returns."""

from __future__ import annotations

import calendar
import datetime
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from .answers import (
    ANSWER_PASSAGES,
    DIGITS,
    SENTENCE_FEATURES,
    Answer,
    Calibration,
    answer_type,
    asked_words,
    confidence_features,
    default_calibration,
    is_new,
    lower_case_words,
    refers_back,
    type_words,
)
from .chunking import Chunk, ChunkSettings, normalise
from .confidence import (
    NO_CONTENT_HINT,
    NO_MATCHING_DOCUMENT,
    QuestionTerms,
    document_words,
    question_names,
    question_terms,
    reason_not_found,
    reciprocal_rank,
    standing,
)
from .documents import authority_names
from .embedding import Embedder, TokenVectors, load_embedder
from .errors import IndexIncompatible, InvalidQuery
from .index import build_index, resolve_config
from .layout import page_of
from .query import QUESTION_WORDS, document_hints, hint_match
from .storage import Index, load_index
from .timeline import Timeline, build_timeline
from .vocabulary import Lexicon, corpus_acronyms, glossary

log = logging.getLogger(__name__)

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[str, ...] = ("dense", "lexical", "hybrid")
#: Largest ``k`` accepted by :meth:`Retriever.search`.
MAX_K = 50
#: Longest question accepted, in characters (it must also fit the model's window).
MAX_QUESTION_CHARS = 1000
#: Hybrid fusion weights of the min-max-normalised signals (see :meth:`Retriever.signals`).
#: The first five rank every passage; the ``late_`` ones re-rank the best ``RERANK_DEPTH``.
FUSION_WEIGHTS = {
    "dense_chunk": 0.2,
    "dense_sentence": 0.2,
    "lexical_chunk": 0.4,
    "lexical_sentence": 0.3,
    "document_hint": 0.6,
    "late_chunk": 0.4,
    "late_sentence": 0.2,
    "late_typed_sentence": 0.4,
}
#: Passages re-ranked by late interaction (word-piece MaxSim) after the first fusion.
RERANK_DEPTH = 20


@dataclass(frozen=True)
class Signals:
    """Per-chunk evidence for one question (arrays of the index's chunk count)."""

    dense_chunk: np.ndarray
    dense_sentence: np.ndarray
    lexical_chunk: np.ndarray
    lexical_sentence: np.ndarray
    document_hint: np.ndarray
    query_vector: np.ndarray | None
    #: The same evidence per sentence (``None`` for a kind not computed), kept for answers.
    sentence_dense_all: np.ndarray | None = None
    sentence_lexical_all: np.ndarray | None = None
    #: The question's word pieces (stopwords dropped) and their rarity weights.
    query_tokens: TokenVectors | None = None
    query_weights: np.ndarray | None = None
    #: Late-interaction (MaxSim) scores of the re-ranked passages and of their sentences; rows
    #: not re-ranked hold NaN.
    late_chunk: np.ndarray | None = None
    late_sentence_all: np.ndarray | None = None


@dataclass(frozen=True)
class Passage:
    """A cited passage: verbatim text and where it stands in its source document.

    ``text`` is ``normalise(document.text[start:end])``; ``source`` is the document id (path
    relative to the corpus folder); ``score`` is the retrieval score (higher is better; its
    scale depends on the mode). ``page`` and ``page_end`` are the pages (1-based, as a PDF
    viewer numbers them) of its first and last characters, where the document has pages.
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
    page_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search_dict(question: str, passages: Sequence[Passage]) -> dict[str, Any]:
    """The JSON shape of a search (``schemas/search.schema.json``): the API's and the CLI's."""
    return {"question": question, "passages": [p.to_dict() for p in passages]}


_ISO_DATE = re.compile(r"\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?")


class _Ranked(NamedTuple):
    question: str
    signals: Signals
    scores: np.ndarray
    rows: list[int]
    mask: np.ndarray | None


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents, a date range (ISO dates, inclusive), kinds of
    document ("monitoring letter") or authorities ("Dudley" or "Dudley Metropolitan Borough
    Council"; case is ignored). Each filter given must hold."""

    sources: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None
    kinds: tuple[str, ...] | None = None
    authorities: tuple[str, ...] | None = None

    def is_empty(self) -> bool:
        return not (self.sources or self.date_from or self.date_to or self.kinds
                    or self.authorities)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _period(value: Any, name: str) -> tuple[datetime.date, datetime.date]:
    """First and last day of an ISO year, month or day; ``None`` is unbounded."""
    if value is None or value == "":
        return datetime.date.min, datetime.date.max
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidQuery(f"{name} must be an ISO date (2016, 2016-07 or 2016-07-31), "
                           f"not {value!r}")
    parts = [int(x) for x in value.split("-")]
    try:
        if len(parts) == 3:
            day = datetime.date(*parts)
            return day, day
        if len(parts) == 2:
            last = calendar.monthrange(parts[0], parts[1])[1]
            return datetime.date(parts[0], parts[1], 1), datetime.date(parts[0], parts[1], last)
        return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)
    except ValueError as exc:
        raise InvalidQuery(f"{name} {value!r} is not a date in the calendar") from exc


#: Weight of the report's terms for a question's everyday words in BM25 (0: no expansion).
EXPANSION_WEIGHT = 0.0
#: Whether the dense question vector is made from the question with those terms appended.
EXPAND_DENSE = False
#: Whether a report's own term also calls for its abbreviations and synonyms.
EXPAND_TERMS = False
#: Dense pseudo-relevance feedback: weight of the mean of the best PRF_DEPTH passages (0: off).
PRF_BETA = 0.0
PRF_DEPTH = 3
#: Shortest everyday phrase (in index tokens) that calls for the report's terms.
EXPAND_MIN_TOKENS = 1
#: Expand only when the best passage's BM25 is under this share of the most the question's own
#: words could score (1.0: always).
EXPAND_BELOW = 1.0


def _names(values: Any, what: str, known: set[str]) -> set[str]:
    """Checked filter values, lower case; an unknown one is an error listing the known ones."""
    if values is None:
        return set()
    if isinstance(values, str) or not all(isinstance(x, str) for x in values):
        raise InvalidQuery(f"{what} must be a list of names, e.g. ['{sorted(known)[0] if known else 'x'}']")
    lower = {" ".join(k.split()).lower() for k in known}
    wanted = {" ".join(v.split()).lower() for v in values}  # case and spacing ignored
    for v in values:
        if " ".join(v.split()).lower() not in lower:
            raise InvalidQuery(f"no document has {what[:-1] if what != 'authorities' else 'authority'} "
                               f"{v[:80]!r}: choose from {', '.join(sorted(known)) or 'none'}")
    return wanted


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x) if hi <= 0 else np.ones_like(x)
    return (x - lo) / (hi - lo)


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

    def check_question(self, question: Any) -> str:
        if not isinstance(question, str):
            raise InvalidQuery(f"the question must be text, not {type(question).__name__}")
        if not question.strip():
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

    def check_filters(self, filters: Filters) -> None:
        """Raise :class:`InvalidQuery` when ``filters`` name what the index does not hold."""
        self._allowed(filters)

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        """Which chunks ``filters`` allow (``None``: all)."""
        allowed = self._allowed(filters)
        if allowed is None:
            return None
        return np.array([c.doc_id in allowed for c in self.index.chunks], dtype=bool)

    def _allowed(self, filters: Filters | None) -> set[str] | None:
        """The documents ``filters`` allow (``None``: all), checked; a loop over documents,
        not chunks."""
        if filters is None:
            return None
        if not isinstance(filters, Filters):
            raise InvalidQuery(f"filters must be a Filters(...), not {type(filters).__name__}")
        if filters.is_empty():
            return None
        docs = self.index.documents
        lo, hi = _period(filters.date_from, "date_from")[0], _period(filters.date_to, "date_to")[1]
        if lo > hi:
            raise InvalidQuery(f"date_from {filters.date_from} is after date_to {filters.date_to}")
        sources = filters.sources
        if sources is not None:
            if isinstance(sources, str) or not all(isinstance(x, str) for x in sources):
                raise InvalidQuery("sources must be a list of document names, e.g. ['a.txt']")
            unknown = [x for x in sources if x not in docs]
            if unknown:
                raise InvalidQuery(f"unknown document(s) {unknown}: choose from {sorted(docs)}")
        kinds = _names(filters.kinds, "kinds", {str(d.metadata.get("kind") or "")
                                                 for d in docs.values()} - {""})
        authorities = _names(filters.authorities, "authorities", {
            name for d in docs.values() for name in authority_names(d.metadata.get("authority"))})
        dated = filters.date_from is not None or filters.date_to is not None
        allowed: set[str] = set()
        for doc_id, doc in docs.items():
            if sources and doc_id not in sources:
                continue
            if kinds and str(doc.metadata.get("kind") or "").lower() not in kinds:
                continue
            if authorities and not authorities & {
                    n.lower() for n in authority_names(doc.metadata.get("authority"))}:
                continue
            if dated:
                if not doc.date:
                    continue  # an undated document cannot be placed in a date range
                first, last = _period(doc.date, doc_id)
                # A document dated "2016-07" is the whole of July: kept when it overlaps.
                if last < lo or first > hi:
                    continue
            allowed.add(doc_id)
        return allowed

    # -- search --------------------------------------------------------------------------------

    def signals(self, question: str, need: tuple[str, ...] = ("dense", "lexical")) -> Signals:
        """Raw per-chunk evidence for an already-checked question.

        Chunk-level and best-sentence-level scores, dense (cosine) and lexical (BM25): a passage
        can match as a whole, or through the one sentence that answers.
        """
        ix = self.index
        n = len(ix.chunks)
        zeros = np.zeros(n, dtype=np.float32)
        dc = ds = lc = ls = zeros
        qv = sd = sl = None
        toks = weights = None
        if "dense" in need:
            extra_d = self.expansion(question) if EXPAND_DENSE else []
            text = f"{question} ({'; '.join(extra_d)})" if extra_d else question
            pooled, pieces = self.embedder.embed_tokens([text])
            qv = pooled[0]
            toks, weights = self._query_pieces(pieces[0])
            dc = ix.dense.scores(qv)
            if PRF_BETA and len(dc) > PRF_DEPTH:
                # Dense pseudo-relevance feedback (Rocchio): the question moved towards its
                # best passages, whose words are the report's.
                top = np.argpartition(-dc, PRF_DEPTH)[:PRF_DEPTH]
                moved = qv + PRF_BETA * ix.chunk_vectors[top].mean(axis=0)
                qv = (moved / np.linalg.norm(moved)).astype(np.float32)
                dc = ix.dense.scores(qv)
            sd = ix.sentence_vectors @ qv
            ds = np.maximum.reduceat(sd, ix.sentence_offsets)
        if "lexical" in need:
            lc = ix.lexical.scores(question)
            sl = ix.sentence_lexical.scores(question)
            extra = self.expansion(question) if EXPANSION_WEIGHT else []
            if extra and EXPAND_BELOW < 1.0:
                # Only a question whose own words find little is helped by the report's terms;
                # one that finds its words is only diluted by them.
                ceiling = sum(ix.lexical.idf(t) for t in ix.lexical.tokenize(question)) or 1.0
                if float(lc.max(initial=0.0)) / ceiling >= EXPAND_BELOW:
                    extra = []
            if extra:
                words = " ".join(extra)
                lc = (lc + np.float32(EXPANSION_WEIGHT) * ix.lexical.scores(words)).astype(
                    np.float32)
                sl = (sl + np.float32(EXPANSION_WEIGHT) * ix.sentence_lexical.scores(words)
                      ).astype(np.float32)
            ls = np.maximum.reduceat(sl, ix.sentence_offsets)
        hints = document_hints(question)
        meta = zeros
        if hints:
            match = {d: hint_match(doc, hints) for d, doc in ix.documents.items()}
            meta = np.array([match[c.doc_id] for c in ix.chunks], dtype=np.float32)
        return Signals(dc, ds, lc, ls, meta, qv, sd, sl, query_tokens=toks, query_weights=weights)

    def expansion(self, question: str) -> list[str]:
        """The report's terms for the everyday words and acronyms ``question`` uses (see
        :mod:`inspect_qa.vocabulary`)."""
        lexicon = self.__dict__.get("_lexicon")
        if lexicon is None:
            ix = self.index
            acronyms = corpus_acronyms(d.text for d in ix.documents.values())
            lexicon = Lexicon.build(ix.lexical.tokenize, acronyms, glossary(),
                                    terms_too=EXPAND_TERMS)
            self.__dict__["_lexicon"] = lexicon
        return lexicon.expand(self.index.lexical.tokenize(question), EXPAND_MIN_TOKENS)

    def _query_pieces(self, pieces: TokenVectors) -> tuple[TokenVectors, np.ndarray]:
        """The question's pieces that carry meaning and their rarity weights over the passages.

        Whole words that only make it a question (stopwords, "what", "did") are dropped, unless
        nothing else is left; a word is judged whole, so "Ofsted" (``of`` + ``##sted``) keeps
        both its pieces.
        """
        words: list[list[int]] = []
        for i, p in enumerate(pieces.pieces):
            if p.startswith("##") and words:
                words[-1].append(i)
            else:
                words.append([i])
        keep = [i for word in words
                if "".join(pieces.pieces[j].removeprefix("##") for j in word).lower()
                not in QUESTION_WORDS
                for i in word]
        if keep and len(keep) < len(pieces):
            pieces = TokenVectors(pieces.ids[keep], pieces.vectors[keep],
                                  tuple(pieces.pieces[i] for i in keep))
        return pieces, self.index.chunk_tokens.idf(pieces.ids)

    def late_interaction(self, sig: Signals, rows: np.ndarray) -> Signals:
        """``sig`` with the MaxSim scores of passages ``rows`` and of all their sentences."""
        ix = self.index
        if sig.query_tokens is None or sig.query_weights is None:
            return sig
        q, w = sig.query_tokens.vectors, sig.query_weights
        chunk = np.full(len(ix.chunks), np.nan, dtype=np.float32)
        chunk[rows] = ix.chunk_tokens.maxsim(q, w, rows)
        ends = np.append(ix.sentence_offsets[1:], len(ix.sentences))
        srows = np.concatenate([np.arange(ix.sentence_offsets[r], ends[r]) for r in rows]
                               ) if len(rows) else np.zeros(0, np.int64)
        sent = np.full(len(ix.sentences), np.nan, dtype=np.float32)
        sent[srows] = ix.sentence_tokens.maxsim(q, w, srows)
        return replace(sig, late_chunk=chunk, late_sentence_all=sent)

    @staticmethod
    def _combine(sig: Signals, mode: str,
                 weights: dict[str, float] = FUSION_WEIGHTS) -> np.ndarray:
        if mode == "dense":
            return (sig.dense_chunk + sig.dense_sentence) / 2
        lexical = _minmax(sig.lexical_chunk) + _minmax(sig.lexical_sentence)
        if mode == "lexical":
            # No shared word at all: not a match (-inf keeps it out of the results).
            return np.where(sig.lexical_chunk > 0, lexical / 2, -np.inf)
        # Normalised-score fusion: each signal min-max scaled over the corpus so the scales
        # meet, then a weighted sum. Weights: see benchmarks/fusion_cv.py and the README.
        w = weights
        return (
            w["dense_chunk"] * _minmax(sig.dense_chunk)
            + w["dense_sentence"] * _minmax(sig.dense_sentence)
            + w["lexical_chunk"] * _minmax(sig.lexical_chunk)
            + w["lexical_sentence"] * _minmax(sig.lexical_sentence)
            + w["document_hint"] * sig.document_hint
        )

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
        return [self.passage(self.index.chunks[r], float(ranked.scores[r])) for r in ranked.rows]

    def _rank(self, question: Any, k: Any, mode: Any, filters: Filters | None,
              for_answer: bool) -> _Ranked:
        """Check the arguments, score every chunk, pick the ``k`` best rows."""
        q = self.check_question(question)
        k = self.check_k(k)
        mode = self.check_mode(mode)
        mask = self._mask(filters)
        # An answer scores sentences on both kinds of evidence, whatever the mode.
        need = ("dense", "lexical") if for_answer or mode == "hybrid" else (mode,)
        sig = self.signals(q, need)
        s = self._combine(sig, mode)
        if mask is not None:
            s = np.where(mask, s, -np.inf)
        order = np.argsort(-s, kind="stable")
        if "dense" in need and (for_answer or mode == "hybrid"):
            # Second stage: late interaction over the best first-stage passages. A re-ranked
            # passage only gains, so none falls below a passage that was not re-ranked.
            top = np.array([r for r in order[:RERANK_DEPTH] if np.isfinite(s[r])], dtype=np.int64)
            sig = self.late_interaction(sig, top)
            if mode == "hybrid" and len(top):
                s = s.copy()
                s[top] += self.late_bonus(self.late_evidence(sig, top, q))
                order = np.argsort(-s, kind="stable")
        rows = self._select(order, s, k)
        return _Ranked(q, sig, s, rows, mask)

    def late_evidence(self, sig: Signals, top: np.ndarray, question: str
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Late-interaction evidence of passages ``top`` (after :meth:`late_interaction`): the
        passage's MaxSim, its best sentence's, and (when the question asks for a date, a number
        or a name; else ``None``) that of its best sentence holding one the question does not
        already say."""
        ix = self.index
        if sig.late_chunk is None or sig.late_sentence_all is None:
            zeros = np.zeros(len(top))
            return zeros, zeros, None
        late = np.nan_to_num(sig.late_sentence_all, nan=0.0)
        best_sentence = np.maximum.reduceat(late, ix.sentence_offsets)[top]
        wanted = answer_type(question)
        if wanted is None:
            return np.nan_to_num(sig.late_chunk[top]), best_sentence, None
        ends = np.append(ix.sentence_offsets[1:], len(ix.sentences))
        asked = asked_words(question)
        typed = np.array([
            max((late[j] for j in range(ix.sentence_offsets[r], ends[r])
                 if is_new(self._type_words(wanted, j), asked)), default=0.0)
            for r in top
        ])
        return np.nan_to_num(sig.late_chunk[top]), best_sentence, typed

    @staticmethod
    def late_bonus(evidence: tuple[np.ndarray, np.ndarray, np.ndarray | None],
                   weights: dict[str, float] = FUSION_WEIGHTS) -> np.ndarray:
        """What re-ranking adds to each passage: the weighted late evidence, each kind min-max
        scaled over the re-ranked passages."""
        chunk, sentence, typed = evidence
        bonus = (weights["late_chunk"] * _minmax(chunk)
                 + weights["late_sentence"] * _minmax(sentence))
        if typed is not None:
            bonus = bonus + weights["late_typed_sentence"] * _minmax(typed)
        return bonus

    def _select(self, order: Sequence[int] | np.ndarray, s: np.ndarray, k: int) -> list[int]:
        """The first ``k`` rows of ``order`` with a finite score, never two overlapping."""
        rows: list[int] = []
        taken: list[Chunk] = []
        for row in order:
            if len(rows) >= k or not np.isfinite(s[row]):
                break
            c = self.index.chunks[int(row)]
            if any(t.doc_id == c.doc_id and t.start < c.end and c.start < t.end for t in taken):
                continue  # never two overlapping passages of the same region
            taken.append(c)
            rows.append(int(row))
        return rows

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
        return build_timeline(self, topic, filters, per_report)

    def document_ids(self) -> list[str]:
        """The documents' ids, in the order :meth:`sentence_documents` numbers them."""
        found: list[str] | None = self.__dict__.get("_document_ids")
        if found is None:
            found = sorted(self.index.documents)
            self.__dict__["_document_ids"] = found
        return found

    def sentence_chunks(self) -> np.ndarray:
        """For every sentence, the row of its chunk (cached; the index is read-only)."""
        found: np.ndarray | None = self.__dict__.get("_sentence_chunks")
        if found is None:
            found = np.array([s.chunk for s in self.index.sentences], dtype=np.int64)
            self.__dict__["_sentence_chunks"] = found
        return found

    def sentence_documents(self) -> np.ndarray:
        """For every sentence, the number of its document in :meth:`document_ids`."""
        found: np.ndarray | None = self.__dict__.get("_sentence_documents")
        if found is None:
            number = {d: i for i, d in enumerate(self.document_ids())}
            chunk_doc = np.array([number[c.doc_id] for c in self.index.chunks], dtype=np.int64)
            found = chunk_doc[self.sentence_chunks()]
            self.__dict__["_sentence_documents"] = found
        return found

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
            return candidate
        if not terms.words:  # nothing to look up ("hello", "???"): say what to ask instead
            return replace(candidate, found=False, text="", source=None, start=None, end=None,
                           page=None, confidence=0.0, passage_index=None,
                           reason=NO_CONTENT_HINT)
        if not candidate.found or candidate.confidence < threshold:
            return replace(candidate, found=False, text="", source=None, start=None, end=None,
                           page=None, passage_index=None,
                           reason=reason_not_found(terms, candidate.confidence, threshold))
        return candidate

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

    def _candidate(self, question: Any, k: Any, mode: Any, filters: Filters | None
                   ) -> tuple[Answer, QuestionTerms]:
        q, sig, s, rows, mask = self._rank(question, k, mode, filters, for_answer=True)
        terms = question_terms(q, self.index.lexical)
        passages = tuple(self.passage(self.index.chunks[r], float(s[r])) for r in rows)
        if not rows:
            nothing = mask is not None and not mask.any()
            return Answer(q, False, "", None, None, None, 0.0, passages,
                          reason=NO_MATCHING_DOCUMENT if nothing else ""), terms
        cand, feats, evidence = self.answer_features(q, sig, s, rows, mask)
        cal = self.calibration
        scores = cal.sentence_score(feats)
        best = int(np.argmax(scores))
        first, last, rank = cand[best]
        x = confidence_features(float(scores[best]), feats[best], evidence)
        confidence = round(cal.probability(x), 4)
        start, end = self.index.sentences[first].start, self.index.sentences[last].end
        src = passages[rank].source
        doc_text = self.index.documents[src].text
        text = normalise(doc_text[start:end])
        return Answer(q, True, text, src, start, end, confidence, passages, rank,
                      page=page_of(doc_text, start)), terms

    def answer_features(
        self, question: str, sig: Signals, s: np.ndarray, rows: Sequence[int],
        mask: np.ndarray | None = None,
    ) -> tuple[list[tuple[int, int, int]], np.ndarray, np.ndarray]:
        """Features of every candidate answer, and of the question's evidence as a whole.

        Returns ``(candidates, features, evidence)``: candidates are ``(first sentence row,
        last sentence row, passage rank)`` of the text each would show (a sentence that refers
        back brings the one before it); features follow ``SENTENCE_FEATURES``;
        evidence is the question-wide part of ``CONFIDENCE_FEATURES`` (see
        :func:`inspect_qa.answers.confidence_features`).
        """
        ix = self.index
        lex = ix.lexical
        if sig.sentence_dense_all is None or sig.sentence_lexical_all is None:
            sig = self.signals(question)  # answers need both kinds of evidence
        if sig.late_sentence_all is None:
            sig = self.late_interaction(sig, np.asarray(rows[:ANSWER_PASSAGES], dtype=np.int64))
        sd_all = sig.sentence_dense_all
        sl_all = sig.sentence_lexical_all
        late_all = sig.late_sentence_all
        if sd_all is None or sl_all is None or late_all is None:
            raise RuntimeError("signals() computed no sentence evidence")  # not reachable
        q_tokens = sorted(set(lex.tokenize(question)))
        weights = np.array([lex.idf(t) for t in q_tokens]) if q_tokens else np.zeros(0)
        total = float(weights.sum()) or 1.0
        wanted = answer_type(question)
        asked = asked_words(question)
        ends = np.append(ix.sentence_offsets[1:], len(ix.sentences))
        # Candidates: each sentence, and each pair of neighbouring sentences of a passage (an
        # answer often sits in the sentence after the one that matches the question).
        cand: list[tuple[int, int, int]] = []
        for rank, row in enumerate(rows[:ANSWER_PASSAGES]):
            first, end = int(ix.sentence_offsets[row]), int(ends[row])
            cand.extend((j, j, rank) for j in range(first, end))
            cand.extend((j, j + 1, rank) for j in range(first, end - 1))
        # A sentence that opens by referring back ("This has led to...", "He chairs...") is
        # shown with the sentence before it in its passage: alone it does not say what it is
        # about. Its features stay its own.
        firsts = {int(ix.sentence_offsets[row]) for row in rows[:ANSWER_PASSAGES]}
        shown = [(a - 1 if a not in firsts and refers_back(self._sentence_text(a)) else a, b, r)
                 for a, b, r in cand]
        js = np.arange(min(c[0] for c in cand), max(c[1] for c in cand) + 1)
        dense_s = dict(zip(js.tolist(), sd_all[js].tolist(), strict=True))
        sl_s = dict(zip(js.tolist(), sl_all[js].tolist(), strict=True))
        late_s = dict(zip(js.tolist(), np.nan_to_num(late_all[js]).tolist(), strict=True))
        sl_max = max(sl_s[a] for a, b, _ in cand) or 1.0
        feats = np.empty((len(cand), len(SENTENCE_FEATURES)))
        for i, (a, b, _) in enumerate(cand):
            toks = self._sentence_tokens(a) | self._sentence_tokens(b)
            coverage = sum(w for t, w in zip(q_tokens, weights, strict=True) if t in toks) / total
            if wanted is None:
                type_match = 0.5
            else:
                type_match = float(any(is_new(self._type_words(wanted, j), asked)
                                       for j in (a, b)))
            feats[i] = (max(dense_s[a], dense_s[b]), max(sl_s[a], sl_s[b]) / sl_max, coverage,
                        type_match, float(b > a), max(late_s[a], late_s[b]))
        # Question-wide evidence, in absolute terms (see inspect_qa.confidence): the content
        # words (not "what", "how many", "hello") the best passage holds and the corpus lacks.
        terms = question_terms(question, lex)
        content = sorted(set(terms.tokens))
        c_weights = np.array([lex.idf(t) for t in content]) if content else np.zeros(0)
        top_tokens = set(lex.tokenize(ix.chunks[rows[0]].text))
        passage_coverage = (sum(w for t, w in zip(content, c_weights, strict=True)
                                if t in top_tokens) / float(c_weights.sum())) if content else 0.0
        dc = sig.dense_chunk if mask is None else np.where(mask, sig.dense_chunk, -np.inf)
        # The question names a report (the third visit, a news item) that no document is:
        # likely unanswered. A month it names is as often a date inside a report as a
        # report's own date, so months do not count here.
        named = replace(document_hints(question), month_years=())
        mismatch = 1.0 - max(hint_match(d, named) for d in ix.documents.values()) if named else 0.0
        top_late = sig.late_chunk[rows[0]] if sig.late_chunk is not None else np.nan
        top_doc = ix.chunks[rows[0]].doc_id
        numbers = set(DIGITS.findall(question))
        unmentioned = (len(numbers - self._document_numbers(top_doc))
                       / len(numbers)) if numbers else 0.0
        # Likewise a name: "Birmingham", "Ofsted's Walsall letter" asked of a Dudley report.
        names = question_names(question, self._lower_case())
        names_unmentioned = (len(names - self._document_words(top_doc)) / len(names)
                             if names else 0.0)
        # BM25 of the best passage against the most the question's words could give (Lucene's
        # BM25 gives a word at most its idf): how much of the question it matches at all.
        q_all = lex.tokenize(question)
        ceiling = sum(lex.idf(t) for t in q_all) or 1.0
        lexical_strength = float(sig.lexical_chunk[rows[0]]) / ceiling
        # How far the best passage leads the next (fused score): a question the reports answer
        # usually has one place that answers it.
        margin = float(s[rows[0]] - s[rows[1]]) if len(rows) > 1 else 0.0
        lc = sig.lexical_chunk if mask is None else np.where(mask, sig.lexical_chunk, -np.inf)
        agreement = (reciprocal_rank(dc, rows[0]) + reciprocal_rank(lc, rows[0])) / 2
        evidence = np.array([passage_coverage, terms.unknown_share, float(np.max(dc)),
                             float(np.nan_to_num(top_late)), mismatch, unmentioned,
                             standing(dc, rows[0]), lexical_strength, agreement,
                             names_unmentioned, margin])
        return shown, feats, evidence

    def _document_text(self, j: int) -> str:
        """The text of the document holding sentence ``j``."""
        return self.index.documents[self.index.chunks[self.index.sentences[j].chunk].doc_id].text

    def _sentence_text(self, j: int) -> str:
        s = self.index.sentences[j]
        return self._document_text(j)[s.start : s.end]

    def _document_words(self, doc_id: str) -> frozenset[str]:
        """The lower-cased words of a document (cached)."""
        cache: dict[str, frozenset[str]] = self.__dict__.setdefault("_words_cache", {})
        found = cache.get(doc_id)
        if found is None:
            found = document_words(self.index.documents[doc_id].text)
            cache[doc_id] = found
        return found

    def _document_numbers(self, doc_id: str) -> frozenset[str]:
        cache: dict[str, frozenset[str]] = self.__dict__.setdefault("_numbers_cache", {})
        found = cache.get(doc_id)
        if found is None:
            found = frozenset(DIGITS.findall(self.index.documents[doc_id].text))
            cache[doc_id] = found
        return found

    def _type_words(self, pattern: re.Pattern[str], j: int) -> tuple[frozenset[str], ...]:
        """:func:`type_words` of sentence ``j`` (cached: the index is read-only)."""
        cache: dict[tuple[str, int], tuple[frozenset[str], ...]] = self.__dict__.setdefault(
            "_type_cache", {})
        key = (pattern.pattern, j)
        found = cache.get(key)
        if found is None:
            found = type_words(pattern, self._sentence_text(j), self._lower_case())
            cache[key] = found
        return found

    def _lower_case(self) -> frozenset[str]:
        """Words the corpus writes in lower case somewhere (cached): the rest are names."""
        found: frozenset[str] | None = self.__dict__.get("_lower_case_words")
        if found is None:
            found = lower_case_words([d.text for d in self.index.documents.values()])
            self.__dict__["_lower_case_words"] = found
        return found

    def _sentence_tokens(self, j: int) -> frozenset[str]:
        cache: dict[int, frozenset[str]] = self.__dict__.setdefault("_tokens_cache", {})
        toks = cache.get(j)
        if toks is None:
            text = self.index.sentences[j].read_text(self._document_text(j))
            toks = frozenset(self.index.lexical.tokenize(text))
            cache[j] = toks
        return toks
