"""Reading a folder of reports into :class:`Document` values, with metadata found by rules.

The rules work on the shape of English inspection reports (letters, commissioner reports, news
items), never on file names: a date line, a "Dear ..." salutation, "the sixth monitoring visit",
"carried out by X and Y, Her Majesty's Inspectors".
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import CorpusError, UnreadableDocument

log = logging.getLogger(__name__)

#: File suffixes read as documents. Other formats come later behind the same reader.
SUFFIXES = (".txt", ".md")

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
)
_MONTH_NUM = {m: i + 1 for i, m in enumerate(_MONTHS.split("|"))}
_DAY_NAMES = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s+"
_FULL_DATE = re.compile(rf"^\s*(?:{_DAY_NAMES})?(\d{{1,2}})\s+({_MONTHS})\s+(\d{{4}})\s*$", re.M)
_MONTH_YEAR = re.compile(rf"^\s*({_MONTHS})\s+(\d{{4}})\s*$", re.M)
_ORDINALS = {
    w: i + 1
    for i, w in enumerate(
        ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"]
    )
}
_VISIT = re.compile(
    r"\b(" + "|".join(_ORDINALS) + r"|\d{1,2}(?:st|nd|rd|th))\s+monitoring\s+visit", re.I
)
_AUTHORITY = re.compile(
    r"\b((?:[A-Z][a-z]+[ ]){1,3}?(?:Metropolitan[ ]Borough|Borough|County|City|District)"
    r"[ ]Council)\b"
)
_SERVICES_IN = re.compile(r"[Cc]hildren['’]s\s+[Ss]ervices\s+in\s+([A-Z][a-z]+)")
_PLACE_SERVICES = re.compile(r"\b([A-Z][a-z]+)\s+children['’]s\s+services\b")
_CARRIED_OUT_BY = re.compile(
    r"carried\s+out\s+by\s+(.+?)(?:\.\s|\.$)", re.S
)
_REPORT_BY = re.compile(r"\bby\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+),\s*\n?\s*Commissioner", re.S)
_SALUTATION = re.compile(r"^\s*Dear\s+\S.*$", re.M)
_SIGNATURE = re.compile(r"Yours\s+(?:sincerely|faithfully)\s*\n\s*\n?\s*([A-Z][^\n]{2,60}?)\s*$", re.M)


@dataclass(frozen=True)
class Document:
    """One report as read from disk.

    Attributes:
        id: path of the file relative to the corpus folder, with ``/`` separators.
        text: the file decoded as UTF-8, unchanged; every offset in inspect-qa indexes this string.
        metadata: title, date (ISO), authority, kind, visit_number, inspectors; ``None`` or
            empty where the document does not say.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.id, self.text))

    @property
    def content_hash(self) -> str:
        """SHA-256 of the text: what decides whether a document changed between builds."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.id)

    @property
    def date(self) -> str | None:
        value = self.metadata.get("date")
        return str(value) if value else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def iter_corpus_files(corpus_dir: str | Path) -> Iterator[Path]:
    """Yield the readable files below ``corpus_dir`` in a stable (sorted) order.

    Hidden files and folders (names starting with ``.``) are passed over.
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(
            f"corpus folder {str(root)!r} does not exist or is not a folder; "
            "pass the folder that holds your .txt/.md reports"
        )
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            yield path


