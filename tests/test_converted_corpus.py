"""Retrieval on the seed corpus converted to PDF, Word and web pages finds the same passages as
on the text: the gold questions, with their sources renamed, score the same."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from inspect_qa.documents import read_corpus
from inspect_qa.eval.cli import run_gold_eval
from inspect_qa.eval.gold import contains_quote

from . import docmaker as dm
from .conftest import ROOT, SEEDS

MAKERS = {
    ".pdf": lambda text, path: dm.make_pdf(text, path),
    ".docx": lambda text, path: dm.make_docx(text, path, page_every=8),
    ".html": lambda text, path: dm.make_html(text, path),
}


def _figures(corpus: Path, suffix: str, work: Path, model: str) -> tuple[dict[str, float], int]:
    docs = {d.id: d.text for d in read_corpus(corpus)}
    kept, dropped = [], 0
    for line in (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        for ev in item["evidence"]:
            ev["source"] = ev["source"].removesuffix(".txt") + suffix
        if all(contains_quote(docs[ev["source"]], ev["quote"]) for ev in item["evidence"]):
            kept.append(item)
        else:
            dropped += 1
    gold = work / f"gold{suffix}.jsonl"
    gold.write_text("".join(json.dumps(i) + "\n" for i in kept), encoding="utf-8")
    args = argparse.Namespace(gold=str(gold), corpus=str(corpus), index=str(work / f"ix{suffix}"),
                              modes="hybrid", k=10, model=model)
    result = run_gold_eval(args)["modes"]["hybrid"]
    return {**result["metrics"], **result["answers"]}, dropped


@pytest.mark.parametrize("suffix", sorted(MAKERS))
def test_converted_corpus_retrieves_like_the_text(suffix: str, tmp_path: Path) -> None:
    model = "hashing-384"  # model-free: the comparison is of the text the readers give back
    text_figures, none = _figures(SEEDS, ".txt", tmp_path, model)
    assert none == 0
    corpus = tmp_path / suffix.strip(".")
    corpus.mkdir()
    for seed in sorted(SEEDS.glob("*.txt")):
        MAKERS[suffix](seed.read_text(encoding="utf-8"), corpus / f"{seed.stem}{suffix}")
    got, dropped = _figures(corpus, suffix, tmp_path, model)
    assert dropped <= 3, f"{dropped} gold quotes are no longer in the converted text"
    for metric in ("hit@1", "hit@5", "mrr@10"):
        assert got[metric] >= text_figures[metric] - 0.03, (metric, got, text_figures)
