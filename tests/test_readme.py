"""Every code block in README.md is run, so the documentation cannot drift from the code.

Each block is given to a runner by what it is: Python is executed in a folder holding the seed
reports and their index; shell blocks are run by bash there (the HTTP ones against a live server
on a free loopback port); commands that start the server are started, asked, and stopped; the
gold-set line is parsed as a gold line; a ``text`` block is a diagram. A block no runner takes
fails the first (fast) test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, SEEDS

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_DEFAULT_URL = "http://127.0.0.1:7860"


def blocks() -> list[tuple[str, str, int]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
            for m in _BLOCK.finditer(text)]


def kind(lang: str, code: str) -> str | None:
    """Which runner takes a block (``None``: none does)."""
    if lang == "text":
        return "diagram"
    if lang == "json":
        return "gold-line"
    if lang == "python":
        return "page-client" if "gradio_client" in code else "python"
    if lang == "bash":
        if "app.py" in code:
            return "launch"
        return "http" if _DEFAULT_URL in code else "shell"
    return None


def test_every_block_is_run_by_some_test() -> None:
    found = [(line, kind(lang, code)) for lang, code, line in blocks()]
    assert [line for line, k in found if k is None] == []
    kinds = {k for _, k in found}
    assert {"python", "shell", "http", "launch", "gold-line", "page-client"} <= kinds


def test_the_gold_line_is_a_gold_line(tmp_path: Path) -> None:
    from inspect_qa.eval.gold import load_gold

    for lang, code, _ in blocks():
        if kind(lang, code) == "gold-line":
            item = json.loads(code)
            gold = tmp_path / "gold.jsonl"
            gold.write_text(json.dumps(item), encoding="utf-8")  # one line, as in a file
            ev = item["evidence"][0]
            # read by the harness's own loader, against a document that holds the quote
            (got,) = load_gold(gold, {ev["source"]: f"Some text. {ev['quote']}. More."})
            assert got.id == item["id"] and got.answerable and got.evidence[0].spans


def test_the_test_command_is_what_ci_runs() -> None:
    setup = next(code for lang, code, _ in blocks() if kind(lang, code) == "launch")
    assert "bash scripts/test.sh" in setup
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().endswith(
        "exec bash scripts/test.sh")


def test_page_client_block_is_run_by_the_page_tests() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    # tests/test_ui.py::test_readme_api_example_runs runs the block after this marker
    assert re.search(r"<!-- ui-api-example.*?-->\s*```python\n[^`]*gradio_client", text, re.S)


# -- the slow runners: the real model, a real server ---------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    from inspect_qa import Retriever

    d = tmp_path_factory.mktemp("readme")
    shutil.copytree(SEEDS, d / "seeds")
    Retriever.build(d / "seeds", d / "index", embedder=real_embedder)
    return d


@pytest.fixture(scope="module")
def server(workdir: Path, real_embedder) -> Iterator[str]:
    from inspect_qa import ui

    from .test_ui import free_port

    demo = ui.serve("127.0.0.1", free_port(), workdir / "index", workdir / "seeds",
                    real_embedder, block=False)
    try:
        yield str(demo.local_url).rstrip("/")
    finally:
        demo.close()


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}


def _bash(code: str, cwd: Path) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "DEBUG" not in done.stderr
    return done.stdout


@pytest.mark.slow
def test_python_blocks(workdir: Path, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    ran = 0
    for lang, code, line in blocks():
        if kind(lang, code) != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README.md:{line}", "exec"), {})
        printed = out.getvalue()
        # every Python example prints citations: source:start-end or a source and offsets
        assert re.search(r"\d{3}_[0-9a-f]{16}\.txt(:\d+-\d+| \d+ \d+)", printed), printed
        ran += 1
    assert ran >= 2


@pytest.mark.slow
def test_shell_blocks(workdir: Path) -> None:
    for lang, code, _ in blocks():
        if kind(lang, code) == "shell":
            out = _bash(code, workdir)
            assert re.search(r"\d{3}_[0-9a-f]{16}\.txt", out), out
            if "ask -" in code:  # the stdin example: one found, one not
                assert "\ntrue\t" in out and "\nfalse\t" in out
            if "inspect-qa add" in code:  # the real-reports example: added, removed, filtered
                assert "added        1  002_87759ed1007758fa.txt" in out, out
                assert "removed      1  000_f2ce1d9da8a51203.txt" in out, out
                assert "Answer (" in out and "000_f2ce1d9da8a51203.txt" not in out.split(
                    "Answer (")[-1], out


@pytest.mark.slow
def test_http_blocks(server: str, workdir: Path) -> None:
    for lang, code, _ in blocks():
        if kind(lang, code) == "http":
            out = _bash(code.replace(_DEFAULT_URL, server), workdir)
            assert "court team" in out.lower()
            assert re.search(r"\d{3}_[0-9a-f]{16}\.txt:\d+-\d+", out)
            assert '{"error":"the question is empty: type a question"}' in out


@pytest.mark.slow
def test_launch_blocks(workdir: Path) -> None:
    """The set-up command and ``python app.py`` start the page and the API (on a free port,
    stopped once they answer); run from the repository, as the README says. The set-up part
    (``bash scripts/setup.sh``) is not run again here: the test command ran it first, and
    running it now would reinstall into the environment these tests run in."""
    from .test_ui import free_port

    for lang, code, _ in blocks():
        if kind(lang, code) != "launch":
            continue
        command = next(x.split("#")[0].strip() for x in code.splitlines() if "app.py" in x)
        command = command.split("&&")[-1].strip()
        if command.startswith("python "):
            command = f"{sys.executable} {command.removeprefix('python ')}"
        for _ in range(3):
            # a port found free can be taken again before the app binds it (another server
            # then answers): try another then
            if _launch_answers(command.replace("app.py", f"app.py --port {free_port()}")):
                break
        else:
            pytest.fail("another server answered on each of three free ports")


def _launch_answers(command: str) -> bool:
    """``command`` serves the page and answers a question through the API; False when another
    server answered on its port."""
    port = int(command.split("--port ")[1].split()[0])
    proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/", timeout=5).status_code == 200:
                    break
            time.sleep(1)
        r = httpx.post(url + "/api/answer", json={"question": "court team caseloads"},
                       timeout=60)
        if r.status_code == 404:  # not ours, if the app stops: it could not bind the port
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=300)
            if proc.poll() is not None:
                return False
        assert r.status_code == 200 and r.json()["found"], r.text
        return True
    finally:
        proc.terminate()
        proc.wait(timeout=60)
