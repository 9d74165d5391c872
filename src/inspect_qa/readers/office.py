"""Word (.docx) text through ``python-docx``: body paragraphs and tables in document order.

Why python-docx: it reads the document's own XML (no rendering, no conversion through HTML as
mammoth does), keeps tables as rows of cells, and is MIT-licensed and well kept. Running headers
and footers live in separate parts of a .docx and are never read. Pages: a .docx holds no pages
until a word processor lays it out; the page breaks Word saved from its last layout
(``w:lastRenderedPageBreak``) are used when present, else the explicit page breaks, and a
document with neither has no page numbers.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"


class DocxProblem(Exception):
    """A .docx that cannot be read, with the reason a person can act on."""


def _walk(element: Any) -> list[Any]:
    """``element``'s descendants in document order, without the ``mc:Fallback`` copy of content
    Word also stores as ``mc:Choice`` (a text box would otherwise be read twice)."""
    out: list[Any] = []
    for child in element:
        if child.tag == f"{_MC}Fallback":
            continue
        out.append(child)
        out.extend(_walk(child))
    return out


def _paragraph_text(p_element: Any, rendered: bool) -> str:
    """A paragraph's text, with ``\f`` where a page starts inside or after it."""
    out: list[str] = []
    for el in _walk(p_element):
        tag = el.tag
        if tag == f"{_W}t":
            out.append(el.text or "")
        elif tag == f"{_W}noBreakHyphen":
            out.append("-")
        elif tag == f"{_W}tab":
            out.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            kind = el.get(f"{_W}type")
            if kind == "page" and not rendered:
                out.append("\f")
            elif kind != "page":
                out.append("\n")
        elif tag == f"{_W}lastRenderedPageBreak" and rendered:
            out.append("\f")
    return "".join(out)


def read_docx(path: Path) -> tuple[str, int | None]:
    """The text of the .docx at ``path`` and its page count (``None`` when it records no
    pages): paragraphs separated by blank lines, table rows by lines, cells by tabs.

    Raises:
        DocxProblem: not a .docx (an old .doc, an encrypted file), or damaged.
    """
    import docx

    if not zipfile.is_zipfile(path):
        raise DocxProblem("not a Word .docx file (an old .doc, or an encrypted document, is not "
                          "a zip archive): save it as .docx or PDF")
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # zip, XML or package errors: all mean a damaged file
        raise DocxProblem(f"damaged or not a Word document ({type(exc).__name__}: "
                          f"{str(exc)[:120]})") from exc
    body = document.element.body
    rendered = any(True for _ in body.iter(f"{_W}lastRenderedPageBreak"))
    blocks: list[str] = []

    def cell_text(tc: Any) -> str:
        return " ".join(_paragraph_text(p, rendered) for p in tc.iter(f"{_W}p"))

    def table(tbl: Any) -> None:
        rows = []
        for tr in tbl.iter(f"{_W}tr"):
            # Cells in XML order: a merged cell is one element, listed once.
            cells = [cell_text(tc) for tc in tr.findall(f"{_W}tc")]
            line = "\t".join(" ".join(c.replace("\f", " ").split()) for c in cells)
            breaks = sum(c.count("\f") for c in cells)
            if line.strip() or breaks:
                rows.append("\f" * breaks + line)  # a page that starts in a row starts the row
        if rows:
            blocks.append("\n".join(rows))

    def visit(container: Any) -> None:
        for child in container:
            tag = child.tag
            if tag == f"{_W}p":
                text = _paragraph_text(child, rendered)
                if text.strip() or "\f" in text:
                    blocks.append(text.strip(" ").replace("\f", "\n\f"))
            elif tag == f"{_W}tbl":
                table(child)
            elif tag in (f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_MC}AlternateContent",
                         f"{_MC}Choice"):
                visit(child)  # content controls (cover pages, contents) hold paragraphs too

    visit(body)
    text = "\n\n".join(blocks)
    # A page break leads the paragraph after it (never inside a line of text).
    text = text.replace("\n\f\n\n", "\n\n\f").strip("\n") + "\n"
    pages = text.count("\f") + 1 if "\f" in text else None
    return text, pages
