"""The harness end to end on the seed corpus with the real model (a handful of gold lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspect_qa.eval import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Questions every mode answered at rank 1 when the harness was written, and one unanswerable.
IDS = {"q004", "q018", "q046", "q082", "q100", "q127"}


def test_seed_eval_end_to_end(seed_retriever, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    lines = (ROOT / "eval" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(ln for ln in lines if json.loads(ln)["id"] in IDS) + "\n",
                    encoding="utf-8")
    out = tmp_path / "r.json"
    code = main(["--gold", str(gold), "--corpus", str(ROOT / "seeds"),
                 "--index", str(seed_retriever.index.path), "--no-save", "--json", str(out),
                 "--fail-under", "hybrid:hit@5=0.8"])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["counts"] == {"questions": 6, "answerable": 5, "unanswerable": 1}
    assert data["environment"]["model"] == "bundled:all-MiniLM-L6-v2"
    for mode in ("dense", "lexical", "hybrid"):
        assert data["modes"][mode]["metrics"]["hit@5"] >= 0.8
        assert data["modes"][mode]["metrics"]["p50_ms"] > 0
