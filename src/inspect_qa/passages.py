"""The value a search returns: a cited :class:`Passage`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A cited passage: verbatim text and where it stands in its source document.

    ``text`` is ``normalise(document.text[start:end])``; ``source`` is the document id (path
    relative to the corpus folder); ``score`` is the retrieval score (higher is better; its
    scale depends on the mode). ``page`` and ``page_end`` are the pages (1-based, as a PDF
    viewer numbers them) of its first and last characters, where the document has pages.
    """

    text: str
    source: str
    start: int
    end: int
    score: float
    title: str
    date: str | None
    section: str | None
    page: int | None
    chunk_id: str
    page_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search_dict(question: str, passages: Sequence[Passage]) -> dict[str, Any]:
    """The JSON shape of a search (``schemas/search.schema.json``): the API's and the CLI's."""
    return {"question": question, "passages": [p.to_dict() for p in passages]}
