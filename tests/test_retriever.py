from pathlib import Path

import pytest

from inspect_qa import MAX_K, MAX_QUESTION_CHARS, Filters, InvalidQuery, Passage, Retriever
from inspect_qa.chunking import normalise


@pytest.fixture
def retriever(corpus: Path, tmp_path: Path, embedder) -> Retriever:
    return Retriever.build(corpus, tmp_path / "ix", embedder=embedder)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_search_finds_the_right_document(retriever: Retriever, mode: str) -> None:
    ps = retriever.search("how long do children wait for adoption in Riverton", k=3, mode=mode)
    assert ps and ps[0].source == "sub/news.md"
    ps = retriever.search("caseloads social workers assessment team", k=3, mode=mode)
    assert ps[0].source == "letter.txt"


def test_passages_are_cited_exactly(retriever: Retriever) -> None:
    for p in retriever.search("children caseloads fostering", k=10):
        assert isinstance(p, Passage)
        doc = retriever.index.documents[p.source]
        assert normalise(doc.text[p.start : p.end]) == p.text
        d = p.to_dict()
        assert set(d) == {"text", "source", "start", "end", "score", "title", "date", "section",
                          "page", "page_end", "chunk_id"}


def test_results_sorted_at_most_k_never_padded_never_overlapping(retriever: Retriever) -> None:
    n_chunks = len(retriever.index.chunks)
    for mode in ("dense", "lexical", "hybrid"):
        ps = retriever.search("children", k=MAX_K, mode=mode)
        assert len(ps) <= min(MAX_K, n_chunks)
        scores = [p.score for p in ps]
        assert scores == sorted(scores, reverse=True)
        spans = [(p.source, p.start, p.end) for p in ps]
        for i, a in enumerate(spans):
            for b in spans[i + 1 :]:
                assert not (a[0] == b[0] and a[1] < b[2] and b[1] < a[2])
    # lexical search returns only passages sharing a word with the question: not padded
    assert retriever.search("zebra giraffe", k=5, mode="lexical") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n\t"}, "empty"),
        ({"question": None}, "must be text"),
        ({"question": b"bytes"}, "must be text"),
        ({"question": "x" * (MAX_QUESTION_CHARS + 1)}, "limit"),
        ({"question": "ok", "k": 0}, "k must be"),
        ({"question": "ok", "k": MAX_K + 1}, "k must be"),
        ({"question": "ok", "k": "5"}, "whole number"),
        ({"question": "ok", "k": True}, "whole number"),
        ({"question": "ok", "mode": "semantic"}, "unknown mode"),
        ({"question": "ok", "filters": Filters(sources=("nope.txt",))}, "unknown document"),
        ({"question": "ok", "filters": Filters(date_from="July 2016")}, "ISO date"),
        ({"question": "ok", "filters": Filters(date_to="2016-13")}, "ISO date"),
        ({"question": "ok", "filters": Filters(date_from="2018", date_to="2017-12")}, "after"),
        ({"question": "ok", "filters": Filters(date_to="2016-02-31")}, "calendar"),
        ({"question": "ok", "filters": Filters(date_from=2016)}, "ISO date"),  # type: ignore[arg-type]
        ({"question": "ok", "filters": Filters(sources="letter.txt")}, "list of document"),  # type: ignore[arg-type]
        ({"question": "ok", "filters": {"sources": ["letter.txt"]}}, "Filters"),
    ],
)
def test_bad_input_is_a_clear_error(retriever: Retriever, kwargs, message) -> None:
    with pytest.raises(InvalidQuery, match=message):
        retriever.search(**kwargs)
    with pytest.raises(InvalidQuery, match=message):
        retriever.answer(**kwargs)


def test_filters(retriever: Retriever) -> None:
    only_news = retriever.search("children", k=10, filters=Filters(sources=("sub/news.md",)))
    assert only_news and {p.source for p in only_news} == {"sub/news.md"}
    dated = retriever.search("children", k=10, filters=Filters(date_from="2019-01-01"))
    assert dated and {p.source for p in dated} == {"letter.txt"}  # the news item has no date
    assert retriever.search("children", k=10, filters=Filters(date_to="2018-12-31")) == []


