"""Document → sentences and chunks, each with exact character offsets into ``Document.text``.

Chunks follow the document's own structure: they never cross a heading, never include page
furniture, and are cut between sentences. Sentences are packed into chunks by a LangChain
``TextSplitter`` whose length function counts the embedding model's word pieces, so no chunk is
longer than the model reads; a single sentence longer than that is cut by LangChain's
``RecursiveCharacterTextSplitter`` with the same token count. Offsets are computed here and
checked, never taken from the splitter (its ``start_index`` is wrong on repeated text).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .documents import Document
from .layout import Line, classify_lines, is_field_line, page_of

CountTokens = Callable[[str], int]

_WS = re.compile(r"\s+")
_SALUTATION = re.compile(r"^Dear\s+\S[^.]{0,60}$")
_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "st", "no", "nos", "vs", "cllr", "prof", "rev", "hon", "e.g", "i.e", "etc", "approx", "fig", "ref", "para", "vol", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
)
# A sentence ends at . ! or ? (optionally followed by closing quotes or brackets), then space,
# then something that can start a sentence.
_SENTENCE_END = re.compile(r"[.!?][\"'’”)\]]*(?=\s+[\"'‘“(\[]?[A-Z0-9•\uf0b7-])")


def normalise(text: str) -> str:
    """Collapse every whitespace run (line breaks included) to one space and strip the ends."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Sentence:
    """A sentence (or heading, table row, bullet) of a document, by offsets."""

    doc_id: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is embedded and searched.

    ``text`` is ``normalise(doc.text[start:end])``; ``section`` is the nearest heading above it
    (``None`` before the first heading); ``page`` and ``page_end`` are the 1-based pages of its
    first and last characters, where the text marks pages (a paragraph that runs on to the next
    page is one chunk, as it is one passage to a reader).
    """

    id: str
    doc_id: str
    start: int
    end: int
    text: str
    section: str | None
    page: int | None
    sentences: tuple[tuple[int, int], ...]
    page_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sentences"] = [list(s) for s in self.sentences]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(
            id=d["id"],
            doc_id=d["doc_id"],
            start=int(d["start"]),
            end=int(d["end"]),
            text=d["text"],
            section=d.get("section"),
            page=d.get("page"),
            sentences=tuple((int(a), int(b)) for a, b in d["sentences"]),
            page_end=d.get("page_end"),
        )


def chunk_id(doc_id: str, start: int, end: int, text: str) -> str:
    """Stable id: the same document region with the same text gets the same id in every build."""
    h = hashlib.sha256(f"{doc_id}\x00{start}\x00{end}\x00{text}".encode())
    return h.hexdigest()[:16]


# -- sentences --------------------------------------------------------------------------------


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_flowing(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split running prose between ``start`` and ``end`` at sentence ends."""
    spans = []
    pos = start
    for m in _SENTENCE_END.finditer(text, start, end):
        word = re.search(r"(\S+)$", text[pos : m.start()])
        token = word.group(1).lower().lstrip("(\"'‘“") if word else ""
        if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token):
            continue  # "Mr. Smith", "J. Bloggs"
        if re.fullmatch(r"\d{1,3}(?:\.\d{1,2})*", text[pos : m.start()].strip()):
            continue  # a paragraph's number ("2. Senior leaders ..."), not a sentence
        spans.append((pos, m.end()))
        pos = m.end()
    spans.append((pos, end))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[0] < s[1]]


_NUMBERED_PARAGRAPH = re.compile(r"\d{1,3}\.(?:\d{1,2}\.?)?\s+[A-Z]")


