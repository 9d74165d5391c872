"""BM25 over an index made of segments, with the statistics of the whole index.

bm25s (which built the lexical index until format 5) stores each posting's score with the
term's idf and the corpus's average length baked in, so two indexes built apart cannot be
searched as one: their idf and lengths disagree. Here each segment stores plain postings
(:class:`Postings`: for each term, the rows holding it and how often), and
:class:`LexicalStore` scores them with statistics summed over every segment at load, less
the deleted documents', as Lucene does with its collection statistics. An index searched as
several segments therefore scores every passage exactly as the same passages built as one
index would, and as bm25s did: the Lucene variant of BM25 (k1 = 1.5, b = 0.75, idf =
ln(1 + (N - df + 0.5) / (df + 0.5))), each posting's weight rounded to float32 and summed in
float32, a question's repeated words counted each time.

A question is scored segment by segment (:meth:`LexicalStore.question`): each segment's rows
in an array of their own, small enough to stay in the processor's cache while its postings are
added up, and its best rows found within it (:class:`LexicalScores`). At a million passages
and six million sentences this is about 1.6 times faster than one array for all rows, with the
same scores. The postings of a segment are added up by one compiled loop (:func:`_accumulate`,
numba) that makes no temporary arrays and releases the GIL, with the same float64 weights
rounded to float32 as numpy's: the same scores, 2 to 4 times faster again (the sum over six
million sentences: 23 → 13 ms).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from .errors import IndexCorrupt
from .jit import compiled
from .pages import release

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


def _sum_postings(out: np.ndarray, rows: np.ndarray, tf: np.ndarray, lengths: np.ndarray,
                  norms: np.ndarray, fractions: np.ndarray, starts: np.ndarray,
                  ends: np.ndarray, idfs: np.ndarray) -> bool:  # pragma: no cover
    """``out[rows[i]] += float32(idf * tf / (norm + tf))`` over the postings
    ``starts[j]:ends[j]`` of each question word ``j``, where a row's norm is ``norms`` at its
    length (``lengths[row]``); ``fractions[length, tf]`` holds ``tf / (norms[length] + tf)``
    for the smallest ``tf``, the same float64 computed once. False (and nothing more added)
    at a row outside ``out``: a damaged postings file. Compiled by numba (:data:`_accumulate`):
    the lines run as machine code, which coverage cannot see; :meth:`LexicalStore.scores` is
    the numpy twin the tests compare it with."""
    n = len(out)
    small = fractions.shape[1]
    for j in range(len(starts)):
        idf = idfs[j]
        for i in range(starts[j], ends[j]):
            r = rows[i]
            if r < 0 or r >= n:
                return False
            f = tf[i]
            if f < small:
                out[r] += np.float32(idf * fractions[lengths[r], f])
            else:
                t = np.float64(f)
                out[r] += np.float32(idf * (t / (norms[lengths[r]] + t)))
    return True


_accumulate = compiled(_sum_postings)

#: Term frequencies whose share of a row's score, by the row's length, is computed once a
#: question (:func:`_sum_postings`).
SMALL_TF = 16


#: The most words a row can have: chunks are bounded far below it. A longer one is a damaged
#: lengths file (the norms' table would be as long).
LONGEST_ROW = 1 << 20


def _compact(parts: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Each segment's row lengths, all in the fewest bytes that hold the longest (one type for
    every segment: one compiled loop), and the longest. A length is a row of the norms' table:
    a negative one, or one past :data:`LONGEST_ROW`, is a damaged file."""
    lengths = [np.asarray(x) for x in parts]
    if any(len(x) and (int(x.min()) < 0 or int(x.max()) > LONGEST_ROW) for x in lengths):
        raise IndexCorrupt(
            "a BM25 lengths file of the index has an impossible length: the index is damaged; "
            "run `inspect-qa check`, then rebuild with `inspect-qa index`")
    longest = max((int(x.max(initial=0)) for x in lengths), default=0)
    dtype = next(t for t in (np.uint8, np.uint16, np.uint32) if longest <= np.iinfo(t).max)
    return [x.astype(dtype) for x in lengths], longest


