"""Table rows are read with their column headings; back-referring answers bring their referent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inspect_qa import Retriever
from inspect_qa.answers import refers_back
from inspect_qa.layout import table_headings
from inspect_qa.storage import SentenceRef, load_index

TABLE = (
    "Staffing\n\n"
    "The table below shows the social work workforce of the service.\n\n"
    "Team\tSocial workers Perm/agency\tManagers\n"
    "April 2015\t109 /17\t33 /1\n"
    "current\t106 /60\t25 /19\n\n"
    "Length of service is set out below for every member of staff in the team.\n\n"
    "Team\tYears\n"
    "\tLess than 2\t2-4\t5-9\n"
    "Grand Total\t38\t31\t36\n"
)


def _span(text: str, line: str) -> tuple[int, int]:
    start = text.index(line)
    return start, start + len(line)


def test_table_rows_are_read_with_their_column_headings() -> None:
    heads = table_headings(TABLE)
    first = _span(TABLE, "Team\tSocial workers Perm/agency\tManagers")
    assert heads[TABLE.index("April 2015")] == first
    assert heads[TABLE.index("current")] == first  # not the April row above it
    # Two heading rows: "Team Years", then the row whose first cell is empty.
    grid = (TABLE.index("Team\tYears"), TABLE.index("5-9") + 3)
    assert heads[TABLE.index("Grand Total")] == grid
    assert len(heads) == 3  # heading rows themselves are not read with anything


def test_markdown_tables_and_tables_without_data_rows() -> None:
    md = "| Area | Grade |\n|---|---|\n| Adoption | Good |\n| Fostering | 2 |\n"
    heads = table_headings(md)
    # "| Adoption | Good |" holds no figure: it reads like a heading row too, so the headings
    # run to it and only the row with a figure is read with them.
    assert list(heads) == [md.index("| Fostering")]
    assert heads[md.index("| Fostering")] == (0, md.index("| Fostering") - 1)
    assert table_headings("Area\tGrade\nAdoption\tGood\n") == {}


def test_sentence_rows_round_trip_with_and_without_context() -> None:
    from inspect_qa.tables import SentenceTable

    refs = [SentenceRef(0, 10, 20), SentenceRef(1, 10, 20, (0, 9)), SentenceRef(1, 21, 30)]
    table = SentenceTable(SentenceTable.encode(refs), chunks=3)
    assert list(table) == refs and table[-1] == refs[-1]
    assert table.range_of(1) == (1, 3) and table.range_of(2) == (3, 3)  # passage 2: none
    with pytest.raises(ValueError, match="passage order"):
        SentenceTable(SentenceTable.encode(refs[::-1]), chunks=3)


def test_index_embeds_and_indexes_rows_with_headings(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "report.txt").write_text(TABLE, encoding="utf-8")
    Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    ix = load_index(tmp_path / "ix")
    rows = {ix.documents["report.txt"].text[s.start : s.end]: s for s in ix.sentences}
    april = rows["April 2015\t109 /17\t33 /1"]
    assert april.context == _span(TABLE, "Team\tSocial workers Perm/agency\tManagers")
    assert april.read_text(TABLE) == ("Team Social workers Perm/agency Managers\n"
                                      "April 2015 109 /17 33 /1")
    assert rows["Team\tYears"].context is None
    # The sentence-level BM25 finds the row by a word only its headings hold.
    scores = ix.sentence_lexical.scores("agency social workers April")
    assert ix.sentences[int(scores.argmax())] == april


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("This has led to a reduction from 43 to two.", True),
        ("He chairs the corporate parenting board.", True),
        ("Their approach towards families is strength-based.", True),
        ("This letter summarises the findings of the visit.", False),
        ("These pieces of work are not always completed.", False),
        ("The visit was carried out by two inspectors.", False),
        ("Hence the delay.", False),
    ],
)
def test_refers_back(sentence: str, expected: bool) -> None:
    assert refers_back(sentence) is expected


def _never_abstaining(tmp_path: Path, embedder, text: str) -> Retriever:
    """A retriever of one report ``text`` that always answers (threshold 0)."""
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "r.txt").write_text(text, encoding="utf-8")
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    return Retriever(r.index, r.embedder, calibration=replace(r.calibration, threshold=0.0))


def test_a_sentence_that_refers_back_is_shown_with_the_one_before(
        tmp_path: Path, embedder) -> None:
    always = _never_abstaining(
        tmp_path, embedder,
        "Permanence\n\nA permanency panel was introduced in October 2015 for children on "
        "placement orders. This has led to a reduction from 43 to two. Adoption timeliness "
        "is improving across the service.\n")
    ranked = always._rank("What reduction was achieved?", 3, "hybrid", None, True)
    cand, _, _ = always.answer_features(ranked)
    text = always.corpus.sentence_text
    texts = {text(a): text(b) for a, b, _ in cand}
    # The back-referring sentence is never a candidate on its own: it starts one earlier.
    assert "This has led to a reduction from 43 to two." not in texts
    starts = [text(a) for a, b, _ in cand]
    assert starts.count("A permanency panel was introduced in October 2015 for children on "
                        "placement orders.") >= 3  # itself, its pair, and the shown one


def test_a_heading_is_never_joined_to_the_sentence_after_it(tmp_path: Path, embedder) -> None:
    always = _never_abstaining(
        tmp_path, embedder,
        "Leadership is stable and the service knows itself well.\n\n"
        "6. The Improvement Board and Programme Board\n\n"
        "The Improvement Board was established in September 2015 and meets every six weeks. "
        "It is chaired by a former director.\n\n"
        "## Fostering panels\n\nThey meet monthly.\n")
    c = always.corpus
    heads = {c.sentence_text(j) for j in range(len(always.index.sentences)) if c.is_heading(j)}
    assert heads == {"6. The Improvement Board and Programme Board", "## Fostering panels"}
    # A heading may be a candidate alone, never the first or last of a pair, never shown
    # before a sentence that refers back ("They meet monthly.").
    for question, passage in (("When was the Improvement Board established?", "6. The"),
                              ("How often do the fostering panels meet?", "## Fostering")):
        ranked = always._rank(question, 3, "hybrid", None, True)
        assert always.index.chunks[ranked.rows[0]].text.startswith(passage)
        cand, _, _ = always.answer_features(ranked)
        assert all(a == b for a, b, _ in cand if c.is_heading(a) or c.is_heading(b))
        assert not any(c.sentence_text(b) == "They meet monthly." and a != b
                       for a, b, _ in cand)
    answer = always.answer("When was the Improvement Board established?")
    assert answer.text.startswith("The Improvement Board was established")


def test_a_heading_that_restates_the_question_is_no_answer(tmp_path: Path, embedder) -> None:
    always = _never_abstaining(
        tmp_path, embedder,
        "The service has improved since the last visit.\n\n"
        "What needs to improve\n\n"
        "Leaders should make sure that plans for children are specific and reviewed.\n\n"
        "Next steps\n\nWe will visit again in the spring.\n")
    question = "What needs to improve?"
    candidate = always.answer_candidate(question)
    assert candidate.text == "What needs to improve"  # the sentence most like the question
    answer = always.answer(question)
    assert not answer.found and answer.text == "" and "a heading" in answer.reason
    assert answer.passages and "Leaders should make sure" in answer.passages[0].text