def split_sentences(text: str, lines: Iterable[Line]) -> list[tuple[int, int]]:
    """Sentence spans over the given content lines of ``text``.

    Headings and table rows are units of their own; a bullet starts a new unit; prose runs across
    line breaks (PDF text breaks lines, and even adds blank lines, inside sentences).
    """
    spans: list[tuple[int, int]] = []
    run_start: int | None = None
    run_end = 0

    def flush() -> None:
        nonlocal run_start
        if run_start is not None:
            spans.extend(_split_flowing(text, run_start, run_end))
            run_start = None

    prev_kind = None
    after_salutation = False
    for line in lines:
        if not line.is_content:
            continue
        # A letter's subject line (after "Dear ...", no closing stop) is a unit of its own.
        subject = after_salutation and line.kind == "text" and not line.text.endswith(
            (".", "!", "?", ":", ";", ","))
        after_salutation = bool(_SALUTATION.match(line.text))
        if line.kind in ("heading", "table") or after_salutation or subject \
                or (line.kind == "text" and is_field_line(line.text)):
            flush()
            spans.append(_trim(text, line.start, line.end))
            prev_kind = line.kind
            continue
        # A bullet or a numbered paragraph ("2. Senior leaders ...") starts a unit; an
        # address block is one unit of its own.
        if line.kind == "bullet" or _NUMBERED_PARAGRAPH.match(line.text) \
                or (line.kind == "address") != (prev_kind == "address"):
            flush()
        prev_kind = line.kind
        if run_start is None:
            run_start = line.start
        run_end = line.end
    flush()
    return [s for s in spans if s[0] < s[1]]


# -- chunks -----------------------------------------------------------------------------------


@functools.cache
def _splitter_class() -> type:
    # LangChain (and pydantic under it) load only when something is chunked, not on import.
    from langchain_text_splitters import RecursiveCharacterTextSplitter, TextSplitter

    class SentencePackingSplitter(TextSplitter):
        """Packs whole sentences into chunks of at most ``chunk_size`` tokens."""

        def __init__(self, count_tokens: CountTokens, chunk_size: int, chunk_overlap: int = 0):
            super().__init__(
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                length_function=count_tokens,
                strip_whitespace=False,
            )
            self._long = RecursiveCharacterTextSplitter(
                separators=["\n\n", "\n", "; ", ", ", " ", ""],
                keep_separator="end",
                chunk_size=chunk_size,
                chunk_overlap=0,
                length_function=count_tokens,
                strip_whitespace=False,
            )

        def pieces(self, sentences: list[str]) -> list[str]:
            """Sentences, with any over the limit cut into pieces that fit."""
            out: list[str] = []
            for s in sentences:
                if self._length_function(s) <= self._chunk_size:
                    out.append(s)
                else:
                    out.extend(self._long.split_text(s))
            return out

        def split_text(self, text: str) -> list[str]:
            return self.pack(self.pieces(_split_flowing_text(text)))

        def pack(self, pieces: list[str]) -> list[str]:
            """Greedy packing of consecutive pieces (each keeps its trailing whitespace)."""
            return [c for c in self._merge_splits(pieces, "") if c.strip()]

    return SentencePackingSplitter


def sentence_splitter(count_tokens: CountTokens, chunk_size: int, chunk_overlap: int = 0) -> Any:
    """A LangChain ``TextSplitter`` packing whole sentences into chunks of ``chunk_size`` tokens.

    ``split_text`` works on any text; it is a regular LangChain splitter, so ``split_documents``
    works on LangChain documents too. :func:`make_chunks` uses its ``pieces`` and ``pack`` on
    sentences found with the document's layout. A sentence over the limit is cut by
    ``RecursiveCharacterTextSplitter``.
    """
    return _splitter_class()(count_tokens, chunk_size, chunk_overlap)


