"""The absolute evidence behind confidence, and the reason given when there is no answer."""

from __future__ import annotations

import numpy as np
import pytest

from inspect_qa.confidence import (
    NO_CONTENT_HINT,
    question_terms,
    reason_not_found,
    reciprocal_rank,
    standing,
)
from inspect_qa.lexical import LexicalStore


@pytest.fixture(scope="module")
def lexicon() -> LexicalStore:
    return LexicalStore.build(["Social workers' caseloads in the court team were high.",
                               "Children waited 500 days for adoption."])


def test_question_terms_keep_content_words_and_find_the_unknown(lexicon) -> None:
    t = question_terms("What caseloads did the court team hold in Paris, France?", lexicon)
    assert t.words == ("caseloads", "court", "team", "hold", "Paris", "France")
    assert t.unknown == ("hold", "Paris", "France")
    assert t.unknown_share == pytest.approx(3 / 6)
    # a repeated word counts once, whatever its case
    t = question_terms("Paris paris caseloads", lexicon)
    assert t.unknown == ("Paris",) and t.unknown_share == pytest.approx(1 / 2)


@pytest.mark.parametrize("question", ["hello", "???", "Hi there, thanks!", "what is it?",
                                      "Can you tell me about it?"])
def test_greetings_and_question_words_are_not_content(lexicon, question: str) -> None:
    t = question_terms(question, lexicon)
    assert t.words == () and t.unknown_share == 0.0


def test_how_long_and_how_often_ask_rather_than_say(lexicon) -> None:
    t = question_terms("How long is the long wait, and how often?", lexicon)
    assert t.words == ("long", "wait")


def test_numbers_are_content(lexicon) -> None:
    t = question_terms("500 or 2019?", lexicon)
    assert t.words == ("500", "2019") and t.unknown == ("2019",)


def test_standing_is_the_best_score_in_standard_deviations() -> None:
    s = np.array([0.1, 0.2, 0.3, 0.8])
    assert standing(s, 3) == pytest.approx((0.8 - s.mean()) / s.std())
    assert standing(np.array([0.5, 0.5, 0.5]), 0) == 0.0
    masked = np.array([0.1, -np.inf, 0.3])  # rows filtered out do not count
    assert standing(masked, 2) == pytest.approx((0.3 - 0.2) / 0.1)


def test_reciprocal_rank() -> None:
    s = np.array([0.1, 0.9, 0.5, -np.inf])
    assert reciprocal_rank(s, 1) == 1.0
    assert reciprocal_rank(s, 2) == 0.5
    assert reciprocal_rank(s, 0) == pytest.approx(1 / 3)


def test_reasons(lexicon) -> None:
    none = question_terms("hello?", lexicon)
    assert reason_not_found(none, 0.0, 0.4) == NO_CONTENT_HINT
    all_unknown = question_terms("What is the capital of France?", lexicon)
    assert reason_not_found(all_unknown, 0.1, 0.4) == (
        "Nothing in these reports matches “capital”, “France”: none of the question's words "
        "is used in them.")
    some = question_terms("court team caseloads in France", lexicon)
    assert reason_not_found(some, 0.12, 0.4).startswith(
        "Nothing in these reports matches “France”, and no sentence answers the rest")
    assert reason_not_found(some, 0.0, 0.4) == (
        "Nothing in these reports matches “France”, and nothing in them comes close to the "
        "rest of the question.")
    known = question_terms("court team caseloads", lexicon)
    assert "confidence 12%, below 40%" in reason_not_found(known, 0.12, 0.4)
    # a confidence of 0 is a question below the gates: nothing comes close
    assert reason_not_found(known, 0.0, 0.4).startswith("No sentence in these reports comes close")


def test_names_are_split_as_document_words_are() -> None:
    from inspect_qa.confidence import document_words, question_names

    names = question_names("Did Stoke-on-Trent and O'Neill's team improve?", frozenset())
    assert names == {"stoke", "on", "trent", "neill"}
    assert names <= document_words("A letter to Stoke-on-Trent from O'Neill.")
