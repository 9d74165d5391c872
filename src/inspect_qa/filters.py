"""Restricting a search: :class:`Filters`, checked against the documents an index holds."""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from .documents import Document, authority_names
from .errors import InvalidQuery
from .tables import DocumentInfo

_ISO_DATE = re.compile(r"\d{4}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?")


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents, a date range (ISO dates, inclusive), kinds of
    document ("monitoring letter") or authorities ("Dudley" or "Dudley Metropolitan Borough
    Council": either finds the reports that name the other; case is ignored). Each filter given
    must hold."""

    sources: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None
    kinds: tuple[str, ...] | None = None
    authorities: tuple[str, ...] | None = None

    def is_empty(self) -> bool:
        return not (self.sources or self.date_from or self.date_to or self.kinds
                    or self.authorities)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def period(value: Any, name: str) -> tuple[datetime.date, datetime.date]:
    """First and last day of an ISO year, month or day; ``None`` is unbounded."""
    if value is None or value == "":
        return datetime.date.min, datetime.date.max
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise InvalidQuery(f"{name} must be an ISO date (2016, 2016-07 or 2016-07-31), "
                           f"not {value!r}")
    parts = [int(x) for x in value.split("-")]
    try:
        if len(parts) == 3:
            day = datetime.date(*parts)
            return day, day
        if len(parts) == 2:
            last = calendar.monthrange(parts[0], parts[1])[1]
            return datetime.date(parts[0], parts[1], 1), datetime.date(parts[0], parts[1], last)
        return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)
    except ValueError as exc:
        raise InvalidQuery(f"{name} {value!r} is not a date in the calendar") from exc


def _names(values: Any, what: str, known: set[str],
           forms: Callable[[str], list[str]] = lambda v: [v]) -> set[str]:
    """Checked filter values, lower case, each with its other ``forms`` (an authority's place);
    an unknown one is an error listing the known ones."""
    if values is None:
        return set()
    if isinstance(values, str) or not all(isinstance(x, str) for x in values):
        raise InvalidQuery(f"{what} must be a list of names, e.g. ['{sorted(known)[0] if known else 'x'}']")
    lower = {" ".join(k.split()).lower() for k in known}
    wanted: set[str] = set()
    for v in values:
        given = " ".join(v.split()).lower()  # case and spacing ignored
        if given not in lower:  # a name no report uses, even where its place is known
            raise InvalidQuery(f"no document has {what[:-1] if what != 'authorities' else 'authority'} "
                               f"{v[:80]!r}: choose from {', '.join(sorted(known)) or 'none'}")
        wanted |= {given} | {" ".join(f.split()).lower() for f in forms(v)}
    return wanted


def allowed_documents(filters: Filters | None,
                      docs: Mapping[str, Document | DocumentInfo]) -> set[str] | None:
    """The documents ``filters`` allow (``None``: all), checked; a loop over documents, not
    passages. Raises :class:`InvalidQuery` for a filter naming what ``docs`` do not hold."""
    if filters is None:
        return None
    if not isinstance(filters, Filters):
        raise InvalidQuery(f"filters must be a Filters(...), not {type(filters).__name__}")
    if filters.is_empty():
        return None
    lo, hi = period(filters.date_from, "date_from")[0], period(filters.date_to, "date_to")[1]
    if lo > hi:
        raise InvalidQuery(f"date_from {filters.date_from} is after date_to {filters.date_to}")
    sources = filters.sources
    if sources is not None:
        if isinstance(sources, str) or not all(isinstance(x, str) for x in sources):
            raise InvalidQuery("sources must be a list of document names, e.g. ['a.txt']")
        unknown = [x for x in sources if x not in docs]
        if unknown:
            raise InvalidQuery(f"unknown document(s) {unknown}: choose from {sorted(docs)}")
    kinds = _names(filters.kinds, "kinds", {str(d.metadata.get("kind") or "")
                                             for d in docs.values()} - {""})
    # "Dudley Metropolitan Borough Council" also finds a report that names only "Dudley"
    authorities = _names(filters.authorities, "authorities", {
        name for d in docs.values() for name in authority_names(d.metadata.get("authority"))},
        authority_names)
    dated = filters.date_from is not None or filters.date_to is not None
    allowed: set[str] = set()
    for doc_id, doc in docs.items():
        if sources and doc_id not in sources:
            continue
        if kinds and str(doc.metadata.get("kind") or "").lower() not in kinds:
            continue
        if authorities and not authorities & {
                n.lower() for n in authority_names(doc.metadata.get("authority"))}:
            continue
        if dated:
            if not doc.date:
                continue  # an undated document cannot be placed in a date range
            first, last = period(doc.date, doc_id)
            # A document dated "2016-07" is the whole of July: kept when it overlaps.
            if last < lo or first > hi:
                continue
        allowed.add(doc_id)
    return allowed


def undated_left_out(filters: Filters | None,
                     docs: Mapping[str, Document | DocumentInfo]) -> int:
    """How many documents a date range leaves out only because they have no date (the other
    filters allow them): a reader told "nothing found" should know they were not searched."""
    if filters is None or (filters.date_from is None and filters.date_to is None):
        return 0
    rest = replace(filters, date_from=None, date_to=None)
    allowed = allowed_documents(rest, docs)
    ids = docs.keys() if allowed is None else allowed
    return sum(1 for i in ids if not docs[i].date)


def undated_note(filters: Filters | None, docs: Mapping[str, Document | DocumentInfo]) -> str:
    """A sentence saying that a date range left undated documents out ("" when it did not)."""
    n = undated_left_out(filters, docs)
    if not n:
        return ""
    return (f"{n} document{'s' if n > 1 else ''} with no date {'were' if n > 1 else 'was'} not "
            "searched: a date range leaves undated documents out.")
