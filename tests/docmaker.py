"""Real-looking PDFs, Word files and web pages made from the seed texts, for tests and benchmarks.

Each maker lays the text out itself, with the damage real files carry: a PDF has a running
header (title and a print date) and footer (a web address and "Page N of M") on every page,
words hyphenated across line ends and paragraphs wrapped at the line width; a web page has
navigation, a cookie banner, related links and a footer around the article.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Characters Helvetica (WinAnsi) cannot show, as the seeds use them.
_SUBSTITUTES = {"\uf0b7": "•", "\uf0a7": "•", "\u2212": "-", "\u00a0": " "}


@dataclass(frozen=True)
class Block:
    """A paragraph (its lines joined) or a table row (its cells)."""

    text: str
    cells: tuple[str, ...] = ()


def blocks(text: str) -> list[Block]:
    """The seed text as paragraphs and table rows: non-blank lines run together until a blank
    line, a table row (tab-separated cells) or a short line that ends without punctuation."""
    out: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(Block(" ".join(para)))
            para.clear()

    for raw in text.replace("\f", "\n").splitlines():
        line = "".join(_SUBSTITUTES.get(ch, ch) for ch in raw).strip().strip("*").strip()
        if not line:
            flush()
            continue
        cells = tuple(c.strip() for c in raw.split("\t") if c.strip())
        if len(cells) >= 2:
            flush()
            out.append(Block(" ".join(cells), tuple(
                "".join(_SUBSTITUTES.get(ch, ch) for ch in c).strip("*") for c in cells)))
            continue
        para.append(line)
        if len(line) < 60 and not line.endswith((".", ",", ";", ":")):
            flush()  # a heading or a letterhead line stands alone
    flush()
    return out


def words(text: str) -> list[str]:
    """Lower-case words and numbers: what must come back, in order, from any format."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("-", ""))


# -- PDF ------------------------------------------------------------------------------------


def make_pdf(text: str, path: Path, *, title: str = "Inspection report",
             printed: str = "04/12/2026, 09:15",
             address: str = "https://reports.example.gov.uk/provider/44/80573",
             hyphenate: bool = True) -> int:
    """Write ``text`` as a PDF at ``path``; returns the number of pages.

    Helvetica 10.5 pt on A4 with 2.5 cm margins; running header and footer on every page;
    long words that do not fit a line's end are hyphenated (``hyphenate``).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    font, size, leading = "Helvetica", 10.5, 13.5
    width, height = A4
    left, right, top, bottom = 72.0, width - 72.0, height - 80.0, 80.0

    def wrap(para: str) -> list[str]:
        lines: list[str] = []
        line = ""
        for word in para.split():
            trial = f"{line} {word}" if line else word
            if stringWidth(trial, font, size) <= right - left:
                line = trial
                continue
            if hyphenate and len(word) >= 8 and word.isalpha():
                # As typesetters do: as much of the word as fits, a hyphen, the rest below.
                for cut in range(len(word) - 3, 2, -1):
                    head = f"{line} {word[:cut]}-" if line else f"{word[:cut]}-"
                    if stringWidth(head, font, size) <= right - left:
                        lines.append(head)
                        line = word[cut:]
                        break
                else:
                    lines.append(line)
                    line = word
                continue
            if line:
                lines.append(line)
            line = word
        if line:
            lines.append(line)
        return lines

    # Lay out once to count pages, then draw (the footer says "Page N of M").
    pages: list[list[tuple[float, float, str]]] = [[]]
    y = top
    for block in blocks(text):
        if block.cells:
            # Columns as wide as their text, a gap between; a row too wide for the page is
            # set as a paragraph instead (cells never overlap).
            xs, x = [], left
            for cell in block.cells:
                xs.append(x)
                x += stringWidth(cell, font, size) + 24
            if x - 24 <= right:
                if y < bottom:
                    pages.append([])
                    y = top
                for x0, cell in zip(xs, block.cells, strict=True):
                    pages[-1].append((x0, y, cell))
                y -= leading
                continue
        for line in wrap(block.text):
            if y < bottom:
                pages.append([])
                y = top
            pages[-1].append((left, y, line))
            y -= leading
        y -= leading * 0.8  # paragraph spacing
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(title)
    for n, page in enumerate(pages, start=1):
        c.setFont(font, 8)
        c.drawString(left, height - 40, title)
        c.drawRightString(right, height - 40, printed)
        c.drawString(left, 40, address)
        c.drawRightString(right, 40, f"Page {n} of {len(pages)}")
        c.setFont(font, size)
        for x, y0, s in page:
            c.drawString(x, y0, s)
        c.showPage()
    c.save()
    return len(pages)


def pdftotext_page(path: Path, page: int) -> str:
    """Poppler's text of one page: an extractor independent of the one under test."""
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(path), "-"],
                          capture_output=True, text=True, check=True).stdout


