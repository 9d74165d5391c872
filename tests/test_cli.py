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


def test_check_finds_passages_that_point_outside_their_document(built: Path, capsys) -> None:
    import numpy as np

    from inspect_qa.checksums import sha256_file
    from inspect_qa.storage import current_version_dir, segment_dirs

    segment = segment_dirs(built)[0]
    table = np.load(segment / "chunks.npy")
    table[0, 1], table[0, 2] = 10**6, 10**6 + 5  # past the end of its document
    np.save(segment / "chunks.npy", table, allow_pickle=False)
    # the damage made unnoticeable by checksums: segment.json, then the commit, updated
    meta = json.loads((segment / "segment.json").read_text())
    meta["files"]["chunks.npy"] = sha256_file(segment / "chunks.npy")
    (segment / "segment.json").write_text(json.dumps(meta))
    version = current_version_dir(built)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["segments"][0]["sha256"] = sha256_file(segment / "segment.json")
    (version / "manifest.json").write_text(json.dumps(manifest))
    (built / "CURRENT").write_text(f"{version.name}\n{sha256_file(version / 'manifest.json')}\n")
    assert main(["check", str(built)]) == 1
    assert "offsets outside the document" in capsys.readouterr().out


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
    monkeypatch.setattr(ev, "main", lambda argv, prog: seen.append([*argv, prog]) or 0)
    assert main(["-v", "eval", "--no-save"]) == 0
    assert main(["eval", "--modes", "lexical"]) == 0
    assert seen == [["--no-save", "-v", "inspect-qa eval"],
                    ["--modes", "lexical", "inspect-qa eval"]]


def test_ask_marks_whole_question_words_only() -> None:
    from inspect_qa.cli import _mark, _question_words

    words = _question_words("How many cases does the court team hold?")
    assert "How" not in words and "cases" in words
    marked = _mark("However, the court teams hold cases; a teammate in the courtyard.", words)
    assert marked == "However, the [court] [teams] [hold] [cases]; a teammate in the courtyard."


