import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inspect_qa import Retriever
from inspect_qa.answers import (
    CONFIDENCE_FEATURES,
    SENTENCE_FEATURES,
    Calibration,
    answer_type,
    confidence_features,
    default_calibration,
    holds_new,
)
from inspect_qa.calibrate import _threshold
from inspect_qa.chunking import normalise
from inspect_qa.confidence import NO_CONTENT_HINT
from inspect_qa.documents import Document
from inspect_qa.query import DocumentHints, document_hints, hint_match


@pytest.mark.parametrize(
    ("question", "sample", "other"),
    [
        ("When did the visit take place?", "on 2 and 3 May 2018", "the visit was positive"),
        ("How many social workers were hired?", "only five appointed", "some were appointed"),
        ("What is the name of the chair?", "Jane Doe chairs it", "an experienced former DCS"),
        ("Who signed the letter?", "Her Majesty's Inspector", "the letter was sent"),
        ("How much did the council pay the consultants?", "a fee of £12,000", "in 2015"),
        ("How much funding was agreed?", "£1.439m per year", "funding was agreed in May"),
        ("What percentage of visits were on time?", "78% of visits", "% of visits on time"),
        ("What proportion of plans were reviewed?", "over half of plans", "12 plans"),
        ("How long was the post covered?", "for 16 months", "since 2015"),
        ("How often does the board meet?", "meets every six weeks", "the board met"),
        ("How many children were adopted?", "41 children", "38% of children"),
        ("How many staff joined?", "seven staff", "£2,000 per applicant"),
        ("By how much did referrals rise?", "37% higher", "referrals rose"),
        ("How much training did new staff receive?", "12 days of training", "training was good"),
        ("How often do managers audit files?", "each month", "Each child has a plan"),
    ],
)
def test_answer_type(question: str, sample: str, other: str) -> None:
    kind = answer_type(question)
    assert kind is not None and kind.search(sample) and not kind.search(other)


def test_no_answer_type_for_open_questions() -> None:
    assert answer_type("Why did the service deteriorate?") is None


def test_probability_is_the_logistic_of_the_standardised_features() -> None:
    cal = Calibration(sentence_weights=(1.0,), confidence_weights=(2.0, -1.0),
                      confidence_bias=0.5, feature_mean=(1.0, 0.0), feature_scale=(2.0, 1.0),
                      threshold=0.5)
    # z = 0.5 + 2 * (3 - 1) / 2 - 1 * (0.5 - 0) / 1 = 2.0
    assert cal.probability(np.array([3.0, 0.5])) == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_confidence_features_order() -> None:
    sentence = np.array([0.9, 0.8, 0.7, 1.0, 0.0, 0.65])  # SENTENCE_FEATURES order
    assert len(sentence) == len(SENTENCE_FEATURES)
    evidence = np.array([0.6, 0.1, 0.4, 0.55, 0.0, 0.5, 3.0, 0.2, 1.0, 0.25, 0.3])
    x = confidence_features(2.5, sentence, evidence)
    assert x.tolist() == [2.5, 0.9, 0.7, 1.0, 0.65, 0.6, 0.1, 0.4, 0.55, 0.0, 0.5, 3.0, 0.2,
                          1.0, 0.25, 0.3]
    assert len(x) == len(CONFIDENCE_FEATURES)


def test_holds_new_ignores_what_the_question_already_says() -> None:
    from inspect_qa.answers import _NUMBER, PROPER_NAME

    q = "How many of the 30 social workers left in 2016?"
    assert not holds_new(_NUMBER, "Of the 30 social workers, in 2016 many left.", q)
    assert holds_new(_NUMBER, "Of the 30 social workers, 12 left in 2016.", q)
    assert not holds_new(PROPER_NAME, "Alison Smale wrote it.", "Did Alison Smale write it?")
    assert holds_new(PROPER_NAME, "Andy Waugh wrote it.", "Did Alison Smale write it?")


def test_shipped_calibration_matches_the_features() -> None:
    cal = default_calibration()
    assert len(cal.sentence_weights) == len(SENTENCE_FEATURES)
    assert len(cal.confidence_weights) == len(CONFIDENCE_FEATURES) == len(cal.feature_mean)
    assert 0.0 < cal.threshold < 1.0
    assert cal.provenance["cross_validated"]["answer_accuracy"] > 0


