"""An index's documents, passages and sentences as arrays, made into values one at a time.

A loaded index holds no Python object per passage or sentence: passages and sentences are rows
of integer arrays (memory-mapped from the index files), and document texts stay on disk until a
passage of theirs is shown. :class:`ChunkTable` and :class:`SentenceTable` are sequences that
build a :class:`~inspect_qa.chunking.Chunk` or :class:`SentenceRef` when one is asked for;
:class:`DocumentStore` is a mapping that reads a document's text when it is asked for (the few
most recent are kept decoded).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from .chunking import Chunk, normalise
from .documents import Described, Document
from .errors import IndexCorrupt

#: Decoded document texts kept at once.
TEXT_CACHE = 64
#: Columns of the passage table.
CHUNK_COLUMNS = ("doc", "start", "end", "page", "page_end", "section")
#: Columns of the sentence table (context: -1 when none).
SENTENCE_COLUMNS = ("chunk", "start", "end", "context_start", "context_end")


@dataclass(frozen=True)
class SentenceRef:
    """A sentence of the index: which chunk holds it and where it is in the document."""

    chunk: int
    start: int
    end: int
    #: A span of the document the sentence is read with (a table row's column headings), or
    #: ``None``. It is embedded and indexed with the sentence, never cited as its text.
    context: tuple[int, int] | None = None

    def read_text(self, doc_text: str) -> str:
        """What the sentence is read as when embedded and indexed: its context, then itself."""
        own = normalise(doc_text[self.start : self.end])
        if self.context is None:
            return own
        return f"{normalise(doc_text[self.context[0] : self.context[1]])}\n{own}"


@dataclass(frozen=True)
class DocumentInfo(Described):
    """What is kept of a document without its text: id, metadata, text hash (and ``title``,
    ``date`` as a :class:`~inspect_qa.documents.Document` gives them)."""

    id: str
    metadata: dict[str, Any]
    content_hash: str


class DocumentsById(Mapping[str, Document]):
    """A mapping of documents whose keys are those of ``info`` (what is kept of each document
    without its text)."""

    info: dict[str, DocumentInfo]

    def __len__(self) -> int:
        return len(self.info)

    def __iter__(self) -> Iterator[str]:
        return iter(self.info)

    def __contains__(self, key: object) -> bool:
        return key in self.info


class DocumentStore(DocumentsById):
    """Documents by id; each text is read from ``texts.bin`` when the document is asked for.

    ``info`` holds every document's metadata and text hash, for what needs no text (filters,
    report hints, timelines' order).
    """

    def __init__(self, infos: Sequence[DocumentInfo], texts: np.ndarray,
                 offsets: np.ndarray):
        self.info: dict[str, DocumentInfo] = {d.id: d for d in infos}
        self._order = {d.id: i for i, d in enumerate(infos)}
        self._texts = texts  # uint8, memory-mapped
        self._offsets = np.asarray(offsets, dtype=np.int64)
        if (len(self._offsets) != len(infos) + 1 or self._offsets[0] != 0
                or self._offsets[-1] != len(texts) or np.any(np.diff(self._offsets) < 0)):
            raise ValueError("document texts and their offsets disagree")
        self._cache: OrderedDict[str, Document] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> Document:
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        info = self.info[key]  # KeyError for an unknown id, as a mapping should
        i = self._order[key]
        raw = self._texts[self._offsets[i] : self._offsets[i + 1]].tobytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # a large index's texts are verified by `check` only
            raise IndexCorrupt(f"the stored text of {key!r} is damaged (texts.bin is not UTF-8 "
                               f"there: {exc.reason}); run `inspect-qa check` on the index and "
                               "rebuild it") from exc
        doc = Document(id=key, text=text, metadata=info.metadata)
        with self._lock:
            self._cache[key] = doc
            while len(self._cache) > TEXT_CACHE:
                self._cache.popitem(last=False)
        return doc

    def verify(self, key: str) -> bool:
        """Whether the stored text of ``key`` still has the hash it was indexed with."""
        text = self[key].text
        return hashlib.sha256(text.encode("utf-8")).hexdigest() == self.info[key].content_hash


class ChunkTable(Sequence[Chunk]):
    """The passages of an index: ``table`` rows hold (document number, start, end, page,
    last page, section number), -1 for none; ``ids`` the passages' ids; ``sentences`` their
    sentences (a :class:`SentenceTable`, in passage order). ``text_of(n)`` is the text of
    document number ``n`` (``doc_ids[n]``)."""

    def __init__(self, table: np.ndarray, ids: np.ndarray, sections: Sequence[str],
                 doc_ids: Sequence[str], text_of: Callable[[int], str],
                 sentences: SentenceTable):
        self.table = table
        self.ids = ids
        self.sections = list(sections)
        self.doc_ids = list(doc_ids)
        self._text_of = text_of
        self._sentences = sentences
        if table.ndim != 2 or table.shape[1] != len(CHUNK_COLUMNS) or len(ids) != len(table):
            raise ValueError("the passage table and passage ids disagree")

    def __len__(self) -> int:
        return int(self.table.shape[0])

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        doc, start, end, page, page_end, section = (int(x) for x in self.table[i])
        doc_id = self.doc_ids[doc]
        text = normalise(self._text_of(doc)[start:end])
        first, last = self._sentences.range_of(i)
        spans = tuple((int(s[1]), int(s[2])) for s in self._sentences.table[first:last])
        return Chunk(id=str(self.ids[i]), doc_id=doc_id, start=start, end=end, text=text,
                     section=self.sections[section] if section >= 0 else None,
                     page=page if page >= 0 else None, sentences=spans,
                     page_end=page_end if page_end >= 0 else None)

    def doc_id(self, i: int) -> str:
        return self.doc_ids[int(self.table[i, 0])]

    @staticmethod
    def encode(chunks: Sequence[Chunk], doc_ids: Sequence[str]
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Arrays of ``chunks``: (table, ids, section names)."""
        number = {d: i for i, d in enumerate(doc_ids)}
        sections: dict[str, int] = {}
        table = np.empty((len(chunks), len(CHUNK_COLUMNS)), dtype=np.int64)
        for i, c in enumerate(chunks):
            sec = -1 if c.section is None else sections.setdefault(c.section, len(sections))
            table[i] = (number[c.doc_id], c.start, c.end, -1 if c.page is None else c.page,
                        -1 if c.page_end is None else c.page_end, sec)
        ids = np.array([c.id for c in chunks], dtype="U16")
        return table, ids, list(sections)


