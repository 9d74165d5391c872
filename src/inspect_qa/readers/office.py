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

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class DocxProblem(Exception):
    """A .docx that cannot be read, with the reason a person can act on."""


def _paragraph_text(p_element: object, rendered: bool) -> str:
    """A paragraph's text, with ``\\f`` where a page starts inside or after it."""
    out: list[str] = []
    for el in p_element.iter():  # type: ignore[attr-defined]
        tag = el.tag
        if tag == f"{_W}t":
            out.append(el.text or "")
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
    from docx.table import Table

    if not zipfile.is_zipfile(path):
        raise DocxProblem("not a Word .docx file (an old .doc, or an encrypted document, is not "
                          "a zip archive): save it as .docx or PDF")
    try:
        document = docx.Document(str(path))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocxProblem(f"damaged or not a Word document ({exc})") from exc
    body = document.element.body
    rendered = any(True for _ in body.iter(f"{_W}lastRenderedPageBreak"))
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # a merged cell is listed once per column it spans
                        continue
                    seen.add(id(cell._tc))
                    cells.append(" ".join(cell.text.split()))
                if any(cells):
                    rows.append("\t".join(cells))
            if rows:
                blocks.append("\n".join(rows))
        else:
            text = _paragraph_text(item._p, rendered)
            if text.strip() or "\f" in text:
                blocks.append(text.strip(" ").replace("\f", "\n\f"))
    text = "\n\n".join(blocks)
    # A page break leads the paragraph after it (never inside a line of text).
    text = text.replace("\n\f\n\n", "\n\n\f").strip("\n") + "\n"
    pages = text.count("\f") + 1 if "\f" in text else None
    return text, pages