@pytest.mark.parametrize(
    ("date_from", "date_to", "kept"),
    [
        ("2016-07-01", "2016-07-31", True),   # a report dated "2016-07" is the whole month
        ("2016-07-15", None, True),
        (None, "2016-07-01", True),
        ("2016", "2016", True),
        ("2016-08", None, False),
        (None, "2016-06-30", False),
    ],
)
def test_month_dated_document_overlaps_ranges(corpus: Path, tmp_path: Path, embedder,
                                               date_from, date_to, kept) -> None:
    (corpus / "report.txt").write_text("Report on fostering\n\nJuly 2016\n\nThe fostering "
                                       "panel met twelve times and approved carers.\n")
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    assert r.index.documents["report.txt"].date == "2016-07"
    ps = r.search("fostering panel", k=10, filters=Filters(date_from=date_from, date_to=date_to))
    assert ("report.txt" in {p.source for p in ps}) is kept


def test_answer_dict(retriever: Retriever) -> None:
    a = retriever.answer("How many children do social workers in the assessment team hold?")
    d = a.to_dict()
    assert set(d) == {"question", "found", "text", "source", "start", "end", "confidence",
                      "passages", "passage_index", "reason", "page"}
    assert 0.0 <= a.confidence <= 1.0
    assert d["passages"] == [p.to_dict() for p in retriever.search(a.question)]


def test_question_weights_move_from_words_to_meaning() -> None:
    from inspect_qa.search import fusion

    lo, hi = fusion.FEW_WORDS_GATE
    assert fusion.question_weights(hi) == fusion.FUSION_WEIGHTS
    assert fusion.question_weights(1.0) == fusion.FUSION_WEIGHTS
    assert fusion.question_weights(lo) == fusion.FEW_WORDS_WEIGHTS
    assert fusion.question_weights(0.0) == fusion.FEW_WORDS_WEIGHTS
    mid = fusion.question_weights((lo + hi) / 2)
    for k, v in mid.items():
        assert v == pytest.approx((fusion.FUSION_WEIGHTS[k] + fusion.FEW_WORDS_WEIGHTS[k]) / 2)
    # a reader's words count for less, meaning for more
    few, words = fusion.FEW_WORDS_WEIGHTS, fusion.FUSION_WEIGHTS
    assert few["dense_sentence"] > words["dense_sentence"]
    assert few["lexical_chunk"] < words["lexical_chunk"]