def _validator(name: str):
    import jsonschema

    from tests.conftest import ROOT

    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_search_and_ask_json_follow_their_schemas(built: Path, capsys) -> None:
    assert main(["search", "adoption wait days", "--index", str(built), "-k", "2",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    _validator("search").validate(d)
    assert d["question"] == "adoption wait days" and len(d["passages"]) == 2
    assert main(["ask", "adoption wait days", "--index", str(built), "--json"]) == 0
    _validator("answer").validate(json.loads(capsys.readouterr().out))
    # the schemas can fail: a passage without its offsets is refused
    del d["passages"][0]["start"]
    assert not _validator("search").is_valid(d)


def test_search_prints_citations(built: Path, capsys) -> None:
    assert main(["search", "adoption wait days", "--index", str(built), "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] ") and "sub/news.md:" in out and "Not found" not in out


@pytest.mark.parametrize("command", ["ask", "search"])
def test_stdin_gives_one_json_line_per_question_and_goes_on_after_errors(
        command: str, built: Path, capsys, monkeypatch) -> None:
    import io

    questions = ("adoption wait days\r\n\n   \nfostering panel\n" + "x" * 1200
                 + "\nsupervision\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(questions, newline=""))
    assert main([command, "-", "--index", str(built), "-k", "2"]) == 1  # one line failed
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    # one output line per input line, in order; a Windows line end is not part of a question
    assert [x["question"][:12] for x in lines] == ["adoption wai", "", "   ", "fostering pa",
                                                   "x" * 12, "supervision"]
    assert lines[0]["question"] == "adoption wait days"
    ok = _validator("answer" if command == "ask" else "search")
    for x in (lines[0], lines[3], lines[5]):
        ok.validate(x)
    for x in (lines[1], lines[2], lines[4]):
        _validator("error").validate(x)
    assert "blank" in lines[1]["error"] and "1000" in lines[4]["error"]


def test_timeline_reads_topics_from_stdin_too(built: Path, capsys, monkeypatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("adoption\n\n" + "x" * 1200 + "\nfostering\n"))
    assert main(["timeline", "-", "--index", str(built)]) == 1  # one line failed
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["topic"][:9] for x in lines] == ["adoption", "", "x" * 9, "fostering"]
    for x in (lines[0], lines[3]):
        _validator("timeline").validate(x)
    assert lines[0]["entries"]
    for x in (lines[1], lines[2]):
        _validator("error").validate(x)
    assert "blank" in lines[1]["error"] and "1000" in lines[2]["error"]


def test_filters_on_the_command_line(built: Path, capsys) -> None:
    assert main(["search", "adoption wait days", "--index", str(built), "--json",
                 "--source", "letter.txt"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["passages"] and {p["source"] for p in d["passages"]} == {"letter.txt"}
    assert main(["search", "adoption", "--index", str(built), "--from", "2019-04"]) == 0
    out = capsys.readouterr().out
    assert "No passage matches." in out  # the letter is dated March 2019
    # the news item has no date: the reader is told it was not searched
    assert "1 document with no date was not searched" in out
    assert main(["ask", "fostering", "--index", str(built), "--from", "2019-04"]) == 0
    assert "1 document with no date was not searched" in capsys.readouterr().out
    assert main(["search", "adoption", "--index", str(built), "--source", "letter.txt",
                 "--from", "2019-04"]) == 0
    assert "no date" not in capsys.readouterr().out  # only undated documents allowed otherwise
    assert main(["search", "adoption", "--index", str(built), "--from", "2019-13"]) == 2
    assert "date" in capsys.readouterr().err


def test_a_reader_that_goes_away_gets_no_traceback(built: Path) -> None:
    import subprocess
    import sys

    # 300 answers fill the pipe long after `head` has gone
    done = subprocess.run(
        ["bash", "-c", f'for i in $(seq 300); do echo adoption; done | "{sys.executable}" -m '
                       f'inspect_qa search - -k 5 --index "{built}" | head -n 1 > /dev/null; '
                       'echo "${PIPESTATUS[1]}"'],
        capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stdout.strip() == "141"


def test_bytes_that_are_not_utf8_fail_their_own_line_without_a_traceback(built: Path) -> None:
    import os
    import subprocess
    import sys

    # a UTF-8 locale reads standard input strictly (PYTHONIOENCODING stands in for one here)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run(
        [sys.executable, "-m", "inspect_qa", "ask", "-", "-k", "2", "--index", str(built)],
        input=b"adoption wait days\n\xff\xfe bad \xc3\nfostering\n", capture_output=True,
        env=env, timeout=300, check=False)
    assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
    assert done.returncode == 1  # one line failed
    lines = [json.loads(x) for x in done.stdout.decode("utf-8").splitlines()]  # all UTF-8
    assert [x["question"] for x in lines] == ["adoption wait days", "\ufffd\ufffd bad \ufffd",
                                              "fostering"]
    assert "error" not in lines[0] and "error" not in lines[2]
    assert "not valid text" in lines[1]["error"] and "UTF-8" in lines[1]["error"]
    # a question given as an argument (decoded with surrogates) gets the same one-line error
    done = subprocess.run(
        [sys.executable, "-m", "inspect_qa", "search", os.fsencode("adoption \udcff"),
         "--index", str(built)], capture_output=True, env=env, timeout=300, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr.decode()
    assert "not valid text: character 10" in done.stderr.decode()


def test_an_index_path_that_is_a_file_is_a_one_line_error(
        corpus: Path, tmp_path: Path, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not an index")
    assert main(["index", str(corpus), "--out", str(afile), "--model", "hashing-256"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["index", str(corpus), "--out", str(afile / "sub"), "--model",
                 "hashing-256"]) == 2
    assert "cannot make the index folder" in capsys.readouterr().err
    assert main(["ask", "adoption", "--index", str(afile)]) == 2
    assert "it is a file, not an index folder" in capsys.readouterr().err
    assert afile.read_text() == "not an index"


def test_a_document_with_too_little_text_is_named_not_just_added(
        corpus: Path, tmp_path: Path, capsys) -> None:
    (corpus / "tiny.md").write_text("Short.\n", encoding="utf-8")
    assert main(["index", str(corpus), "--out", str(tmp_path / "ix"), "--model",
                 "hashing-256"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("no text"))
    assert "tiny.md" in line and "letter.txt" not in line
    assert "nothing in them can be found" in out


def test_a_found_answer_under_a_date_range_says_undated_reports_were_left_out(
        built: Path, capsys) -> None:
    # the letter (March 2019) is in the range; the undated news item is not searched
    assert main(["search", "adoption", "--index", str(built), "--from", "2019"]) == 0
    out = capsys.readouterr().out
    assert "[1] " in out and "Note: 1 document with no date was not searched" in out
    assert main(["ask", "When does the fostering panel meet?", "--index", str(built),
                 "--from", "2019"]) == 0
    out = capsys.readouterr().out
    assert "1 document with no date was not searched" in out
    assert out.startswith("Answer (") and "Note: 1 document" in out  # found, and still said
    assert main(["search", "adoption", "--index", str(built)]) == 0
    assert "no date" not in capsys.readouterr().out  # no range: nothing left out


def test_an_index_kept_inside_its_corpus_folder_is_not_read_as_reports(
        corpus: Path, capsys) -> None:
    inside = corpus / "idx"
    assert main(["index", str(corpus), "--out", str(inside), "--model", "hashing-256"]) == 0
    capsys.readouterr()
    assert main(["index", str(corpus), "--out", str(inside)]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "ignored" not in out and ".npy" not in out, out


def test_every_command_says_what_its_options_are(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in ("--host", "--port", "--index", "--corpus"):
        line = next(x for x in out.splitlines() if x.strip().startswith(option))
        assert len(line.split()) > 2, line  # the option and what it does
    assert main(["eval", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: inspect-qa eval")