def test_threshold_keeps_wrong_abstentions_within_budget() -> None:
    # 40 answerable questions with probabilities 0.01..0.40: a 5% budget allows 2 below.
    probs = np.array([i / 100 for i in range(1, 41)] + [0.001] * 5)
    answerable = np.array([True] * 40 + [False] * 5)
    t = _threshold(probs, answerable)
    assert 0.02 < t < 0.03
    assert int((probs[answerable] < t).sum()) == 2


def test_document_hints_and_match() -> None:
    h = document_hints("What did the May 2018 letter say about the sixth monitoring visit?")
    assert h == DocumentHints(month_years=((5, 2018),), visits=(6,), kinds=("letter",))
    letter = Document("a", "", {"date": "2018-05-29", "visit_number": 6,
                                "kind": "monitoring letter"})
    news = Document("b", "", {"date": None, "visit_number": 7, "kind": "news item"})
    assert hint_match(letter, h) == 1.0
    assert hint_match(news, h) == 0.0
    assert not document_hints("How are caseloads?")


@pytest.fixture
def retriever(corpus: Path, tmp_path: Path, embedder) -> Retriever:
    return Retriever.build(corpus, tmp_path / "ix", embedder=embedder)


def test_answer_is_a_verbatim_sentence(retriever: Retriever) -> None:
    always = replace(retriever.calibration, threshold=0.0)
    r = Retriever(retriever.index, retriever.embedder, calibration=always)
    a = r.answer("How long do children wait for adoption?")
    assert a.found and a.source == "sub/news.md"
    assert a.text == "Adoption timeliness remains a concern: children wait on average 500 days " \
                     "for adoption."
    assert normalise(r.index.documents[a.source].text[a.start : a.end]) == a.text
    assert a.passage_index is not None and a.passages[a.passage_index].source == a.source
    p = a.passages[a.passage_index]
    assert p.start <= a.start and a.end <= p.end


def test_abstention_keeps_the_closest_passages(retriever: Retriever) -> None:
    never = replace(retriever.calibration, threshold=1.01)
    r = Retriever(retriever.index, retriever.embedder, calibration=never)
    a = r.answer("How long do children wait for adoption?", k=3)
    assert not a.found and a.text == "" and a.source is None and a.start is None
    assert 1 <= len(a.passages) <= 3 and 0.0 <= a.confidence <= 1.0


def test_a_number_the_answering_document_never_mentions_counts_against_it(
        retriever: Retriever) -> None:
    q = "How long do children wait for adoption?"
    q_year = "How long did children wait for adoption in 1999?"
    evid = {}
    for question in (q, q_year):
        ranked = retriever._rank(question, 5, "hybrid", None, for_answer=True)
        evid[question] = retriever.answer_features(ranked)[2]
    unmentioned = CONFIDENCE_FEATURES.index("numbers_unmentioned") - 5  # evidence part
    assert evid[q][unmentioned] == 0.0 and evid[q_year][unmentioned] == 1.0


def test_names_are_runs_of_words_the_corpus_never_writes_in_lower_case() -> None:
    from inspect_qa.answers import PROPER_NAME, lower_case_words, type_words

    corpus = lower_case_words(["the strategic director and the independent chair met.",
                               "A new chief officer started."])
    assert "strategic" in corpus and "jenny" not in corpus
    found = type_words(PROPER_NAME, "The Strategic Director met Jenny Turnross.", corpus)
    assert found == (frozenset({"jenny", "turnross"}),)
    assert type_words(PROPER_NAME, "The Independent Chair started in April.", corpus) == ()
    # A title makes a name even of one word the corpus writes in lower case elsewhere.
    assert type_words(PROPER_NAME, "Mr Smith wrote.", corpus | {"smith"}) != ()
    assert type_words(PROPER_NAME, "The Leader Councillor Smith wrote.", corpus | {"smith"}) != ()
    assert type_words(PROPER_NAME, "The Smith wrote.", corpus | {"smith"}) == ()
    # Plurals and addresses: "inspectors" makes "Inspector" common; an e-mail address does not
    # make "jenny" common.
    common = lower_case_words(["two inspectors visited", "jenny.turnross@ofsted.gov.uk"])
    assert type_words(PROPER_NAME, "Her Majesty's Inspector Jenny Turnross", common) != ()
    assert "inspector" in common and "jenny" not in common
    # Without a corpus, any two capitalised words in a row count.
    assert type_words(PROPER_NAME, "The Independent Chair started.") != ()


