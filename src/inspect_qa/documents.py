"""Reading a folder of reports into :class:`Document` values, with metadata found by rules.

The rules work on the shape of English inspection reports (letters, commissioner reports, news
items), never on file names: a date line, a "Dear ..." salutation, "the sixth monitoring visit",
"carried out by X and Y, Her Majesty's Inspectors".
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .checksums import sha256_file
from .errors import CorpusError, UnreadableDocument
from .readers import SUFFIXES, Unreadable, extract

log = logging.getLogger(__name__)

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
#: A place's name as councils write it: "Dudley", "Stoke-on-Trent", "Kingston upon Hull",
#: "Brighton and Hove", "St Helens", "Isle of Wight", "North East Lincolnshire".
_PLACE_WORD = r"(?:St[ ])?[A-Z][a-z]+(?:-(?:on|upon|under|le|in|by)-[A-Z][a-z]+)?"
_PLACE = rf"{_PLACE_WORD}(?:(?:[ ]upon[ ]|[ ]and[ ]|[ ]of[ ]|[ ]){_PLACE_WORD}){{0,3}}?"
_AUTHORITY = re.compile(
    rf"\b({_PLACE}[ ](?:Metropolitan[ ]Borough|Metropolitan[ ]District|Borough|County|City|"
    r"District)[ ]Council)\b"
)
#: Words that precede a council's name in a letter but are not part of it.
_TITLE_WORDS = {"The", "Leader", "Director", "Strategic", "Chief", "Executive", "People", "Services",
                "Service", "Children", "Children's", "Corporate", "Dear", "Mr", "Mrs", "Ms", "Dr",
                "Cabinet", "Member", "Head", "Of", "Acting", "Interim", "Group", "And", "Education",
                "Council", "Lead", "Officer", "Assistant", "Deputy", "Social", "Care", "Adult"}


def _trim_title(name: str) -> str:
    """"Strategic Director People Services Dudley Metropolitan Borough Council" → "Dudley ..."."""
    words = name.split(" ")
    while len(words) > 2 and (words[0] in _TITLE_WORDS or words[0] in ("of", "and", "upon")):
        words = words[1:]
    return " ".join(words)
_SERVICES_IN = re.compile(r"[Cc]hildren['’]s\s+[Ss]ervices\s+in\s+([A-Z][a-z]+)")
_PLACE_SERVICES = re.compile(r"\b([A-Z][a-z]+)\s+children['’]s\s+services\b")
_CARRIED_OUT_BY = re.compile(
    r"carried\s+out\s+by\s+(.+?)(?:\.\s|\.$)", re.S
)
_REPORT_BY = re.compile(r"\bby\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+),\s*\n?\s*Commissioner", re.S)
_SALUTATION = re.compile(r"^\s*Dear\s+\S.*$", re.M)
_SIGNATURE = re.compile(r"Yours\s+(?:sincerely|faithfully)\s*\n\s*\n?\s*([A-Z][^\n]{2,60}?)\s*$", re.M)


class Described:
    """``title`` and ``date`` of something with an ``id`` and ``metadata`` (a document, or
    what an index keeps of one without its text)."""

    id: str
    metadata: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or self.id)

    @property
    def date(self) -> str | None:
        value = self.metadata.get("date")
        return str(value) if value else None


@dataclass(frozen=True)
class Document(Described):
    """One report as read from disk.

    Attributes:
        id: path of the file relative to the corpus folder, with ``/`` separators.
        text: a .txt/.md file decoded as UTF-8, unchanged; the text extracted and repaired
            from a PDF, Word file or web page, pages separated by form feeds. The index keeps
            it, and every offset in inspect-qa indexes this string.
        metadata: title, date (ISO), authority, kind, visit_number, inspectors, judgement;
            ``None`` or empty where the document does not say. Also ``format``, ``pages``
            (count, where the format has pages), ``file_sha256`` and, for PDFs, ``repairs``.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why (for the build summary)."""

    id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "reason": self.reason}


@dataclass(frozen=True)
class CorpusScan:
    """What reading a folder found.

    Attributes:
        documents: the files read, in id order (or what the scan's ``keep`` made of them).
        unchanged: ids whose file bytes match ``known`` (not read again: the caller has them).
        skipped: files that could not be indexed, with the reason.
        ignored: how many files of other formats there were, by suffix.
        hashes: SHA-256 of every file read or found unchanged, by id.
    """

    documents: list[Document]
    unchanged: list[str]
    skipped: list[Skipped]
    ignored: dict[str, int]
    hashes: dict[str, str]


def iter_corpus_files(corpus_dir: str | Path) -> Iterator[tuple[Path, str | None]]:
    """Yield ``(path, problem)`` for every file below ``corpus_dir`` with a readable suffix, in
    a stable (sorted) order, and for every file or folder that cannot be visited (``problem``
    says why: a symlink loop, a broken link, no permission).

    Hidden files and folders (names starting with ``.``) and an inspect-qa index kept inside the
    folder are passed over; symlinks are followed, each real folder once.
    """
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(
            f"corpus folder {str(root)!r} does not exist or is not a folder; "
            "pass the folder that holds your reports"
        )
    problems: list[tuple[Path, str]] = []
    seen_dirs: set[str] = set()
    found: list[tuple[Path, str | None]] = []

    def on_error(exc: OSError) -> None:
        problems.append((Path(exc.filename or root), _os_reason(exc)))

    for top, dirs, files in os.walk(root, followlinks=True, onerror=on_error):
        real = os.path.realpath(top)
        if real in seen_dirs:
            found.append((Path(top), "a symlink loop: this folder was already read"))
            dirs[:] = []
            continue
        seen_dirs.add(real)
        if top != str(root) and os.path.isfile(os.path.join(top, "CURRENT")) \
                and os.path.isdir(os.path.join(top, "segments")):
            dirs[:] = []  # an inspect-qa index kept inside the corpus folder: not reports
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(top) / name
            if path.suffix.lower() not in SUFFIXES:
                found.append((path, "ignored"))
                continue
            try:
                info = path.stat()
            except OSError as exc:
                found.append((path, _os_reason(exc)))
                continue
            if not stat.S_ISREG(info.st_mode):
                # A pipe or a device would block or never end: never opened.
                found.append((path, "not a regular file (a pipe, a device or a socket)"))
                continue
            try:
                os.fsencode(name).decode("utf-8")
            except UnicodeDecodeError:
                found.append((path, "its file name is not valid UTF-8: rename it"))
                continue
            found.append((path, None))
    found.extend(problems)
    yield from sorted(found, key=lambda item: item[0].as_posix())


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop"
    if exc.errno == errno.ENOENT:
        if exc.filename is not None and os.path.islink(exc.filename):
            return "a broken symlink (its target does not exist)"
        return "no such file"
    if exc.errno == errno.EACCES:
        return "cannot be read: permission denied"
    return f"cannot be read: {exc.strerror or exc}"


def read_document(path: Path, doc_id: str, *, max_bytes: int | None = None) -> Document:
    """Read one file of any supported format.

    Raises:
        UnreadableDocument: the file cannot be indexed; the message names it and says why.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise Unreadable("not a regular file (a pipe, a device or a socket)")
        raw_hash = sha256_file(path)
        got = extract(path, max_bytes)
    except Unreadable as exc:
        raise UnreadableDocument(f"{doc_id}: {exc}") from exc
    except OSError as exc:
        raise UnreadableDocument(f"{doc_id}: {_os_reason(exc)}") from exc
    except MemoryError as exc:
        raise UnreadableDocument(f"{doc_id}: too large to read in memory") from exc
    except Exception as exc:  # a reader library's own failure on a malformed file
        log.debug("reader failed on %s", doc_id, exc_info=True)
        raise UnreadableDocument(
            f"{doc_id}: damaged: the reader failed ({type(exc).__name__}: {str(exc)[:120]})"
        ) from exc
    if not got.text.strip():
        raise UnreadableDocument(f"{doc_id}: no text (blank)")
    metadata = extract_metadata(got.text)
    metadata["format"] = got.format
    metadata["pages"] = got.pages
    metadata["file_sha256"] = raw_hash
    if got.repairs:
        metadata["repairs"] = got.repairs
    return Document(id=doc_id, text=got.text, metadata=metadata)


def scan_corpus(
    corpus_dir: str | Path,
    *,
    max_bytes: int | None = None,
    known: Mapping[str, str] | None = None,
    progress: bool = False,
    keep: Callable[[Document], Any] | None = None,
) -> CorpusScan:
    """Read every supported file below ``corpus_dir``; never stops at a bad one.

    Args:
        max_bytes: files larger than this are skipped (default ``readers.MAX_FILE_MB``).
        known: file SHA-256 by id of documents the caller already has (an index's): those files
            are hashed, not read again, and listed in ``unchanged``.
        progress: show a progress bar (files read per second, time left).
        keep: what to keep of each document read, in place of the document (a build keeps a
            handle to its text in a spool file, not the text: see ``index.Spool``).
    """
    root = Path(corpus_dir)
    entries = list(iter_corpus_files(root))
    docs: list[Any] = []
    unchanged: list[str] = []
    skipped: list[Skipped] = []
    ignored: Counter[str] = Counter()
    hashes: dict[str, str] = {}
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(1 for _, p in entries if p is None), desc="reading", unit="file")
    for path, problem in entries:
        doc_id = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        # A name that is not UTF-8 is shown with a replacement character, never crashes output.
        doc_id = doc_id.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if problem == "ignored":
            ignored[path.suffix.lower() or "(none)"] += 1
            continue
        if problem is not None:
            skipped.append(Skipped(doc_id, problem))
            continue
        try:
            if known and doc_id in known:
                digest = sha256_file(path)
                if known[doc_id] == digest:
                    unchanged.append(doc_id)
                    hashes[doc_id] = digest
                    continue
            doc = read_document(path, doc_id, max_bytes=max_bytes)
            hashes[doc_id] = str(doc.metadata["file_sha256"])
            docs.append(keep(doc) if keep is not None else doc)
        except UnreadableDocument as exc:
            skipped.append(Skipped(doc_id, str(exc).removeprefix(f"{doc_id}: ")))
            log.debug("skipping %s", exc)
        except OSError as exc:
            skipped.append(Skipped(doc_id, _os_reason(exc)))
        finally:
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return CorpusScan(docs, unchanged, skipped, dict(ignored), hashes)


