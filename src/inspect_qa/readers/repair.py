"""Repairing text extracted from laid-out pages: running headers and footers, page numbers,
words hyphenated across line ends, paragraphs broken into lines.

Works on :class:`PageLine` values (a line's text and box), whatever extracted them, and returns
the document's text with pages separated by form feeds (``\\f``), paragraphs by blank lines,
table cells by tabs: the text every offset of the index points into.
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass, field

#: Lines this far from the top or bottom of a page (by count) may be running furniture.
EDGE_LINES = 3

_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s+)?[-–(]?\s*\d{1,4}\s*[-–)]?\s*(?:(?:of|/)\s*\d{1,4})?\s*$", re.I)
#: What a browser prints at a page's top or bottom: "12/4/26, 7:37 AM", a web address alone or
#: with "2/6". Dropped at a page's edge even when only one page shows it.
_PRINT_STAMP = re.compile(
    r"^\s*\d{1,2}/\d{1,2}/\d{2,4},?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?\s*(?:\t.*)?$"
    r"|^\s*(?:https?|file)://\S+(?:\s+\d{1,4}\s*/\s*\d{1,4})?\s*$", re.I)
_BULLET_START = re.compile(r"^\s*(?:[•▪◦●\uf0b7\uf0a7\u2022\u2013-]|\(?[a-z0-9]{1,2}[.)])\s+")
_HYPHENATED_END = re.compile(r"([A-Za-z]{2,})-$")
_WORD_START = re.compile(r"^([a-z]{2,}[.,;:!?)]*)")
_SUSPENDED = {"and", "or", "to", "nor", "but", "as", "than"}


@dataclass(frozen=True)
class PageLine:
    """One printed line: its text (cells joined by tabs) and box in page units, y up."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def height(self) -> float:
        return max(self.top - self.bottom, 0.1)


@dataclass
class RepairStats:
    """What the repair changed, for the manifest: the damage a file arrived with."""

    pages: int = 0
    lines: int = 0
    header_footer_lines: int = 0
    page_number_lines: int = 0
    joined_lines: int = 0
    dehyphenated: int = 0
    dropped_samples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"pages": self.pages, "lines": self.lines,
                "header_footer_lines": self.header_footer_lines,
                "page_number_lines": self.page_number_lines,
                "joined_lines": self.joined_lines, "dehyphenated": self.dehyphenated}