def read_document(path: Path, doc_id: str) -> Document:
    """Read one file. Raises :class:`UnreadableDocument` when it is not UTF-8 text."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnreadableDocument(f"cannot read {doc_id!r}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableDocument(
            f"{doc_id!r} is not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); "
            f"convert it, e.g. `iconv -f cp1252 -t utf-8 {doc_id}`, or move it out of the corpus"
        ) from exc
    if "\x00" in text:
        raise UnreadableDocument(f"{doc_id!r} holds NUL bytes: it looks binary, not text")
    return Document(id=doc_id, text=text, metadata=extract_metadata(text))


def read_corpus(corpus_dir: str | Path) -> list[Document]:
    """Read every ``.txt``/``.md`` file below ``corpus_dir``.

    A file that is not valid UTF-8 is an error naming that file (nothing is indexed half-way);
    empty files are skipped with a warning. Raises :class:`CorpusError` when no document has text.
    """
    root = Path(corpus_dir)
    docs = []
    for path in iter_corpus_files(root):
        doc_id = path.relative_to(root).as_posix()
        doc = read_document(path, doc_id)
        if not doc.text.strip():
            log.warning("skipping %s: the file is empty", doc_id)
            continue
        docs.append(doc)
    if not docs:
        raise CorpusError(
            f"no documents with text in {str(root)!r}: put .txt or .md reports there "
            f"(found no non-empty {', '.join(SUFFIXES)} files)"
        )
    return docs


# -- metadata ---------------------------------------------------------------------------------


def _iso(day: int | None, month: str, year: str) -> str:
    m = _MONTH_NUM[month.capitalize()]
    return f"{year}-{m:02d}-{day:02d}" if day else f"{year}-{m:02d}"


def _find_date(head: str) -> str | None:
    m = _FULL_DATE.search(head)
    if m:
        return _iso(int(m.group(1)), m.group(2), m.group(3))
    m = _MONTH_YEAR.search(head)
    if m:
        return _iso(None, m.group(1), m.group(2))
    return None


def _non_empty_lines(text: str) -> list[str]:
    return [ln.strip().strip("*#").strip() for ln in text.splitlines() if ln.strip()]


def _kind(text: str) -> str:
    head = text[:4000]
    if _SALUTATION.search(head) and re.search(r"monitoring\s+visit", head, re.I):
        return "monitoring letter"
    if _SALUTATION.search(head):
        return "letter"
    if re.search(r"\bCommissioner\b", head) and re.search(r"\bReport\b", head):
        return "commissioner report"
    if re.search(r"\bReport\b", head[:600]):
        return "report"
    return "news item"


def _title(text: str, kind: str) -> str | None:
    lines = _non_empty_lines(text)
    if kind.endswith("letter"):
        # The subject line follows the salutation.
        for i, line in enumerate(lines):
            if re.match(r"Dear\s", line) and i + 1 < len(lines):
                return lines[i + 1]
    for line in lines:
        if len(line) > 3 and not _FULL_DATE.match(line) and "recycled paper" not in line:
            return line
    return None


def _inspectors(text: str) -> list[str]:
    m = _CARRIED_OUT_BY.search(text[:6000])
    if m:
        phrase = " ".join(m.group(1).split())
        # "A and B, Her Majesty's Inspectors and C, Ofsted Inspector"
        phrase = re.sub(r",?\s*(?:Her|His)\s+Majesty['’]s\s+Inspectors?", ";", phrase)
        phrase = re.sub(r",?\s*Ofsted\s+Inspectors?", ";", phrase)
        names = []
        for part in re.split(r";|,|\band\b", phrase):
            name = part.strip(" .")
            if re.fullmatch(r"[A-Z][A-Za-z'’\-]+(?:\s+[A-Z][A-Za-z'’\-]+){1,3}", name):
                names.append(name)
        if names:
            return names
    m = _SIGNATURE.search(text)
    return [m.group(1).strip()] if m else []


def _authority(text: str) -> str | None:
    head = text[:6000]
    m = _AUTHORITY.search(head)
    if m:
        return " ".join(m.group(1).split())
    places = _SERVICES_IN.findall(head) + _PLACE_SERVICES.findall(head)
    if places:
        return max(set(places), key=places.count)
    # A news item names the place it is about first: the most frequent capitalised word
    # that starts a sentence in the first paragraphs and is not a common word.
    words = re.findall(r"(?:^|[.!?]\s+)([A-Z][a-z]{3,})\b", head[:1500], re.M)
    common = {"This", "However", "There", "They", "Inspectors", "Ofsted", "The", "Report"}
    words = [w for w in words if w not in common]
    return max(set(words), key=words.count) if words else None


def _author(text: str) -> str | None:
    m = _REPORT_BY.search(text[:3000])
    return " ".join(m.group(1).split()) if m else None


def extract_metadata(text: str) -> dict[str, Any]:
    """Metadata of one report, found by rules that hold for inspection letters and reports.

    Returns a dict with keys ``title``, ``date`` (ISO ``YYYY-MM-DD`` or ``YYYY-MM``),
    ``authority``, ``kind`` (``monitoring letter``, ``letter``, ``commissioner report``,
    ``report`` or ``news item``), ``visit_number`` (int), ``inspectors`` (names) and ``author``.
    """
    kind = _kind(text)
    visit = _VISIT.search(text[:6000])
    visit_number = None
    if visit:
        word = visit.group(1).lower()
        visit_number = _ORDINALS.get(word) or int(re.sub(r"\D", "", word))
    return {
        "title": _title(text, kind),
        "date": _find_date(text[:3000]),
        "authority": _authority(text),
        "kind": kind,
        "visit_number": visit_number,
        "inspectors": _inspectors(text) if kind.endswith("letter") else [],
        "author": _author(text),
    }