def read_corpus(corpus_dir: str | Path, *, strict: bool = False) -> list[Document]:
    """Every readable report below ``corpus_dir`` (see :data:`readers.SUFFIXES`).

    Files that cannot be read are skipped with a warning (``strict``: a :class:`CorpusError`
    naming each). Raises :class:`CorpusError` when no document has text.
    """
    root = Path(corpus_dir)
    scan = scan_corpus(root)
    if strict and scan.skipped:
        raise CorpusError(skipped_message(scan.skipped))
    if not scan.documents:
        raise CorpusError(no_documents_message(root, scan))
    return scan.documents


def skipped_message(skipped: list[Skipped]) -> str:
    lines = [f"  {s.id}: {s.reason}" for s in skipped[:20]]
    more = f"\n  ... and {len(skipped) - 20} more" if len(skipped) > 20 else ""
    return (f"{len(skipped)} file(s) cannot be indexed (--strict):\n" + "\n".join(lines) + more)


def no_documents_message(root: Path, scan: CorpusScan) -> str:
    why = f"; {len(scan.skipped)} file(s) skipped:\n" + "\n".join(
        f"  {s.id}: {s.reason}" for s in scan.skipped[:10]) if scan.skipped else ""
    return (f"no documents with text in {str(root)!r}: put reports there "
            f"({', '.join(SUFFIXES)}){why}")


