"""HTML for the question page: answer card, cited passages, source view, index table.

Pure functions from inspect-qa values to HTML strings. Every piece of document text goes through
:func:`html.escape` exactly once, here: a report that contains HTML, Markdown or script text is
shown as that text, never interpreted. Highlights are computed on the raw document text with the
same character offsets the citations use, so what is marked is exactly what is cited.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from html import escape
from itertools import pairwise
from typing import Any

from .answers import Answer
from .documents import Document
from .passages import Passage
from .timeline import Timeline, TimelineEntry

#: CSS classes of the marks (the browser test and the stylesheet rely on these names).
ANSWER = "iqa-ans"
SPAN = "iqa-span"
WORD = "iqa-qw"

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@cache
def _stemmer() -> tuple[Any, frozenset[str]]:
    """The Snowball stemmer and stopwords the lexical index uses (both are core dependencies)."""
    import Stemmer

    from .query import QUESTION_WORDS

    # Question words are not content: "How many..." should not mark every "many" in a report.
    return Stemmer.Stemmer("english").stemWord, QUESTION_WORDS | {"many", "much"}


def _stem(word: str) -> str | None:
    stem, stop = _stemmer()
    w = word.lower().replace("’", "'")
    if w in stop or len(w) < 2:
        return None
    if w.endswith("'s"):
        w = w[:-2]
    return str(stem(w))


def question_stems(question: str) -> frozenset[str]:
    """Stems of the question's content words (stopwords and one-letter words dropped)."""
    return frozenset(s for w in _WORD.findall(question) if (s := _stem(w)))


def word_marks(text: str, lo: int, hi: int, stems: frozenset[str]) -> list[tuple[int, int, str]]:
    """Marks for the words of ``text[lo:hi]`` whose stem is one of ``stems``."""
    if not stems:
        return []
    return [
        (lo + m.start(), lo + m.end(), WORD)
        for m in _WORD.finditer(text[lo:hi])
        if _stem(m.group(0)) in stems
    ]


_BREAK = re.compile(r"[ \t\r\v]*\n[^\S\f]*")  # a page break (form feed) is never reflowed away


def is_hard_wrapped(text: str) -> bool:
    """True for text extracted from a PDF with a blank line after every printed line.

    Such text breaks sentences with two newlines and paragraphs with more newlines; shown as
    is, it reads double-spaced and broken.
    """
    doubles = [m for m in _BREAK.finditer(text) if m.group(0).count("\n") == 2]
    mid_sentence = sum(1 for m in doubles if text[m.end() : m.end() + 1].islower())
    return len(doubles) >= 5 and mid_sentence > 0.25 * len(doubles)


def _reflow(piece: str) -> str:
    # Display only: the characters cited are unchanged, the layout reads as the printed page.
    return _BREAK.sub(lambda m: " " if m.group(0).count("\n") <= 2 else "\n\n", piece)


