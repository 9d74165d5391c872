"""``python -m inspect_qa.eval`` on a tiny corpus with the hashing embedder (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspect_qa.eval import main
from inspect_qa.eval.metrics import GOLD_METRICS

GOLD = [
    {"id": "g1", "question": "How many children do social workers in the assessment team hold?",
     "answer": "18", "tags": ["number"],
     "evidence": [{"source": "letter.txt", "quote": "average 18 children"}]},
    {"id": "g2", "question": "How long do children wait for adoption in Riverton?",
     "answer": "500 days", "tags": ["number"],
     "evidence": [{"source": "sub/news.md", "quote": "children wait on average 500 days"}]},
    {"id": "g3", "question": "Who carried out the monitoring visit?",
     "answer": "Ann Example and Bob Sample", "tags": ["name"],
     "evidence": [{"source": "letter.txt", "quote": "Ann Example and Bob Sample"}]},
    {"id": "g4", "question": "What is the budget of the fire service in Ruritania?",
     "answer": None, "tags": ["unanswerable"], "evidence": []},
]


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    p = tmp_path / "gold.jsonl"
    p.write_text("".join(json.dumps(g) + "\n" for g in GOLD), encoding="utf-8")
    return p


def _args(corpus: Path, gold: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--gold", str(gold), "--corpus", str(corpus), "--index", str(tmp_path / "index"),
            "--model", "hashing-256", "--results", str(tmp_path / "results"), *extra]


def test_gold_run_writes_results(corpus: Path, gold: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(_args(corpus, gold, tmp_path, "--json", str(out))) == 0
    printed = capsys.readouterr().out
    assert "hit@1" in printed and "hybrid" in printed
    data = json.loads(out.read_text())
    assert list(data["modes"]) == ["dense", "lexical", "hybrid"]
    for res in data["modes"].values():
        assert set(GOLD_METRICS) | {"p50_ms", "p95_ms"} == set(res["metrics"])
        assert {"answer_accuracy", "abstention_precision", "abstention_recall"} <= set(
            res["answers"])
        assert res["by_tag"]["number"]["n"] == 2
    assert data["modes"]["lexical"]["metrics"]["hit@5"] == 1.0  # the words are in the quotes
    assert data["counts"] == {"questions": 4, "answerable": 3, "unanswerable": 1}
    env = data["environment"]
    assert {"package_version", "model_fingerprint", "git_commit", "date"} <= set(env)
    assert data["config"]["modes"] == ["dense", "lexical", "hybrid"]
    saved = sorted((tmp_path / "results").iterdir())
    assert sorted(p.suffix for p in saved) == [".json", ".md", ".png"]
    report = next(p for p in saved if p.suffix == ".md").read_text()
    assert "# Gold-set evaluation" in report
    plot = next(p for p in saved if p.suffix == ".png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"]({plot.name})" in report
    assert "## Calibration (hybrid)" in report and "## Abstention by kind" in report
    cal = data["modes"]["hybrid"]["calibration"]
    assert cal["n"] == 4 and sum(b["n"] for b in cal["bins"]) == 4


def test_fail_under_and_compare(corpus: Path, gold: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(_args(corpus, gold, tmp_path, "--modes", "lexical", "--no-save", "--json", str(a),
                      "--fail-under", "hit@5=0.9", "--fail-under", "lexical:mrr@10=0.5")) == 0
    assert main(_args(corpus, gold, tmp_path, "--modes", "lexical,dense", "--no-save",
                      "--json", str(b), "--fail-under", "hit@1=1.01")) == 1
    assert "FAIL: lexical hit@1" in capsys.readouterr().err
    assert main(["--compare", str(a), str(b)]) == 0
    printed = capsys.readouterr().out
    assert "lexical" in printed and "hit@1" in printed and "B - A" in printed


@pytest.mark.parametrize(("extra", "message"), [
    (["--modes", "dense,fuzzy"], "--modes 'dense,fuzzy'"),
    (["--fail-under", "hit@5"], "write METRIC=VALUE"),
    (["--fail-under", "p95_ms=100"], "lower-is-better"),
    (["--fail-under", "hit@7=0.1"], "unknown metric 'hit@7'"),
    (["-k", "51"], "-k 51: use 1 to 50"),
])
def test_usage_errors_exit_2_with_one_line(corpus: Path, gold: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           extra: list[str], message: str) -> None:
    assert main(_args(corpus, gold, tmp_path, "--no-save", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_gold_line_exits_2_naming_it(corpus: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    row = {**GOLD[0], "evidence": [{"source": "letter.txt", "quote": "average 19 children"}]}
    bad.write_text(json.dumps(GOLD[1]) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    assert main(_args(corpus, bad, tmp_path)) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: evidence 1: quote 'average 19 children' is not in letter.txt" in err
    assert not (tmp_path / "index").exists()  # checked before anything is built


def test_compare_rejects_other_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "x.json"
    other.write_text("{}")
    assert main(["--compare", str(other), str(other)]) == 2
    assert "not an inspect-qa results file" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--fail-under" in capsys.readouterr().out