def test_a_question_whose_words_find_little_is_ranked_on_meaning(
        retriever: Retriever, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from inspect_qa.search import fusion

    only_dense = dict.fromkeys(fusion.FUSION_WEIGHTS, 0.0) | {"dense_chunk": 1.0}
    monkeypatch.setattr(fusion, "FEW_WORDS_WEIGHTS", only_dense)
    # words no report uses: lexical strength 0, ranked by the dense passage score alone
    ranked = retriever._rank("quixotic zephyrs of blandishment", 10, "hybrid", None, False)
    assert fusion.lexical_strength(retriever.corpus, ranked.question, ranked.first) == 0.0
    assert np.allclose(ranked.scores, fusion.minmax(ranked.evidence.dense_chunk))
    # a question in the reports' words keeps the words' weights: the late bonus moves scores
    ranked = retriever._rank("caseloads social workers assessment team", 10, "hybrid", None,
                             False)
    strength = fusion.lexical_strength(retriever.corpus, ranked.question, ranked.first)
    assert strength >= fusion.FEW_WORDS_GATE[1]
    assert not np.allclose(ranked.scores, fusion.minmax(ranked.evidence.dense_chunk))


def test_lists_made_on_two_threads_are_the_same(
        retriever: Retriever, monkeypatch: pytest.MonkeyPatch) -> None:
    """The large-index first stage shares its lists' parts between this thread and a worker:
    the same candidates and scores as made in turn on one thread."""
    import numpy as np

    from inspect_qa.search import first_stage

    monkeypatch.setattr(first_stage, "REFERENCE_ROWS", 2)  # the large-index path

    class Later:  # the job is run, on this thread, when its result is asked for
        def __init__(self, fn):
            self.fn = fn

        def cancel(self):
            return False

        def result(self):
            return self.fn()

    class InTurn:
        def submit(self, fn, *args):
            return Later(lambda: fn(*args))

    questions = ["caseloads social workers assessment team", "adoption in Riverton",
                 "children fostering", "the second monitoring visit"]
    threaded = [retriever._rank(q, 10, "hybrid", None, False) for q in questions]
    assert first_stage._pool is not None  # the worker was used
    monkeypatch.setattr(first_stage, "_workers", InTurn)
    for q, a in zip(questions, threaded, strict=True):
        b = retriever._rank(q, 10, "hybrid", None, False)
        assert not a.first.exhaustive
        np.testing.assert_array_equal(a.first.rows, b.first.rows)
        np.testing.assert_array_equal(a.first.lexical_chunk[a.first.rows],
                                      b.first.lexical_chunk[b.first.rows])
        for x, y in zip(a.first.lexical_sentence.parts, b.first.lexical_sentence.parts,
                        strict=True):
            np.testing.assert_array_equal(x, y)
        assert a.rows == b.rows
        np.testing.assert_array_equal(a.scores, b.scores)


def test_the_weights_do_not_depend_on_a_filter_or_the_index_size(
        retriever: Retriever, monkeypatch: pytest.MonkeyPatch) -> None:
    """A question's lexical strength is over every passage: a filter that leaves out the
    passages its words find does not turn it into a plain-words question."""
    from inspect_qa.search import first_stage, fusion

    q = "adoption timeliness fostering panel Riverton carers"
    only_letter = Filters(sources=("letter.txt",))
    strengths = []
    for reference in (first_stage.REFERENCE_ROWS, 1):  # scored whole, and the large path
        monkeypatch.setattr(first_stage, "REFERENCE_ROWS", reference)
        for filters in (None, only_letter):
            ranked = retriever._rank(q, 5, "hybrid", filters, False)
            strengths.append(fusion.lexical_strength(retriever.corpus, ranked.question,
                                                     ranked.first))
    assert strengths[0] > 0
    assert strengths == [strengths[0]] * 4


def test_a_search_after_the_workers_are_gone_is_made_in_turn(
        retriever: Retriever, monkeypatch: pytest.MonkeyPatch) -> None:
    from inspect_qa.search import first_stage

    monkeypatch.setattr(first_stage, "REFERENCE_ROWS", 2)
    want = [p.chunk_id for p in retriever.search("caseloads social workers", k=3)]

    class ShutDown:
        def submit(self, fn, *args):
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(first_stage, "_workers", ShutDown)
    assert [p.chunk_id for p in retriever.search("caseloads social workers", k=3)] == want


def test_the_reports_a_question_names_are_searched_row_by_row_as_with_a_mask(
        seed_retriever: Retriever, monkeypatch: pytest.MonkeyPatch) -> None:
    """A question that names a few reports gets its lists within them by scoring their rows
    (exact, and no pass over the whole corpus): the same candidates as the masked search of
    the whole corpus that a question naming many reports gets."""
    import numpy as np

    from inspect_qa.search import first_stage

    monkeypatch.setattr(first_stage, "REFERENCE_ROWS", 2)  # the large-index path
    monkeypatch.setattr(first_stage, "DEPTH", 4)  # lists shorter than the named reports
    monkeypatch.setattr(seed_retriever.corpus, "_once", {})  # the sample drawn again: 2 rows
    scopes = []
    named_scopes = first_stage.named_scopes
    monkeypatch.setattr(first_stage, "named_scopes",
                        lambda *a: scopes.append(named_scopes(*a)) or scopes[-1])
    questions = ["the May 2018 letter on adoption", "supervision in the sixth monitoring visit",
                 "caseloads in the first monitoring visit", "the commissioner report on leadership"]
    found, exact = {}, first_stage.EXACT_ROWS
    for exact_rows in (exact, 0):
        monkeypatch.setattr(first_stage, "EXACT_ROWS", exact_rows)
        monkeypatch.setattr(first_stage, "EXACT_SHARE", 0.5 if exact_rows else 0.0)
        for q in questions:
            found[exact_rows, q] = seed_retriever._rank(q, 10, "hybrid", None, False).first.rows
    # the first round took the rows' path, the second the mask's
    rows = [all(scope.rows is not None and len(scope.rows) > 4 for scope in both)
            for both in scopes]
    masks = [both[0].rows is None and both[0].mask is not None  # passages: a mask
             and both[1].rows is None and both[1].passages is not None  # sentences: theirs
             for both in scopes]
    assert rows == [True] * 4 + [False] * 4 and masks == [False] * 4 + [True] * 4
    for q in questions:
        np.testing.assert_array_equal(found[exact, q], found[0, q])