def _split_flowing_text(text: str) -> list[str]:
    spans = _split_flowing(text, 0, len(text))
    return [text[a : (spans[i + 1][0] if i + 1 < len(spans) else len(text))] for i, (a, _) in
            enumerate(spans)]


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut. Recorded in the index manifest; changing it rebuilds the index."""

    chunk_tokens: int = 200
    #: a segment shorter than this (a lone date or greeting) is not a chunk, unless it is a
    #: heading and the lines under it
    min_words: int = 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _segments(text: str, lines: list[Line]) -> list[tuple[list[Line], str | None]]:
    """Runs of content lines, cut at headings and furniture, with their heading. A page break
    does not cut: a paragraph that runs on to the next page stays whole."""
    segments: list[tuple[list[Line], str | None]] = []
    section: str | None = None
    current: list[Line] = []

    def close() -> None:
        nonlocal current
        if current:
            segments.append((current, section))
        current = []

    for line in lines:
        if line.kind == "heading":
            close()
            section = line.text
            current = [line]
        elif line.kind == "furniture":
            close()
        elif line.kind != "blank":
            current.append(line)
    close()
    return segments


def make_chunks(
    doc: Document, count_tokens: CountTokens, settings: ChunkSettings | None = None
) -> list[Chunk]:
    """Cut one document into chunks with exact offsets.

    Raises:
        RuntimeError: if a chunk cannot be placed back in the text (a bug, never silent).
    """
    settings = settings or ChunkSettings()
    text = doc.text
    lines = classify_lines(text)
    splitter = sentence_splitter(count_tokens, settings.chunk_tokens)
    chunks: list[Chunk] = []
    for seg_lines, section in _segments(text, lines):
        sents = split_sentences(text, seg_lines)
        if not sents:
            continue
        seg_start, seg_end = sents[0][0], sents[-1][1]
        if all(ln.kind in ("heading", "address") for ln in seg_lines):
            continue
        # Each sentence carries the whitespace up to the next one, so pieces join verbatim.
        bounds = [a for a, _ in sents] + [seg_end]
        sentence_texts = [text[bounds[i] : bounds[i + 1]] for i in range(len(sents))]
        pieces = splitter.pieces(sentence_texts)
        address = [(ln.start, ln.end) for ln in seg_lines if ln.kind == "address"]
        # A heading with the lines under it is content however short ("Agency staff" / "22%"),
        # never a lone date or greeting.
        headed = seg_lines[0].kind == "heading" and any(
            ln.kind in ("text", "table", "bullet") for ln in seg_lines[1:])
        cursor = seg_start
        for piece_text in splitter.pack(pieces):
            chunk = _place(doc, piece_text, cursor, seg_end, sents, section)
            cursor = chunk.end
            # A chunk that is only an address, a date or a footer line is dropped.
            own = _words_outside(text, chunk.start, chunk.end, address)
            if own >= settings.min_words or (headed and own > 0):
                chunks.append(chunk)
    return chunks


def _words_outside(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> int:
    words = 0
    pos = start
    for a, b in sorted(spans):
        if b <= pos or a >= end:
            continue
        words += len(text[pos:a].split()) if a > pos else 0
        pos = max(pos, b)
    return words + (len(text[pos:end].split()) if end > pos else 0)


def _place(
    doc: Document,
    chunk_text: str,
    cursor: int,
    seg_end: int,
    sents: list[tuple[int, int]],
    section: str | None,
) -> Chunk:
    """Find the packed text in the document at or after ``cursor`` (chunks come in order)."""
    text = doc.text
    stripped = chunk_text.strip()
    pos = text.find(stripped, cursor, seg_end)
    if pos < 0:
        raise RuntimeError(f"chunk of {doc.id} not found after offset {cursor}: {stripped[:60]!r}")
    start, end = pos, pos + len(stripped)
    inside = tuple(
        (max(a, start), min(b, end)) for a, b in sents if a < end and b > start
    )
    norm = normalise(text[start:end])
    return Chunk(
        id=chunk_id(doc.id, start, end, norm),
        doc_id=doc.id,
        start=start,
        end=end,
        text=norm,
        section=section,
        page=page_of(text, start),
        sentences=inside,
        page_end=page_of(text, end - 1),
    )
