"""Answers: the sentence that answers a question, or an honest abstention.

Every sentence (and pair of neighbouring sentences) of the best passage is scored on features
that hold for any report and any question: dense similarity (sentence vectors computed at index
time), late interaction (word-piece MaxSim), BM25, the share of the question's words it holds
(weighted by rarity), and whether it holds the kind of thing asked for (a date for "when", a
count for "how many", a sum for "how much money", a share for "what percentage", a length of
time for "how long", a person or post for "who") that the question does not already say. The
best is the answer; a logistic model over the evidence turns it into a
confidence, fitted on a gold set (``python -m inspect_qa.calibrate``). Below the threshold the
answer abstains: "not found in these documents".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .passages import Passage

#: Passages whose sentences are candidates for the answer: the best passage only. Looking
#: further (the best 2 or 5) finds a right sentence more often but picks one less often
#: (5-fold cross-validated on the gold set: right sentence chosen 0.73 from the best passage,
#: 0.71 from the best 2, 0.71 from the best 5).
ANSWER_PASSAGES = 1

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = re.compile(rf"\b{_MONTH}\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b")
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                 r"forty|fifty|hundred|thousand|half|quarter|third|fortnightly|weekly|monthly|"
                 r"daily|annually|yearly")
# A figure: digits ("78%", "£2,000" are found by their digits) or a number word; a "%" or
# "£" alone (as in "% of conferences") is not one.
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
_PERSON = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Cllr)\b|\b[A-Z][a-z]+ [A-Z][a-z]+\b|\b(?:Director|Manager|Chair|chair|"
    r"Commissioner|Inspector|Head|Officer|Leader|Secretary|Executive|advis[eo]r|[Ww]orker)s?\b"
)
_ASKS_DATE = re.compile(r"\bwhen\b|\b(?:what|which) (?:date|day|year|month)\b|\bby when\b", re.I)
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|often|big|large|far|high|low)\b|"
    r"\bwhat (?:number|percentage|proportion|share|figure|rate|amount|level|total)\b", re.I
)
# Finer kinds of figure: a sum of money, a share, a length of time, how often, a count.
_ASKS_MONEY = re.compile(
    r"\bhow much\b.*\b(?:money|fund(?:s|ing|ed)?|pay|paid|spend|spent|cost|costs|budget|invest"
    r"(?:ed|ment)?|grant|price|fees?|salary)\b|"
    r"\bwhat (?:budget|cost|price|sum|salary|fee)\b", re.I
)
_MONEY = re.compile(r"[£$€]|\b(?:pounds?|million|billion)\b|\b\d+(?:\.\d+)?(?:m|bn|k)\b", re.I)
_ASKS_SHARE = re.compile(r"\bwhat (?:percentage|proportion|share|per ?cent)\b|\bwhat %", re.I)
# A share: a figure with "%" or "per cent" (a bare "% of conferences" is not one), or a fraction.
_SHARE = re.compile(r"\d\s?(?:%|per ?cent\b)|\b(?:half|halves|quarters?|thirds?|majority|"
                    r"minority)\b|\bone in (?:\d|two|three|four|five|ten)", re.I)
_ASKS_DURATION = re.compile(r"\bhow long\b|\bfor how long\b", re.I)
_DURATION = re.compile(rf"(?:\d|\b(?:{_NUMBER_WORDS}|several|few)\b)[\w\s-]{{0,12}}?\b"
                       r"(?:hours?|days?|weeks?|fortnights?|months?|years?|decades?)\b", re.I)
_ASKS_FREQUENCY = re.compile(r"\bhow often\b|\bhow frequently\b", re.I)
_FREQUENCY = re.compile(
    r"\b(?:hourly|daily|weekly|fortnightly|monthly|quarterly|annually|yearly|every|once|twice)\b"
    r"|\b(?:per|a|each) (?:day|week|fortnight|month|quarter|year)\b|\btimes a\b", re.I)
_ASKS_COUNT = re.compile(r"\bhow many\b|\bwhat number\b", re.I)
# A count: a figure that is not a share (78%) or a sum of money (£2,000).
_COUNT = re.compile(
    r"(?<![£$€\d.,])\b\d[\d,.]*\b(?![\d,.]*\s?(?:%|per ?cent))|"
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|dozen)\b", re.I)
#: A name: a title (Mr, Dr...) or two capitalised words in a row. With the words a corpus writes
#: in lower case (see :func:`type_words`), only runs of words it always capitalises count.
PROPER_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Cllr|Councillor)\.?\s+[A-Z]|\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)+"
)
_TITLE = re.compile(r"(?:Mr|Mrs|Ms|Dr|Cllr|Councillor)\b")
_ASKS_NAME = re.compile(r"\bname of\b|\bby name\b|\bnamed?\b|\bwho (?:is|was) the\b", re.I)
_ASKS_PERSON = re.compile(
    r"\bwho\b|\bwhom\b|\bwhose\b|\b(?:what|which) (?:person|officer|inspector|post|role|job|"
    r"title)\b", re.I
)

_EDGE = ".,;:!?()[]'\"‘’“”"
#: Names of the features, in the order of the vectors below.
SENTENCE_FEATURES = ("dense", "lexical", "coverage", "type_match", "two_sentences", "late")
CONFIDENCE_FEATURES = ("best_score", "dense", "coverage", "type_match", "late",
                       "passage_coverage", "unknown_words", "top_dense_chunk", "top_late_chunk",
                       "document_mismatch", "numbers_unmentioned", "dense_standing",
                       "lexical_strength", "agreement", "names_unmentioned", "margin")
#: Runs of digits: a question naming "2019" or "24 hours" whose answering document never
#: mentions that number is likely about something else.
DIGITS = re.compile(r"\d+")


def confidence_features(score: float, sentence: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """``CONFIDENCE_FEATURES`` of a chosen sentence: its score, its dense, coverage, type and
    late-interaction features, then the question-wide evidence (passage coverage, unknown
    words, best chunk similarity, top passage's late interaction, document mismatch, share of
    the question's numbers its document never mentions, how far the best passage stands above
    the corpus, its share of the question's BM25 weight, dense/lexical agreement on it, share
    of the names the question uses that its document never mentions, the best passage's lead
    over the next; see
    :mod:`inspect_qa.confidence`)."""
    return np.concatenate([[score], sentence[[0, 2, 3, 5]], evidence])


_REFERS_BACK = re.compile(
    r"(?:It|Its|They|Their|He|His|She|Her|Such)\b|(?:This|These|That|Those)\s+(?:is|was|are|"
    r"were|has|have|had|will|would|can|could|may|might|should|must|includes?|included|means|"
    r"meant|leads?|led|results?|resulted|reflects?|reflected|shows?|showed|represents?|"
    r"represented|demonstrates?|demonstrated)\b"
)


def refers_back(sentence: str) -> bool:
    return bool(_REFERS_BACK.match(sentence.lstrip()))


def type_words(pattern: re.Pattern[str], text: str,
               lower_case: frozenset[str] | None = None) -> tuple[frozenset[str], ...]:
    """For each match of ``pattern`` in ``text``, the whole words it falls in, lower-cased
    ("12" in "12 left", not its digit "1").

    For :data:`PROPER_NAME` with ``lower_case`` (the words a corpus also writes in lower case):
    only runs of capitalised words holding at least two that are never written in lower case
    ("Jenny Turnross", not "The Strategic Director"), or a title and a name ("Mr Oakman").
    """
    if pattern is PROPER_NAME and lower_case is not None:
        return _names(text, lower_case)
    out = []
    for m in pattern.finditer(text):
        a, b = m.start(), m.end()
        while a > 0 and not text[a - 1].isspace():
            a -= 1
        while b < len(text) and not text[b].isspace():
            b += 1
        out.append(frozenset(w.strip(_EDGE).lower() for w in text[a:b].split()))
    return tuple(out)


_ADDRESS = re.compile(r"\S+@\S+|\bwww\.\S+|\S+://\S+")


def _names(text: str, lower_case: frozenset[str]) -> tuple[frozenset[str], ...]:
    out = []
    for m in PROPER_NAME.finditer(text):
        a, b = m.start(), m.end()
        while b < len(text) and not text[b].isspace():
            b += 1  # the whole last word
        words = [w.strip(_EDGE) for w in text[a:b].split()]
        proper = [w.lower() for w in words
                  if w and w.lower().replace("’", "'") not in lower_case]
        if any(_TITLE.fullmatch(w) for w in words) or len(proper) >= 2:
            out.append(frozenset(proper or (w.lower() for w in words)))
    return tuple(out)


def lower_case_words(texts: list[str]) -> frozenset[str]:
    """The words ``texts`` write in lower case somewhere (so not only as names), singular and
    plural ("inspectors" makes "inspector" a common word too); e-mail and web addresses do not
    count."""
    words: set[str] = set()
    for t in texts:
        for w in re.findall(r"\b[a-z][a-z'’-]*", _ADDRESS.sub(" ", t).replace("’", "'")):
            words.update((w, w + "s", w[:-1] if w.endswith("s") else w))
    return frozenset(words)


def asked_words(question: str) -> frozenset[str]:
    return frozenset(w.strip(_EDGE).lower() for w in question.split())


def holds_new(pattern: re.Pattern[str], text: str, question: str) -> bool:
    """Whether ``text`` holds something of the kind ``pattern`` finds that the question does
    not already say (a number other than the question's own, a name it does not name)."""
    return is_new(type_words(pattern, text), asked_words(question))


def is_new(found: tuple[frozenset[str], ...], asked: frozenset[str]) -> bool:
    return any(not words <= asked for words in found)


def answer_type(question: str) -> re.Pattern[str] | None:
    """What the question asks for, as a pattern a sentence holding it matches (or ``None``)."""
    if _ASKS_DATE.search(question):
        return _DATE
    for asks, kind in ((_ASKS_MONEY, _MONEY), (_ASKS_SHARE, _SHARE),
                       (_ASKS_DURATION, _DURATION), (_ASKS_FREQUENCY, _FREQUENCY),
                       (_ASKS_COUNT, _COUNT)):
        if asks.search(question):
            return kind
    if _ASKS_NUMBER.search(question):
        return _NUMBER
    if _ASKS_NAME.search(question):
        return PROPER_NAME
    if _ASKS_PERSON.search(question):
        return _PERSON
    return None


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    ``found`` is False when the documents do not answer the question: ``text`` is then empty
    and ``passages`` still holds the closest passages. ``text`` is verbatim from the document
    (whitespace normalised) at ``source[start:end]``. ``confidence`` is the estimated chance
    that the answer is right, in [0, 1].
    """

    question: str
    found: bool
    text: str
    source: str | None
    start: int | None
    end: int | None
    confidence: float
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    #: Index into ``passages`` of the passage holding the answer (``None`` when not found).
    passage_index: int | None = None
    #: Why there is no answer, for the reader ("" when found): the question's words the
    #: reports never use, or a hint when it has no words to look up.
    reason: str = ""
    #: 1-based page of the answer's first character, where the document has pages (a PDF).
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passages"] = [p.to_dict() for p in self.passages]
        return d


@dataclass(frozen=True)
class Calibration:
    """Weights for choosing the answer sentence, and the logistic model for its confidence.

    ``found`` is ``confidence >= threshold``. ``gates`` hold, for a few features, the least
    value answerable questions reach (their 1st percentile in the fit): a question whose
    evidence falls below one lies outside everything the reports answer, and its confidence
    is 0 whatever the rest says.
    """

    sentence_weights: tuple[float, ...]
    confidence_weights: tuple[float, ...]
    confidence_bias: float
    feature_mean: tuple[float, ...]
    feature_scale: tuple[float, ...]
    threshold: float
    provenance: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, float] = field(default_factory=dict)

    def sentence_score(self, features: np.ndarray) -> np.ndarray:
        return features @ np.asarray(self.sentence_weights)

    def gated(self, features: np.ndarray) -> bool:
        """Whether ``features`` fall below a gate (see the class docstring)."""
        return any(features[CONFIDENCE_FEATURES.index(name)] < low
                   for name, low in self.gates.items())

    def probability(self, features: np.ndarray) -> float:
        if self.gated(features):
            return 0.0
        x = (np.asarray(features) - np.asarray(self.feature_mean)) / np.asarray(self.feature_scale)
        z = self.confidence_bias + float(np.dot(self.confidence_weights, x))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        unknown = [g for g in d.get("gates", {}) if g not in CONFIDENCE_FEATURES]
        if unknown:
            raise ValueError(f"calibration gates {unknown} are not confidence features "
                             f"({', '.join(CONFIDENCE_FEATURES)}): refit with "
                             "`python -m inspect_qa.calibrate`")
        return cls(
            sentence_weights=tuple(d["sentence_weights"]),
            confidence_weights=tuple(d["confidence_weights"]),
            confidence_bias=float(d["confidence_bias"]),
            feature_mean=tuple(d["feature_mean"]),
            feature_scale=tuple(d["feature_scale"]),
            threshold=float(d["threshold"]),
            provenance=dict(d.get("provenance", {})),
            gates={str(k): float(v) for k, v in d.get("gates", {}).items()},
        )


def default_calibration() -> Calibration:
    """The calibration shipped with the package (fitted on ``eval/gold.jsonl``)."""
    text = resources.files("inspect_qa").joinpath("calibration.json").read_text(encoding="utf-8")
    return Calibration.from_dict(json.loads(text))
