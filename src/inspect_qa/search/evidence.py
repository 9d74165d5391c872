"""Stage 3, evidence on the candidates only: dense and BM25 scores of each candidate passage
and of its sentences (a passage can match as a whole, or through the one sentence that
answers), whether it belongs to a report the question names, and late interaction.

Every array is aligned with :attr:`Evidence.rows` (passages) or :attr:`Evidence.sentences`
(their sentences, in order); nothing here is the size of the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .analysis import Question
from .corpus import Corpus
from .first_stage import FirstStage


@dataclass(frozen=True)
class Evidence:
    """Per-candidate evidence for one question.

    A signal that was not asked for (dense in lexical mode, lexical in dense mode) is zeros,
    and its per-sentence array ``None``. ``late_*`` hold late-interaction (MaxSim) scores of
    the re-ranked passages and their sentences, NaN elsewhere (``None`` before re-ranking).
    """

    rows: np.ndarray
    dense_chunk: np.ndarray
    dense_sentence: np.ndarray
    lexical_chunk: np.ndarray
    lexical_sentence: np.ndarray
    document_hint: np.ndarray
    #: The candidates' sentence rows, and where each candidate's sentences start among them.
    sentences: np.ndarray
    sentence_starts: np.ndarray
    sentence_dense: np.ndarray | None = None
    sentence_lexical: np.ndarray | None = None
    late_chunk: np.ndarray | None = None
    late_sentence: np.ndarray | None = None

    def sentence_positions(self, rows: np.ndarray) -> np.ndarray:
        """Where sentence ``rows`` are among the candidates' sentences."""
        return np.searchsorted(self.sentences, rows)

    def sentence_range(self, position: int) -> range:
        """Positions (among the sentences) of the sentences of the candidate at
        ``position``."""
        end = (self.sentence_starts[position + 1] if position + 1 < len(self.rows)
               else len(self.sentences))
        return range(int(self.sentence_starts[position]), int(end))


def _best(per_sentence: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each passage's best sentence score (its sentences start at ``starts``)."""
    if not len(per_sentence):
        return np.zeros(len(starts), dtype=np.float32)
    return np.maximum.reduceat(per_sentence, np.minimum(starts, len(per_sentence) - 1))


def gather(corpus: Corpus, question: Question, first: FirstStage) -> Evidence:
    """The evidence of ``first``'s candidates."""
    ix = corpus.index
    rows = first.rows
    sentences, starts = corpus.sentences_of(rows)
    zeros = np.zeros(len(rows), dtype=np.float32)
    dc = ds = lc = ls = zeros
    sd = sl = None
    if first.vector is not None:
        dc = ix.dense.score(first.vector, rows)
        sd = ix.sentence_dense.score(first.vector, sentences)
        ds = _best(sd, starts)
    if first.lexical_chunk is not None and first.lexical_sentence is not None:
        lc = first.lexical_chunk[rows]
        sl = first.lexical_sentence[sentences]
        ls = _best(sl, starts)
    meta = zeros
    if question.hints:
        match = corpus.hint_scores(question.hints)
        meta = match[corpus.chunk_documents[rows]]
    return Evidence(rows, dc, ds, lc, ls, meta, sentences, starts, sd, sl)


def late_interaction(corpus: Corpus, question: Question, ev: Evidence,
                     positions: np.ndarray) -> Evidence:
    """``ev`` with the MaxSim scores of the candidates at ``positions`` and of all their
    sentences."""
    ix = corpus.index
    if question.pieces is None or question.piece_weights is None:
        return ev
    q, w = question.pieces.vectors, question.piece_weights
    positions = np.asarray(positions, dtype=np.int64)
    spos = (np.concatenate([np.arange(r.start, r.stop) for r in map(ev.sentence_range, positions)])
            if len(positions) else np.zeros(0, np.int64)).astype(np.int64)
    # in a large index the pieces are on disk: every read asked for at once, then made
    ix.chunk_tokens.will_need(ev.rows[positions])
    ix.sentence_tokens.will_need(ev.sentences[spos])
    chunk = np.full(len(ev.rows), np.nan, dtype=np.float32)
    chunk[positions] = ix.chunk_tokens.maxsim(q, w, ev.rows[positions])
    sent = np.full(len(ev.sentences), np.nan, dtype=np.float32)
    sent[spos] = ix.sentence_tokens.maxsim(q, w, ev.sentences[spos])
    return replace(ev, late_chunk=chunk, late_sentence=sent)
