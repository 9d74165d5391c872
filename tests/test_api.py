"""The HTTP JSON API: shapes (the JSON Schemas), validation as one-line 400s, no paths."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from fastapi.testclient import TestClient

from inspect_qa import Retriever
from inspect_qa.api import build_api

from .conftest import ROOT


def schema(name: str) -> jsonschema.Draft202012Validator:
    s = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(s)


@pytest.fixture
def client(corpus: Path, tmp_path: Path, embedder) -> TestClient:
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    return TestClient(build_api(r), raise_server_exceptions=False)


def test_search_answer_documents(client: TestClient, corpus: Path, tmp_path: Path) -> None:
    r = client.post("/search", json={"question": "adoption wait days", "k": 2})
    assert r.status_code == 200
    schema("search").validate(r.json())
    assert r.json()["passages"][0]["source"] == "sub/news.md"
    r = client.post("/answer", json={"question": "adoption wait days", "mode": "lexical",
                                     "sources": ["sub/news.md"]})
    assert r.status_code == 200
    schema("answer").validate(r.json())
    assert {p["source"] for p in r.json()["passages"]} == {"sub/news.md"}
    r = client.get("/documents")
    schema("documents").validate(r.json())
    docs = {d["id"]: d for d in r.json()["documents"]}
    assert set(docs) == {"letter.txt", "sub/news.md"}
    assert docs["letter.txt"]["date"] == "2019-03-12" and docs["letter.txt"]["chunks"] >= 1
    # responses name documents by id, never by a path on this machine
    for resp in (r, client.post("/search", json={"question": "adoption"})):
        assert str(corpus) not in resp.text and str(tmp_path) not in resp.text


@pytest.mark.parametrize(("body", "says"), [
    ({"question": ""}, "empty"),
    ({"question": "x" * 1001}, "1000"),
    ({"question": "adoption", "k": 0}, "from 1 to 50"),
    ({"question": "adoption", "k": "three"}, "k: "),
    ({"question": "adoption", "mode": "fuzzy"}, "mode"),
    ({"question": "adoption", "sources": ["/etc/passwd"]}, "unknown document"),
    ({"question": "adoption", "date_from": "2019-13"}, "date"),
    ({"question": "adoption", "date_from": "2019", "date_to": "2018"}, "after"),
    ({"question": "adoption", "colour": "red"}, "unknown field"),
    ({}, "question: "),
    ([1, 2], "body"),
])
def test_bad_requests_are_one_line_400s(client: TestClient, body: object, says: str) -> None:
    for endpoint in ("/search", "/answer"):
        r = client.post(endpoint, json=body)
        assert r.status_code == 400, r.text
        schema("error").validate(r.json())
        message = r.json()["error"]
        assert says in message and "\n" not in message and "Traceback" not in message


def test_a_lone_surrogate_escaped_in_json_is_a_one_line_400(client: TestClient) -> None:
    for endpoint, field in (("/search", "question"), ("/answer", "question"),
                            ("/timeline", "topic")):
        body = b'{"%s": "adoption \\ud800 wait"}' % field.encode()  # valid JSON, not text
        r = client.post(endpoint, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        schema("error").validate(r.json())
        assert "not valid text" in r.json()["error"]


def test_malformed_json_is_a_400(client: TestClient) -> None:
    r = client.post("/answer", content=b'{"question": ', headers={"content-type":
                                                                  "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded"])
def test_json_sent_as_another_content_type_is_told_the_header(client: TestClient,
                                                               kind: str) -> None:
    r = client.post("/answer", content=b'{"question": "adoption"}', headers={"content-type": kind})
    assert r.status_code == 400
    assert "content-type: application/json" in r.json()["error"], r.json()
    right = client.post("/answer", content=b'"adoption"', headers={"content-type":
                                                                  "application/json"})
    assert right.status_code == 400 and "content-type" not in right.json()["error"]


def test_openapi_describes_the_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/search", "/answer", "/documents"} <= set(spec["paths"])
    query = spec["components"]["schemas"]["Query"]
    assert {"question", "k", "mode", "sources", "date_from", "date_to", "kinds",
            "authorities"} == set(query["properties"])


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    r = client.post("/answer", content=b'{"question": "' + b"x" * 70_000 + b'"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "64,000" not in r.json()["error"]
    assert "65,536 bytes" in r.json()["error"]


def test_a_body_without_its_length_is_refused(client: TestClient) -> None:
    def chunks():
        yield b'{"question": "'
        yield b"x" * 200_000
        yield b'"}'

    r = client.post("/answer", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 411 and "Content-Length" in r.json()["error"]


@pytest.mark.parametrize("body", [{"question": "adoption", "k": True},
                                  {"question": "adoption", "k": "5"},
                                  {"question": 5}])
def test_types_are_not_coerced(client: TestClient, body: dict) -> None:
    r = client.post("/search", json=body)
    assert r.status_code == 400 and "\n" not in r.json()["error"]


def test_every_error_has_the_same_shape(client: TestClient) -> None:
    for r in (client.get("/nowhere"), client.get("/answer"), client.get("/docs")):
        assert r.status_code in (404, 405)
        schema("error").validate(r.json())


def test_too_many_waiting_requests_get_a_503(corpus: Path, tmp_path: Path, embedder,
                                             monkeypatch) -> None:
    import asyncio
    import threading

    import httpx

    from inspect_qa import api

    monkeypatch.setattr(api, "MAX_WAITING", 2)
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    release = threading.Event()
    slow = r.answer

    def answer(*args, **kwargs):  # holds the one worker until released
        release.wait(10)
        return slow(*args, **kwargs)

    monkeypatch.setattr(r, "answer", answer)
    app = build_api(r, concurrency=1)

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            tasks = [asyncio.create_task(c.post("/answer", json={"question": "adoption"}))
                     for _ in range(4)]
            await asyncio.sleep(0.5)  # one runs, two wait, the fourth is refused
            release.set()
            return sorted([(await t).status_code for t in tasks])

    assert asyncio.run(main()) == [200, 200, 200, 503]


def test_a_timeline_topic_is_called_a_topic_in_errors(client: TestClient) -> None:
    r = client.post("/timeline", json={"topic": "  "})
    assert r.status_code == 400 and r.json()["error"] == "the topic is empty: type a topic"
    r = client.post("/answer", json={"question": "  "})
    assert r.json()["error"] == "the question is empty: type a question"