# -- metadata ---------------------------------------------------------------------------------


def _iso(day: int | None, month: str, year: str) -> str:
    m = _MONTH_NUM[month.capitalize()]
    return f"{year}-{m:02d}-{day:02d}" if day else f"{year}-{m:02d}"


_DAY_MONTH_YEAR = rf"(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTHS})\s+(\d{{4}})"
#: Markdown's emphasis around a label or its value ("**Date:** 3 June 2024").
_EMPH = r"[*_]{0,2}"
_PUBLISHED = re.compile(
    rf"^\s*{_EMPH}(?:(?:Report\s+)?published|Publication\s+date|Date\s+of\s+publication"
    rf"|Date\s+published|Posted(?:\s+on)?|Date)"
    rf"{_EMPH}\s*[:\-–]?\s*{_EMPH}\s*(?:on\s+)?(?:{_DAY_NAMES})?{_DAY_MONTH_YEAR}\s*{_EMPH}\s*$",
    re.M | re.I)
_INSPECTION_DATES = re.compile(
    rf"^\s*{_EMPH}(?:Inspection|Visit)\s+dates?{_EMPH}\s*:?\s*{_EMPH}\s*(.{{0,60}}?\d{{4}})"
    rf"\s*{_EMPH}\s*$", re.M | re.I)


