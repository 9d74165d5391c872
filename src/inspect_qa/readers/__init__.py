"""Readers: one file of any supported format → its text (and pages), or a reason it cannot be
read. Every reader's text is what the index keeps and every offset points into; pages are
separated by form feeds (``\\f``), so the page of an offset is the number of form feeds before it
plus one (the page a PDF viewer shows).

Formats: ``.txt``/``.md`` (UTF-8, kept exactly as the file is), ``.pdf`` (:mod:`.pdf`),
``.docx`` (:mod:`.office`), ``.html``/``.htm`` (:mod:`.web`).
"""

from __future__ import annotations

import codecs
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Suffixes read as documents, lower case.
SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")
#: Files larger than this are skipped (a report is rarely over 20 MB; a 200 MB file is most
#: likely scanned images). ``inspect-qa index --max-file-mb`` changes it.
MAX_FILE_MB = 100.0


class Unreadable(Exception):
    """A file that cannot be indexed; ``str()`` is the reason, for the build summary."""


@dataclass(frozen=True)
class Extracted:
    """A file's text and what reading it found: format, page count, the damage repaired."""

    text: str
    format: str
    pages: int | None = None
    repairs: dict[str, Any] = field(default_factory=dict)


def read_text_file(raw: bytes) -> str:
    """Text from a file's bytes: UTF-8, or UTF-16 / UTF-8 with a byte-order mark (which names
    the encoding without doubt, as Windows Notepad writes it). Anything else is refused with a
    hint, never guessed."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise Unreadable(f"damaged UTF-16 text (byte {exc.start})") from exc
        if "\x00" in text:
            raise Unreadable("holds NUL characters: a binary file, not text")
        return text
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); convert it, "
            "e.g. `iconv -f cp1252 -t utf-8`"
        ) from exc
    if "\x00" in text:
        raise Unreadable("holds NUL bytes: a binary file, not text")
    return text


#: A PDF is read in a separate process with at most this much memory and time: a malformed or
#: hostile file (a "PDF bomb") costs that process, never the build.
PDF_MEMORY_MB = int(os.environ.get("INSPECT_QA_PDF_MEMORY_MB", "3000"))
PDF_SECONDS = float(os.environ.get("INSPECT_QA_PDF_SECONDS", "300"))
_worker: Any = None
_worker_lock = threading.Lock()


def _pdf_worker() -> Any:
    """The PDF worker (a new one when there is none, or the last one died)."""
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.alive:
            from .worker import PdfWorker

            if _worker is not None:
                _worker.close()
            _worker = PdfWorker(PDF_MEMORY_MB, PDF_SECONDS)
        return _worker


def _reset_worker(worker: Any = None) -> None:
    """Stop the PDF worker (only if it is still ``worker``, when given): the next PDF starts
    another, with the limits of then."""
    global _worker
    with _worker_lock:
        if _worker is not None and (worker is None or _worker is worker):
            _worker.close()
            _worker = None


def read_pdf_isolated(path: Path) -> tuple[str, Any]:
    """:func:`.pdf.read_pdf` in the worker process (see :data:`PDF_MEMORY_MB`)."""
    from .worker import WorkerCrashed

    worker = _pdf_worker()
    try:
        result: tuple[str, Any] = worker.read(path, PDF_SECONDS)
        return result
    except WorkerCrashed as exc:
        _reset_worker(worker)
        raise Unreadable(f"the PDF reader ran out of memory ({PDF_MEMORY_MB} MB) or crashed on "
                         "it: a malformed or extremely complex file") from exc
    except TimeoutError as exc:
        _reset_worker(worker)
        raise Unreadable(f"reading it took over {PDF_SECONDS:.0f} s: a malformed or extremely "
                         "complex file") from exc
    except MemoryError as exc:
        raise Unreadable(f"the PDF reader ran out of memory ({PDF_MEMORY_MB} MB) on it") from exc


def extract(path: Path, max_bytes: int | None = None) -> Extracted:
    """Read ``path`` by its suffix. Raises :class:`Unreadable` with the reason."""
    from .office import DocxProblem, read_docx
    from .pdf import PdfProblem
    from .web import HtmlProblem, read_html

    suffix = path.suffix.lower()
    limit = int(MAX_FILE_MB * 2**20) if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise Unreadable(f"{size / 2**20:.0f} MB, over the {limit / 2**20:.0f} MB limit "
                             "(raise it with --max-file-mb)")
        if size == 0:
            raise Unreadable("empty file")
        if suffix in (".txt", ".md"):
            return Extracted(read_text_file(path.read_bytes()), suffix[1:])
        if suffix == ".pdf":
            text, stats = read_pdf_isolated(path)
            return Extracted(text, "pdf", stats.pages, stats.to_dict())
        if suffix == ".docx":
            text, pages = read_docx(path)
            return Extracted(text, "docx", pages)
        if suffix in (".html", ".htm"):
            return Extracted(read_html(path), "html")
    except (PdfProblem, DocxProblem, HtmlProblem) as exc:
        raise Unreadable(str(exc)) from exc
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from exc
    raise Unreadable(f"{suffix or 'no suffix'} is not a format inspect-qa reads")
