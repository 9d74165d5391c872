"""Metrics against values worked out by hand (the formula is written in each test)."""

from __future__ import annotations

import math

import pytest

from inspect_qa.eval.gold import Evidence, GoldItem
from inspect_qa.eval.metrics import answer_metrics, ir_metrics, latency, mean_by_tag, ranx_name
from inspect_qa.eval.runner import QuestionRun, credit, qrels_and_run


def test_ranking_metrics_by_hand() -> None:
    qrels = {"q1": {"a": 1, "b": 1}, "q2": {"c": 1}, "q3": {"d": 1}}
    run = {
        "q1": {"x": 4.0, "a": 3.0, "y": 2.0, "b": 1.0},  # relevant at ranks 2 and 4
        "q2": {"c": 1.0},                                # relevant at rank 1
        # q3 returned nothing
    }
    metrics = ("hit@1", "hit@3", "mrr@10", "ndcg@10", "recall@10", "recall@3")
    means, per_query = ir_metrics(qrels, run, metrics)
    log2 = math.log2
    ndcg_q1 = (1 / log2(2 + 1) + 1 / log2(4 + 1)) / (1 / log2(1 + 1) + 1 / log2(2 + 1))
    expected_q1 = {"hit@1": 0, "hit@3": 1, "mrr@10": 1 / 2, "ndcg@10": ndcg_q1,
                   "recall@10": 2 / 2, "recall@3": 1 / 2}
    expected_q2 = dict.fromkeys(metrics, 1.0)
    for m in metrics:
        assert per_query[m]["q1"] == pytest.approx(expected_q1[m])
        assert per_query[m]["q2"] == pytest.approx(expected_q2[m])
        assert per_query[m]["q3"] == 0
        assert means[m] == pytest.approx((expected_q1[m] + expected_q2[m] + 0) / 3)


def test_empty_inputs() -> None:
    assert ir_metrics({}, {}, ("hit@1",))[0] == {"hit@1": 0.0}
    means, per_query = ir_metrics({"q": {"a": 1}}, {"q": {}}, ("mrr@10",))
    assert means == {"mrr@10": 0.0} and per_query == {"mrr@10": {"q": 0.0}}


def test_metric_names() -> None:
    assert ranx_name("hit@5") == "hit_rate@5"
    assert ranx_name("ndcg@10") == "ndcg@10"
    with pytest.raises(ValueError):
        ranx_name("p50_ms")


def test_latency_percentiles_interpolate() -> None:
    ms = [10.0, 20.0, 30.0, 40.0, 100.0]
    # rank = p/100 * (n - 1): p50 → index 2 exactly; p95 → index 3.8 → 40 + 0.8 * (100 - 40)
    assert latency(ms) == {"p50_ms": 30.0, "p95_ms": pytest.approx(40 + 0.8 * 60)}
    assert latency([]) == {"p50_ms": 0.0, "p95_ms": 0.0}


def test_answer_metrics_by_hand() -> None:
    recs = [
        {"answerable": True, "found": True, "correct": True, "overlap": True},
        {"answerable": True, "found": True, "correct": False, "overlap": True},
        {"answerable": True, "found": False, "correct": False, "overlap": False},
        {"answerable": False, "found": False, "correct": False, "overlap": False},
        {"answerable": False, "found": True, "correct": False, "overlap": False},
    ]
    got = answer_metrics(recs)
    assert got["answer_accuracy"] == round(1 / 3, 4)       # 1 correct of 3 answerable
    assert got["answer_overlap"] == round(2 / 3, 4)
    assert got["abstention_precision"] == 0.5              # 1 right of 2 abstentions
    assert got["abstention_recall"] == 0.5                 # 1 of 2 unanswerable
    assert (got["abstained_on_answerable"], got["wrong_answer"], got["answered_unanswerable"]) \
        == (1, 1, 1)


def test_mean_by_tag() -> None:
    per_query = {"hit@1": {"q1": 1.0, "q2": 0.0}}
    got = mean_by_tag(per_query, {"q1": ("date",), "q2": ("date", "name"), "q3": ("name",)})
    assert got == {"date": {"n": 2, "hit@1": 0.5}, "name": {"n": 2, "hit@1": 0.0}}


class P:
    def __init__(self, source: str, text: str, chunk_id: str):
        self.source, self.text, self.chunk_id = source, text, chunk_id


def test_each_quote_is_credited_once_and_ranks_survive_ranx() -> None:
    item = GoldItem("q1", "?", "x", (), (Evidence("a", "red fox"), Evidence("b", "blue whale")),
                    line=1)
    passages = [P("a", "The lazy dog.", "c1"), P("a", "A RED  fox ran.", "c2"),
                P("a", "red fox again", "c3"), P("b", "a blue whale", "c4"),
                P("c", "blue whale", "c5")]
    labels = credit(item, passages)
    assert labels == (None, 0, None, 1, None)
    row = QuestionRun("q1", "hybrid", labels, tuple(p.chunk_id for p in passages), 1.0, 1.0,
                      True, True, True, "", "a")
    assert row.first_hit == 2
    qrels, run = qrels_and_run([item], [row])
    means, _ = ir_metrics(qrels, run, ("mrr@10", "ndcg@10", "recall@3"))
    # relevant at ranks 2 and 4 of 5; two relevant units
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert means["mrr@10"] == pytest.approx(1 / 2)
    assert means["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert means["recall@3"] == pytest.approx(1 / 2)


def test_judge_answer() -> None:
    from types import SimpleNamespace

    from inspect_qa.eval.gold import locate
    from inspect_qa.eval.runner import judge_answer

    text = "Intro. The visit was on 2 and 3 May 2018 in Dudley. End."
    item = GoldItem("q", "?", "May", (), (Evidence("a", "3 May 2018", locate(text, "3 May 2018")),),
                    line=1)

    def answer(start: int, end: int, source: str = "a", found: bool = True) -> SimpleNamespace:
        return SimpleNamespace(found=found, source=source, start=start, end=end,
                               text=text[start:end])

    sentence = (7, 52)  # "The visit was ... Dudley."
    assert judge_answer(item, answer(*sentence)) == (True, True)
    assert judge_answer(item, answer(7, 37)) == (False, True)   # cuts the quote: overlap only
    assert judge_answer(item, answer(0, 6)) == (False, False)   # another sentence
    assert judge_answer(item, answer(*sentence, source="b")) == (False, False)
    assert judge_answer(item, answer(*sentence, found=False)) == (False, False)


def test_reliability_table_and_expected_calibration_error() -> None:
    from inspect_qa.eval.metrics import expected_calibration_error, reliability

    conf = [0.05, 0.15, 0.12, 0.95, 0.91, 1.0]
    right = [False, False, True, True, True, False]
    table = reliability(conf, right)
    assert [(b["low"], b["n"]) for b in table["bins"]] == [(0.0, 1), (0.1, 2), (0.9, 3)]
    # ECE = Σ n_b/n |conf_b − right_b|
    want = (1 / 6 * abs(0.05 - 0) + 2 / 6 * abs(0.135 - 0.5)
            + 3 / 6 * abs((0.95 + 0.91 + 1.0) / 3 - 2 / 3))
    assert table["ece"] == pytest.approx(want, abs=1e-4)
    assert expected_calibration_error(conf, right) == table["ece"]
    assert reliability([], [])["ece"] == 0.0
