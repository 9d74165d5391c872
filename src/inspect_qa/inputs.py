"""Checking a request's inputs, as the page and the HTTP API both receive them: a browser's or a
client's limits are not trusted. A bad input is an :class:`InvalidQuery` naming what to fix."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidQuery
from .filters import Filters
from .retriever import MAX_K, MAX_QUESTION_CHARS, Retriever

#: Longest raw input looked at before whitespace is normalised (a guard against huge payloads).
MAX_RAW_CHARS = 20 * MAX_QUESTION_CHARS
DEFAULT_K = 5
MODES = ("hybrid", "dense", "lexical")

_PARTIAL_ISO = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


@dataclass(frozen=True)
class Query:
    """A checked request: what the page and both endpoints pass to the retriever."""

    question: str
    k: int
    mode: str
    filters: Filters | None


def _check_question(question: Any, what: str = "question") -> str:
    if not isinstance(question, str):
        raise InvalidQuery(f"the {what} must be text")
    if len(question) > MAX_RAW_CHARS:
        raise InvalidQuery(f"the {what} is too long; the limit is {MAX_QUESTION_CHARS} "
                           "characters: shorten it")
    q = " ".join(question.split())
    if not q:
        raise InvalidQuery(f"the {what} is empty: type a {what}")
    if len(q) > MAX_QUESTION_CHARS:
        raise InvalidQuery(f"the {what} is {len(q)} characters long; the limit is "
                           f"{MAX_QUESTION_CHARS}: shorten it")
    return q


def _check_k(k: Any) -> int:
    if isinstance(k, float) and k.is_integer():
        k = int(k)  # sliders and JSON clients may send 5.0
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidQuery(f"the number of passages must be a whole number from 1 to {MAX_K}")
    if not 1 <= k <= MAX_K:
        raise InvalidQuery(f"the number of passages must be from 1 to {MAX_K}, not {k}")
    return k


def _check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise InvalidQuery(f"unknown mode: use one of {', '.join(MODES)}")
    return str(mode)


def _check_date(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidQuery(f"{name} must be a date written YYYY-MM-DD, YYYY-MM or YYYY")
    v = value.strip()
    if not v:
        return None
    if not _PARTIAL_ISO.fullmatch(v):
        raise InvalidQuery(f"{name} {v[:40]!r} is not a date: write it YYYY-MM-DD, YYYY-MM or YYYY")
    parts = [int(x) for x in v.split("-")] + [1, 1]
    try:
        dt.date(parts[0], parts[1], parts[2])
    except ValueError:
        raise InvalidQuery(f"{name} {v!r} is not a date in the calendar") from None
    return v


def _check_sources(sources: Any, known: Sequence[str]) -> tuple[str, ...] | None:
    if sources is None or sources == "":
        return None
    if isinstance(sources, str) or not isinstance(sources, list | tuple):
        raise InvalidQuery("documents must be a list of document names, as listed by "
                           "`inspect-qa info`, GET /api/documents or the page's Index tab")
    if len(sources) > max(len(known), 1) * 2:
        raise InvalidQuery(f"too many documents listed ({len(sources)}); "
                           f"the index holds {len(known)}")
    for s in sources:
        if not isinstance(s, str) or s not in known:
            shown = s[:80] if isinstance(s, str) else type(s).__name__
            raise InvalidQuery(f"unknown document {shown!r}: the index has no document of that name "
                               "(`inspect-qa info`, GET /api/documents and the page's Index tab "
                               "list them)")
    return tuple(dict.fromkeys(sources)) or None


def _check_names(values: Any, what: str) -> tuple[str, ...] | None:
    if values is None or values == "" or values == []:
        return None
    if isinstance(values, str) or not isinstance(values, list | tuple):
        raise InvalidQuery(f"{what} must be a list of names")
    if len(values) > 100 or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in values):
        raise InvalidQuery(f"{what} must be at most 100 names of 1 to 200 characters")
    return tuple(dict.fromkeys(values))


def check_query(retriever: Retriever, question: Any, k: Any = DEFAULT_K, mode: Any = "hybrid",
                sources: Any = None, date_from: Any = None, date_to: Any = None,
                kinds: Any = None, authorities: Any = None, *, topic: bool = False) -> Query:
    """Check every input of a request; raises :class:`InvalidQuery` naming what to fix (an
    unknown kind or authority is refused by the retriever, with the names it knows).
    ``topic``: ``question`` is a timeline's topic, and is called so."""
    q = _check_question(question, "topic" if topic else "question")
    k = _check_k(k)
    mode = _check_mode(mode)
    ids = _check_sources(sources, list(retriever.index.documents))
    d_from = _check_date(date_from, "the start date")
    d_to = _check_date(date_to, "the end date")
    if d_from and d_to:
        n = min(len(d_from), len(d_to))
        if d_from[:n] > d_to[:n]:
            raise InvalidQuery(f"the start date {d_from} is after the end date {d_to}: swap them")
    filters = Filters(sources=ids, date_from=d_from, date_to=d_to,
                      kinds=_check_names(kinds, "kinds"),
                      authorities=_check_names(authorities, "authorities"))
    if not filters.is_empty():
        retriever.check_filters(filters)
    return Query(q, k, mode, None if filters.is_empty() else filters)
