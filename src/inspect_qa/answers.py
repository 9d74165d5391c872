"""Answers: the sentence that answers a question, or an honest abstention.

Sentences inside the best passages are scored by dense similarity (sentence vectors computed at
index time), lexical overlap with the question (IDF-weighted, stemmed) and the passage's rank.
A logistic model turns the best sentence's features into a confidence; below the threshold the
answer abstains ("not in these documents").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .retriever import Passage


@dataclass(frozen=True)
class Answer:
    """The answer to one question.

    ``found`` is False when the documents do not answer the question: ``text`` is then empty
    and ``passages`` still holds the closest passages. ``text`` is verbatim from the document
    (whitespace normalised) at ``source[start:end]``. ``confidence`` is in [0, 1].
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

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passages"] = [p.to_dict() for p in self.passages]
        return d


@dataclass(frozen=True)
class Calibration:
    """Logistic model from sentence features to the probability that the answer is right."""

    weights: tuple[float, ...] = (4.0, 3.0, 0.5)
    bias: float = -3.5
    threshold: float = 0.5

    def probability(self, features: np.ndarray) -> float:
        z = self.bias + float(np.dot(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z))