def pdf_page_count(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]


def letters(text: str) -> str:
    """Letters and digits only, lower case: compares texts across extractors and hyphenation."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


# -- Word -----------------------------------------------------------------------------------


def make_docx(text: str, path: Path, *, title: str = "Inspection report",
              page_every: int = 0) -> None:
    """Write ``text`` as a .docx: paragraphs, headings as Heading 2, table rows as a table,
    the title in the page header; an explicit page break before every ``page_every``-th
    paragraph when ``page_every`` > 0."""
    import docx
    from docx.enum.text import WD_BREAK

    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = f"{title} — printed 04/12/2026"
    d.sections[0].footer.paragraphs[0].text = "www.example.gov.uk"
    table = None
    count = 0
    for block in blocks(text):
        if block.cells:
            if table is None or len(table.columns) != len(block.cells):
                table = d.add_table(rows=0, cols=len(block.cells))
            row = table.add_row()
            for cell, value in zip(row.cells, block.cells, strict=True):
                cell.text = value
            continue
        table = None
        count += 1
        heading = len(block.text) < 60 and not block.text.endswith((".", ",", ";", ":"))
        para = d.add_paragraph(block.text, style="Heading 2" if heading else None)
        if page_every and count % page_every == 0:
            para.runs[-1].add_break(WD_BREAK.PAGE) if para.runs else None
    d.save(str(path))


# -- web pages ------------------------------------------------------------------------------


def make_html(text: str, path: Path, *, title: str = "Inspection report") -> None:
    """Write ``text`` as a council web page: the article inside navigation, a cookie banner,
    related links and a footer, as a browser saves it."""
    import html

    body = []
    for block in blocks(text):
        if block.cells:
            body.append("<table><tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in block.cells)
                        + "</tr></table>")
        elif len(block.text) < 60 and not block.text.endswith((".", ",", ";", ":")):
            body.append(f"<h2>{html.escape(block.text)}</h2>")
        else:
            body.append(f"<p>{html.escape(block.text)}</p>")
    page = f"""<!DOCTYPE html>
<!-- saved from url=(0052)https://www.example.gov.uk/news/children/report.html -->
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | Example Council</title></head>
<body>
<div id="cookie-banner" class="cookie-banner"><p>We use cookies to make this website work and to
collect analytics. Accept all cookies or manage your cookie settings.</p>
<button>Accept all cookies</button><button>Reject</button></div>
<header><a href="/">Example Council home</a>
<nav><ul><li><a href="/bins">Bins and recycling</a></li><li><a href="/council-tax">Council tax</a></li>
<li><a href="/schools">Schools and learning</a></li><li><a href="/parking">Parking permits</a></li>
<li><a href="/children">Children and families</a></li></ul></nav>
<form><input type="search" placeholder="Search this site"><button>Search</button></form></header>
<main><article>
<h1>{html.escape(title)}</h1>
{chr(10).join(body)}
</article>
<aside class="related"><h2>Related pages</h2><ul>
<li><a href="/a">Fostering with Example Council</a></li><li><a href="/b">Report a concern about a
child</a></li><li><a href="/c">Family hubs near you</a></li></ul></aside></main>
<footer><ul><li><a href="/access">Accessibility statement</a></li><li><a href="/privacy">Privacy
notice</a></li><li><a href="/cookies">Cookies</a></li></ul>
<p>© Example Council 2026. Page last updated 3 December 2026.</p></footer>
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def chromium_print(html_path: Path, pdf_path: Path) -> None:
    """Print a web page to PDF with headless Chromium, with its default header and footer
    (the print date, the page title, the file's address and "1/5")."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise RuntimeError("chromium is not installed")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
 f"--print-to-pdf={pdf_path}",
                    html_path.resolve().as_uri()], capture_output=True, check=True, timeout=120)
