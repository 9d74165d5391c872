"""PDF text through PDFium (``pypdfium2``): page by page, line by line, with each line's box.

Why PDFium: it is the engine Chrome uses to show PDFs, so its reading order and its text are
what readers see; it is the fastest of the permissive-licence extractors measured here
(``benchmarks/formats.py``: pypdf and pdfminer.six are slower per page, PyMuPDF is AGPL), and it
gives each character's box, which the repair needs to tell a paragraph's end from a line's.
"""

from __future__ import annotations

import re
from pathlib import Path

from .repair import PageLine, RepairStats, repair_pages


class PdfProblem(Exception):
    """A PDF that cannot be read, with the reason a person can act on."""


def _page_lines(textpage: object) -> list[PageLine]:
    """The page's lines in PDFium's reading order, each with the box of its first and last
    characters; cells far apart on one line are joined by a tab (a table row)."""
    # PDFium marks a hyphen it takes for a line-end break as U+FFFE and drops that line break:
    # put both back, so the repair sees the printed lines and decides on the hyphen itself.
    text: str = textpage.get_text_range()  # type: ignore[attr-defined]
    lines: list[PageLine] = []
    for match in re.finditer(r"[^\r\n]+", text):
        raw_line = match.group()
        offset = match.start()
        for k, raw in enumerate(raw_line.split("\ufffe")):
            start = offset
            offset += len(raw) + 1
            hyphen = "-" if k < raw_line.count("\ufffe") else ""
            if not raw.strip():
                continue
            first = start + (len(raw) - len(raw.lstrip()))
            last = start + len(raw.rstrip()) - 1
            try:
                x0, b0, _, t0 = textpage.get_charbox(  # type: ignore[attr-defined]
                    first, loose=True)
                _, b1, x1, t1 = textpage.get_charbox(last, loose=True)  # type: ignore[attr-defined]
            except Exception:  # a character PDFium gave no box: keep the text, guess the box
                x0 = x1 = b0 = b1 = t0 = t1 = 0.0
            # Cells need every character's box: skipped on a page of absurd length (a PDF
            # bomb repeats one line a million times), where it would take minutes.
            line_text = _cells(textpage, start, raw) if len(text) < 200_000 else raw.strip()
            lines.append(PageLine(line_text + hyphen, x0, x1, max(t0, t1), min(b0, b1)))
    return lines


def _cells(textpage: object, start: int, raw: str) -> str:
    """The line's text with a tab where a wide horizontal gap separates two cells, and a space
    where a gap separates two words that PDFium wrote together."""
    out: list[str] = []
    prev_right = None
    for i, ch in enumerate(raw):
        if ch.isspace():
            out.append(" ")
            continue
        try:
            left, bottom, right, top = textpage.get_charbox(  # type: ignore[attr-defined]
                start + i, loose=True)
        except Exception:
            out.append(ch)
            continue
        em = max(top - bottom, 4.0)
        if prev_right is not None:
            gap = left - prev_right
            if gap > 1.5 * em:
                while out and out[-1] == " ":
                    out.pop()
                out.append("\t")
            elif gap > 0.25 * em and out and out[-1] != " ":
                out.append(" ")
        out.append(ch)
        prev_right = right
    return " ".join("".join(out).strip(" ").split(" ")).replace(" \t", "\t")


def read_pdf(path: Path) -> tuple[str, RepairStats]:
    """The repaired text of the PDF at ``path`` (pages separated by form feeds).

    Raises:
        PdfProblem: encrypted, damaged, not a PDF, or without a text layer (scanned).
    """
    import pypdfium2 as pdfium

    with path.open("rb") as fh:
        magic = fh.read(1024)
    if b"%PDF-" not in magic:
        raise PdfProblem(f"not a PDF (it starts with {magic[:8]!r})")
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == 4:  # FPDF_ERR_PASSWORD
            raise PdfProblem("encrypted: it needs a password to open") from exc
        if code == 6:  # FPDF_ERR_SECURITY
            raise PdfProblem("protected by an unsupported security handler") from exc
        raise PdfProblem(f"damaged or not a PDF ({exc})") from exc
    try:
        pages: list[list[PageLine]] = []
        for i in range(len(pdf)):
            page = pdf[i]
            try:
                textpage = page.get_textpage()
                try:
                    pages.append(_page_lines(textpage))
                finally:
                    textpage.close()
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise PdfProblem(f"damaged: page {len(pages) + 1} cannot be read ({exc})") from exc
    finally:
        pdf.close()
    if not any(any(ln.text.strip() for ln in p) for p in pages):
        raise PdfProblem(f"no text layer on any of its {len(pages)} page(s): a scanned document "
                         "needs OCR (e.g. `ocrmypdf in.pdf out.pdf`), which inspect-qa does not do")
    return repair_pages(pages)
