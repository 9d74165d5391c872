"""Timelines: per report, verbatim and cited, in date order; silent reports left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspect_qa import Filters, InvalidQuery, Retriever
from inspect_qa.chunking import normalise
from inspect_qa.documents import Document
from inspect_qa.eval.timeline import TimelineItem, score_topic, totals
from inspect_qa.timeline import TimelineEntry, report_order

from .conftest import LETTER, ROOT


def letter(date: str, visit: str, body: str) -> str:
    """A monitoring letter in Ofsted's layout (the conftest letter, another date and body)."""
    head = LETTER.split("Overall")[0].replace("12 March 2019", date).replace("third", visit)
    return head + "Findings\n\n" + body + "\n\nYours sincerely\n\nAnn Example\n"


REPORTS = {
    "a.txt": letter("4 May 2017", "second", "Caseloads in the assessment team are too high, at "
                    "30 children each. Supervision is irregular."),
    "b.txt": letter("9 January 2018", "third", "Caseloads have fallen to 22 children. "
                    "Fostering panels meet monthly."),
    "c.txt": ("Exampleton news\n\nInspectors made their fourth monitoring visit. Caseloads "
              "are now manageable, inspectors said.\n"),
    "d.txt": letter("1 December 2016", "first", "The front door works well. Adoption is "
                    "timely."),
}


@pytest.fixture
def retriever(tmp_path: Path, embedder) -> Retriever:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in REPORTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Retriever.build(corpus, tmp_path / "ix", embedder=embedder)


def test_reports_in_date_order_silent_ones_left_out(retriever: Retriever) -> None:
    tl = retriever.timeline("caseloads", per_report=1)
    md = {d: retriever.index.documents[d].metadata for d in tl.sources}
    assert tl.sources == ["a.txt", "b.txt", "c.txt"], md  # d.txt says nothing about caseloads
    assert [e.placed for e in tl.entries] == ["date", "date", "visit"]
    for e in tl.entries:
        assert "caseloads" in e.text.lower()
        doc = retriever.index.documents[e.source]
        assert normalise(doc.text[e.start : e.end]) == e.text
        assert e.date == doc.metadata.get("date")
        assert e.visit_number == doc.metadata.get("visit_number")
    assert tl.entries[2].date is None and tl.entries[2].visit_number == 4
    d = tl.to_dict()
    assert d["topic"] == "caseloads"
    assert {"source", "start", "end", "text", "date", "kind", "visit_number", "page", "section",
            "score"} <= set(d["entries"][0])


def test_per_report_filters_and_checks(retriever: Retriever) -> None:
    two = retriever.timeline("caseloads", per_report=2)
    per = {s: sum(e.source == s for e in two.entries) for s in two.sources}
    assert max(per.values()) <= 2
    only = retriever.timeline("caseloads", filters=Filters(sources=("b.txt",)))
    assert only.sources == ["b.txt"]
    assert retriever.timeline("caseloads", filters=Filters(date_from="2018")).sources == [
        "b.txt"]  # c.txt is undated: a date range leaves it out
    assert retriever.timeline("volcanoes erupting").entries == ()
    for bad in (0, 6, "2", True):
        with pytest.raises(InvalidQuery, match="per_report"):
            retriever.timeline("caseloads", per_report=bad)
    with pytest.raises(InvalidQuery):
        retriever.timeline("   ")


def test_report_order_places_undated_reports_by_visit_or_last() -> None:
    docs = {
        "x": Document("x", "", {"date": "2018-05-29", "visit_number": 6}),
        "y": Document("y", "", {"date": "2016-07"}),
        "z": Document("z", "", {"date": None, "visit_number": 7}),
        "w": Document("w", "", {"date": None}),
        "v": Document("v", "", {"date": "2019-01-02", "visit_number": 8}),
    }
    assert report_order(docs, ["w", "z", "v", "x", "y"]) == [
        ("y", "date"), ("x", "date"), ("z", "visit"), ("v", "date"), ("w", "undated")]


def test_timeline_scores_by_hand() -> None:
    item = TimelineItem("t", "caseloads", {"a": ((10, 20),), "b": ((5, 9),), "c": ()}, 1)

    def e(source: str, start: int, end: int) -> TimelineEntry:
        return TimelineEntry(source, start, end, "", None, None, None, None, None, 0.0, "", "date")

    # a: overlaps its quote (right); c: says nothing (wrong); b: not listed
    row = score_topic(item, [e("c", 0, 3), e("a", 15, 30), e("a", 40, 50)], ["a", "b", "c"])
    assert row["right"] == ["a"] and row["listed"] == ["c", "a"]
    assert row["order"] == 0.0  # c before a, gold order a before c
    t = totals([row])
    assert t["precision"] == 1 / 2 and t["recall"] == 1 / 2 and t["silent_left_out"] == 0.0


def test_cli_and_schema(retriever: Retriever, tmp_path: Path, capsys) -> None:
    import jsonschema

    from inspect_qa.cli import main

    index = str(tmp_path / "ix")  # where the fixture built it
    assert main(["timeline", "caseloads", "--index", index, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    schema = json.loads((ROOT / "schemas" / "timeline.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(d)
    assert d["entries"][0]["source"] == "a.txt"
    assert main(["timeline", "caseloads", "--index", index, "--per-report", "1"]) == 0
    out = capsys.readouterr().out
    assert "a.txt:" in out and "[Caseloads]" in out and "undated, placed by its visit" in out
    assert main(["timeline", "volcanoes erupting", "--index", index]) == 0
    assert "No report says anything" in capsys.readouterr().out


def test_http_timeline(retriever: Retriever) -> None:
    from fastapi.testclient import TestClient

    from inspect_qa.api import build_api

    c = TestClient(build_api(retriever))
    r = c.post("/timeline", json={"topic": "caseloads", "per_report": 1})
    assert r.status_code == 200 and r.json() == retriever.timeline("caseloads", per_report=1
                                                                   ).to_dict()
    bad = c.post("/timeline", json={"topic": "caseloads", "per_report": 9})
    assert bad.status_code == 400 and "per_report" in bad.json()["error"]


def test_a_heading_is_never_an_entry(retriever: Retriever) -> None:
    tl = retriever.timeline("findings", per_report=5)
    assert "Findings" not in {e.text for e in tl.entries}


def test_a_topic_the_reports_never_mention_is_empty(retriever: Retriever) -> None:
    assert retriever.timeline("2031").entries == ()
    assert retriever.timeline("zebras giraffes").entries == ()


def test_the_python_api_calls_a_timeline_topic_a_topic(retriever: Retriever) -> None:
    with pytest.raises(InvalidQuery, match=r"^the topic is empty: type a topic$"):
        retriever.timeline("  ")
    with pytest.raises(InvalidQuery, match=r"^the question is empty"):
        retriever.answer("  ")
