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


# -- questions about a document's own date ------------------------------------------------------

#: What people call a report, and the kinds of document (``kind`` metadata) each word names.
_DOCUMENT_NOUNS = {
    "letter": ("letter",),
    "report": ("report",),
    "news item": ("news item",), "news story": ("news item",), "article": ("news item",),
    "press release": ("news item",),
    "document": ("",), "publication": ("",),
}
_NOUN = r"(?P<noun>" + "|".join(n.replace(" ", r"\s+") for n in _DOCUMENT_NOUNS) + r")s?\b"
_ISSUED = r"\b(?:published|dated|issued|written|sent|released)\b"
_DOCUMENT_DATE = [re.compile(p, re.I) for p in (
    # "What date is on the letter ...?", "Which date is given on Ofsted's letter ...?"
    rf"\b(?:what|which)\s+(?:date|day)\s+(?:is|was)\s+(?:written\s+|printed\s+|given\s+|shown\s+)?"
    rf"(?:on|at\s+the\s+top\s+of)\s+(?P<np>[^?]*?)\b{_NOUN}",
    # "When was the commissioner's report published?", "When is the letter dated?"
    rf"\bwhen\s+(?:was|were|is)\s+(?P<np>[^?]*?)\b{_NOUN}[^?]*?{_ISSUED}",
    # "On what date was the news item published?"
    rf"\b(?:what|which)\s+(?:date|day)\s+(?:was|were|is)\s+(?P<np>[^?]*?)\b{_NOUN}[^?]*?{_ISSUED}",
    # "What date is the commissioner's report?", "What is the date of the May 2018 letter?"
    rf"\b(?:what|which)\s+(?:date|day)\s+(?:is|was)\s+(?P<np>(?:the|this|that)\b[^?]*?)\b{_NOUN}"
    rf"\s*(?:dated\s*)?\??\s*$",
    rf"\b(?:what|which)\s+is\s+the\s+(?:publication\s+)?date\s+(?:of|on)\s+(?P<np>[^?]*?)\b{_NOUN}",
)]
#: Words before the document's noun that do not say which document it is (dates and series
#: numbers are :class:`DocumentHints`).
_NOT_QUALIFIERS = QUESTION_WORDS | frozenset(_MONTHS) | frozenset(_ORDINALS) | frozenset((
    "latest", "last", "most", "recent", "earliest", "earlier", "later", "new", "newest", "oldest",
    "this", "that", "these", "those", "one", "own",
))


@dataclass(frozen=True)
class DocumentDateQuestion:
    """A question that asks for a document's own date ("When was the commissioner's report
    published?"): the kinds of document its noun names ("" for any) and the words it uses to
    say which one ("commissioner"), to be found in that document's title or first lines."""

    kinds: tuple[str, ...]
    qualifiers: tuple[str, ...]

    def fits(self, doc: Document | DocumentInfo, head: str) -> bool:
        """Whether ``doc`` (its text's first lines ``head``) is a document of the kind named,
        with every qualifier in its metadata or first lines."""
        kind = str(doc.metadata.get("kind") or "").lower()
        if not any(k in kind for k in self.kinds):
            return False
        md = doc.metadata
        said = " ".join(str(md.get(x) or "") for x in ("title", "kind", "author", "authority"))
        said = f"{said} {head}".lower()
        return all(re.search(rf"\b{re.escape(w)}", said) for w in self.qualifiers)


def document_date_question(question: str) -> DocumentDateQuestion | None:
    """The document whose own date ``question`` asks for, described; ``None`` when it asks
    something else (the date of an event a report tells of: "When was the panel set up?")."""
    q = " ".join(question.split())
    for rx in _DOCUMENT_DATE:
        m = rx.search(q)
        if m is None:
            continue
        noun = " ".join(m.group("noun").lower().split())
        words = re.findall(r"[a-z][a-z'’-]*", m.group("np").lower())
        qualifiers = tuple(dict.fromkeys(
            re.sub(r"['’]s?$", "", w) for w in words[-4:]
            if w not in _NOT_QUALIFIERS and re.sub(r"['’]s?$", "", w) not in _NOT_QUALIFIERS))
        return DocumentDateQuestion(_DOCUMENT_NOUNS[noun], qualifiers)
    return None
