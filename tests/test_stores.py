"""The dense store: exact while small, IVF-PQ candidates (scored exactly) when large."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inspect_qa import Filters, Retriever
from inspect_qa.index import build_index
from inspect_qa.storage import load_index, read_manifest
from inspect_qa.stores import DenseStore


def _clustered(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, d))
    x = centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def test_ivf_candidates_rescored_exactly_find_the_exact_top_ten() -> None:
    x = _clustered(20000)
    exact, approx = DenseStore(x), DenseStore(x, DenseStore.build_ann(x))
    assert (exact.kind, approx.kind) == ("flat", "ivf-pq")
    queries = _clustered(50, seed=1).astype(np.float32)
    found = 0
    for q in queries:
        truth = set(exact.search(q[None], 10)[1][0].tolist())
        _, cand = approx.search(q[None], 100)  # the first stage's depth
        cand = cand[0][cand[0] >= 0]
        best = cand[np.argsort(-approx.score(q, cand), kind="stable")[:10]]
        found += len(truth & set(best.tolist()))
    assert found / (10 * len(queries)) >= 0.95
    # filtered: only allowed rows come back
    allowed = np.zeros(len(x), dtype=bool)
    allowed[::7] = True
    _, rows = approx.search(queries[:1], 20, allowed)
    assert len(rows[0]) and all(allowed[r] for r in rows[0] if r >= 0)
    np.testing.assert_allclose(approx.score(queries[0], np.array([3, 5])),
                               x[[3, 5]].astype(np.float32) @ queries[0], rtol=1e-6)


def test_an_ivf_search_returns_the_best_of_its_candidates_by_exact_score() -> None:
    x = _clustered(20000)
    approx = DenseStore(x, DenseStore.build_ann(x))
    queries = _clustered(20, seed=2).astype(np.float32)
    D, I = approx.search(queries, 10)  # noqa: E741
    codes_only = 0
    for q, d, rows in zip(queries, D, I, strict=True):
        assert (rows >= 0).all() and len(set(rows.tolist())) == 10
        np.testing.assert_allclose(d, x[rows].astype(np.float32) @ q, rtol=1e-5)
        assert (np.diff(d) <= 0).all()  # best first, by exact score
        _, coarse = approx._ann.search(q[None], 10)
        codes_only += len(set(coarse[0].tolist()) & set(rows.tolist())) < 10
    assert codes_only > 0  # the refinement changed some lists: it is not the codes' order


def test_an_index_built_with_ivf_records_it_and_searches_with_filters(
        corpus: Path, tmp_path: Path, embedder, monkeypatch) -> None:
    from inspect_qa.search import first_stage

    build_index(corpus, tmp_path / "ix", embedder=embedder, dense="ivf")
    m = read_manifest(tmp_path / "ix")
    assert (m["dense"]["passages"], m["dense"]["sentences"]) == ("ivf-pq", "ivf-pq")
    ix = load_index(tmp_path / "ix")
    assert ix.dense.kind == ix.sentence_dense.kind == "ivf-pq"
    # a first stage that does not take every passage, as in a large index
    monkeypatch.setattr(first_stage, "REFERENCE_ROWS", 1)
    r = Retriever(ix, embedder)
    hits = r.search("caseloads of social workers", k=3)
    assert hits and hits[0].source == "letter.txt"
    only = r.search("caseloads of social workers", k=3, filters=Filters(sources=("sub/news.md",)))
    assert only and {p.source for p in only} == {"sub/news.md"}


def test_build_options_are_kept_by_later_changes(corpus: Path, tmp_path: Path, embedder,
                                                  monkeypatch) -> None:
    from inspect_qa import add_documents, remove_documents
    from inspect_qa import index as index_module

    monkeypatch.setattr(index_module, "TOKENS_EXACT_CHUNKS", 0)  # "auto" would compress
    build_index(corpus, tmp_path / "ix", embedder=embedder, tokens="exact", dense="ivf")
    extra = tmp_path / "extra.txt"
    extra.write_text("Fostering panels now meet every week to approve carers.\n" * 3)
    add_documents(tmp_path / "ix", [extra], embedder=embedder)
    remove_documents(tmp_path / "ix", ["extra.txt"], embedder=embedder)
    build_index(corpus, tmp_path / "ix", embedder=embedder)  # options not given: kept
    m = read_manifest(tmp_path / "ix")
    assert (m["tokens"]["setting"], m["tokens"]["storage"]) == ("exact", "exact")
    assert (m["dense"]["setting"], m["dense"]["passages"]) == ("ivf", "ivf-pq")


def test_piece_ids_past_32_bits_keep_their_rarity() -> None:
    from inspect_qa.embedding import TokenVectors
    from inspect_qa.stores import TokenStore

    big = 3_000_000_000
    v = np.eye(3, dtype=np.float32)
    store = TokenStore.build([TokenVectors(np.array([big, 5]), v[:2], ()),
                              TokenVectors(np.array([big]), v[2:], ())], 3)
    assert int(store.ids[0]) == big
    seen_twice, unseen = store.idf(np.array([big, 7]))
    assert seen_twice < unseen


def test_a_filter_reads_no_document_text(corpus: Path, tmp_path: Path, embedder) -> None:
    r = Retriever.build(corpus, tmp_path / "ix", embedder=embedder)
    store = r.index.segments[0].documents
    store._cache.clear()
    allowed = r.allowed(Filters(sources=("letter.txt",), date_from="2000"))
    assert allowed is not None and not store._cache  # metadata only
