"""Where a quote sits relative to the chunks, and the causes counted for a miss."""

from __future__ import annotations

from types import SimpleNamespace

from inspect_qa.eval.diagnostics import causes, quote_placement
from inspect_qa.eval.gold import Evidence, GoldItem, locate

TEXT = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota."


def chunk(start: int, end: int) -> SimpleNamespace:
    return SimpleNamespace(doc_id="a", start=start, end=end, text=TEXT[start:end])


def item(*quotes: str) -> GoldItem:
    return GoldItem("q", "?", "x", (), tuple(Evidence("a", q, locate(TEXT, q)) for q in quotes),
                    line=1)


def test_quote_placement() -> None:
    chunks = [chunk(0, 17), chunk(18, 37)]  # "Eta theta iota." is in no chunk
    got = quote_placement(item("beta gamma", "gamma. Delta", "zeta. Eta", "theta"), chunks)
    assert got == ["in-chunk", "split", "outside", "missing"]


def test_causes() -> None:
    it = item("beta gamma")
    ranks = {"dense": None, "lexical": 2, "hybrid": 7}
    best = {"hybrid": {"source": "b"}}
    got = causes(it, ranks, ["in-chunk"], best, 50)
    assert got == ["evidence ranked 6-50 by hybrid (ranking, not recall)",
                   "dense misses what the words match (lexical finds it)",
                   "hybrid's top passage is from another document"]
    got = causes(item("beta gamma", "theta"), {"dense": None, "lexical": None, "hybrid": None},
                 ["split", "missing"], {"hybrid": {"source": "a"}}, 50)
    assert got == ["quote split across a chunk boundary", "quote (partly) not indexed",
                   "hybrid's top passage is another part of the right document",
                   "needs several passages (multi-quote question)"]