def _best_positive(scores: np.ndarray, allowed: np.ndarray, masked: bool,
                   k: int) -> np.ndarray:  # pragma: no cover
    """Rows of the ``k`` best positive ``scores`` among those ``allowed`` (when ``masked``),
    in no particular order; of equal scores at the cut, the first rows. One pass: rows above
    the running threshold (0, then the ``k``-th best so far) are gathered four ``k`` at a
    time and cut back to the best ``k``. Compiled by numba (:data:`_select`), for the reason
    :func:`_sum_postings` is; the tests check it, compiled and not, against a sort."""
    cap = 4 * k
    rows = np.empty(cap + 1, dtype=np.int64)
    kept = np.empty(cap + 1, dtype=np.float32)
    m = 0
    threshold = np.float32(0.0)
    for i in range(len(scores)):
        s = scores[i]
        if s > threshold and (not masked or allowed[i]):
            rows[m] = i
            kept[m] = s
            m += 1
            if m > cap:
                order = np.argsort(-kept[:m], kind="mergesort")[:k]
                best_rows, best = rows[order].copy(), kept[order].copy()
                rows[:k], kept[:k] = best_rows, best
                m = k
                threshold = kept[k - 1]
    if m > k:
        order = np.argsort(-kept[:m], kind="mergesort")[:k]
        return rows[order].copy()
    return rows[:m].copy()


_select = compiled(_best_positive)


