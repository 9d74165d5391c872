"""Stage 1, the question: its checked text, the reports it names, its vector and the word
pieces late interaction matches, and (switched off, see below) the report's terms for its
everyday words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embedding import Embedder, TokenVectors
from ..errors import InvalidQuery
from ..lexical import LexicalStore
from ..query import QUESTION_WORDS, DocumentHints, document_hints
from ..segments import LateInteraction
from ..vocabulary import Lexicon, corpus_acronyms, glossary

#: Longest question accepted, in characters (it must also fit the model's window).
MAX_QUESTION_CHARS = 1000

# Vocabulary experiments (issue 14, benchmarks/plain_words.py); all off: each cost the gold
# set more than it gave the plain-words set.
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


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_question(question: Any, embedder: Embedder, what: str = "question") -> str:
    """``question`` with its whitespace normalised; :class:`InvalidQuery` when it is not text,
    is empty, or is longer than allowed or than the model reads. ``what`` names it in the
    message ("topic" for a timeline's)."""
    if not isinstance(question, str):
        raise InvalidQuery(f"the {what} must be text, not {type(question).__name__}")
    if not question.strip():
        raise InvalidQuery(f"the {what} is empty: type a {what}")
    q = " ".join(question.split())
    undecoded = _SURROGATE.search(q)
    if undecoded:  # bytes that were not UTF-8, kept by Python as lone surrogates
        raise InvalidQuery(
            f"the {what} is not valid text: character {undecoded.start() + 1} comes from bytes "
            f"that are not UTF-8; retype it, or save the {what}s as UTF-8")
    if len(q) > MAX_QUESTION_CHARS:
        raise InvalidQuery(
            f"the {what} is {len(q)} characters long; the limit is {MAX_QUESTION_CHARS}: "
            "shorten it"
        )
    if embedder.count_tokens(q) > embedder.max_tokens:
        raise InvalidQuery(
            f"the {what} is longer than the model reads ({embedder.max_tokens} word "
            "pieces): shorten it"
        )
    return q


@dataclass(frozen=True)
class Question:
    """A checked question, analysed. ``vector``/``pieces``/``piece_weights`` are ``None``
    when dense evidence was not asked for; ``expansion`` holds the report's terms for its
    everyday words (empty while expansion is off)."""

    text: str
    hints: DocumentHints
    vector: np.ndarray | None = None
    pieces: TokenVectors | None = None
    piece_weights: np.ndarray | None = None
    expansion: tuple[str, ...] = ()


class Analyser:
    """Analyses questions against one index (its vocabulary and piece rarities)."""

    def __init__(self, embedder: Embedder, lexical: LexicalStore, chunk_tokens: LateInteraction,
                 texts: Any):
        self.embedder = embedder
        self.lexical = lexical
        self.chunk_tokens = chunk_tokens
        self._texts = texts  # a callable giving the documents' texts, for the lexicon
        self._lexicon: Lexicon | None = None

    def analyse(self, q: str, dense: bool) -> Question:
        """Analyse the checked question ``q``; encode it when ``dense``."""
        expansion = tuple(self.expansion(q)) if (EXPANSION_WEIGHT or EXPAND_DENSE) else ()
        if not dense:
            return Question(q, document_hints(q), expansion=expansion)
        extra = list(expansion) if EXPAND_DENSE else []
        text = f"{q} ({'; '.join(extra)})" if extra else q
        pooled, pieces = self.embedder.embed_tokens([text])
        toks, weights = self.meaningful_pieces(pieces[0])
        return Question(q, document_hints(q), pooled[0], toks, weights, expansion)

    def expansion(self, q: str) -> list[str]:
        """The report's terms for the everyday words and acronyms ``q`` uses (see
        :mod:`inspect_qa.vocabulary`)."""
        if self._lexicon is None:
            acronyms = corpus_acronyms(self._texts())
            self._lexicon = Lexicon.build(self.lexical.tokenize, acronyms, glossary(),
                                          terms_too=EXPAND_TERMS)
        return self._lexicon.expand(self.lexical.tokenize(q), EXPAND_MIN_TOKENS)

    def meaningful_pieces(self, pieces: TokenVectors) -> tuple[TokenVectors, np.ndarray]:
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
        return pieces, self.chunk_tokens.idf(pieces.ids)
