"""Stage 4, fusion and re-ranking: the candidates' signals, each min-max scaled over the
scored passages so their scales meet, weighted into one score; then late interaction over the
best :data:`RERANK_DEPTH`, whose evidence is added as a bonus (a re-ranked passage only
gains, so none falls below a passage that was not re-ranked).

The weights depend on the question (:func:`question_weights`): one asked in the reports' own
words is ranked mostly on those words; one whose words find little in the reports (a reader's
"taken into care" where they say "looked after") mostly on meaning."""

from __future__ import annotations

import numpy as np

from ..answers import answer_type, asked_words, is_new
from .analysis import Question
from .corpus import Corpus
from .evidence import Evidence, late_interaction
from .first_stage import FirstStage

#: Hybrid fusion weights of the min-max-normalised signals. The first five rank every
#: candidate; the ``late_`` ones re-rank the best ``RERANK_DEPTH`` (benchmarks/fusion_cv.py).
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
#: Weights for a question whose own words find little in the reports: meaning (dense, late
#: interaction) counts for more, the words for less (benchmarks/adaptive_fusion.py).
FEW_WORDS_WEIGHTS = {
    "dense_chunk": 0.45,
    "dense_sentence": 0.7,
    "lexical_chunk": 0.25,
    "lexical_sentence": 0.3,
    "document_hint": 0.55,
    "late_chunk": 0.5,
    "late_sentence": 0.1,
    "late_typed_sentence": 0.5,
}
#: Where a question's words count as finding little: at a lexical strength (its best passage's
#: BM25 over the most its words could score, :func:`lexical_strength`) of at most the first
#: value ``FEW_WORDS_WEIGHTS`` apply, from the second ``FUSION_WEIGHTS``; in between a blend.
FEW_WORDS_GATE = (0.14, 0.16)
#: Passages re-ranked by late interaction (word-piece MaxSim) after the first fusion.
RERANK_DEPTH = 20


def minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x) if hi <= 0 else np.ones_like(x)
    return (x - lo) / (hi - lo)


def lexical_strength(corpus: Corpus, question: Question, first: FirstStage) -> float:
    """The best BM25 of any passage of the index over the most the question's words could
    score: near 0 when its words are common or the reports do not use them, towards 1 when one
    passage holds them all. Over the whole index, whatever the filters: it says how the
    question is worded against these reports, not what a filter leaves."""
    if first.lexical_chunk is None:
        return 0.0
    return first.lexical_chunk.max() / corpus.index.lexical.ceiling(question.text)


def question_weights(strength: float) -> dict[str, float]:
    """The fusion weights for a question of lexical ``strength`` (see :data:`FEW_WORDS_GATE`)."""
    lo, hi = FEW_WORDS_GATE
    few = 1.0 if strength <= lo else 0.0 if strength >= hi else (hi - strength) / (hi - lo)
    if few == 0.0:
        return FUSION_WEIGHTS
    return {k: (1 - few) * FUSION_WEIGHTS[k] + few * FEW_WORDS_WEIGHTS[k] for k in FUSION_WEIGHTS}


def combine(ev: Evidence, mode: str, weights: dict[str, float] = FUSION_WEIGHTS) -> np.ndarray:
    """One score per candidate (``-inf``: not a match in lexical mode)."""
    if mode == "dense":
        return (ev.dense_chunk + ev.dense_sentence) / 2
    lexical = minmax(ev.lexical_chunk) + minmax(ev.lexical_sentence)
    if mode == "lexical":
        # No shared word at all: not a match (-inf keeps it out of the results).
        return np.where(ev.lexical_chunk > 0, lexical / 2, -np.inf)
    w = weights
    return (
        w["dense_chunk"] * minmax(ev.dense_chunk)
        + w["dense_sentence"] * minmax(ev.dense_sentence)
        + w["lexical_chunk"] * minmax(ev.lexical_chunk)
        + w["lexical_sentence"] * minmax(ev.lexical_sentence)
        + w["document_hint"] * ev.document_hint
    )


def late_evidence(corpus: Corpus, ev: Evidence, top: np.ndarray, question: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Late-interaction evidence of the candidates at positions ``top`` (after
    :func:`~.evidence.late_interaction`): the passage's MaxSim, its best sentence's, and (when
    the question asks for a date, a number or a name; else ``None``) that of its best sentence
    holding one the question does not already say."""
    if ev.late_chunk is None or ev.late_sentence is None:
        zeros = np.zeros(len(top))
        return zeros, zeros, None
    late = np.nan_to_num(ev.late_sentence, nan=0.0)
    best_sentence = (np.maximum.reduceat(late, np.minimum(ev.sentence_starts, len(late) - 1))[top]
                     if len(late) else np.zeros(len(top)))
    wanted = answer_type(question)
    if wanted is None:
        return np.nan_to_num(ev.late_chunk[top]), best_sentence, None
    asked = asked_words(question)
    typed = np.array([
        max((late[i] for i in ev.sentence_range(int(p))
             if is_new(corpus.type_words(wanted, int(ev.sentences[i])), asked)), default=0.0)
        for p in top
    ])
    return np.nan_to_num(ev.late_chunk[top]), best_sentence, typed


def late_bonus(evidence: tuple[np.ndarray, np.ndarray, np.ndarray | None],
               weights: dict[str, float] = FUSION_WEIGHTS) -> np.ndarray:
    """What re-ranking adds to each passage: the weighted late evidence, each kind min-max
    scaled over the re-ranked passages."""
    chunk, sentence, typed = evidence
    bonus = weights["late_chunk"] * minmax(chunk) + weights["late_sentence"] * minmax(sentence)
    if typed is not None:
        bonus = bonus + weights["late_typed_sentence"] * minmax(typed)
    return bonus


def rerank(corpus: Corpus, question: Question, ev: Evidence, scores: np.ndarray,
           add_bonus: bool, weights: dict[str, float] = FUSION_WEIGHTS
           ) -> tuple[Evidence, np.ndarray, np.ndarray]:
    """Late interaction over the best ``RERANK_DEPTH`` candidates: ``(evidence with late
    scores, scores, order)``; the bonus is added to the scores when ``add_bonus`` (hybrid
    search), else only computed (answers read it)."""
    order = corpus.ranking(scores, ev.rows)
    top = np.array([p for p in order[:RERANK_DEPTH] if np.isfinite(scores[p])], dtype=np.int64)
    ev = late_interaction(corpus, question, ev, top)
    if add_bonus and len(top):
        scores = scores.copy()
        scores[top] += late_bonus(late_evidence(corpus, ev, top, question.text), weights)
        order = corpus.ranking(scores, ev.rows)
    return ev, scores, order
