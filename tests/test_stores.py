"""The dense store: exact while small, IVF-PQ candidates (scored exactly) when large."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from inspect_qa import Filters, Retriever, pages
from inspect_qa.index import build_index
from inspect_qa.segments import ACROSS_REFINE, SegmentedDense
from inspect_qa.storage import load_index, read_manifest
from inspect_qa.stores import ANN_REFINE, DenseStore


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


def test_a_search_within_another_is_the_search_made_alone(monkeypatch) -> None:
    """``approximate_within`` gives, for the allowed rows and for a subset of them, the lists
    the two searches give alone: when the subset is taken from the wider scan; when its rows
    are too few there (it is searched again); when the cells hold fewer rows than the scan
    keeps (the lists padded as FAISS pads them); when scores tie at a list's cut (rows
    repeated three times: that list is searched again); and when the subset is too small a
    share to try."""
    from inspect_qa import stores

    x = _clustered(20000)
    x[10000:10400] = x[:400]  # duplicates: equal codes, equal approximate scores
    approx = DenseStore(x, DenseStore.build_ann(x))
    thrice = np.tile(_clustered(7000, seed=4), (3, 1))  # every score three times
    tied = DenseStore(thrice, DenseStore.build_ann(thrice))
    queries = np.concatenate([_clustered(30, seed=3), x[:10]]).astype(np.float32)
    rng = np.random.default_rng(6)
    calls: list[object] = []  # each search made alone: the mask it was given
    real = DenseStore.approximate

    def counted(self, xq, k, allowed=None):
        calls.append(allowed)
        return real(self, xq, k, allowed)
    monkeypatch.setattr(DenseStore, "approximate", counted)
    ways = {"one scan": 0, "outer again": 0, "within again": 0, "padded": 0, "apart": 0}

    def check(store, q, k, outer, k_within, within):
        calls.clear()
        got = store.approximate_within(q[None], k, outer, k_within, within)
        total = len(within) if outer is None else outer.sum()
        if within.sum() < stores.WITHIN_SHARE * total:  # too small a share: searched apart
            ways["apart"] += 1
        else:
            again = calls[1:]
            ways["one scan"] += not again
            ways["outer again"] += any(a is outer for a in again)
            ways["within again"] += any(a is within for a in again)
            ways["padded"] += bool((got[0][1] < 0).any())
            assert len(calls) <= 3  # the wide scan, then each list again
        for (d, rows), (want_d, want_rows) in zip(
                got, (real(store, q[None], k, outer), real(store, q[None], k_within, within)),
                strict=True):
            np.testing.assert_array_equal(rows, want_rows)
            np.testing.assert_array_equal(d, want_d)

    for i, q in enumerate(queries):
        outer = None if i % 3 == 0 else rng.random(len(x)) < 0.8
        if i % 5 == 4:  # few rows: the cells visited hold fewer than the scan keeps
            outer = rng.random(len(x)) < 0.01
        scope = np.ones(len(x), bool) if outer is None else outer
        far = x.astype(np.float32) @ q < np.median(x.astype(np.float32) @ q)
        for share in (0.6, 0.05, "far"):  # "far": half the rows, none near the question
            within = scope & (far if share == "far" else rng.random(len(x)) < share)
            for k, k_within in ((25, 25), (25, 10)):
                check(approx, q, k, outer, k_within, within)
    for q in thrice[:10].astype(np.float32):
        check(tied, q, 25, None, 25, rng.random(len(thrice)) < 0.7)
    assert ways["one scan"] > 40 and ways["apart"] > 40
    assert ways["within again"] > 0 and ways["outer again"] > 0 and ways["padded"] > 0


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


def test_segments_searched_approximately_score_as_many_vectors_as_one(monkeypatch) -> None:
    x = _clustered(24000)
    parts = [DenseStore(x[i : i + 3000], DenseStore.build_ann(x[i : i + 3000]))
             for i in range(0, 24000, 3000)]
    segmented, exact = SegmentedDense(parts), DenseStore(x)
    scored: list[int] = []
    real = DenseStore.score

    def counted(self, xq, rows):
        scored.append(len(rows))
        return real(self, xq, rows)

    monkeypatch.setattr(DenseStore, "score", counted)
    queries = _clustered(30, seed=3).astype(np.float32)
    found = 0
    for q in queries:
        scored.clear()
        D, I = segmented.search(q[None], 100)  # noqa: E741
        # the best of all eight segments' candidates, not each segment's best
        assert 0 < sum(scored) <= 100 * ACROSS_REFINE < 8 * 100 * ANN_REFINE
        np.testing.assert_allclose(D[0], x[I[0]].astype(np.float32) @ q, rtol=1e-5)
        truth = set(exact.search(q[None], 10)[1][0].tolist())
        found += len(truth & set(I[0][:10].tolist()))
    assert found / (10 * len(queries)) >= 0.95
    # allowed rows only, across segments
    allowed = np.zeros(len(x), dtype=bool)
    allowed[::5] = True
    _, rows = segmented.search(queries[:1], 20, allowed)
    assert len(rows[0]) == 20 and allowed[rows[0]].all()


def test_pages_announced_are_inside_the_mapping_and_merged(tmp_path: Path,
                                                           monkeypatch) -> None:
    a = np.arange(300_000, dtype=np.int64).reshape(-1, 3)  # 2.4 MB
    np.save(tmp_path / "a.npy", a)
    mapped = np.asarray(np.load(tmp_path / "a.npy", mmap_mode="r"))
    calls: list[tuple[int, int, int]] = []
    real = pages._madvise
    if real is None:
        pytest.skip("no madvise here")

    def recorded(address, length, advice):
        result = real(address, length, advice)
        calls.append((address, length, result))
        return result

    monkeypatch.setattr(pages, "_madvise", recorded)
    assert pages.will_need(mapped, np.array([0]), np.array([10])) == 0  # small: left alone
    monkeypatch.setattr(pages, "SMALL_BYTES", 0)
    assert pages.will_need(np.array(a), np.array([0]), np.array([10])) == 0  # in memory
    assert not calls
    # two touching ranges and one far away: two runs of pages
    assert pages.will_need(mapped, np.array([50_000, 0, 10]), np.array([50_001, 10, 400])) == 2
    assert pages.will_need(mapped, np.array([99_999]), np.array([100_000])) == 1  # the last row
    page = mmap.PAGESIZE
    lo, hi = mapped.ctypes.data // page * page, mapped.ctypes.data + mapped.nbytes
    assert len(calls) == 3
    for address, length, result in calls:
        assert result == 0 and address % page == 0 and lo <= address < address + length
        assert address + length <= hi + page


def _rss_file_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no RssFile here")


def test_released_pages_leave_the_process_not_the_data(tmp_path: Path) -> None:
    if pages._madvise is None:
        pytest.skip("no madvise here")
    a = np.arange(4 << 20, dtype=np.int64)  # 32 MB
    np.save(tmp_path / "a.npy", a)
    mapped = np.asarray(np.load(tmp_path / "a.npy", mmap_mode="r"))
    before = _rss_file_mb()
    assert int(mapped.sum()) == int(a.sum())  # every page read: mapped into this process
    touched = _rss_file_mb()
    assert touched - before > 24
    assert pages.release(mapped)
    assert touched - _rss_file_mb() > 24
    np.testing.assert_array_equal(mapped, a)  # read again, from the page cache
    assert not pages.release(a)  # memory of its own: nothing to drop
    assert not pages.release(np.asarray(np.load(tmp_path / "a.npy", mmap_mode="r+")))


def test_int8_rows_are_scored_from_their_codes_as_widened() -> None:
    from inspect_qa.stores import Int8Rows, _int8_dot_loop

    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    stored = Int8Rows(*Int8Rows.quantize(x))
    q = x[17]
    rows = rng.choice(len(x), 700)  # unordered, some twice
    want = stored[rows] @ q
    np.testing.assert_allclose(stored.dot(rows, q), want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(DenseStore(stored).score(q, rows), want, rtol=0, atol=1e-6)
    out = np.empty(2, np.float32)  # the loop as plain Python: the same
    assert _int8_dot_loop(stored.codes, stored.scales, rows[:2], q, out)
    np.testing.assert_allclose(out, want[:2], rtol=0, atol=1e-6)
    assert stored.dot(np.zeros(0, np.int64), q).shape == (0,)
    with pytest.raises(IndexError):
        stored.dot(np.array([0, 3000]), q)


def test_a_large_store_has_small_cells_and_reads_a_falling_share_of_them() -> None:
    from inspect_qa.stores import ann_cells, ann_visits

    # the stores of a build's segments are searched as before: an eighth of their cells
    assert (ann_cells(64_500), ann_visits(512, 64_500)) == (512, 64)
    assert (ann_cells(387_230), ann_visits(1024, 387_230)) == (1024, 128)
    assert (ann_cells(458_752), ann_visits(1024, 458_752)) == (1024, 128)  # 7 a passage
    # a store of 1.5 million rows (an optimized segment): cells of about 384 rows, and about
    # as many rows read as in a store a quarter its size, where an eighth would be 512 cells
    cells = ann_cells(1_548_920)
    assert cells == 4096 and 120 <= ann_visits(cells, 1_548_920) <= 136
    assert ann_visits(cells, 1_548_920) * 1_548_920 / cells <= 1.05 * 128 * 387_230 / 1024
    # small stores: at least ANN_NPROBE cells, never more than there are
    assert ann_visits(16, 200) == 16 and ann_visits(256, 40_000) == 64
    x = _clustered(3000)
    assert DenseStore.build_ann(x).nlist == ann_cells(3000)