def test_document_mismatch_counts_named_reports_not_months(retriever: Retriever) -> None:
    mismatch = CONFIDENCE_FEATURES.index("document_mismatch") - 5  # evidence part
    def evidence(question: str) -> float:
        ranked = retriever._rank(question, 5, "hybrid", None, for_answer=True)
        return float(retriever.answer_features(ranked)[2][mismatch])
    assert evidence("What did the third monitoring visit find about caseloads?") == 0.0
    assert evidence("What did the fifth monitoring visit find about caseloads?") == 1.0
    # A month no report is dated is often a date inside one: not a mismatch.
    assert evidence("What were caseloads in the assessment team in May 2017?") == 0.0
    assert evidence("How long did children wait for adoption?") == 0.0


def test_a_question_with_nothing_to_look_up_gets_a_hint_not_an_answer(
        retriever: Retriever) -> None:
    always = replace(retriever.calibration, threshold=0.0)
    r = Retriever(retriever.index, retriever.embedder, calibration=always)
    for question in ("hello", "???", "Thanks!", "what is it?"):
        a = r.answer(question)
        assert not a.found and a.confidence == 0.0 and a.text == ""
        assert a.reason == NO_CONTENT_HINT
    # the same threshold answers a real question
    assert r.answer("How long do children wait for adoption?").found


def test_not_found_names_the_words_the_reports_never_use(retriever: Retriever) -> None:
    never = replace(retriever.calibration, threshold=1.01)
    r = Retriever(retriever.index, retriever.embedder, calibration=never)
    a = r.answer("What is the capital of France?")
    assert not a.found
    assert a.reason.startswith("Nothing in these reports matches “capital”, “France”")
    a = r.answer("How long do children wait for adoption in Paris?")
    assert "“Paris”" in a.reason and "“children”" not in a.reason
    a = r.answer("How long do children wait for adoption?")
    assert a.reason.startswith("No sentence in these reports answers the question well enough")
    assert a.to_dict()["reason"] == a.reason
    candidate = r.answer_candidate("How long do children wait for adoption?")
    assert candidate.found and candidate.reason == "" and candidate.confidence == a.confidence


def test_gates_apply_only_to_the_model_they_were_fitted_for(retriever: Retriever) -> None:
    shipped = default_calibration()
    assert shipped.gates and shipped.provenance["model"] == "bundled:all-MiniLM-L6-v2"
    assert retriever.index.manifest["model"]["name"] != shipped.provenance["model"]
    assert retriever.calibration.gates == {}  # the hashing embedder: another scale
    given = Retriever(retriever.index, retriever.embedder, calibration=shipped)
    assert given.calibration.gates == shipped.gates  # a calibration passed in is kept as it is


def test_filters_that_leave_no_document_say_so(retriever: Retriever) -> None:
    from inspect_qa import Filters
    from inspect_qa.confidence import NO_MATCHING_DOCUMENT

    a = retriever.answer("How long do children wait for adoption?",
                         filters=Filters(date_from="1990", date_to="1991"))
    assert not a.found and a.passages == () and a.reason.startswith(NO_MATCHING_DOCUMENT)
    # the news item has no date: the reader learns it was not searched either
    assert a.reason.endswith("1 document with no date was not searched: a date range leaves "
                             "undated documents out.")
    b = retriever.answer("How long do children wait for adoption?",
                         filters=Filters(sources=("letter.txt",), date_to="1991"))
    assert b.reason == NO_MATCHING_DOCUMENT


def test_a_calibration_with_an_unknown_gate_is_refused_when_read() -> None:
    d = default_calibration().to_dict()
    d["gates"] = {"no_such_feature": 0.5}
    with pytest.raises(ValueError, match="no_such_feature"):
        Calibration.from_dict(d)