def marked(text: str, lo: int, hi: int, marks: Iterable[tuple[int, int, str]],
           *, reflow: bool = False) -> str:
    """Escaped ``text[lo:hi]`` with each ``(start, end, css_class)`` wrapped in ``<mark>``.

    Marks may overlap or nest: the text is cut at every mark boundary and each piece carries the
    classes of all marks covering it, so ``<mark class="iqa-span iqa-ans">`` is a piece of the
    answer inside the cited passage. ``reflow`` joins the lines of hard-wrapped text for display.
    """
    spans = [(max(a, lo), min(b, hi), c) for a, b, c in marks if min(b, hi) > max(a, lo)]
    cuts = sorted({lo, hi, *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    out = []
    for a, b in pairwise(cuts):
        piece = escape(_reflow(text[a:b]) if reflow else text[a:b])
        classes = sorted({c for s, e, c in spans if s <= a and b <= e})
        out.append(f'<mark class="{" ".join(classes)}">{piece}</mark>' if classes else piece)
    return "".join(out)


# -- small pieces ------------------------------------------------------------------------------


def human_date(iso: str | None) -> str:
    """"2016-10-26" → "26 Oct 2016"; "2016-07" → "Jul 2016"; anything else unchanged."""
    if not iso:
        return ""
    parts = iso.split("-")
    try:
        month = _MONTHS[int(parts[1]) - 1]
    except (IndexError, ValueError):
        return iso
    return f"{int(parts[2])} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


def citation(source: str, start: int | None, end: int | None) -> str:
    """``source:start-end``, the form every citation on the page takes."""
    return f"{source}:{start}-{end}"


def page_label(page: int, page_end: int | None) -> str:
    """"p. 3", or "pp. 3–4" for a passage that runs on to the next page."""
    if page_end and page_end != page:
        return f"pp.&nbsp;{page}–{page_end}"
    return f"p.&nbsp;{page}"


def _meta_line(p: Passage, *, score: bool, cite: bool = True) -> str:
    bits = [escape(x) for x in (human_date(p.date), p.section or "") if x]
    if p.page:
        bits.append(page_label(p.page, p.page_end))
    if score:
        bits.append(f'<span class="iqa-score">score {p.score:.3f}</span>')
    if cite:
        bits.append(f'<code class="iqa-cite">{escape(citation(p.source, p.start, p.end))}</code>')
    return '<span class="iqa-sep"> · </span>'.join(bits)


def answer_passage(a: Answer) -> int | None:
    """Index of the passage that holds the answer (``None`` when nothing was found)."""
    if not a.found or a.source is None or a.start is None:
        return None
    if a.passage_index is not None:
        return a.passage_index
    for i, p in enumerate(a.passages):
        if p.source == a.source and p.start <= a.start < p.end:
            return i
    return None


def _answer_marks(a: Answer, p: Passage) -> list[tuple[int, int, str]]:
    if a.found and a.source == p.source and a.start is not None and a.end is not None:
        return [(a.start, a.end, ANSWER)]
    return []


_SENTENCE_END = re.compile(r"[.!?][\"'’”)]?\s+|\n\s*\n")


def context_window(text: str, lo: int, hi: int, start: int, end: int,
                   before: int = 300, after: int = 200) -> tuple[int, int]:
    """The part of ``text[lo:hi]`` shown around ``text[start:end]``: whole sentences, about
    ``before`` characters before it and ``after`` characters after it."""
    a = lo
    if start - lo > before:
        ends = [m.end() for m in _SENTENCE_END.finditer(text, start - before, start)]
        a = ends[0] if ends else text.find(" ", start - before, start) + 1 or start - before
    b = hi
    if hi - end > after:
        m = _SENTENCE_END.search(text, end + 1, end + after)
        b = m.start() + 1 if m else text.rfind(" ", end, end + after)
        b = b if b > end else end + after
    return a, b


# -- the answer card ---------------------------------------------------------------------------


def answer_card(a: Answer, docs: Mapping[str, Document]) -> str:
    """The answer highlighted in its passage, or a clear "not found" with what to read instead."""
    held = answer_passage(a)
    if held is None:
        if not a.passages:
            return (
                '<section class="iqa-card iqa-none" data-testid="answer-card">'
                '<div class="iqa-kicker">No matching passages</div>'
                "<p>Nothing in the documents searched shares this question's words or meaning. "
                "Widen the filters or rephrase the question.</p></section>"
            )
        return (
            '<section class="iqa-card iqa-notfound" data-testid="answer-card">'
            '<div class="iqa-kicker">Not found in these documents</div>'
            f"<p>{escape(a.reason)} The passages below are the closest: read them before "
            "concluding the documents are silent.</p></section>"
        )
    p = a.passages[held]
    text = docs[p.source].text
    lo, hi = context_window(text, p.start, p.end, a.start or p.start, a.end or p.end)
    body = marked(text, lo, hi, _answer_marks(a, p))
    body = ("… " if lo > p.start else "") + body + (" …" if hi < p.end else "")
    conf = max(0.0, min(1.0, a.confidence))
    return (
        '<section class="iqa-card iqa-found" data-testid="answer-card">'
        '<div class="iqa-kicker"><span>Answer</span>'
        f'<span class="iqa-conf" title="estimated probability that this sentence answers the '
        f'question">confidence {conf:.0%}<span class="iqa-meter"><span style="width:'
        f'{conf * 100:.0f}%"></span></span></span></div>'
        f'<blockquote class="iqa-passage">{body}</blockquote>'
        f'<div class="iqa-source-line"><span class="iqa-title">{escape(p.title)}</span></div>'
        f'<div class="iqa-meta">{_meta_line(p, score=False, cite=False)}</div>'
        '<div class="iqa-meta iqa-cites"><span class="iqa-label">answer</span> '
        f'<code class="iqa-cite">{escape(citation(p.source, a.start, a.end))}</code> '
        '<span class="iqa-label">in passage</span> '
        f'<code class="iqa-cite">{escape(citation(p.source, p.start, p.end))}</code></div>'
        "</section>"
    )


# -- cited passages ----------------------------------------------------------------------------


def passages_list(a: Answer, docs: Mapping[str, Document], selected: int | None = None) -> str:
    """The cited passages, best first, with the question's words and the answer span marked."""
    if not a.passages:
        return ""
    stems = question_stems(a.question)
    held = answer_passage(a)
    items = []
    for i, p in enumerate(a.passages):
        text = docs[p.source].text
        marks = _answer_marks(a, p) + word_marks(text, p.start, p.end, stems)
        classes = "iqa-passage-card" + (" iqa-selected" if i == selected else "")
        holds = '<span class="iqa-badge">answer</span> ' if i == held else ""
        items.append(
            f'<li class="{classes}" data-index="{i}" data-testid="citation">'
            f'<div class="iqa-passage-head"><span class="iqa-num">{i + 1}</span>'
            f'<span class="iqa-title">{escape(p.title)}</span>'
            f'<button type="button" class="iqa-show" data-index="{i}" '
            f'title="show this passage in its document">Show in source</button></div>'
            f'<div class="iqa-meta">{holds}{_meta_line(p, score=True)}</div>'
            f'<p class="iqa-text">{marked(text, p.start, p.end, marks)}</p></li>'
        )
    return (
        '<div class="iqa-passages"><h3 class="iqa-h">Cited passages '
        f'<span class="iqa-count">{len(a.passages)}, best first</span></h3>'
        f'<ol class="iqa-list">{"".join(items)}</ol></div>'
    )


# -- timeline ----------------------------------------------------------------------------------


def entry_passage(e: TimelineEntry) -> Passage:
    """A timeline entry as the passage the source view highlights."""
    return Passage(text=e.text, source=e.source, start=e.start, end=e.end, score=e.score,
                   title=e.title, date=e.date, section=e.section, page=e.page, chunk_id="")


def timeline_view(tl: Timeline, docs: Mapping[str, Document], selected: int | None = None) -> str:
    """One row per report in timeline order (date, kind, visit, title) with its sentences, the
    topic's words marked, each with a button that opens it in its document."""
    if not tl.entries:
        return (
            '<section class="iqa-card iqa-notfound" data-testid="timeline">'
            '<div class="iqa-kicker">Nothing on this topic</div>'
            f"<p>No report says anything about “{escape(tl.topic)}”. Try the words the reports "
            "use, or a broader topic.</p></section>")
    stems = question_stems(tl.topic)
    rows: list[str] = []
    last = None
    for i, e in enumerate(tl.entries):
        if e.source != last:
            if last is not None:
                rows.append("</ul></li>")
            when = (human_date(e.date) if e.date else
                    "undated (placed by its visit number)" if e.placed == "visit" else "undated")
            facts = [x for x in (e.kind, f"visit {e.visit_number}" if e.visit_number else None)
                     if x]
            rows.append(
                f'<li class="iqa-tl-report" data-testid="timeline-report">'
                f'<div class="iqa-passage-head"><span class="iqa-tl-date">{escape(when)}</span>'
                f'<span class="iqa-title">{escape(e.title)}</span></div>'
                f'<div class="iqa-meta">{escape(" · ".join(facts))}</div><ul class="iqa-list">')
            last = e.source
        text = docs[e.source].text
        classes = "iqa-passage-card" + (" iqa-selected" if i == selected else "")
        where = " · ".join(x for x in (e.section, f"p. {e.page}" if e.page else None,
                                        citation(e.source, e.start, e.end)) if x)
        rows.append(
            f'<li class="{classes}" data-index="{i}" data-testid="timeline-entry">'
            f'<p class="iqa-text">{marked(text, e.start, e.end, word_marks(text, e.start, e.end, stems))}'
            f'</p><div class="iqa-meta">{escape(where)} '
            f'<button type="button" class="iqa-show" data-index="{i}" '
            f'title="show this sentence in its document">Show in source</button></div></li>')
    rows.append("</ul></li>")
    n = len(tl.sources)
    return (f'<div class="iqa-passages" data-testid="timeline"><h3 class="iqa-h">'
            f'“{escape(tl.topic)}” across {n} report{"s" if n != 1 else ""} '
            f'<span class="iqa-count">oldest first</span></h3>'
            f'<ol class="iqa-list">{"".join(rows)}</ol></div>')


# -- the source view ---------------------------------------------------------------------------


def source_view(
    doc: Document, p: Passage, answer: Answer | None = None, number: int = 1, chosen: bool = False
) -> str:
    """The whole document, the cited passage highlighted (and the answer inside it, if there).

    ``chosen`` marks a view the reader asked for, which the page then scrolls into sight.
    """
    marks = [(p.start, p.end, SPAN)]
    if answer is not None:
        marks += _answer_marks(answer, p)
    md = doc.metadata
    facts = [
        escape(str(x))
        for x in (md.get("kind"), human_date(doc.date), md.get("authority"))
        if x
    ]
    facts.append(f'<code class="iqa-cite">{escape(doc.id)}</code>')
    if md.get("pages"):
        facts.append(f"{md['pages']} pages")
    facts.append(f"{len(doc.text):,} characters")
    sep = '<span class="iqa-sep"> · </span>'
    attr = ' data-chosen="1"' if chosen else ""
    page = f'<span class="iqa-page">{page_label(p.page, p.page_end)}</span>' if p.page else ""
    return (
        f'<div class="iqa-sourceview" data-testid="source-view"{attr}>'
        f'<div class="iqa-source-head"><div class="iqa-kicker"><span>Source of passage {number}'
        f'</span><code class="iqa-cite">{escape(citation(p.source, p.start, p.end))}</code>'
        f"{page}</div>"
        f'<div class="iqa-doc-title">{escape(doc.title)}</div>'
        f'<div class="iqa-meta">{sep.join(facts)}</div></div>'
        f'<div class="iqa-doc" tabindex="0">'
        f"{page_breaks(marked(doc.text, 0, len(doc.text), marks, reflow=is_hard_wrapped(doc.text)))}"
        "</div></div>"
    )


def page_breaks(html: str) -> str:
    """Each form feed of a document (a page break) as a visible divider naming the next page,
    as the page a PDF viewer shows."""
    count = iter(range(2, html.count("\f") + 2))
    return re.sub("\f", lambda _: f'<span class="iqa-pagebreak" data-testid="page-break">'
                  f"page {next(count)}</span>", html)


def source_placeholder() -> str:
    return (
        '<div class="iqa-sourceview iqa-empty" data-testid="source-view">'
        '<div class="iqa-kicker">Source</div>'
        "<p>Ask a question, then choose <em>Show in source</em> on a passage to read it in its "
        "document, with the cited characters highlighted.</p></div>"
    )


def timing_line(seconds: float, mode: str, k: int, n: int) -> str:
    return (
        f'<div class="iqa-timing" data-testid="timing">{seconds:.2f} s · {escape(mode)} · '
        f"{n} of k={k} passages</div>"
    )


# -- header and index tab ----------------------------------------------------------------------


def header(manifest: Mapping[str, Any]) -> str:
    n = manifest.get("counts", {}).get("documents", 0)
    return (
        '<header class="iqa-header"><h1>inspect-qa</h1>'
        f"<p>Ask a question of the {n} inspection report{'s' if n != 1 else ''} indexed here. "
        "Every answer is a sentence quoted verbatim from a report and cited to its exact "
        "characters; nothing is generated.</p></header>"
    )


def _when(iso: Any) -> str:
    """"2024-01-01T09:30:00+00:00" → "1 Jan 2024 09:30 UTC"."""
    try:
        t = dt.datetime.fromisoformat(str(iso)).astimezone(dt.UTC)
    except ValueError:
        return str(iso)
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year} {t:%H:%M} UTC"


def index_table(manifest: Mapping[str, Any]) -> str:
    """The documents with their extracted metadata and chunk counts, and how the index was made."""
    model = manifest.get("model", {})
    counts = manifest.get("counts", {})
    summary = [
        ("Model", f"{model.get('name', '?')} (dimension {model.get('dimension', '?')}, "
                  f"window {model.get('max_tokens', '?')} word pieces)"),
        ("Built", f"{_when(manifest.get('built_at'))} in {manifest.get('build_seconds', '?')} s"),
        ("Contents", f"{counts.get('documents', 0)} documents, {counts.get('chunks', 0)} "
                     f"chunks, {counts.get('sentences', 0)} sentences"),
        ("Search", "hybrid: dense (FAISS, exact inner product) + lexical (BM25), fused"),
    ]
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in summary)
    rows = []
    for doc_id, d in sorted(manifest.get("documents", {}).items()):
        md: dict[str, Any] = d.get("metadata") or {}
        inspectors = ", ".join(md.get("inspectors") or []) or md.get("author") or ""
        cells: Sequence[str] = (
            f'<span class="iqa-title">{escape(str(md.get("title") or doc_id))}</span><br>'
            f'<code class="iqa-cite">{escape(doc_id)}</code>'
            + (f' · {escape(str(md["format"]))}' if md.get("format") else "")
            + (f' · {int(md["pages"])} pages' if md.get("pages") else "")
            + (" · added" if d.get("origin") == "added" else ""),
            escape(str(md.get("kind") or "")),
            escape(human_date(md.get("date"))),
            escape(str(md.get("authority") or "")),
            escape(str(md.get("visit_number") or "")),
            escape(inspectors),
            escape(str(md.get("judgement") or "")),
            f'{int(d.get("chunks", 0)):,}',
            f'{int(d.get("chars", 0)):,}',
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Document", "Kind", "Date", "Authority", "Visit", "Inspectors / author",
                  "Judgement", "Chunks", "Characters")
    )
    return (
        f'<div class="iqa-index"><dl class="iqa-facts">{dl}</dl>'
        f'<table class="iqa-table"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>'
    )