class Postings:
    """One segment's inverted lists: ``terms`` (sorted), and for term ``t`` the rows
    ``rows[indptr[t]:indptr[t + 1]]`` (ascending) holding it ``tf[...]`` times; ``lengths``
    is each row's number of words."""

    def __init__(self, terms: Sequence[str], indptr: np.ndarray, rows: np.ndarray,
                 tf: np.ndarray, lengths: np.ndarray):
        self.terms = list(terms)
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.rows = rows
        self.tf = tf
        self.lengths = lengths
        if (len(self.indptr) != len(self.terms) + 1 or self.indptr[0] != 0
                or self.indptr[-1] != len(rows) or len(tf) != len(rows)
                or np.any(np.diff(self.indptr) < 0)):
            raise ValueError("postings and their terms disagree")

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def df(self) -> np.ndarray:
        """Rows holding each term."""
        return np.diff(self.indptr)

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]]) -> Postings:
        # A row without words counts as one empty word, as bm25s counted it: the average
        # length, and so every score, stays what it was.
        lists = [list(t) or [""] for t in token_lists]
        terms = sorted({t for toks in lists for t in toks})
        number = {t: i for i, t in enumerate(terms)}
        lengths = np.array([len(t) for t in lists], dtype=np.int64)
        ids = np.fromiter((number[t] for toks in lists for t in toks), dtype=np.int64,
                          count=int(lengths.sum()))
        owners = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
        pairs, tf = np.unique(ids * max(len(lists), 1) + owners, return_counts=True)
        term_of, rows = np.divmod(pairs, max(len(lists), 1))  # term-major, rows ascending
        indptr = np.concatenate([[0], np.cumsum(np.bincount(term_of, minlength=len(terms)))])
        return cls(terms, indptr, rows.astype(np.int32),
                   tf.astype(np.uint16 if tf.max(initial=0) < 2**16 else np.uint32),
                   lengths.astype(np.int32))

    @classmethod
    def merge(cls, parts: Sequence[Postings], keep: Sequence[np.ndarray]) -> Postings:
        """One segment's postings of the rows ``keep[k]`` (booleans) of each of ``parts``,
        numbered one part after another: what :meth:`build` gives for those rows' words."""
        terms = sorted(set().union(*(p.terms for p in parts)))
        number = {t: i for i, t in enumerate(terms)}
        found_terms, found_rows, found_tf, lengths = [], [], [], []
        base = 0
        for p, k in zip(parts, keep, strict=True):
            new_row = (np.cumsum(k) - 1 + base).astype(np.int32)
            to_global = np.array([number[t] for t in p.terms], dtype=np.int32)
            term_of = np.repeat(np.arange(len(p.terms), dtype=np.int32), p.df)
            rows = np.asarray(p.rows)
            live = k[rows]
            found_terms.append(to_global[term_of[live]])
            found_rows.append(new_row[rows[live]])
            found_tf.append(np.asarray(p.tf)[live])
            lengths.append(np.asarray(p.lengths)[k])
            base += int(k.sum())
            for a in (p.rows, p.tf):  # copied: its pages need not count in a merge's memory
                release(a)
        term_of = np.concatenate(found_terms)
        del found_terms
        # The parts' rows follow one another, and each part lists a term's rows ascending: a
        # stable sort by term alone keeps every term's rows ascending, as a build lists them.
        order = np.argsort(term_of, kind="stable")
        rows = np.concatenate(found_rows)[order]
        del found_rows
        tf = np.concatenate(found_tf)[order]
        del found_tf
        counts = np.bincount(term_of, minlength=len(terms))
        del term_of, order
        # words only deleted rows held are gone, as a build of the live rows never saw them
        used = np.flatnonzero(counts)
        indptr = np.concatenate([[0], np.cumsum(counts[used])])
        return cls([terms[i] for i in used.tolist()], indptr, rows.astype(np.int32),
                   tf.astype(np.uint16 if tf.max(initial=0) < 2**16 else np.uint32),
                   np.concatenate(lengths).astype(np.int32))

    def deleted_counts(self, deleted: np.ndarray) -> np.ndarray:
        """For each term, the number of rows marked in ``deleted`` (booleans) holding it."""
        positions = np.flatnonzero(deleted[np.asarray(self.rows)])
        term_of = np.searchsorted(self.indptr, positions, side="right") - 1
        return np.bincount(term_of, minlength=len(self.terms))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "terms.json").write_text(json.dumps(self.terms, ensure_ascii=False),
                                              encoding="utf-8")
        for name in ("indptr", "rows", "tf", "lengths"):
            np.save(directory / f"{name}.npy", np.asarray(getattr(self, name)),
                    allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> Postings:
        """Terms, pointers and lengths in memory; the postings memory-mapped."""
        def arr(name: str, mmap: bool) -> np.ndarray:
            return np.asarray(np.load(directory / f"{name}.npy", allow_pickle=False,
                                      mmap_mode="r" if mmap else None))

        terms = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
        if not isinstance(terms, list):
            raise ValueError(f"{directory.name}/terms.json is not a list")
        return cls(terms, arr("indptr", False), arr("rows", True), arr("tf", True),
                   arr("lengths", False))


class LexicalStore:
    """BM25 of every row of one or more segments' :class:`Postings` (rows numbered one
    segment after another), with the statistics of their live rows: ``deleted[k]`` marks the
    rows of segment ``k`` that no longer count (``None``: none)."""

    def __init__(self, parts: Sequence[Postings],
                 deleted: Sequence[np.ndarray | None] | None = None):
        self.parts = list(parts)
        deleted = list(deleted) if deleted is not None else [None] * len(self.parts)
        self._tok = LexicalTokenizer()
        self.bounds = np.concatenate([[0], np.cumsum([len(p) for p in self.parts])]).astype(
            np.int64)
        if len(self.parts) == 1:
            terms: list[str] = self.parts[0].terms
            to_global = [np.arange(len(terms), dtype=np.int64)]
        else:
            everything = np.concatenate([np.asarray(p.terms, dtype=str) for p in self.parts]
                                        or [np.zeros(0, str)])
            unique, inverse = np.unique(everything, return_inverse=True)
            terms = unique.tolist()
            cuts = np.cumsum([len(p.terms) for p in self.parts])[:-1]
            to_global = np.split(inverse.astype(np.int64), cuts)
        df = np.zeros(len(terms), dtype=np.int64)
        rows = words = 0
        self._live: list[np.ndarray | None] = []
        self._dead: list[np.ndarray | None] = []
        for p, glob, gone in zip(self.parts, to_global, deleted, strict=True):
            counts = p.df
            live_lengths = p.lengths
            if gone is not None and gone.any():
                counts = counts - p.deleted_counts(gone)
                live_lengths = p.lengths[~gone]
                self._live.append(~gone)
                self._dead.append(np.flatnonzero(gone))
            else:
                self._live.append(None)
                self._dead.append(None)
            np.add.at(df, glob, counts)
            rows += len(live_lengths)
            words += int(np.sum(live_lengths, dtype=np.int64))
        self.num_docs = rows
        average = words / rows if rows else 1.0
        k1, b = BM25_PARAMS["k1"], BM25_PARAMS["b"]
        # A row's length term, with the average over every live row of every segment, is
        # read from a table by its length (a byte or two a row, where a float64 a row was
        # most of what scoring read: more than twice as fast, the same float64s).
        self._lengths, longest = _compact([p.lengths for p in self.parts])
        self._norms = k1 * ((1 - b) + b * np.arange(longest + 1, dtype=np.float64) / average)
        small = np.arange(SMALL_TF, dtype=np.float64)
        self._fractions = small[None, :] / (self._norms[:, None] + small[None, :])
        self._df = df
        self._vocab: dict[str, int] = {t: i for i, t in enumerate(terms) if df[i] > 0}
        self._local: list[np.ndarray] = []
        for p, glob in zip(self.parts, to_global, strict=True):
            local = np.full(len(terms), -1, dtype=np.int64)
            local[glob] = np.arange(len(p.terms), dtype=np.int64)
            self._local.append(local)

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalStore:
        """One segment's store of ``texts``, tokenized by :class:`LexicalTokenizer`."""
        tok = LexicalTokenizer()
        return cls([Postings.build([tok(t) for t in texts])])

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def query_tokens(self, question: str) -> list[str]:
        return [t for t in self._tok(question) if t in self._vocab]

    @property
    def vocabulary(self) -> dict[str, int]:
        """The terms some live row holds (by their number)."""
        return self._vocab

    def tokenize(self, text: str) -> list[str]:
        """Stemmed content words of ``text``, known to the index or not."""
        return self._tok(text)

    def _idf(self, df: int) -> float:
        n = self.num_docs
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def idf(self, token: str) -> float:
        """Lucene's BM25 idf of a token; a token the corpus lacks counts as rarest (df = 0)."""
        tid = self._vocab.get(token)
        return self._idf(0 if tid is None else int(self._df[tid]))

    def ceiling(self, text: str) -> float:
        """The most BM25 the words of ``text`` could give a row (Lucene's BM25 gives a word at
        most its idf); 1.0 when it has none."""
        return sum(self.idf(t) for t in self.tokenize(text)) or 1.0

    def question(self, question: str) -> LexicalScores:
        """BM25 of every row for ``question``, an array per segment (each score what
        :meth:`scores` gives it)."""
        words = self.words(question)
        return LexicalScores([self.part_scores(k, words) for k in range(len(self.parts))],
                             self.bounds)

    def words(self, question: str) -> list[tuple[int, np.float32]]:
        """The indexed words of ``question``, each with its idf: what :meth:`part_scores`
        scores."""
        return [(self._vocab[t], np.float32(self._idf(int(self._df[self._vocab[t]]))))
                for t in self.query_tokens(question)]

    def part_scores(self, k: int, words: Sequence[tuple[int, np.float32]]) -> np.ndarray:
        """BM25 of every row of segment ``k`` for ``words`` (:meth:`words`): one part of
        :meth:`question`. The parts are independent: they can be scored on different
        threads."""
        p = self.parts[k]
        out = np.zeros(len(p), dtype=np.float32)
        local = [(int(self._local[k][gid]), idf) for gid, idf in words]
        local = [(t, idf) for t, idf in local if t >= 0]
        if local and not _accumulate(
                out, np.asarray(p.rows), np.asarray(p.tf), self._lengths[k], self._norms,
                self._fractions,
                np.array([p.indptr[t] for t, _ in local], dtype=np.int64),
                np.array([p.indptr[t + 1] for t, _ in local], dtype=np.int64),
                np.array([idf for _, idf in local], dtype=np.float64)):
            raise IndexCorrupt(
                "a BM25 postings file of the index names a passage or sentence its segment "
                "does not have: the index is damaged; run `inspect-qa check`, then rebuild "
                "with `inspect-qa index`")
        dead = self._dead[k]
        if dead is not None:
            out[dead] = 0.0
        return out

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every row for ``question`` (zeros when no query word is indexed, and
        for deleted rows)."""
        out = np.zeros(len(self), dtype=np.float32)
        for token in self.query_tokens(question):
            gid = self._vocab[token]
            idf = np.float32(self._idf(int(self._df[gid])))
            for k, p in enumerate(self.parts):
                t = int(self._local[k][gid])
                if t < 0:
                    continue
                a, b = int(p.indptr[t]), int(p.indptr[t + 1])
                rows = np.asarray(p.rows[a:b], dtype=np.int64)
                tf = np.asarray(p.tf[a:b], dtype=np.float64)
                norms = self._norms[self._lengths[k][rows]]
                weight = (idf * (tf / (norms + tf))).astype(np.float32)
                out[self.bounds[k] + rows] += weight
        for k, live in enumerate(self._live):
            if live is not None:
                part = out[self.bounds[k] : self.bounds[k + 1]]
                part[~live] = 0.0
        return out


class LexicalScores:
    """A question's BM25 scores, an array per segment (``bounds``: each segment's first row,
    and one past the last), read as one array: ``scores[rows]``, :meth:`top`, :meth:`max`."""

    def __init__(self, parts: Sequence[np.ndarray], bounds: np.ndarray):
        self.parts = list(parts)
        self.bounds = np.asarray(bounds, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.bounds[-1])

    def __getitem__(self, rows: Any) -> np.ndarray:
        if len(self.parts) == 1:
            return self.parts[0][rows]
        rows = np.asarray(rows, dtype=np.int64)
        owner = np.searchsorted(self.bounds, rows, side="right") - 1
        out = np.empty(rows.shape, dtype=np.float32)
        for k in np.unique(owner).tolist():
            where = owner == k
            out[where] = self.parts[k][rows[where] - self.bounds[k]]
        return out

    def plus(self, other: LexicalScores, weight: float) -> LexicalScores:
        """These scores plus ``weight`` times ``other``'s (as float32)."""
        w = np.float32(weight)
        return LexicalScores([(a + w * b).astype(np.float32)
                              for a, b in zip(self.parts, other.parts, strict=True)],
                             self.bounds)

    def top(self, depth: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Rows of the ``depth`` best positive scores among the rows ``allowed`` (booleans
        over every row; ``None``: all), in no particular order: the best of each segment's
        best."""
        return self.best_of([self.part_top(k, depth, None if allowed is None else
                                           allowed[self.bounds[k] : self.bounds[k + 1]])
                             for k in range(len(self.parts))], depth)

    def part_top(self, k: int, depth: int, mask: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Segment ``k``'s part of :meth:`top` among its rows ``mask`` allows (``None``: all):
        (rows of the whole index, their scores)."""
        part = self.parts[k]
        d = min(depth, len(part))
        if d <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        top = _select(part, np.zeros(0, dtype=bool) if mask is None else mask,
                      mask is not None, d)
        return top + self.bounds[k], part[top]

    @staticmethod
    def best_of(found: Sequence[tuple[np.ndarray, np.ndarray]], depth: int) -> np.ndarray:
        """The rows of the ``depth`` best of the segments' tops ``found`` (:meth:`part_top`);
        of equal scores, the first rows."""
        if not found:
            return np.zeros(0, np.int64)
        r = np.concatenate([rows for rows, _ in found]).astype(np.int64)
        s = np.concatenate([scores for _, scores in found])
        if len(r) > depth:
            r = r[np.lexsort((r, -s))[:depth]]
        return r

    def max(self) -> float:
        """The best score (0 when no row holds a word of the question)."""
        return max((float(p.max(initial=0.0)) for p in self.parts), default=0.0)