def _furniture_key(text: str) -> str:
    """A line with its numbers masked: "Page 3 of 8" and "Page 4 of 8" are the same line."""
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def running_lines(pages: list[list[PageLine]]) -> set[str]:
    """Keys of lines repeated at the top or bottom of most pages: a running header or footer
    (a title, a print date, a web address, "Page 2 of 8"). Needs two pages or more.

    A line is running when it is the same on those pages, or when only a number in it changes
    and that number counts the pages ("Page 3 of 8", "Kent inspection report 3"): headings
    such as "Recommendation 1", "Recommendation 2" at the tops of pages are not furniture.
    """
    if len(pages) < 2:
        return set()
    seen: dict[str, dict[int, str]] = {}
    top: dict[str, bool] = {}
    for index, lines in enumerate(pages):
        upper = min(EDGE_LINES, (len(lines) + 1) // 2)  # a short page: its first half is top
        edge = [(i, ln) for i, ln in enumerate(lines)
                if i < EDGE_LINES or i >= len(lines) - EDGE_LINES]
        for i, ln in edge:
            key = _furniture_key(ln.text)
            seen.setdefault(key, {}).setdefault(index, ln.text)
            top[key] = top.get(key, True) and i < upper
    need = max(2, (len(pages) + 1) // 2)
    running = set()
    for key, where in seen.items():
        if len(where) < need or not re.search(r"\w", key):
            continue
        texts = set(where.values())
        if len(texts) == 1:
            # Two pages are little evidence: there, only a line that looks like furniture
            # (a number, an address, a date) is taken for a running one, not a heading.
            if len(pages) > 2 or re.search(r"#|www\.|https?://|@|©", key):
                running.add(key)
        elif _counts_pages(where) and (not top[key] or re.search(r"\bpage\b|#\s*(?:of|/)\s*#",
                                                                    key)):
            # A changing number at a page's top is a page counter only when it says so
            # ("Page 3", "3 of 8"): "Recommendation 3" at the top of page 3 is a heading.
            running.add(key)
    return running


_COUNTER = (re.compile(r"(\d+)\s*(?:of|/)\s*\d+\s*$", re.I), re.compile(r"(\d+)\s*$"),
            re.compile(r"^\s*(?:page\s+)?(\d+)\b", re.I))


def _counts_pages(where: dict[int, str]) -> bool:
    """Whether the copies of a line differ by a page counter: "Page 3 of 8", "2/6" or a
    number at its end or start that is the page's index plus a constant."""
    for pattern in _COUNTER:
        offsets = set()
        for index, text in where.items():
            m = pattern.search(text)
            if m is None:
                break
            offsets.add(int(m.group(1)) - index)
        else:
            if len(offsets) == 1:
                return True
    return False


def _strip_furniture(pages: list[list[PageLine]], stats: RepairStats) -> list[list[PageLine]]:
    running = running_lines(pages)
    out = []
    for lines in pages:
        keep = []
        for i, ln in enumerate(lines):
            at_edge = i < EDGE_LINES or i >= len(lines) - EDGE_LINES
            if at_edge and _furniture_key(ln.text) in running:
                stats.header_footer_lines += 1
                if len(stats.dropped_samples) < 8:
                    stats.dropped_samples.append(ln.text)
            elif at_edge and _PAGE_NUMBER.match(ln.text):
                stats.page_number_lines += 1
            elif at_edge and _PRINT_STAMP.match(ln.text):
                stats.header_footer_lines += 1
            else:
                keep.append(ln)
        out.append(keep)
    return out


def _ends_paragraph(a: PageLine, b: PageLine, right: float, step: float, width: float) -> bool:
    """Whether line ``a`` ends its paragraph, given the next line ``b`` on the same page."""
    if "\t" in a.text or "\t" in b.text or _BULLET_START.match(b.text):
        return True
    gap = a.bottom - b.top
    if step > 0 and (a.top - b.top) > 1.45 * step:
        return True  # more space than between the lines of a paragraph
    if gap < -0.5 * a.height:
        return True  # b is not below a (a new column, a box, a page object out of order)
    if abs(b.height - a.height) > 0.25 * max(a.height, b.height):
        return True  # another font size: a heading or a caption
    # A line that stops well short of the text's right edge ended its paragraph (or is a
    # heading or a letterhead line).
    return a.x1 < right - 0.12 * width


def _page_step(lines: list[PageLine]) -> float:
    steps = [a.top - b.top for a, b in itertools.pairwise(lines)
             if 0 < a.top - b.top < 3 * a.height]
    return statistics.median(steps) if steps else 0.0


def _line_step(pages: list[list[PageLine]]) -> float:
    """The distance from one line of body text to the next within a paragraph, over the whole
    document (0 when it cannot be told): the lower quartile of the steps between consecutive
    lines of the body's font size. A page's median step is not it when the page has more
    paragraph breaks than line breaks (short paragraphs, a title page), and a paragraph's
    first line then reads on into the line before."""
    heights = [ln.height for lines in pages for ln in lines if "\t" not in ln.text]
    if not heights:
        return 0.0
    body = statistics.median(heights)

    def is_body(ln: PageLine) -> bool:
        return abs(ln.height - body) <= 0.1 * body

    steps = sorted(a.top - b.top for lines in pages for a, b in itertools.pairwise(lines)
                   if is_body(a) and is_body(b) and 0 < a.top - b.top < 3 * a.height)
    return steps[int(0.25 * (len(steps) - 1))] if len(steps) >= 4 else 0.0


def _short_heading(lines: list[PageLine]) -> bool:
    """Whether a page starts with a short capitalised line standing alone (a heading)."""
    if len(lines) < 2:
        return True
    a, b = lines[0], lines[1]
    widest = max(ln.x1 - ln.x0 for ln in lines)
    return (a.text[:1].isupper() and (a.x1 - a.x0) < 0.6 * widest
            and not a.text.rstrip().endswith((".", ",", ";", ":")) and a.top - b.top > 0)


def _join(a: str, b: str, vocabulary: set[str], stats: RepairStats) -> str:
    """``a`` and its continuation ``b`` as one run of text, a line-end hyphen repaired when
    the document elsewhere writes the word whole (or never writes it hyphenated)."""
    m, n = _HYPHENATED_END.search(a), _WORD_START.match(b)
    rest = n.group(1).rstrip(".,;:!?)").lower() if n else ""
    if m and n and rest in _SUSPENDED:
        return f"{a} {b}"  # "short- and long-term": a suspended hyphen, not a broken word
    if m and n:
        whole = (m.group(1) + rest).lower()
        hyphened = f"{m.group(1)}-{rest}".lower()
        if whole in vocabulary or hyphened not in vocabulary:
            stats.dehyphenated += 1
            return a[:-1] + b
        return a + b  # a compound the document writes with its hyphen: "well-being"
    return f"{a} {b}"


def _vocabulary(pages: list[list[PageLine]]) -> set[str]:
    words: set[str] = set()
    for lines in pages:
        for ln in lines:
            words.update(w.lower() for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", ln.text))
    return words


def repair_pages(pages: list[list[PageLine]]) -> tuple[str, RepairStats]:
    """The text of laid-out ``pages``: furniture dropped, paragraphs rejoined, hyphens repaired.

    Pages are separated by ``\\f``; a word hyphenated across a page end is written whole at the
    end of the page it starts on, so that every word sits on one page.
    """
    stats = RepairStats(pages=len(pages), lines=sum(len(p) for p in pages))
    pages = _strip_furniture(pages, stats)
    vocabulary = _vocabulary(pages)
    line_step = _line_step(pages)
    page_texts: list[list[str]] = []
    continues: list[bool] = []  # whether a page's last paragraph runs on to the next page
    carry: str | None = None  # a hyphenated word's end, moved from the next page's first line
    for index, lines in enumerate(pages):
        lines = list(lines)
        if carry is not None and lines:
            first_line = lines[0]
            rest = first_line.text[len(carry):].lstrip()
            if rest:
                lines[0] = PageLine(rest, first_line.x0, first_line.x1, first_line.top,
                                    first_line.bottom)
            else:
                # The word's end was the whole line: its paragraph ends with it.
                lines.pop(0)
                continues[-1] = False
        carry = None
        paragraphs: list[str] = []
        right = width = 0.0
        if lines:
            body = [ln for ln in lines if "\t" not in ln.text] or lines
            # The text's right edge and width: the 90th percentile of line ends (a stray
            # character's box never sets them).
            ends = sorted(ln.x1 for ln in body)
            right = ends[int(0.9 * (len(ends) - 1))]
            width = max(right - statistics.median(ln.x0 for ln in body), 1.0)
            step = line_step or _page_step(lines)
            current = lines[0].text
            for a, b in itertools.pairwise(lines):
                if _ends_paragraph(a, b, right, step, width):
                    paragraphs.append(current)
                    current = b.text
                else:
                    stats.joined_lines += 1
                    current = _join(current, b.text, vocabulary, stats)
            paragraphs.append(current)
        nxt = pages[index + 1] if index + 1 < len(pages) else []
        # A paragraph runs on to the next page when its last line is full and it has not ended
        # a sentence, or the next page goes on in lower case.
        last = lines[-1] if lines else None
        first = nxt[0] if nxt else None
        runs_on = bool(
            last is not None and first is not None and len(lines) > 1
            and "\t" not in last.text and "\t" not in first.text
            and not _BULLET_START.match(first.text) and last.x1 >= right - 0.12 * width
            # another font size starts something else: a heading, a caption
            and abs(first.height - last.height) <= 0.25 * max(first.height, last.height)
            and (first.text[:1].islower()
                 or (not paragraphs[-1].rstrip().endswith((".", "!", "?", ":", ";"))
                     and not _short_heading(nxt))))
        # A word hyphenated across the page end: finish it here.
        if paragraphs and nxt:
            m, n = _HYPHENATED_END.search(paragraphs[-1]), _WORD_START.match(nxt[0].text)
            if m and n:
                joined = _join(paragraphs[-1], n.group(1), vocabulary, stats)
                if " " not in joined[len(paragraphs[-1]) - 1:]:
                    paragraphs[-1] = joined
                    carry = n.group(1)
                    runs_on = True
        page_texts.append(paragraphs)
        continues.append(runs_on)
    # Pages are separated by a form feed; one that ends a paragraph also ends its line, one
    # inside a paragraph does not (the paragraph reads on, and is chunked, as one).
    out: list[str] = []
    for paragraphs, runs_on in zip(page_texts, continues, strict=True):
        out.append("\n\n".join(paragraphs) + ("" if runs_on or not paragraphs else "\n"))
    return "\f".join(out), stats
