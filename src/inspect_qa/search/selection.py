"""Stage 5, answer selection: the candidate answers in the best passage (each sentence, and
each pair of neighbours), their features (:data:`~inspect_qa.answers.SENTENCE_FEATURES`) and
the question-wide evidence the confidence is read from (see :mod:`inspect_qa.confidence`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..answers import (
    ANSWER_PASSAGES,
    DIGITS,
    SENTENCE_FEATURES,
    answer_type,
    asked_words,
    is_new,
    refers_back,
)
from ..confidence import question_names, question_terms, reciprocal_rank, standing
from ..query import document_hints
from .analysis import Question
from .corpus import Corpus
from .evidence import Evidence, late_interaction
from .first_stage import FirstStage

#: Fewest allowed passages of the even sample that a passage's standing is measured against.
STANDING_SAMPLE = 256


def answer_features(
    corpus: Corpus, question: Question, first: FirstStage, ev: Evidence, scores: np.ndarray,
    picked: Sequence[int], allowed: np.ndarray | None = None,
) -> tuple[list[tuple[int, int, int]], np.ndarray, np.ndarray]:
    """Features of every candidate answer, and of the question's evidence as a whole.

    ``picked`` are the positions (among ``ev``'s candidates) of the passages shown, best first;
    ``scores`` the candidates' fused scores; ``allowed`` the passages the filters allow.
    Returns ``(candidates, features, evidence)``: candidates are ``(first sentence row, last
    sentence row, passage rank)`` of the text each would show (a sentence that refers back
    brings the one before it); features follow ``SENTENCE_FEATURES``; evidence is the
    question-wide part of ``CONFIDENCE_FEATURES``.
    """
    ix = corpus.index
    lex = ix.lexical
    q = question.text
    sentence_dense, sentence_lexical = ev.sentence_dense, ev.sentence_lexical
    if sentence_dense is None or sentence_lexical is None:
        raise ValueError("answers need dense and lexical evidence")
    if ev.late_sentence is None:
        ev = late_interaction(corpus, question, ev, np.asarray(picked[:ANSWER_PASSAGES]))
    late_all = ev.late_sentence if ev.late_sentence is not None else np.full(
        len(ev.sentences), np.nan, dtype=np.float32)
    q_tokens = sorted(set(lex.tokenize(q)))
    weights = np.array([lex.idf(t) for t in q_tokens]) if q_tokens else np.zeros(0)
    total = float(weights.sum()) or 1.0
    wanted = answer_type(q)
    asked = asked_words(q)
    # Candidates: each sentence, and each pair of neighbouring sentences of a passage (an
    # answer often sits in the sentence after the one that matches the question).
    cand: list[tuple[int, int, int]] = []
    firsts = set()
    for rank, p in enumerate(picked[:ANSWER_PASSAGES]):
        row = int(ev.rows[p])
        a, b = int(corpus.sentence_starts[row]), int(corpus.sentence_ends[row])
        firsts.add(a)
        cand.extend((j, j, rank) for j in range(a, b))
        # A heading is no part of the sentence after it: no pair starts or ends with one.
        heads = {j for j in range(a, b) if corpus.is_heading(j)}
        cand.extend((j, j + 1, rank) for j in range(a, b - 1)
                    if j not in heads and j + 1 not in heads)
    # A sentence that opens by referring back ("This has led to...", "He chairs...") is
    # shown with the sentence before it in its passage: alone it does not say what it is
    # about. Its features stay its own.
    shown = [(a - 1 if a not in firsts and refers_back(corpus.sentence_text(a))
              and not corpus.is_heading(a - 1) else a, b, r)
             for a, b, r in cand]
    js = np.arange(min(c[0] for c in cand), max(c[1] for c in cand) + 1)
    at = ev.sentence_positions(js)
    dense_s = dict(zip(js.tolist(), sentence_dense[at].tolist(), strict=True))
    sl_s = dict(zip(js.tolist(), sentence_lexical[at].tolist(), strict=True))
    late_s = dict(zip(js.tolist(), np.nan_to_num(late_all[at]).tolist(), strict=True))
    sl_max = max(sl_s[a] for a, b, _ in cand) or 1.0
    feats = np.empty((len(cand), len(SENTENCE_FEATURES)))
    for i, (a, b, _) in enumerate(cand):
        toks = corpus.sentence_tokens(a) | corpus.sentence_tokens(b)
        coverage = sum(w for t, w in zip(q_tokens, weights, strict=True) if t in toks) / total
        if wanted is None:
            type_match = 0.5
        else:
            type_match = float(any(is_new(corpus.type_words(wanted, j), asked) for j in (a, b)))
        feats[i] = (max(dense_s[a], dense_s[b]), max(sl_s[a], sl_s[b]) / sl_max, coverage,
                    type_match, float(b > a), max(late_s[a], late_s[b]))
    return shown, feats, question_evidence(corpus, question, first, ev, scores, picked, allowed)


def question_evidence(corpus: Corpus, question: Question, first: FirstStage, ev: Evidence,
                      scores: np.ndarray, picked: Sequence[int],
                      allowed: np.ndarray | None) -> np.ndarray:
    """The question-wide evidence, in absolute terms: the content words (not "what", "how
    many", "hello") the best passage holds and the corpus lacks, how the best passage stands
    above the rest, whether its report is the one named, and so on."""
    ix = corpus.index
    lex = ix.lexical
    q = question.text
    top = picked[0]
    top_row = int(ev.rows[top])
    terms = question_terms(q, lex)
    content = sorted(set(terms.tokens))
    c_weights = np.array([lex.idf(t) for t in content]) if content else np.zeros(0)
    top_tokens = set(lex.tokenize(ix.chunks[top_row].text))
    passage_coverage = (sum(w for t, w in zip(content, c_weights, strict=True)
                            if t in top_tokens) / float(c_weights.sum())) if content else 0.0
    keep = None if allowed is None else allowed[ev.rows]
    dc = ev.dense_chunk if keep is None else np.where(keep, ev.dense_chunk, -np.inf)
    if first.exhaustive:
        stands = standing(dc, top)
    else:
        # Over the even sample, which stands for the corpus (the candidates are its best); when
        # a filter leaves too little of it, over the allowed passages themselves (an even
        # sample of them when they are many).
        sample = dc[np.searchsorted(ev.rows, first.reference)]
        sample = sample[np.isfinite(sample)]
        if len(sample) < STANDING_SAMPLE and allowed is not None and first.vector is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) > len(first.reference):
                rows = rows[np.linspace(0, len(rows) - 1, len(first.reference)).astype(np.int64)]
            sample = ix.dense.score(first.vector, rows)
        stands = standing(np.append(sample, dc[top]), len(sample))
    # The question names a report (the third visit, a news item) that no document is:
    # likely unanswered. A month it names is as often a date inside a report as a
    # report's own date, so months do not count here.
    named = replace(document_hints(q), month_years=())
    mismatch = 1.0 - float(corpus.hint_scores(named).max(initial=0.0)) if named else 0.0
    top_late = ev.late_chunk[top] if ev.late_chunk is not None else np.nan
    top_doc = ix.chunks[top_row].doc_id
    numbers = set(DIGITS.findall(q))
    unmentioned = (len(numbers - corpus.document_numbers(top_doc))
                   / len(numbers)) if numbers else 0.0
    # Likewise a name: "Birmingham", "Ofsted's Walsall letter" asked of a Dudley report.
    names = question_names(q, corpus.lower_case())
    names_unmentioned = (len(names - corpus.document_words(top_doc)) / len(names)
                         if names else 0.0)
    # BM25 of the best passage against the most the question's words could give (Lucene's
    # BM25 gives a word at most its idf): how much of the question it matches at all.
    lexical_strength = float(ev.lexical_chunk[top]) / lex.ceiling(q)
    # How far the best passage leads the next (fused score): a question the reports answer
    # usually has one place that answers it.
    margin = float(scores[top] - scores[picked[1]]) if len(picked) > 1 else 0.0
    lc = ev.lexical_chunk if keep is None else np.where(keep, ev.lexical_chunk, -np.inf)
    # Ranks among the candidates: exact, since each list's best are all candidates.
    agreement = (reciprocal_rank(dc, top) + reciprocal_rank(lc, top)) / 2
    return np.array([passage_coverage, terms.unknown_share, float(np.max(dc)),
                     float(np.nan_to_num(top_late)), mismatch, unmentioned, stands,
                     lexical_strength, agreement, names_unmentioned, margin])