class SentenceTable(Sequence[SentenceRef]):
    """The sentences of an index, in passage order: rows of (passage row, start, end, context
    start, context end), -1 for no context."""

    def __init__(self, table: np.ndarray, chunks: int):
        self.table = table
        if table.ndim != 2 or table.shape[1] != len(SENTENCE_COLUMNS):
            raise ValueError("the sentence table has the wrong shape")
        owners = np.asarray(table[:, 0], dtype=np.int64)
        if len(owners) and (np.any(np.diff(owners) < 0) or owners[0] < 0
                            or owners[-1] >= chunks):
            raise ValueError("sentences are not in passage order")
        #: Row of each passage's first sentence, and one past the last passage's.
        self.offsets = np.searchsorted(owners, np.arange(chunks + 1)).astype(np.int64)
        self.chunks = owners

    def __len__(self) -> int:
        return int(self.table.shape[0])

    @overload
    def __getitem__(self, i: int) -> SentenceRef: ...
    @overload
    def __getitem__(self, i: slice) -> list[SentenceRef]: ...

    def __getitem__(self, i: int | slice) -> SentenceRef | list[SentenceRef]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        chunk, start, end, a, b = (int(x) for x in self.table[i])
        return SentenceRef(chunk, start, end, (a, b) if a >= 0 else None)

    def range_of(self, chunk: int) -> tuple[int, int]:
        return int(self.offsets[chunk]), int(self.offsets[chunk + 1])

    @staticmethod
    def encode(sentences: Sequence[SentenceRef]) -> np.ndarray:
        table = np.empty((len(sentences), len(SENTENCE_COLUMNS)), dtype=np.int64)
        for j, s in enumerate(sentences):
            a, b = s.context or (-1, -1)
            table[j] = (s.chunk, s.start, s.end, a, b)
        return table


def read_texts(path: Path) -> np.ndarray:
    """The concatenated UTF-8 texts, memory-mapped (an empty file cannot be mapped)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.asarray(np.memmap(path, dtype=np.uint8, mode="r"))
