"""BEIR datasets on a tiny corpus with the hashing embedder (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inspect_qa.embedding import HashingEmbedder
from inspect_qa.errors import GoldSetError
from inspect_qa.eval import main
from inspect_qa.eval.beir import (
    cached_embeddings,
    dense_scores,
    lexical_scores,
    load_beir,
    run_from_scores,
)
from inspect_qa.eval.beir_run import evaluate_beir

DOCS = [
    ("d1", "Foster care", "Foster carers are approved by the fostering panel every month."),
    ("d2", "Adoption", "Children wait on average 500 days for adoption."),
    ("d3", "Caseloads", "Social workers in the assessment team hold 18 children each."),
    ("d4", "Leadership", "The director of children's services leads improvement."),
]
QUERIES = [("1", "how often does the fostering panel approve carers"),
           ("2", "adoption wait days"), ("3", "social worker caseloads"),
           ("4", "who leads improvement")]


def make_beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    with (root / "corpus.jsonl").open("w") as fh:
        for i, title, text in DOCS:
            fh.write(json.dumps({"_id": i, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as fh:
        for i, text in QUERIES:
            fh.write(json.dumps({"_id": i, "text": text}) + "\n")
    # BEIR ships a header line and CRLF line endings
    (root / "qrels" / "test.tsv").write_bytes(
        b"query-id\tcorpus-id\tscore\r\n1\td1\t1\r\n2\td2\t1\r\n")
    (root / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n3\td3\t1\n4\td4\t1\n")
    return root


def test_load(tmp_path: Path) -> None:
    ds = load_beir(make_beir(tmp_path / "tiny"))
    assert ds.doc_texts[0] == "Foster care " + DOCS[0][2]
    assert ds.qrels["test"] == {"1": {"d1": 1}, "2": {"d2": 1}}
    assert ds.split_rows("train") == [2, 3]


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "tiny")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\tnope\t1\n")
    with pytest.raises(GoldSetError, match=r"test.tsv: query '1' judges document\(s\) \['nope'\]"):
        load_beir(root)
    (root / "qrels" / "test.tsv").write_text("1\td1\n")
    with pytest.raises(GoldSetError, match=r"test.tsv:1: expected query-id"):
        load_beir(root)
    (root / "corpus.jsonl").write_text('{"_id": "d1"}\n')
    with pytest.raises(GoldSetError, match=r"corpus.jsonl:1: field\(s\) \['text'\]"):
        load_beir(root)
    with pytest.raises(GoldSetError, match="no such BEIR folder"):
        load_beir(tmp_path / "missing")


def test_embeddings_are_cached_and_invalidated(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    texts = ["one text", "another text"]
    first, cached = cached_embeddings(emb, texts, tmp_path / "cache", "docs")
    assert not cached and first.shape == (2, emb.dimension)
    again, cached = cached_embeddings(emb, texts, tmp_path / "cache", "docs")
    assert cached and np.array_equal(first, again)
    _, cached = cached_embeddings(emb, [*texts, "a third"], tmp_path / "cache", "docs")
    assert not cached  # other texts: re-embedded
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert manifest["sets"]["docs"]["count"] == 3
    # a damaged file is never served
    (tmp_path / "cache" / "docs.npy").write_bytes(b"junk")
    _, cached = cached_embeddings(emb, [*texts, "a third"], tmp_path / "cache", "docs")
    assert not cached
    _, cached = cached_embeddings(HashingEmbedder(64), [*texts, "a third"], tmp_path / "cache",
                                  "docs")
    assert not cached  # another model


@pytest.mark.parametrize("tokenizer", ["bm25s", "inspect-qa"])
def test_lexical_and_dense_rank_the_matching_document_first(tokenizer: str) -> None:
    texts = [d[1] + " " + d[2] for d in DOCS]
    queries = [q for _, q in QUERIES]
    lex = lexical_scores(texts, queries, tokenizer)
    assert lex.argmax(axis=1).tolist() == [0, 1, 2, 3]
    emb = HashingEmbedder()
    dense = dense_scores(emb.embed(queries), emb.embed(texts))
    assert dense.shape == (4, 4) and dense.argmax(axis=1)[1] == 1


def test_run_from_scores_keeps_the_top_and_drops_non_candidates() -> None:
    scores = np.array([[0.1, 0.9, -np.inf, 0.5]])
    run = run_from_scores(scores, ["q"], ("a", "b", "c", "d"), depth=3)
    assert run == {"q": {"b": pytest.approx(0.9), "d": pytest.approx(0.5),
                         "a": pytest.approx(0.1)}}


def test_evaluate_beir_end_to_end(tmp_path: Path) -> None:
    result = evaluate_beir(make_beir(tmp_path / "tiny"), tmp_path / "cache", HashingEmbedder())
    modes = [r["mode"] for r in result["rows"]]
    assert modes == ["dense", "lexical", "lexical-inspect-qa", "hybrid", "hybrid-untuned"]
    assert all(0 <= r["ndcg@10"] <= 1 and 0 <= r["recall@100"] <= 1 for r in result["rows"])
    assert result["rows"][1]["ndcg@10"] == 1.0  # every test query's words are in its document
    assert sum(r["chosen"] for r in result["fusion_search"]) == 1
    assert result["counts"]["train_queries"] == 2


def test_main_beir_saves_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    code = main(["--beir", str(make_beir(tmp_path / "tiny")), "--model", "hashing-64",
                 "--index", str(tmp_path / "cache"), "--results", str(tmp_path / "results"),
                 "--json", str(out), "--fail-under", "lexical:ndcg@10=0.99"])
    assert code == 0, capsys.readouterr().err
    data = json.loads(out.read_text())
    assert data["kind"] == "beir" and data["environment"]["model"] == "hashing-64"
    saved = sorted(p.suffix for p in (tmp_path / "results").iterdir())
    assert saved == [".json", ".md"]
    assert "nDCG@10" in capsys.readouterr().out
