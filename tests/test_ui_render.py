"""HTML of the question page: escaping, and marks that cover exactly the cited characters."""

from __future__ import annotations

from html.parser import HTMLParser

from inspect_qa import Answer, Document, Passage
from inspect_qa.chunking import normalise
from inspect_qa.ui_render import (
    ANSWER,
    SPAN,
    WORD,
    answer_card,
    answer_passage,
    index_table,
    is_hard_wrapped,
    marked,
    passages_list,
    question_stems,
    source_view,
    word_marks,
)

EVIL = (
    "Findings\n\nThe records held <script>window.__pwned = 1</script> and "
    '<img src=x onerror="window.__pwned=2"> notes. Caseloads average 18 children.\n\n'
    "**Bold** and ${1+1} and {{value}} and [a link](http://example.com).\n"
)


class _Marks(HTMLParser):
    """Collects the text under each ``<mark class=...>`` and the tags seen."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[set[str]] = []
        self.text: dict[str, str] = {}
        self.tags: list[str] = []
        self.all_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "mark":
            self.stack.append(set((dict(attrs).get("class") or "").split()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "mark":
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.all_text += data
        for classes in self.stack:
            for c in classes:
                self.text[c] = self.text.get(c, "") + data


def parse(html: str) -> _Marks:
    p = _Marks()
    p.feed(html)
    p.close()
    return p


def _doc(text: str = EVIL, doc_id: str = "a/evil.txt") -> Document:
    return Document(doc_id, text, {"title": "Report <b>1</b>", "date": "2019-03-12",
                                   "kind": "report", "authority": "Exampleton"})


def _passage(doc: Document, start: int, end: int, score: float = 0.5) -> Passage:
    return Passage(normalise(doc.text[start:end]), doc.id, start, end, score, doc.title,
                   doc.date, "Findings", 2, "c1")


def _answer(doc: Document, question: str = "What do caseloads average?") -> Answer:
    p = _passage(doc, 10, len(doc.text))
    a, b = doc.text.index("Caseloads"), doc.text.index("children.") + len("children.")
    return Answer(question, True, normalise(doc.text[a:b]), doc.id, a, b, 0.83, (p,), 0)


def test_marked_escapes_and_marks_exact_characters() -> None:
    text = "a <b>bold</b> & c"
    html = marked(text, 0, len(text), [(2, 13, "x"), (5, 9, "y")])
    assert "<b>" not in html and "&lt;b&gt;" in html and "&amp;" in html
    got = parse(html)
    assert got.text["x"] == text[2:13]
    assert got.text["y"] == text[5:9] == "bold"
    assert got.all_text == text
    assert 'class="x y"' in html  # overlapping marks carry both classes


def test_marked_clips_to_the_window() -> None:
    text = "0123456789"
    got = parse(marked(text, 2, 8, [(0, 4, "x"), (7, 20, "y"), (9, 10, "z")]))
    assert got.all_text == "234567"
    assert got.text == {"x": "23", "y": "7"}


def test_question_words_are_marked_by_stem() -> None:
    text = "Caseloads for inspectors; the inspection was on caseload."
    stems = question_stems("What are the caseloads of the inspector?")
    got = parse(marked(text, 0, len(text), word_marks(text, 0, len(text), stems)))
    # "inspection" stems to "inspect", not "inspector": it stays unmarked.
    assert got.text[WORD] == "Caseloads" + "inspectors" + "caseload"
    assert "the" not in stems and "what" not in stems


def test_answer_card_highlights_the_answer_inside_its_passage() -> None:
    doc = _doc()
    a = _answer(doc)
    html = answer_card(a, {doc.id: doc})
    got = parse(html)
    assert got.text[ANSWER] == doc.text[a.start : a.end]
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert f"a/evil.txt:{a.start}-{a.end}" in html  # the answer's citation
    assert "a/evil.txt:10-" in html  # the passage's citation
    assert "confidence 83%" in html and "12 Mar 2019" in html and "Findings" in html
    assert "p.&nbsp;2" in html
    assert "Report &lt;b&gt;1&lt;/b&gt;" in html  # metadata is escaped too


def test_answer_card_shows_whole_sentences_around_a_long_passages_answer() -> None:
    text = "Opening words here. " * 40 + "The answer sits here. " + "Closing words follow. " * 40
    doc = Document("long.txt", text, {"title": "Long"})
    p = _passage(doc, 0, len(text))
    a, b = text.index("The answer"), text.index("here. ", text.index("The answer")) + 5
    ans = Answer("q", True, text[a:b], doc.id, a, b, 0.9, (p,), 0)
    got = parse(answer_card(ans, {doc.id: doc}))
    assert got.text[ANSWER] == "The answer sits here."
    quote = got.all_text.split("Answer")[1]
    assert "… Opening words here." in quote and "Closing words follow. …" in quote
    shown = quote[quote.index("Opening") : quote.index("follow.") + len("follow.")]
    assert shown in text  # one contiguous piece of the document
    assert 200 < len(shown) < 600


def test_answer_passage_is_found_by_offsets_when_not_given() -> None:
    doc = _doc()
    a = _answer(doc)
    other = _passage(doc, 0, 9)
    bare = Answer(a.question, True, a.text, a.source, a.start, a.end, a.confidence,
                  (other, a.passages[0]))
    assert answer_passage(bare) == 1
    assert parse(answer_card(bare, {doc.id: doc})).text[ANSWER] == doc.text[a.start : a.end]
    assert answer_passage(Answer("q", False, "", None, None, None, 0.2, (other,))) is None


def test_answer_card_says_not_found_and_points_to_the_passages() -> None:
    doc = _doc()
    a = Answer("q?", False, "", None, None, None, 0.31, (_passage(doc, 0, 40),),
               reason="Nothing in these reports matches “<b>France</b>”.")
    html = answer_card(a, {doc.id: doc})
    assert "Not found in these documents" in html
    assert "Nothing in these reports matches “&lt;b&gt;France&lt;/b&gt;”" in html
    assert ANSWER not in html
    empty = answer_card(Answer("q?", False, "", None, None, None, 0.0, ()), {})
    assert "No matching passages" in empty


def test_passages_list_marks_question_words_and_answer_and_escapes() -> None:
    doc = _doc()
    other = _passage(doc, 0, 9, score=0.1)
    a = _answer(doc)
    a = Answer(a.question, True, a.text, a.source, a.start, a.end, a.confidence,
               (a.passages[0], other), 0)
    html = passages_list(a, {doc.id: doc}, selected=1)
    got = parse(html)
    assert got.text[ANSWER] == doc.text[a.start : a.end]
    assert "Caseloads" in got.text[WORD]
    assert html.count('data-testid="citation"') == 2
    assert "score 0.500" in html and "score 0.100" in html
    assert "a/evil.txt:0-9" in html
    assert 'class="iqa-passage-card iqa-selected" data-index="1"' in html
    assert "script" not in got.tags and "img" not in got.tags
    assert "${1+1}" in got.all_text and "{{value}}" in got.all_text and "**Bold**" in got.all_text


def test_source_view_shows_whole_document_with_span_and_answer() -> None:
    doc = _doc()
    a = _answer(doc)
    p = a.passages[0]
    html = source_view(doc, p, a, 1)
    got = parse(html)
    assert doc.text in got.all_text  # whole document, verbatim (not hard-wrapped: no reflow)
    assert got.text[SPAN] == doc.text[p.start : p.end]
    assert got.text[ANSWER] == doc.text[a.start : a.end]
    assert "script" not in got.tags and "img" not in got.tags
    assert "data-chosen" not in html and "data-chosen" in source_view(doc, p, None, 1, chosen=True)


def test_hard_wrapped_text_is_reflowed_for_display_only() -> None:
    line = "the inspectors read case records and met \n\nsocial workers who know the children \n\n"
    text = "Title\n\n" + line * 6 + " \n\n \n\nNext paragraph.\n"
    assert is_hard_wrapped(text) and not is_hard_wrapped(EVIL)
    start = text.index("case records")
    end = start + 60
    doc = Document("w.txt", text, {"title": "W"})
    got = parse(source_view(doc, _passage(doc, start, end)))
    assert normalise(got.text[SPAN]) == normalise(text[start:end])  # same characters, reflowed
    assert "\n\n" not in got.text[SPAN]
    assert "\n\nNext paragraph." in got.all_text  # paragraphs stay apart


def test_index_table_lists_documents_and_build() -> None:
    manifest = {
        "model": {"name": "hashing-256", "dimension": 256, "max_tokens": 128},
        "built_at": "2024-01-01T00:00:00+00:00", "build_seconds": 1.5,
        "counts": {"documents": 1, "chunks": 3, "sentences": 9},
        "documents": {"a<b>.txt": {"chunks": 3, "chars": 1234, "metadata": {
            "title": "<i>T</i>", "kind": "monitoring letter", "date": "2016-10",
            "authority": "Dudley", "visit_number": 6, "inspectors": ["Ann Example", "Bob S"]}}},
    }
    html = index_table(manifest)
    got = parse(html)
    assert "i" not in got.tags
    for s in ("a<b>.txt", "<i>T</i>", "monitoring letter", "Oct 2016", "Dudley",
              "Ann Example, Bob S", "1,234", "hashing-256", "1 Jan 2024 00:00 UTC in 1.5 s", "3 chunks"):
        assert s in got.all_text, s


def test_page_breaks_survive_reflow_of_hard_wrapped_text() -> None:
    from inspect_qa.ui_render import marked, page_breaks

    lines = "\n\n".join(f"the line number {i} of a hard wrapped page continues" for i in range(8))
    text = lines + "\n\f" + lines + "\n\f" + lines
    html = page_breaks(marked(text, 0, len(text), [], reflow=True))
    assert html.count('data-testid="page-break"') == 2 and "page 3" in html
