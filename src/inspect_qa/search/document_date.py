"""Answer selection for a question about a document's own date ("When was the commissioner's
report published?", "What date is on the letter about the first monitoring visit?").

The answer is the line the document states its date on (the one its ``date`` metadata is read
from), verbatim and cited, in the first shown passage's document that fits what the question
calls it. The sentence scorer cannot find that line: a date line shares no word with such a
question. Its confidence is how much of the shown evidence comes from that document (the rule of
succession over the shown passages: 5 of 5 gives 0.86, 3 of 5 gives 0.57), the chance that it is
the document meant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..documents import date_line
from ..query import DocumentDateQuestion
from .corpus import Corpus

#: How much of a document's start is read for the words that name it (its letterhead, title).
HEAD_CHARS = 400


class DateLine(NamedTuple):
    """Where a document states its date: the document, the span, the shown passage holding it
    (its position among ``rows``) and the answer's confidence."""

    doc_id: str
    start: int
    end: int
    position: int
    confidence: float


def find(corpus: Corpus, asked: DocumentDateQuestion, rows: Sequence[int]) -> DateLine | None:
    """The date line of the document ``asked`` describes, among the documents of the shown
    passages ``rows`` (best first); ``None`` when none fits, when the one that fits states no
    date (the question is then answered, or not, as any other), or when no shown passage holds
    its date line."""
    numbers = [int(corpus.chunk_documents[r]) for r in rows]
    documents = corpus.index.documents
    for number in dict.fromkeys(numbers):
        doc_id = corpus.document_ids[number]
        text = documents[doc_id].text
        if not asked.fits(documents.info[doc_id], text[:HEAD_CHARS]):
            continue
        span = date_line(text)
        if span is None:
            return None
        table = corpus.index.chunks.table
        for position, row in enumerate(rows):
            if numbers[position] == number and table[row, 1] <= span[0] < table[row, 2]:
                share = (numbers.count(number) + 1) / (len(numbers) + 2)
                return DateLine(doc_id, span[0], span[1], position, round(share, 4))
        return None
    return None
