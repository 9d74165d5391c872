"""The question page's server: its two JSON endpoints, input checks and safety settings.

One app per module, served on a free loopback port over a small corpus with the hashing embedder,
and driven with ``gradio_client`` the way an API user would.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client

from inspect_qa import MAX_K, Filters, HashingEmbedder, InspectQAError, Retriever, ui

from .conftest import LETTER, NEWS

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

ROOT = Path(__file__).resolve().parents[1]

EVIL = (
    "Report with markup\n\nThe inspectors found <script>window.__pwned = 1</script> and "
    '<img src=x onerror="window.__pwned = 2"> in the records.\n'
    "**Bold claims** and ${1+1} and {{value}} appear in this report, with "
    "[a link](http://example.com).\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_corpus(root: Path) -> Path:
    d = root / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "letter.txt").write_text(LETTER, encoding="utf-8")
    (d / "sub" / "news.md").write_text(NEWS, encoding="utf-8")
    (d / "evil.txt").write_text(EVIL, encoding="utf-8")
    return d


@dataclass
class Served:
    demo: Any
    url: str
    retriever: Retriever
    corpus: Path
    index: Path


@contextlib.contextmanager
def served(root: Path) -> Iterator[Served]:
    corpus, index = make_corpus(root), root / "index"
    demo = ui.serve("127.0.0.1", free_port(), index, corpus, HashingEmbedder(), block=False)
    try:
        yield Served(demo, str(demo.local_url), Retriever.load(index, embedder=HashingEmbedder()),
                     corpus, index)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("ui")) as s:
        yield s


@pytest.fixture(scope="module")
def client(app: Served) -> Client:
    return Client(app.url, verbose=False)


# -- the two endpoints -------------------------------------------------------------------------


def test_only_search_answer_and_timeline_are_public(client: Client) -> None:
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/search", "/answer", "/timeline"}
    assert not api["unnamed_endpoints"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/answer"]["parameters"]]
    assert params == ["question", "k", "mode", "sources", "date_from", "date_to", "kinds",
                      "authorities"]


def test_kind_and_authority_filters_on_the_page_api(app: Served, client: Client) -> None:
    got = client.predict(question="children", k=MAX_K, mode="lexical", kinds=["news item"],
                         api_name="/search")
    assert got and {p["source"] for p in got} == {"sub/news.md"}
    with pytest.raises(Exception, match="choose from"):
        client.predict(question="children", authorities=["Narnia"], api_name="/search")


def test_search_returns_passage_dicts(app: Served, client: Client) -> None:
    q = "caseloads for social workers in the assessment team"
    got = client.predict(q, 3, "hybrid", api_name="/search")
    assert got == [p.to_dict() for p in app.retriever.search(q, 3, "hybrid")]
    assert got and got[0]["source"] == "letter.txt"


def test_search_applies_filters(app: Served, client: Client) -> None:
    q = "children"
    got = client.predict(q, MAX_K, "lexical", ["sub/news.md"], None, None, api_name="/search")
    assert got and {p["source"] for p in got} == {"sub/news.md"}
    got = client.predict(question=q, k=MAX_K, mode="lexical", date_from="2019-03",
                         date_to="2019-03-31", api_name="/search")
    want = app.retriever.search(q, MAX_K, "lexical",
                                filters=Filters(date_from="2019-03", date_to="2019-03-31"))
    assert got == [p.to_dict() for p in want]
    assert {p["source"] for p in got} == {"letter.txt"}  # the only dated report


def test_answer_returns_the_answer_dict(app: Served, client: Client) -> None:
    q = "What do caseloads for social workers in the assessment team average?"
    got = client.predict(q, api_name="/answer")
    assert got == app.retriever.answer(q).to_dict()
    assert got["found"] and got["source"] == "letter.txt"
    text = app.retriever.index.documents["letter.txt"].text
    assert " ".join(text[got["start"] : got["end"]].split()) == got["text"]
    assert got["passages"][got["passage_index"]]["source"] == "letter.txt"


def test_answer_keeps_document_text_as_text(client: Client) -> None:
    got = client.predict("What did the inspectors find in the records?", 5, "lexical",
                         api_name="/answer")
    assert any("<script>window.__pwned = 1</script>" in p["text"] for p in got["passages"])


# -- input checks: every error is one readable line --------------------------------------------


BAD = [
    ({"question": ""}, "the question is empty"),
    ({"question": "   \n "}, "the question is empty"),
    ({"question": "x" * 1001}, "the limit is 1000"),
    ({"question": "x " * 30_000}, "too long"),
    ({"question": "q", "k": 0}, "from 1 to 50"),
    ({"question": "q", "k": MAX_K + 1}, "from 1 to 50"),
    ({"question": "q", "k": 2.5}, "whole number"),
    ({"question": "q", "k": "5"}, "whole number"),
    ({"question": "q", "mode": "semantic"}, "use one of hybrid, dense, lexical"),
    ({"question": "q", "sources": ["nope.txt"]}, "unknown document 'nope.txt'"),
    ({"question": "q", "sources": "letter.txt"}, "must be a list"),
    ({"question": "q", "sources": [3]}, "unknown document 'int'"),
    ({"question": "q", "date_from": "12/03/2019"}, "is not a date"),
    ({"question": "q", "date_from": "2019-02-30"}, "not a date in the calendar"),
    ({"question": "q", "date_from": "2020", "date_to": "2019-12"}, "after the end date"),
]


@pytest.mark.parametrize("endpoint", ["/search", "/answer"])
@pytest.mark.parametrize(("kwargs", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_is_refused_with_a_readable_message(
    client: Client, endpoint: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(Exception, match=re.escape(message)) as err:
        client.predict(**kwargs, api_name=endpoint)
    text = str(err.value)
    assert "Traceback" not in text and "File \"" not in text
    assert len(text) < 300


def test_error_messages_are_escaped_and_name_no_paths(app: Served, client: Client) -> None:
    with pytest.raises(Exception) as err:
        client.predict("q", sources=['<img src=x onerror="alert(1)">'], api_name="/search")
    assert "&lt;img" in str(err.value) and "<img" not in str(err.value)
    assert str(app.index) not in str(err.value) and str(app.corpus) not in str(err.value)


def test_an_unexpected_failure_is_one_line_not_a_traceback(
    tmp_path: Path, app: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"secret detail in {app.index}")

    demo = ui.build_app(app.retriever)
    monkeypatch.setattr(app.retriever, "search", broken)
    url = ui.launch(demo, "127.0.0.1", free_port(), block=False, quiet=True)
    try:
        with pytest.raises(Exception, match="Something went wrong on the server") as err:
            Client(url, verbose=False).predict("q", api_name="/search")
        assert "secret detail" not in str(err.value) and "Traceback" not in str(err.value)
    finally:
        demo.close()


# -- safety settings ---------------------------------------------------------------------------


def test_served_on_loopback_without_share_link_or_file_access(app: Served) -> None:
    assert app.url.startswith("http://127.0.0.1:")
    assert app.demo.share is False and app.demo.share_url is None
    assert app.demo.allowed_paths == []
    config = httpx.get(f"{app.url}config", timeout=10).text
    for secret in (str(app.index), str(app.corpus), str(app.index.resolve()), str(ROOT)):
        assert secret not in config
    letter = (app.corpus / "letter.txt").resolve()
    for path in (f"gradio_api/file={letter}", f"file={letter}"):
        r = httpx.get(f"{app.url}{path}", timeout=10)
        assert r.status_code >= 400 and "Exampleton" not in r.text
    assert httpx.get(f"{app.url}monitoring", timeout=10).status_code >= 400


def test_gradio_allowed_paths_from_the_environment_are_ignored(
    app: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve", encoding="utf-8")
    monkeypatch.setenv("GRADIO_ALLOWED_PATHS", str(tmp_path))
    demo = ui.build_app(app.retriever)
    url = ui.launch(demo, "127.0.0.1", free_port(), block=False, quiet=True)
    try:
        assert demo.allowed_paths == []
        r = httpx.get(f"{url}gradio_api/file={secret}", timeout=10)
        assert r.status_code >= 400 and "do not serve" not in r.text
    finally:
        demo.close()


def test_a_burst_waits_or_is_refused_cleanly(app: Served) -> None:
    r = app.retriever

    class Slow:
        index = r.index

        def search(self, *args: Any, **kwargs: Any) -> Any:
            time.sleep(0.8)
            return r.search(*args, **kwargs)

    demo = ui.build_app(Slow(), queue_size=1, concurrency=1)  # type: ignore[arg-type]
    url = ui.launch(demo, "127.0.0.1", free_port(), block=False, quiet=True)
    try:
        c = Client(url, verbose=False)
        outcomes: list[str] = []

        def call() -> None:
            try:
                c.predict("children", api_name="/search")
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(str(exc))

        threads = [threading.Thread(target=call) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert "ok" in outcomes
        refused = [o for o in outcomes if o != "ok"]
        assert refused and all(re.search(r"queue is full", o, re.I) for o in refused)
    finally:
        demo.close()


# -- start-up ----------------------------------------------------------------------------------


def test_open_retriever_builds_once_then_reuses(tmp_path: Path) -> None:
    corpus, index = make_corpus(tmp_path), tmp_path / "index"
    first = ui.open_retriever(index, corpus, HashingEmbedder())
    again = ui.open_retriever(index, corpus, HashingEmbedder())
    assert again.index.manifest["built_at"] == first.index.manifest["built_at"]
    (corpus / "extra.txt").write_text("A new report about fostering panels.", encoding="utf-8")
    changed = ui.open_retriever(index, corpus, HashingEmbedder())
    assert "extra.txt" in changed.index.documents
    # Without a corpus folder the built index is served as it is.
    assert set(ui.open_retriever(index, tmp_path / "gone", HashingEmbedder()).index.documents) \
        == set(changed.index.documents)


@pytest.mark.slow
def test_python_app_py_builds_the_index_then_serves(tmp_path: Path) -> None:
    """The README's run command, end to end, with the real model on a tiny corpus."""
    corpus, index, port = make_corpus(tmp_path), tmp_path / "index", free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--index", str(index),
         "--corpus", str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "app.py did not start serving in time"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        got = Client(url, verbose=False).predict(
            "What do caseloads for social workers in the assessment team average?",
            api_name="/answer")
        assert got["passages"] and got["passages"][0]["source"] == "letter.txt"
        assert (index / "CURRENT").is_file()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=60)[0]
    assert "index ready" in out and f"http://127.0.0.1:{port}" in out
    # no library's info lines: the model loader's, the HTTP client's
    assert "Loading SentenceTransformer" not in out and "HTTP Request" not in out


