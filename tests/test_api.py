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


def test_malformed_json_is_a_400(client: TestClient) -> None:
    r = client.post("/answer", content=b'{"question": ', headers={"content-type":
                                                                  "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_openapi_describes_the_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/search", "/answer", "/documents"} <= set(spec["paths"])
    query = spec["components"]["schemas"]["Query"]
    assert {"question", "k", "mode", "sources", "date_from", "date_to"} == set(query["properties"])


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    r = client.post("/answer", content=b'{"question": "' + b"x" * 70_000 + b'"}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 413 and "64,000" not in r.json()["error"]
    assert "65,536 bytes" in r.json()["error"]
