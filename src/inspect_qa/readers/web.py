"""Web pages (.html, .htm) through ``trafilatura``: the article, without the page around it.

Why trafilatura: it scored best of the open-source main-text extractors in published
comparisons (its own benchmark and Bevendorff et al., SIGIR 2023), it keeps headings, paragraphs
and tables, and it is Apache-2.0 and actively kept; readability-lxml keeps more boilerplate.
Navigation, cookie banners, related links and footers are dropped; nothing is fetched.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path


class HtmlProblem(Exception):
    """A web page without readable article text."""


def _row(line: str) -> str | None:
    """Trafilatura's table row ``| a | b |`` as tab-separated cells, else ``None``."""
    s = line.strip()
    if not (s.startswith("|") and s.endswith("|") and s.count("|") >= 2):
        return None
    cells = [c.strip() for c in s[1:-1].split(" | ")]
    return "\t".join(cells)


def read_html(path: Path) -> str:
    """The article text of the web page at ``path``: paragraphs and headings separated by
    blank lines, table rows by lines, cells by tabs.

    Raises:
        HtmlProblem: no article text found.
    """
    import logging

    import trafilatura

    # trafilatura logs its parser's complaints as errors; the reason a page is refused is
    # this function's to give, once.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    raw = path.read_bytes()
    if not re.search(rb"<\s*[A-Za-z!/?]", raw) and not raw.startswith(
            (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # UTF-16 markup has NULs between
        from . import read_text_file  # no tag at all: text saved with a .html name

        return read_text_file(raw)
    text = trafilatura.extract(raw, output_format="txt", include_tables=True,
                               include_comments=False, include_links=False,
                               include_images=False, deduplicate=False, favor_recall=True)
    if not text or not text.strip():
        raise HtmlProblem("no article text found in the page (only navigation or scripts?)")
    blocks: list[str] = []
    in_table = False
    for line in text.splitlines():
        row = _row(line)
        if row is not None and not re.sub(r"[\s|:\-]", "", row):
            continue  # the header separator "|---|---|" is not a row
        if row is not None:
            if in_table:
                blocks[-1] += "\n" + row  # rows of one table stay together
            else:
                blocks.append(row)
            in_table = True
        elif line.strip():
            blocks.append(re.sub(r"[ \t]+", " ", line.strip()))
            in_table = False
    return "\n\n".join(blocks) + "\n"
