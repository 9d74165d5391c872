import json
from pathlib import Path

import pytest

from inspect_qa.cli import main


@pytest.fixture
def built(corpus: Path, tmp_path: Path, capsys) -> Path:
    out = tmp_path / "ix"
    assert main(["index", str(corpus), "--out", str(out), "--model", "hashing-256"]) == 0
    text = capsys.readouterr().out
    assert "added" in text and "2 documents" in text
    return out


def test_index_twice_reports_up_to_date(built: Path, corpus: Path, capsys) -> None:
    assert main(["index", str(corpus), "--out", str(built), "--model", "hashing-256"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_ask_human_and_json(built: Path, capsys) -> None:
    assert main(["ask", "adoption wait days", "--index", str(built), "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "sub/news.md:" in out and "[adoption]" in out.lower()
    assert main(["ask", "adoption wait days", "--index", str(built), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"found", "text", "confidence", "passages"} <= set(d)
    assert d["passages"][0]["source"] == "sub/news.md"


def test_info_and_check(built: Path, capsys) -> None:
    assert main(["info", str(built)]) == 0
    out = capsys.readouterr().out
    assert "2 documents" in out and "hashing-256" in out
    assert main(["check", str(built)]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["ask", "   ", "--index", "{ix}"],
        ["ask", "ok", "-k", "0", "--index", "{ix}"],
        ["ask", "ok", "--mode", "fuzzy", "--index", "{ix}"],
        ["ask", "ok", "--index", "{missing}"],
        ["info", "{missing}"],
        ["index", "{missing}", "--out", "{ix}", "--model", "hashing-256"],
    ],
)
def test_errors_are_one_line_with_exit_2(argv, built: Path, tmp_path: Path, capsys) -> None:
    argv = [a.format(ix=built, missing=tmp_path / "missing") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspect-qa: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_chunk_tokens_zero_is_refused(corpus: Path, tmp_path: Path, capsys) -> None:
    argv = ["index", str(corpus), "--out", str(tmp_path / "x"), "--model", "hashing-256",
            "--chunk-tokens", "0"]
    assert main(argv) == 2
    assert "does not fit" in capsys.readouterr().err


def test_verbose_flag_before_eval_is_passed_through(monkeypatch) -> None:
    import inspect_qa.eval as ev

    seen: list[list[str]] = []
    monkeypatch.setattr(ev, "main", lambda argv: seen.append(argv) or 0)
    assert main(["-v", "eval", "--no-save"]) == 0
    assert main(["eval", "--modes", "lexical"]) == 0
    assert seen == [["--no-save", "-v"], ["--modes", "lexical"]]


def test_ask_marks_whole_question_words_only() -> None:
    from inspect_qa.cli import _mark, _question_words

    words = _question_words("How many cases does the court team hold?")
    assert "How" not in words and "cases" in words
    marked = _mark("However, the court teams hold cases; a teammate in the courtyard.", words)
    assert marked == "However, the [court] [teams] [hold] [cases]; a teammate in the courtyard."