def _find_date(head: str) -> str | None:
    """The report's own date: a publication date where one is labelled, else a date standing
    alone on its line (a letter's date), else the last day of labelled inspection dates, else a
    month and year alone on a line. Dates inside sentences (visit dates, earlier judgements) and
    numeric dates (a browser's print header) are never taken."""
    m = _PUBLISHED.search(head)
    if m:
        return _iso(int(m.group(1)), m.group(2), m.group(3))
    m = _FULL_DATE.search(head)
    if m:
        return _iso(int(m.group(1)), m.group(2), m.group(3))
    m = _INSPECTION_DATES.search(head)
    if m:
        # "12 to 23 March 2018", "28 February to 2 March 2018": the last day.
        days = re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", m.group(1))
        month = re.findall(_MONTHS, m.group(1))
        year = re.findall(r"\d{4}", m.group(1))
        if days and month and year and 1 <= int(days[-1]) <= 31:
            return _iso(int(days[-1]), month[-1], year[-1])
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
    top = text[:1500]
    if re.search(r"\bjoint\s+(?:targeted\s+area\s+)?inspection\b", top, re.I):
        return "joint inspection letter"
    if re.search(r"^\s*(?:News|Press\s+release)\s*$|^\s*(?:Published|Posted)\s", top,
                 re.M | re.I):
        return "news item"
    if _SALUTATION.search(head) and re.search(r"focused\s+visit", head, re.I):
        return "focused visit letter"
    if _SALUTATION.search(head) and re.search(r"monitoring\s+visit", head, re.I):
        return "monitoring letter"
    # A letter whose salutation did not survive (a PDF's letterhead as a picture) still says
    # what it is in its title.
    title = next(iter(_non_empty_lines(text[:600])), "")
    if re.match(r"(?:Ofsted\s+)?focused\s+visit\s+(?:to|of)\b", title, re.I):
        return "focused visit letter"
    if re.match(r"(?:Ofsted\s+)?monitoring\s+visit\s+(?:to|of)\b", title, re.I):
        return "monitoring letter"
    if (re.search(r"^\s*Inspection\s+dates?\b", top, re.M | re.I)
            or re.search(r"\bOverall\s+effectiveness\b", head, re.I)):
        return "inspection report"
    if _SALUTATION.search(head):
        return "letter"
    if re.search(r"\bCommissioner\b", head) and re.search(r"\bReport\b", head):
        return "commissioner report"
    if re.search(r"\bReport\b", head[:600]):
        return "report"
    return "news item"


#: A letter's subject line is at most this long (a longer line after "Dear ..." is its body).
SUBJECT_MAX_CHARS = 200


def _title(text: str, kind: str) -> str | None:
    lines = _non_empty_lines(text)
    if kind.endswith("letter"):
        # The subject line follows the salutation: a heading, not the letter's first sentence
        # (a letter without one starts its body there; its title is then its first line).
        for i, line in enumerate(lines):
            if re.match(r"Dear\s", line) and i + 1 < len(lines):
                subject = lines[i + 1].strip()
                if len(subject) <= SUBJECT_MAX_CHARS and not subject.endswith((".", "?", "!")):
                    return subject
                break
    for line in lines:
        if len(line) > 3 and not _FULL_DATE.match(line) and "recycled paper" not in line:
            return line
    return None


_LABELLED_INSPECTORS = re.compile(
    rf"^\s*{_EMPH}(?:(?:Deputy\s+|Assistant\s+)?lead\s+|team\s+|social\s+care\s+)?"
    rf"inspectors?{_EMPH}\s*:\s*{_EMPH}\s*(.+)$", re.M | re.I)


def _inspectors(text: str) -> list[str]:
    """Inspectors named by labels ("Lead inspector: A", "Team inspectors: B, C", anywhere in the
    report), else by the sentence "The visit was carried out by A and B, Her Majesty's
    Inspectors", else the letter's signatory."""
    labelled = _LABELLED_INSPECTORS.findall(text)
    m = _CARRIED_OUT_BY.search(text[:6000])
    phrases = ["; ".join(labelled)] if labelled else []
    phrases += [m.group(1)] if m else []
    for raw in phrases:
        # "A and B (Ofsted), C (CQC)": the bracketed inspectorates separate names.
        phrase = re.sub(r"\s*\([^)]{0,40}\)", ";", " ".join(raw.split()))
        # "A and B, Her Majesty's Inspectors and C, Ofsted Inspector"
        phrase = re.sub(r",?\s*(?:Her|His)\s+Majesty['’]s\s+Inspectors?", ";", phrase)
        phrase = re.sub(r",?\s*Ofsted\s+Inspectors?", ";", phrase)
        names: list[str] = []
        for part in re.split(r";|,|\band\b", phrase):
            name = part.strip(" .*_")
            if (re.fullmatch(r"[A-Z][A-Za-z'’\-]+(?:\s+[A-Z][A-Za-z'’\-]+){1,3}", name)
                    and name not in names):  # a lead inspector is listed twice in some reports
                names.append(name)
        if names:
            return names
    m = _SIGNATURE.search(text)
    return [m.group(1).strip()] if m else []


