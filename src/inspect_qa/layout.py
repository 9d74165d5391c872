"""Line-level layout of a report: page furniture, headings, table rows, bullets and text.

Reports arrive as text extracted from PDFs or web pages: hard line breaks inside sentences, blank
lines inside paragraphs, letterheads, address blocks, contents pages and footers. This module
labels each line so that chunking can skip furniture and cut at headings, by rules that hold for
this kind of document rather than for any one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

LineKind = Literal["blank", "furniture", "address", "heading", "table", "bullet", "text"]

_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")
_FURNITURE = re.compile(
    r"recycled paper|@[\w-]+\.[\w.]+|\bwww\.|https?://|^\s*(?:T|Tel|Telephone|Fax|Textphone)\b"
    r"[:.]?\s*\+?\d|Contact Us|website design by|^\s*(?:Page\s+)?\d{1,3}(?:\s+of\s+\d{1,3})?\s*$",
    re.I,
)
_TOC_LINE = re.compile(r"[A-Za-z].*(?:\t|\s{2,}|\.{3,})\s*\d{1,3}\s*$")
_BULLET = re.compile(r"^\s*(?:[-*•▪◦●\uf0b7\uf0a7\u2022\u2013]|\(?[a-z]{1,2}[.)]|\(?\d{1,2}\))\s+\S")
_NUMBERED_HEADING = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})*\.?\s+[A-Z]")
_CAPTION = re.compile(r"^\s*(?:(?:Table|Figure|Chart|Graph)\s+\d|Source:)", re.I)
_TERMINAL = ".!?:;\"”’)]"
#: A label, a colon and its value on one line ("Inspection dates: 3 to 14 June 2024").
_FIELD_LINE = re.compile(r"^[A-Z][\w'’ /&()-]{1,40}:\s+\S")
_NOT_HEADING_START = re.compile(r"^\s*(?:Dear\s|Yours\s+(?:sincerely|faithfully))", re.I)
_DATE_LINE = re.compile(
    r"^(?:[A-Z][a-z]+day,?\s+)?(?:\d{1,2}(?:st|nd|rd|th)?\s+)?[A-Z][a-z]+\s+\d{4}$|^\d{1,2}/\d{1,2}/\d{2,4}$"
)


@dataclass(frozen=True)
class Line:
    """One line of a document: ``start``/``end`` exclude the newline."""

    start: int
    end: int
    kind: LineKind
    text: str  # stripped, markdown emphasis removed; for rules and headings only

    @property
    def is_content(self) -> bool:
        """Text that may be part of a chunk (an address only beside other content)."""
        return self.kind not in ("blank", "furniture")


def clean_line(raw: str) -> str:
    """A line as rules and headings read it: stripped, without Markdown's heading marks and
    emphasis (a section's name is its heading line so cleaned)."""
    s = raw.strip()
    s = re.sub(r"^#{1,6}\s+", "", s)
    return s.strip("*_ ").strip()


def _split_lines(text: str) -> list[tuple[int, int]]:
    spans = []
    pos = 0
    for m in re.finditer(r"\n", text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return spans


def _is_contents_line(raw: str, clean: str) -> bool:
    """"Workforce<TAB>16": a title and one page number, nothing else numeric."""
    # The cheap tests first: the pattern's search takes time growing with the square of a long
    # line's length (a PDF paragraph on one line).
    if len(clean) >= 120 or clean.endswith(".") or not _TOC_LINE.search(raw):
        return False
    cells = [c.strip() for c in re.split(r"\t|\s{2,}|\.{3,}", raw) if c.strip()]
    numeric = [c for c in cells if re.fullmatch(r"[\d\s/%,.\-–]+", c) and not re.fullmatch(r"\d+\.", c)]
    return len(numeric) == 1


def _looks_like_table_row(raw: str) -> bool:
    if raw.strip().startswith("|") and raw.count("|") >= 2:
        return True
    cells = [c for c in raw.split("\t") if c.strip()]
    return len(cells) >= 2


def is_field_line(clean: str) -> bool:
    """A short line giving a label and its value ("Lead inspector: Rachel Tideswell"), as a
    report's title block lists its facts: a unit of its own, neither a heading nor the start of
    the next sentence."""
    return (len(clean) <= 90 and bool(_FIELD_LINE.match(clean)) and clean[-1] not in ".!?;,"
            and not _CAPTION.match(clean))


def _is_furniture_line(clean: str, raw: str) -> bool:
    """Contact lines, contents-page lines, page numbers, footers: never indexed."""
    return (bool(_FURNITURE.search(clean)) and not _is_prose(clean)) or _is_contents_line(raw, clean)


#: More words than a contact line, footer or page number holds.
_PROSE_WORDS = 14


def _is_prose(clean: str) -> bool:
    """A paragraph or a sentence (many words, a sentence ending inside it, or six words or
    more ending as a sentence does): a web or email address in it is part of what it says,
    not page furniture."""
    words = len(clean.split())
    return (words > _PROSE_WORDS or bool(re.search(r"[a-z]{2}[.!?]\s+[A-Z]", clean))
            or (words >= 6 and clean.rstrip(")\"”’ ").endswith((".", "!", "?"))))


def _is_postal_line(clean: str) -> bool:
    """A lone postcode or a one-line address ending in one (no sentence around it)."""
    return bool(_POSTCODE.search(clean) and not re.search(r"[.!?]\s", clean) and len(clean) < 160)


def classify_lines(text: str) -> list[Line]:
    """Label every line of ``text``.

    Furniture: contact lines, letterhead and address blocks (a group of short lines holding a
    postcode), contents-page lines, page numbers, footers. Headings: short capitalised lines with
    no closing punctuation that follow a finished sentence and precede more text.
    """
    spans = _split_lines(text)
    raws = [text[s:e].rstrip("\r") for s, e in spans]
    cleans = [clean_line(r) for r in raws]
    kinds: list[LineKind] = []
    for raw, clean in zip(raws, cleans, strict=True):
        if not clean:
            kinds.append("blank")
        elif _is_furniture_line(clean, raw):
            kinds.append("furniture")
        elif _is_postal_line(clean):
            kinds.append("address")
        elif _looks_like_table_row(raw):
            kinds.append("table")
        else:
            kinds.append("text")

    _mark_address_groups(cleans, kinds)
    _mark_contents_heading(cleans, kinds)
    _mark_headings(cleans, kinds)
    for i, raw in enumerate(raws):
        if kinds[i] == "text" and _BULLET.match(raw):
            kinds[i] = "bullet"
    return [
        Line(start=s, end=s + len(raws[i]), kind=kinds[i], text=cleans[i])
        for i, (s, _) in enumerate(spans)
    ]


def _groups(kinds: list[LineKind], max_gap: int) -> list[list[int]]:
    """Runs of non-blank lines, allowing up to ``max_gap`` blank lines inside a run."""
    groups: list[list[int]] = []
    current: list[int] = []
    gap = 0
    for i, kind in enumerate(kinds):
        if kind == "blank":
            gap += 1
            if gap > max_gap and current:
                groups.append(current)
                current = []
            continue
        gap = 0
        current.append(i)
    if current:
        groups.append(current)
    return groups


def _is_address_like(clean: str) -> bool:
    return (
        len(clean) <= 100
        and not clean.endswith((".", ":", ";"))
        and not _NOT_HEADING_START.match(clean)
    )


def _mark_address_groups(cleans: list[str], kinds: list[LineKind]) -> None:
    # An address block: short lines, none a sentence, around a postcode or contact line.
    # Grow from each such anchor over neighbours, across single blank lines (PDF extraction
    # adds them), and stop at the first sentence, salutation or long line. Address lines are
    # kept (who a letter went to, and its date, are facts people ask about) but only as part
    # of a chunk with other text; contact lines are dropped.
    anchors = [
        i
        for i, k in enumerate(kinds)
        if k == "address" or (k == "furniture" and _FURNITURE.search(cleans[i]))
    ]
    for anchor in anchors:
        for step in (-1, 1):
            i, gap = anchor + step, 0
            while 0 <= i < len(kinds):
                if kinds[i] == "blank":
                    gap += 1
                    if gap > 1:
                        break
                elif kinds[i] == "text" and _is_address_like(cleans[i]):
                    kinds[i] = "address"
                    gap = 0
                elif kinds[i] in ("address", "furniture"):
                    gap = 0
                else:
                    break
                i += step


def _mark_contents_heading(cleans: list[str], kinds: list[LineKind]) -> None:
    for i, clean in enumerate(cleans):
        if clean.lower() in ("contents", "table of contents"):
            nxt = next((j for j in range(i + 1, len(kinds)) if kinds[j] != "blank"), None)
            if nxt is not None and kinds[nxt] == "furniture":
                kinds[i] = "furniture"


def _mark_headings(cleans: list[str], kinds: list[LineKind]) -> None:
    prev_kind: LineKind | None = None
    prev_clean = ""
    content = [i for i, k in enumerate(kinds) if k not in ("blank",)]
    for pos, i in enumerate(content):
        clean = cleans[i]
        nxt = content[pos + 1] if pos + 1 < len(content) else None
        # A heading stands on its own: the line after it is blank (or the text ends).
        alone = i + 1 >= len(kinds) or kinds[i + 1] == "blank"
        if (
            kinds[i] == "text"
            and alone
            and _is_heading(clean, prev_kind, prev_clean, nxt, cleans, kinds)
        ):
            kinds[i] = "heading"
        prev_kind, prev_clean = kinds[i], clean


def _is_heading(
    clean: str,
    prev_kind: LineKind | None,
    prev_clean: str,
    nxt: int | None,
    cleans: list[str],
    kinds: list[LineKind],
) -> bool:
    if len(clean) > 90 or len(clean.split()) > 12 or clean[-1] in ".!?:;,\"”’":
        return False
    if not (clean[0].isupper() or clean[0].isdigit()) or _CAPTION.match(clean):
        return False
    if _NOT_HEADING_START.match(clean) or (_BULLET.match(clean) and not _NUMBERED_HEADING.match(clean)):
        return False
    if re.fullmatch(r"[\d\s.,/-]+", clean) or _DATE_LINE.match(clean):
        return False
    if is_field_line(clean):  # "Lead inspector: Rachel Tideswell": a fact, not a title
        return False
    prev_done = (
        prev_kind in (None, "furniture", "address", "heading", "table")
        or (bool(prev_clean) and prev_clean[-1] in _TERMINAL)
        or bool(_CAPTION.match(prev_clean))
        or is_field_line(prev_clean)
    )
    if not prev_done:
        return False
    if nxt is None:
        return False
    nxt_clean = cleans[nxt]
    return kinds[nxt] not in ("furniture", "address") and not nxt_clean[0].islower()


def _cells(raw: str) -> list[str]:
    """The cells of a table row: between ``|`` for a Markdown row, else between tabs."""
    row = raw.strip()
    if row.startswith("|"):
        return [c.strip() for c in row.strip("|").split("|")]
    return [c.strip() for c in raw.rstrip().split("\t")]


def _is_heading_row(raw: str) -> bool:
    """A row of column headings: no figure in it, or an empty first cell (the corner of a grid
    whose rows are labelled, as in "<TAB>Less than 2<TAB>2-4<TAB>5-9")."""
    cells = _cells(raw)
    return not any(ch.isdigit() for ch in raw) or (len(cells) > 1 and not cells[0])


def table_headings(text: str, lines: list[Line] | None = None) -> dict[int, tuple[int, int]]:
    """The column headings each table row is read with.

    A table is a run of consecutive table lines; its headings are its leading rows that look
    like headings (see :func:`_is_heading_row`). Returns, for every row below the headings, the
    row's start (leading whitespace skipped) and the span from the first heading row's start to
    the last one's end. A table whose every row looks like headings has none.
    """
    if lines is None:
        lines = classify_lines(text)
    out: dict[int, tuple[int, int]] = {}
    run: list[Line] = []
    for line in [*lines, None]:
        if line is not None and line.kind == "table":
            run.append(line)
            continue
        heads = 0
        while heads < len(run) and _is_heading_row(text[run[heads].start : run[heads].end]):
            heads += 1
        if 0 < heads < len(run):
            span = (run[0].start, run[heads - 1].end)
            for row in run[heads:]:
                raw = text[row.start : row.end]
                out[row.start + len(raw) - len(raw.lstrip())] = span
        run = []
    return out


def heading_level(heading: str) -> int:
    """1 for a numbered top-level heading ("8. Workforce"), 2 otherwise."""
    return 1 if re.match(r"^\d{1,2}\.?\s", heading) else 2


def page_of(text: str, offset: int) -> int | None:
    """1-based page of ``offset`` when the text marks pages with form feeds, else ``None``."""
    if "\f" not in text:
        return None
    return text.count("\f", 0, offset) + 1