def test_port_in_use_is_a_readable_error(app: Served) -> None:
    port = int(app.url.rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(InspectQAError, match="pass another --port"):
        ui.launch(ui.build_app(app.retriever), "127.0.0.1", port, block=False, quiet=True)


def test_examples_only_for_the_seed_corpus(app: Served) -> None:
    assert ui._examples(app.retriever) == []
    assert {p.name for p in (ROOT / "seeds").glob("*.txt")} == ui.SEED_DOCUMENTS


# -- the README's API example ------------------------------------------------------------------


def readme_example() -> str:
    """The Python block after the ``ui-api-example`` marker in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- ui-api-example.*?-->\s*```python\n(.*?)```", text, re.S)
    if m is None:
        raise AssertionError("no ui-api-example block in README.md")
    return m.group(1)


def test_readme_api_example_runs(app: Served) -> None:
    code = readme_example()
    assert "http://127.0.0.1:7860/" in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("http://127.0.0.1:7860/", app.url), "README", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines, "the example printed nothing"
    assert any(re.search(r"\S+:\d+-\d+", line) for line in lines)  # a source:start-end citation


def test_serving_prints_one_line_of_ours(app: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """Where the page and the API are, and nothing of Gradio's (which suggests share=True)."""
    from inspect_qa.api import build_api

    demo = ui.build_app(app.retriever)
    url = ui.launch(demo, "127.0.0.1", free_port(), block=False, api=build_api(app.retriever))
    try:
        out = capsys.readouterr().out
        assert out == (f"Serving the question page on {url}; the JSON API at "
                       f"{url.rstrip('/')}/api (Ctrl+C stops it)\n")
    finally:
        demo.close()


def test_json_api_answers_as_soon_as_the_page_does(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The first request after the server starts already reaches the JSON API (mounted after
    the server started, it answered 404 to a client that asked as soon as the page answered)."""
    from gradio.http_server import Server

    first: list[int] = []
    run_in_thread = Server.run_in_thread

    def started_then_asked(self: Server) -> None:
        run_in_thread(self)  # returns once the server serves
        url = f"http://{self.config.host}:{self.config.port}/api/documents"
        first.append(httpx.get(url, timeout=30).status_code)

    monkeypatch.setattr(Server, "run_in_thread", started_then_asked)
    with served(tmp_path):
        assert first == [200]


def test_json_api_is_served_beside_the_page(app: Served) -> None:
    base = app.url.rstrip("/")
    r = httpx.post(f"{base}/api/answer", json={"question": "adoption wait days"}, timeout=30)
    assert r.status_code == 200 and r.json()["passages"]
    assert r.json()["passages"][0]["source"] in {"letter.txt", "sub/news.md", "evil.txt"}
    bad = httpx.post(f"{base}/api/search", json={"question": "  "}, timeout=30)
    assert bad.status_code == 400 and bad.json() == {"error": "the question is empty: type a "
                                                              "question"}
    spec = httpx.get(f"{base}/api/openapi.json", timeout=30).json()
    assert {"/search", "/answer", "/documents"} <= set(spec["paths"])
    docs = httpx.get(f"{base}/api/documents", timeout=30).text
    for secret in (str(app.index), str(app.corpus), str(ROOT)):
        assert secret not in docs
    assert httpx.get(base + "/", timeout=30).status_code == 200  # the page is still there
