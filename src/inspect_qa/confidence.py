"""Whether the reports can answer a question at all, in terms that mean the same for every
question, and the reason given when they cannot.

The answer model (:mod:`inspect_qa.answers`) scores a question's best sentence against the other
candidates; that alone says which sentence is best, not whether it is any good: next to worse
sentences, a sentence about leadership looks fine as an answer to "What is the capital of
France?". The evidence here is absolute: which of the question's content words the corpus uses
at all, how far the best passage stands above the corpus (in standard deviations of its
similarity to the question), how much of the question's BM25 weight it reaches, and whether the
dense and lexical rankings agree on it. Fitted with questions the reports do not answer
(``eval/offtopic.jsonl``: general knowledge, chat, gibberish, injection strings, other services,
other councils, other years), it lets the confidence fall where the reports are silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .query import QUESTION_WORDS

#: Words that ask, greet or fill rather than say what a question is about ("tell me about",
#: "hello", "thanks"): a question made only of these has nothing to look up.
FILLER_WORDS = QUESTION_WORDS | frozenset((
    "many", "much", "tell", "me", "you", "your", "yours", "i", "my", "we", "our", "us", "can",
    "could", "would", "should", "shall", "may", "might", "must", "please", "know", "about",
    "hello", "hi", "hey", "hiya", "howdy", "thanks", "thank", "thx", "ty", "cheers", "ok",
    "okay", "bye", "goodbye", "yes", "yeah", "yep", "nope", "hmm", "lol", "anyone", "there",
    "any", "some", "something", "anything", "give", "show", "find", "get", "say", "said",
    "says", "does", "doing", "let", "let's", "want", "need", "like", "just",
))

#: After "how", words that only say what kind of answer is wanted ("how long", "how often").
_HOW_WORDS = frozenset(("long", "often", "far", "old", "big", "large", "soon", "quickly",
                        "frequently", "high", "low"))

# Words and numbers as a reader sees them (the lexical tokenizer's pattern, case kept).
_WORD = re.compile(r"\d+(?:[.,]\d+)*%?|[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)


class _Lexicon(Protocol):
    """What is needed of the lexical store: its tokenizer and vocabulary."""

    def tokenize(self, text: str) -> list[str]: ...

    @property
    def vocabulary(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class QuestionTerms:
    """The content words of a question, as written, and which of them the corpus never uses."""

    words: tuple[str, ...]
    #: Their lexical tokens (stemmed), in order.
    tokens: tuple[str, ...]
    #: The words none of whose tokens the corpus holds, as written, without repeats.
    unknown: tuple[str, ...]

    @property
    def unknown_share(self) -> float:
        """Share of the content words the corpus never uses (0 when there are none)."""
        return len(self.unknown) / len(set(w.lower() for w in self.words)) if self.words else 0.0


def question_terms(question: str, lexicon: _Lexicon) -> QuestionTerms:
    """Split ``question`` into content words (question words, stopwords and greetings left
    out) and find those the corpus never uses."""
    words: list[str] = []
    tokens: list[str] = []
    unknown: list[str] = []
    vocab = lexicon.vocabulary
    after_how = False
    for w in _WORD.findall(question):
        lower = w.lower().replace("’", "'")
        skip = lower in FILLER_WORDS or (after_how and lower in _HOW_WORDS)
        after_how = lower == "how"
        if skip:
            continue
        toks = lexicon.tokenize(w)
        if not toks:
            continue
        words.append(w)
        tokens.extend(toks)
        if not any(t in vocab for t in toks) and w.lower() not in {u.lower() for u in unknown}:
            unknown.append(w)
    return QuestionTerms(tuple(words), tuple(tokens), tuple(unknown))


_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)


def question_names(question: str, lower_case: frozenset[str]) -> frozenset[str]:
    """Names the question uses, lower-cased: capitalised words, not the first, that the corpus
    never writes in lower case ("Birmingham", "Walsall"; not "Social" in "Social workers").
    A possessive keeps its stem ("Walsall's" is "walsall")."""
    out: set[str] = set()
    for m in _CAPITALISED.finditer(question):
        if m.start() == 0:
            continue  # any first word is capitalised
        w = re.sub(r"['’]s?$", "", m.group()).lower()
        if w and w not in lower_case and w not in FILLER_WORDS:
            # "Stoke-on-Trent", "O'Neill": each part, as document_words splits them
            out.update(x for x in _WORDS.findall(w) if len(x) > 1)
    return frozenset(out)


def document_words(text: str) -> frozenset[str]:
    """The lower-cased words of ``text`` (what :func:`question_names` is looked up in)."""
    return frozenset(w.lower() for w in _WORDS.findall(text))


def standing(scores: np.ndarray, row: int) -> float:
    """How far ``scores[row]`` stands above the rest, in standard deviations (finite scores
    only): a passage that truly matches stands out; for a question the corpus does not speak
    to, every passage is about as (un)like it as the others."""
    s = scores[np.isfinite(scores)]
    if len(s) < 2 or not np.isfinite(scores[row]):
        return 0.0
    sd = float(s.std())
    return float((scores[row] - s.mean()) / sd) if sd > 1e-9 else 0.0


def reciprocal_rank(scores: np.ndarray, row: int) -> float:
    """1 / (1 + the number of rows scoring above ``row``): 1 when it ranks first."""
    return 1.0 / (1.0 + float((scores > scores[row]).sum()))


NO_MATCHING_DOCUMENT = ("No document matches these filters (documents, dates): widen them "
                        "and ask again.")

NO_CONTENT_HINT = (
    "This question has no words to look up in the reports. Ask about something they cover, "
    "in a few words or a full question: what inspectors found about a service, a figure, a "
    "date, or a person or post named in them."
)


def reason_not_found(terms: QuestionTerms, confidence: float, threshold: float) -> str:
    """Why no answer is given, in one or two sentences for the reader."""
    if not terms.words:
        return NO_CONTENT_HINT
    if terms.unknown:
        quoted = ", ".join(f"“{w}”" for w in terms.unknown[:8])
        if len(terms.unknown) == len({w.lower() for w in terms.words}):
            return (f"Nothing in these reports matches {quoted}: none of the question's words "
                    "is used in them.")
        if confidence <= 0.0:
            return (f"Nothing in these reports matches {quoted}, and nothing in them comes "
                    "close to the rest of the question.")
        return (f"Nothing in these reports matches {quoted}, and no sentence answers the rest "
                f"of the question well enough (confidence {confidence:.0%}, below "
                f"{threshold:.0%}).")
    if confidence <= 0.0:
        return ("No sentence in these reports comes close enough to what was asked to answer "
                "it: the closest passages are listed.")
    return ("No sentence in these reports answers the question well enough (confidence "
            f"{confidence:.0%}, below {threshold:.0%}); the closest passages are listed.")
