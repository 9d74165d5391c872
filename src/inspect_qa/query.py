"""What a question says about which document it means, and what kind of answer it wants.

People name a report by its date ("the May 2018 letter"), its place in a series ("the first
monitoring visit") or its kind ("the news item", "the commissioner"). Those phrases are matched
against each document's extracted metadata, never against file names or particular questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .documents import Document
from .lexical import STOPWORDS
from .tables import DocumentInfo

#: Words of a question that say it is a question, not what it is about: left out when
#: matching it (MaxSim, the words marked in a passage).
QUESTION_WORDS = STOPWORDS | frozenset((
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
    "did", "does", "do", "done", "was", "were", "is", "are", "am", "been", "has", "have", "had",
    "its", "his", "her", "he", "she", "it", "from",
))

_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"]
_MONTH_YEAR = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{4})\b")
_ORDINAL_VISIT = re.compile(
    r"\b(" + "|".join(_ORDINALS) + r"|\d{1,2}(?:st|nd|rd|th))\s+(?:ofsted\s+)?(?:monitoring\s+)?visit"
)
_KIND_WORDS = {
    "letter": re.compile(r"\bletters?\b"),
    "news": re.compile(r"\bnews\b|\barticle\b|\bpress\b"),
    "commissioner": re.compile(r"\bcommissioner'?s?\b"),
}


@dataclass(frozen=True)
class DocumentHints:
    """Document attributes a question names: (month, year) pairs, visit numbers, kind words."""

    month_years: tuple[tuple[int, int], ...] = ()
    visits: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.month_years or self.visits or self.kinds)


def document_hints(question: str) -> DocumentHints:
    q = question.lower()
    month_years = tuple((_MONTHS.index(m) + 1, int(y)) for m, y in _MONTH_YEAR.findall(q))
    visits = []
    for word in _ORDINAL_VISIT.findall(q):
        visits.append(_ORDINALS.index(word) + 1 if word in _ORDINALS else int(word[:-2]))
    kinds = tuple(k for k, rx in _KIND_WORDS.items() if rx.search(q))
    return DocumentHints(month_years, tuple(visits), kinds)


def hint_match(doc: Document | DocumentInfo, hints: DocumentHints) -> float:
    """Share of the named attributes that ``doc`` has, in [0, 1] (0 when none are named)."""
    md = doc.metadata
    checks: list[bool] = []
    if hints.visits:
        checks.append(md.get("visit_number") in hints.visits)
    if hints.month_years:
        date = str(md.get("date") or "")
        ym = (int(date[5:7]), int(date[:4])) if len(date) >= 7 else None
        checks.append(ym in hints.month_years)
    if hints.kinds:
        kind = str(md.get("kind") or "")
        checks.append(any(k in kind for k in hints.kinds))
    return sum(checks) / len(checks) if checks else 0.0