_NAMED_BOROUGH = re.compile(
    r"\b((?:Royal|London)[ ]Borough[ ]of[ ][A-Z][a-z]+(?:(?:[ ]and[ ]|[ ]upon[ ]|[ ])[A-Z][a-z]+)?)")
_PLAIN_COUNCIL = re.compile(rf"\b({_PLACE})[ ]Council\b")
_NOT_PLACES = {"The", "County", "City", "Borough", "District", "Town", "Parish", "Metropolitan",
               "Unitary", "Local", "Our", "This", "Care", "Leader", "Children", "Government"}


def _authority(text: str) -> str | None:
    head = text[:6000]
    m = _AUTHORITY.search(head)
    if m:
        return _trim_title(" ".join(m.group(1).split()))
    m = _NAMED_BOROUGH.search(head)
    if m:
        return re.sub(r" (?:Council|Children|Service|Services)$", "", m.group(1))
    plain = [_trim_title(name) for name in _PLAIN_COUNCIL.findall(head[:3000])]
    plain = [name for name in plain if name.split()[0] not in _NOT_PLACES]
    if plain:
        return f"{max(set(plain), key=plain.count)} Council"
    places = _SERVICES_IN.findall(head) + _PLACE_SERVICES.findall(head)
    if places:
        return max(set(places), key=places.count)
    # A news item names the place it is about first: the most frequent capitalised word
    # that starts a sentence in the first paragraphs and is not a common word.
    words = re.findall(r"(?:^|[.!?]\s+)([A-Z][a-z]{3,})\b", head[:1500], re.M)
    common = {"This", "However", "There", "They", "Inspectors", "Ofsted", "The", "Report"}
    words = [w for w in words if w not in common]
    return max(set(words), key=words.count) if words else None


def authority_names(authority: Any) -> list[str]:
    """The names a filter may use for an authority: as the report names it, and its place
    ("Dudley Metropolitan Borough Council" → also "Dudley"; "London Borough of Hackney" →
    also "Hackney")."""
    if not authority:
        return []
    full = " ".join(str(authority).split())
    place = re.sub(r"^(?:The\s+)?(?:Royal\s+|London\s+)?Borough\s+of\s+|^City\s+of\s+", "", full)
    place = re.sub(r"\s+(?:Metropolitan\s+Borough|Metropolitan\s+District|Borough|County|City|"
                   r"District)?\s*Council$", "", place).strip()
    return [full] if place in ("", full) else [full, place]


_JUDGEMENTS = r"Requires\s+improvement\s+to\s+be\s+good|Requires\s+improvement|Outstanding|Good|Inadequate"
_OVERALL = re.compile(
    rf"\bOverall\s+(?:effectiveness|judgement)\b[\s:\-–|]*(?:(?:is|was)\s+)?(?:judged\s+(?:to\s+be\s+)?)?"
    rf"({_JUDGEMENTS})\b", re.I)


def _judgement(text: str) -> str | None:
    """The overall judgement where the report states it as a label ("Overall effectiveness:
    Good", or a judgements table); never a past judgement told in a sentence."""
    m = _OVERALL.search(text[:8000])
    if not m:
        return None
    words = " ".join(m.group(1).split()).lower()
    return words[0].upper() + words[1:]


def _author(text: str) -> str | None:
    m = _REPORT_BY.search(text[:3000])
    return " ".join(m.group(1).split()) if m else None


def extract_metadata(text: str) -> dict[str, Any]:
    """Metadata of one report, found by rules that hold for inspection letters and reports.

    Returns a dict with keys ``title``, ``date`` (ISO ``YYYY-MM-DD`` or ``YYYY-MM``),
    ``authority``, ``kind`` (``inspection report``, ``monitoring letter``, ``focused visit
    letter``, ``joint inspection letter``, ``letter``, ``commissioner report``, ``report`` or
    ``news item``), ``visit_number`` (int), ``inspectors`` (names), ``judgement`` (the overall
    effectiveness judgement, where stated) and ``author``.
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
        "inspectors": (_inspectors(text) if kind.endswith("letter") or kind == "inspection report"
                       else []),
        "judgement": _judgement(text),
        "author": _author(text),
    }
