"""Segments: an index changed report by report searches exactly as one built whole."""

from __future__ import annotations

import collections
import itertools
import math
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from inspect_qa import add_documents, remove_documents
from inspect_qa.index import MERGE_FACTOR, build_index, optimize
from inspect_qa.lexical import LexicalStore, LexicalTokenizer, Postings
from inspect_qa.retriever import Retriever
from inspect_qa.storage import current_version_dir, load_index, read_manifest, segment_dirs

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUESTIONS = (
    "What caseloads did social workers in the court team hold?",
    "How many children were missing from home or care?",
    "What did inspectors find about management oversight of supervision?",
    "Were return home interviews completed in time?",
    "agency staff turnover",
)


def _seeds(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SEEDS / name, folder / name)
    return folder


def _results(r: Retriever) -> list[tuple[str, list[tuple[str, float]]]]:
    out = []
    for q in QUESTIONS:
        for mode in ("dense", "lexical", "hybrid"):
            hits = r.search(q, k=8, mode=mode)  # type: ignore[arg-type]
            out.append((mode, [(h.chunk_id, round(h.score, 5)) for h in hits]))
        a = r.answer(q)
        out.append(("answer", [(f"{a.found} {a.source} {a.start} {a.text}", round(a.confidence, 5))]))
    return out


@pytest.fixture
def names() -> list[str]:
    return sorted(p.name for p in SEEDS.glob("*.txt"))


def test_reports_added_one_at_a_time_search_as_one_build(tmp_path: Path, embedder,
                                                          names: list[str]) -> None:
    whole = Retriever.build(_seeds(tmp_path / "all", names), tmp_path / "whole",
                            embedder=embedder)
    first = _seeds(tmp_path / "some", names[:2])
    build_index(first, tmp_path / "ix", embedder=embedder)
    for name in names[2:]:
        rep = add_documents(tmp_path / "ix", [SEEDS / name], embedder=embedder)
        assert rep.added == (name,) and name not in rep.unchanged
    grown = Retriever.load(tmp_path / "ix", embedder=embedder)
    assert len(grown.index.segments) > 1
    assert _results(grown) == _results(whole)


def test_changing_a_few_reports_reads_no_other_report_s_text(tmp_path: Path, embedder,
                                                              names: list[str],
                                                              monkeypatch) -> None:
    from inspect_qa.tables import DocumentStore

    corpus = _seeds(tmp_path / "corpus", names[:4])
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    read: list[str] = []
    real = DocumentStore.__getitem__

    def counted(self, key):
        read.append(key)
        return real(self, key)

    monkeypatch.setattr(DocumentStore, "__getitem__", counted)
    extra = _seeds(tmp_path / "extra", [names[4]]) / names[4]
    add_documents(tmp_path / "ix", [extra], embedder=embedder)
    remove_documents(tmp_path / "ix", [names[0]], embedder=embedder)
    shutil.copy(extra, corpus / names[4])
    build_index(corpus, tmp_path / "ix", embedder=embedder)  # the folder again: names[0] back
    # only the removed report's own text is read (at load, to take its words away)
    assert set(read) <= {names[0]}
    # a rewrite (another dense setting) still reads them all, and loses nothing
    build_index(corpus, tmp_path / "ix", embedder=embedder, dense="ivf")
    assert set(read) >= set(names[1:])
    assert sorted(load_index(tmp_path / "ix").documents) == sorted(names)


def test_a_removed_report_is_a_deletion_marker_until_optimize(tmp_path: Path, embedder,
                                                              names: list[str]) -> None:
    build_index(_seeds(tmp_path / "all", names), tmp_path / "ix", embedder=embedder)
    segment = segment_dirs(tmp_path / "ix")[0]
    before = {p.name: p.read_bytes() for p in segment.iterdir() if p.is_file()}
    rep = remove_documents(tmp_path / "ix", [names[1]], embedder=embedder)
    assert rep.removed == (names[1],) and rep.embedded_chunks == 0
    # nothing rewritten: the same segment, a marker in the commit
    assert segment_dirs(tmp_path / "ix") == [segment]
    assert {p.name: p.read_bytes() for p in segment.iterdir() if p.is_file()} == before
    assert read_manifest(tmp_path / "ix")["segments"][0]["deleted"] == [names[1]]
    rest = [n for n in names if n != names[1]]
    without = Retriever.build(_seeds(tmp_path / "rest", rest), tmp_path / "without",
                              embedder=embedder)
    marked = Retriever.load(tmp_path / "ix", embedder=embedder)
    assert marked.index.live is not None and not marked.index.live.all()
    assert names[1] not in marked.index.documents
    assert _results(marked) == _results(without)
    assert all(h.source != names[1] for q in QUESTIONS for h in marked.search(q, k=50))
    rep = optimize(tmp_path / "ix", embedder=embedder)
    assert rep.merged == 1
    merged = load_index(tmp_path / "ix")
    assert merged.live is None and len(merged.segments) == 1
    assert [c.id for c in merged.chunks] == [c.id for c in without.index.chunks]
    assert _results(Retriever.load(tmp_path / "ix", embedder=embedder)) == _results(without)
    assert optimize(tmp_path / "ix", embedder=embedder).merged == 0  # nothing left to do


def test_a_changed_report_replaces_its_old_version(tmp_path: Path, embedder,
                                                   names: list[str]) -> None:
    corpus = _seeds(tmp_path / "all", names)
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    changed = corpus / names[0]
    changed.write_text(changed.read_text() + "\nA new paragraph says the panel met weekly.\n")
    rep = build_index(corpus, tmp_path / "ix", embedder=embedder)
    assert rep.changed == (names[0],)
    ix = load_index(tmp_path / "ix")
    assert len(ix.segments) == 2 and read_manifest(tmp_path / "ix")["segments"][0]["deleted"] \
        == [names[0]]
    # one live copy of the report: its new text
    assert "panel met weekly" in ix.documents[names[0]].text
    fresh = Retriever.build(corpus, tmp_path / "fresh", embedder=embedder)
    assert _results(Retriever.load(tmp_path / "ix", embedder=embedder)) == _results(fresh)


def test_a_large_build_writes_a_segment_per_batch_and_searches_as_one(
        tmp_path: Path, embedder, names: list[str], monkeypatch) -> None:
    from inspect_qa import index as index_module

    corpus = _seeds(tmp_path / "all", names)
    whole = Retriever.build(corpus, tmp_path / "whole", embedder=embedder)
    monkeypatch.setattr(index_module, "BUILD_SEGMENT_CHARS", 15_000)  # a report or two a batch
    monkeypatch.setattr(index_module, "MAX_MERGE_CHUNKS", 0)  # no merge after the build
    monkeypatch.setattr(index_module, "LARGE_SEGMENT_CHUNKS", 0)
    rep = build_index(corpus, tmp_path / "ix", embedder=embedder, tokens="exact")
    assert rep.added == tuple(names)
    batched = Retriever.load(tmp_path / "ix", embedder=embedder)
    assert len(batched.index.segments) >= 3 and batched.index.live is None
    assert _results(batched) == _results(whole)
    # merged after the build (as they fit in one segment), the same again
    monkeypatch.setattr(index_module, "MAX_MERGE_CHUNKS", 65_536)
    monkeypatch.setattr(index_module, "LARGE_SEGMENT_CHUNKS", 4 * 65_536)
    rep = build_index(corpus, tmp_path / "merged", embedder=embedder, tokens="exact")
    assert rep.merged >= 3
    merged = Retriever.load(tmp_path / "merged", embedder=embedder)
    assert len(merged.index.segments) == 1
    assert _results(merged) == _results(whole)
    # a build larger than a large segment: its batches merged into runs of at most that many
    monkeypatch.setattr(index_module, "LARGE_SEGMENT_CHUNKS", len(whole.index.chunks) // 2)
    build_index(corpus, tmp_path / "runs", embedder=embedder, tokens="exact")
    manifest = read_manifest(tmp_path / "runs")
    assert 2 <= len(manifest["segments"]) < len(batched.index.segments)
    # the batches in order, in runs of at most the bound (a larger batch alone)
    bound, runs = len(whole.index.chunks) // 2, [0]
    for n in (int(e["chunks"]) for e in read_manifest(tmp_path / "ix")["segments"]):
        if runs[-1] and runs[-1] + n > bound:
            runs.append(0)
        runs[-1] += n
    assert [int(e["chunks"]) for e in manifest["segments"]] == runs
    assert _results(Retriever.load(tmp_path / "runs", embedder=embedder)) == _results(whole)


def test_small_segments_are_merged_by_the_policy(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Fostering panels approve carers every month in Dudley.\n" * 3)
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    for i in range(2 * MERGE_FACTOR):
        extra = tmp_path / f"extra{i}.txt"
        extra.write_text(f"Report {i}: the adoption panel met {i + 2} times this quarter.\n" * 3)
        add_documents(tmp_path / "ix", [extra], embedder=embedder)
        m = read_manifest(tmp_path / "ix")
        sizes = [sum(d["chunks"] for d in m["documents"].values() if d["segment"] == e["name"])
                 for e in m["segments"]]
        tiers = [int(math.log(n, MERGE_FACTOR)) for n in sizes]
        # segments of a size never pile up: fewer than MERGE_FACTOR a tier
        assert max(tiers.count(t) for t in tiers) < MERGE_FACTOR
    ix = load_index(tmp_path / "ix")
    assert len(ix.documents) == 2 * MERGE_FACTOR + 1
    assert sorted((tmp_path / "ix" / "segments").iterdir()) == sorted(segment_dirs(tmp_path / "ix"))


def test_a_merge_reads_only_the_segments_it_merges(tmp_path: Path, embedder, names: list[str],
                                                  monkeypatch) -> None:
    from inspect_qa import index as index_module
    from inspect_qa import storage

    build_index(_seeds(tmp_path / "c", names[:2]), tmp_path / "ix", embedder=embedder)
    for name in names[2:]:
        add_documents(tmp_path / "ix", [SEEDS / name], embedder=embedder)
    before = [e["name"] for e in read_manifest(tmp_path / "ix")["segments"]]
    assert len(before) >= 3
    loaded: list[str] = []
    real = storage._load_segment

    def counted(path, codecs, meta):
        loaded.append(path.name)
        return real(path, codecs, meta)

    monkeypatch.setattr(storage, "_load_segment", counted)
    index_module._merge(tmp_path / "ix", before[-2:])
    assert loaded == before[-2:]
    after = [e["name"] for e in read_manifest(tmp_path / "ix")["segments"]]
    assert after[:-1] == before[:-2] and after[-1] not in before
    assert sorted(load_index(tmp_path / "ix").documents) == sorted(names)


def test_a_segment_no_commit_names_is_ignored_and_cleaned(tmp_path: Path, embedder,
                                                          corpus: Path) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    live = current_version_dir(tmp_path / "ix")
    orphan = tmp_path / "ix" / "segments" / "s-20200101T000000-deadbeef"
    shutil.copytree(segment_dirs(tmp_path / "ix")[0], orphan)  # as a killed build leaves it
    assert len(load_index(tmp_path / "ix").segments) == 1
    extra = tmp_path / "extra.txt"
    extra.write_text("Fostering panels now meet every week to approve carers.\n" * 3)
    add_documents(tmp_path / "ix", [extra], embedder=embedder)
    assert current_version_dir(tmp_path / "ix") != live and not orphan.exists()


def test_bm25_over_segments_is_bm25s_over_the_whole(names: list[str]) -> None:
    import bm25s

    tok = LexicalTokenizer()
    texts = []
    for name in names:
        text = (SEEDS / name).read_text()
        texts += [text[i : i + 600] for i in range(0, len(text), 450)]
    texts.append("")  # a passage without words counts as bm25s counts it
    lists = [tok(t) for t in texts]
    reference = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    reference.index([t or [""] for t in lists], show_progress=False)
    cut = [0, len(lists) // 3, len(lists) // 3 + 7, len(lists)]
    parts = [Postings.build(lists[a:b]) for a, b in itertools.pairwise(cut)]
    whole, split = LexicalStore([Postings.build(lists)]), LexicalStore(parts)
    for q in (*QUESTIONS, "social social workers", "nothing-like-this"):
        toks = [t for t in tok(q) if t in reference.vocab_dict]
        expected = (reference.get_scores(toks) if toks else np.zeros(len(lists), np.float32))
        np.testing.assert_array_equal(whole.scores(q), expected)
        np.testing.assert_array_equal(split.scores(q), expected)
    # Deleting the middle segment's rows is building without them.
    gone = [np.zeros(cut[1], bool), np.ones(7, bool), np.zeros(len(lists) - cut[2], bool)]
    deleted = LexicalStore(parts, gone)
    without = LexicalStore([Postings.build(lists[: cut[1]] + lists[cut[2] :])])
    keep = np.r_[0 : cut[1], cut[2] : len(lists)]
    for q in QUESTIONS:
        np.testing.assert_array_equal(deleted.scores(q)[keep], without.scores(q))
        assert not deleted.scores(q)[cut[1] : cut[2]].any()
        assert deleted.idf("social") == without.idf("social")


def test_a_question_scored_segment_by_segment_is_scored_as_one(names: list[str]) -> None:
    tok = LexicalTokenizer()
    texts = []
    for name in names:
        text = (SEEDS / name).read_text()
        texts += [text[i : i + 300] for i in range(0, len(text), 250)]
    # a word more often than the table of small counts holds, in a row longer than a byte
    texts.insert(len(texts) // 3, "children " * 20 + "social workers " * 150)
    lists = [tok(t) for t in texts]
    cut = [0, len(lists) // 4, len(lists) // 2, len(lists)]
    parts = [Postings.build(lists[a:b]) for a, b in itertools.pairwise(cut)]
    gone = [np.zeros(cut[1], bool), np.zeros(cut[2] - cut[1], bool),
            np.zeros(len(lists) - cut[2], bool)]
    gone[1][:5] = True
    rng = np.random.default_rng(0)
    for store in (LexicalStore(parts), LexicalStore(parts, gone)):
        for q in (*QUESTIONS, "social social workers", "children", "nothing-like-this"):
            whole, split = store.scores(q), store.question(q)
            assert len(split) == len(whole) and split.max() == whole.max(initial=0.0)
            rows = rng.permutation(len(whole))
            np.testing.assert_array_equal(split[rows], whole[rows])
            np.testing.assert_array_equal(split.plus(store.question("visit"), 0.3)[rows],
                                          (whole + np.float32(0.3) * store.scores("visit"))[rows])
            for allowed in (None, rng.random(len(whole)) < 0.4):
                for depth in (1, 10, 60):
                    masked = whole if allowed is None else np.where(allowed, whole, -np.inf)
                    want = np.argpartition(-masked, depth - 1)[:depth]
                    want = want[masked[want] > 0]
                    got = split.top(depth, allowed)
                    assert len(set(got.tolist())) == len(got) == len(want)
                    assert (whole[got] > 0).all()
                    if allowed is not None:
                        assert allowed[got].all()
                    np.testing.assert_array_equal(np.sort(whole[got]), np.sort(whole[want]))


def test_one_pass_selection_keeps_the_best_positive_rows_first_of_equals() -> None:
    from inspect_qa.lexical import _best_positive, _select

    rng = np.random.default_rng(3)
    for n, k, share in ((50_000, 7, 0.3), (20_000, 100, 0.9), (300, 100, 0.5), (5, 3, 1.0)):
        scores = np.zeros(n, np.float32)
        hit = rng.random(n) < share
        # few distinct values: many rows tie at the cut
        scores[hit] = rng.integers(1, 40, int(hit.sum())).astype(np.float32)
        for allowed in (None, rng.random(n) < 0.5):
            masked = scores if allowed is None else np.where(allowed, scores, 0)
            order = np.lexsort((np.arange(n), -masked))  # best first, then the first rows
            want = order[:k][masked[order[:k]] > 0]
            for select in (_select, _best_positive):  # compiled, and as plain Python
                got = select(scores, np.zeros(0, bool) if allowed is None else allowed,
                             allowed is not None, k)
                np.testing.assert_array_equal(np.sort(got), np.sort(want))


def test_hint_scores_are_hint_match_of_every_live_document(tmp_path: Path, embedder,
                                                           names: list[str]) -> None:
    from inspect_qa.query import document_hints, hint_match

    corpus = _seeds(tmp_path / "all", names)
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    remove_documents(tmp_path / "ix", [names[2]], embedder=embedder)
    r = Retriever.load(tmp_path / "ix", embedder=embedder)
    info = r.index.documents.info
    for question in ("What did the May 2018 letter say?", "the second monitoring visit",
                     "the news article about the commissioner", "the 3rd visit in October 2016",
                     "What caseloads did workers hold?"):
        hints = document_hints(question)
        expected = [hint_match(info[d], hints) if d in info else 0.0
                    for d in r.corpus.document_ids]
        np.testing.assert_allclose(r.corpus.hint_scores(hints), expected)
    assert any(r.corpus.hint_scores(document_hints("the sixth monitoring visit")))


def test_merging_copies_compressed_pieces_as_stored(tmp_path: Path, embedder,
                                                     names: list[str]) -> None:
    corpus = _seeds(tmp_path / "all", names)
    build_index(corpus, tmp_path / "ix", embedder=embedder, tokens="compressed")
    extra = tmp_path / "extra.txt"
    extra.write_text((SEEDS / names[1]).read_text() + "\nThe panel now meets weekly.\n")
    add_documents(tmp_path / "ix", [extra], embedder=embedder)
    remove_documents(tmp_path / "ix", [names[0]], embedder=embedder)
    before = load_index(tmp_path / "ix")
    assert len(before.segments) == 2 and before.chunk_tokens.compressed

    def pieces(ix):  # each live passage's stored piece ids and codes, by passage id
        out, base = {}, 0
        for seg in ix.segments:
            store = seg.chunk_tokens
            for row in range(len(seg.chunks)):
                if ix.live is None or ix.live[base + row]:
                    a, b = int(store.offsets[row]), int(store.offsets[row + 1])
                    out[str(seg.chunks.ids[row])] = (np.asarray(store.ids[a:b]).tolist(),
                                                     np.asarray(store.codes[1][a:b]).tobytes())
            base += len(seg.chunks)
        return out

    expected = pieces(before)
    optimize(tmp_path / "ix", embedder=embedder)
    after = load_index(tmp_path / "ix")
    assert len(after.segments) == 1 and after.live is None
    assert pieces(after) == expected
    np.testing.assert_array_equal(after.chunk_tokens.idf(np.arange(2000)),
                                  before.chunk_tokens.idf(np.arange(2000)))


def test_a_format_4_index_is_rebuilt_keeping_the_reports_added_to_it(
        tmp_path: Path, embedder, corpus: Path) -> None:
    import hashlib
    import json

    # A format-4 index as that version wrote it: one version folder, the texts in texts.bin.
    text = "Fostering panels now meet every week to approve carers in Dudley.\n" * 3
    version = tmp_path / "ix" / "v-20261201T000000-00000000"
    version.mkdir(parents=True)
    raw = text.encode()
    (version / "texts.bin").write_bytes(raw)
    np.save(version / "text_offsets.npy", np.array([0, len(raw)], dtype=np.int64))
    manifest = {"format_version": 4, "documents": {"added.txt": {
        "metadata": {"title": "Added"}, "origin": "added",
        "content_hash": hashlib.sha256(raw).hexdigest()}}}
    (version / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "ix" / "CURRENT").write_text(version.name + "\n")
    rep = build_index(corpus, tmp_path / "ix", embedder=embedder)
    assert rep.kept == ("added.txt",)
    ix = load_index(tmp_path / "ix")
    assert ix.documents["added.txt"].text == text
    assert read_manifest(tmp_path / "ix")["documents"]["added.txt"]["origin"] == "added"


def test_rebuilding_a_damaged_index_keeps_the_added_reports_whose_segment_is_intact(
        tmp_path: Path, embedder, names: list[str]) -> None:
    folder = _seeds(tmp_path / "some", names[:2])
    build_index(folder, tmp_path / "ix", embedder=embedder)
    elsewhere = _seeds(tmp_path / "elsewhere", names[2:5])
    add_documents(tmp_path / "ix", [elsewhere / names[2]], embedder=embedder)
    add_documents(tmp_path / "ix", [elsewhere / names[3], elsewhere / names[4]],
                  embedder=embedder)
    first, _, third = segment_dirs(tmp_path / "ix")
    # The folder's segment loses its vectors; in the last segment, the first report's text is
    # damaged, the second's is not.
    (first / "chunk_vectors.npy").write_bytes(b"damaged")
    raw = bytearray((third / "texts.bin").read_bytes())
    raw[10] ^= 0x20
    (third / "texts.bin").write_bytes(bytes(raw))
    rep = build_index(folder, tmp_path / "ix", embedder=embedder)
    assert rep.kept == (names[2], names[4])
    assert rep.lost == (names[3],)
    assert set(rep.added) == set(names[:2])
    ix = load_index(tmp_path / "ix")
    assert sorted(ix.documents) == sorted([*names[:3], names[4]])
    assert ix.documents[names[2]].text == (elsewhere / names[2]).read_text(encoding="utf-8")
    assert read_manifest(tmp_path / "ix")["documents"][names[2]]["origin"] == "added"


def test_rebuilding_an_index_whose_manifest_is_damaged_lists_the_reports_it_cannot_keep(
        tmp_path: Path, embedder, names: list[str], caplog) -> None:
    folder = _seeds(tmp_path / "some", names[:2])
    build_index(folder, tmp_path / "ix", embedder=embedder)
    elsewhere = _seeds(tmp_path / "elsewhere", names[2:4])
    add_documents(tmp_path / "ix", [elsewhere / names[2], elsewhere / names[3]],
                  embedder=embedder)
    manifest = current_version_dir(tmp_path / "ix") / "manifest.json"
    raw = bytearray(manifest.read_bytes())
    raw[len(raw) // 2] = 0xFF  # no longer UTF-8: which reports were live is unknown
    manifest.write_bytes(bytes(raw))
    with caplog.at_level("WARNING", logger="inspect_qa"):
        rep = build_index(folder, tmp_path / "ix", embedder=embedder)
    # the reports added from elsewhere are named, not dropped silently
    assert rep.lost == tuple(sorted(names[2:4]))
    assert rep.kept == () and set(rep.added) == set(names[:2])
    assert "cannot be told apart" in caplog.text and "listed as lost" in caplog.text
    assert sorted(load_index(tmp_path / "ix").documents) == sorted(names[:2])


def test_a_damaged_postings_row_is_index_corrupt_not_a_stray_write() -> None:
    from inspect_qa.errors import IndexCorrupt

    good = Postings.build([["social", "worker"], ["social"], ["care"]])
    rows = np.array(good.rows, copy=True)
    rows[0] = 7  # past the segment's 3 rows: a flipped bit in rows.npy
    bad = Postings(good.terms, good.indptr, rows, good.tf, good.lengths)
    with pytest.raises(IndexCorrupt, match="inspect-qa check"):
        LexicalStore([bad]).question("social care")
    assert LexicalStore([good]).question("social care").max() > 0
    lengths = np.array(good.lengths, copy=True)
    lengths[1] = -1  # a row's length reads the norms' table: one before it is refused
    with pytest.raises(IndexCorrupt, match="inspect-qa check"):
        LexicalStore([Postings(good.terms, good.indptr, good.rows, good.tf, lengths)])


def test_adding_another_file_of_an_added_reports_name_is_refused(
        tmp_path: Path, embedder, corpus: Path) -> None:
    from inspect_qa.errors import CorpusError

    build_index(corpus, tmp_path / "ix", embedder=embedder)
    west, east = tmp_path / "west", tmp_path / "east"
    west.mkdir()
    east.mkdir()
    (west / "panel.txt").write_text("Westbridge's fostering panel met 14 times in 2024.\n" * 3)
    (east / "panel.txt").write_text("Eastvale's adoption panel approved 31 adopters in 2024.\n" * 3)
    add_documents(tmp_path / "ix", [west / "panel.txt"], embedder=embedder)
    # another report known by the same name does not replace the first
    with pytest.raises(CorpusError, match=r"already holds 'panel\.txt', added from"):
        add_documents(tmp_path / "ix", [east / "panel.txt"], embedder=embedder)
    assert "Westbridge" in load_index(tmp_path / "ix").documents["panel.txt"].text
    # the same file, changed, is updated; the record survives a rebuild of the folder
    (west / "panel.txt").write_text("Westbridge's fostering panel met 16 times in 2024.\n" * 3)
    rep = add_documents(tmp_path / "ix", [west / "panel.txt"], embedder=embedder)
    assert rep.changed == ("panel.txt",)
    (corpus / "letter.txt").write_text("A changed letter about adoption in 2019.\n" * 3)
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    with pytest.raises(CorpusError, match="added from"):
        add_documents(tmp_path / "ix", [east / "panel.txt"], embedder=embedder)
    # once the first is dropped, the other can be added
    remove_documents(tmp_path / "ix", ["panel.txt"], embedder=embedder)
    add_documents(tmp_path / "ix", [east / "panel.txt"], embedder=embedder)
    assert "Eastvale" in load_index(tmp_path / "ix").documents["panel.txt"].text


def test_optimize_merges_a_large_index_into_several_segments_of_a_bounded_size(
        tmp_path: Path, embedder, names: list[str], monkeypatch, capsys) -> None:
    from inspect_qa import index as index_module
    from inspect_qa.cli import main

    corpus = _seeds(tmp_path / "all", names)
    monkeypatch.setattr(index_module, "BUILD_SEGMENT_CHARS", 15_000)  # a report or two a batch
    monkeypatch.setattr(index_module, "MAX_MERGE_CHUNKS", 0)  # no merge after the build
    monkeypatch.setattr(index_module, "LARGE_SEGMENT_CHUNKS", 0)
    build_index(corpus, tmp_path / "ix", embedder=embedder, tokens="exact")
    remove_documents(tmp_path / "ix", [names[2]], embedder=embedder)
    rest = [n for n in names if n != names[2]]
    build_index(_seeds(tmp_path / "rest", rest), tmp_path / "without", embedder=embedder,
                tokens="exact")
    without = Retriever.load(tmp_path / "without", embedder=embedder)
    total = len(without.index.chunks)
    monkeypatch.setattr(index_module, "LARGE_SEGMENT_CHUNKS", total // 2)
    before = {e["name"] for e in read_manifest(tmp_path / "ix")["segments"]}
    assert main(["optimize", str(tmp_path / "ix")]) == 0
    out = capsys.readouterr().out
    manifest = read_manifest(tmp_path / "ix")
    live = {e["name"]: 0 for e in manifest["segments"]}
    for d in manifest["documents"].values():
        live[d["segment"]] += int(d["chunks"])
    assert 2 <= len(live) < len(before), live
    # each segment written is within the bound (a larger one is left alone)
    assert all(n <= total // 2 for name, n in live.items() if name not in before)
    assert not any(e.get("deleted") for e in manifest["segments"])
    assert f"it now has {len(live)} segments" in out
    assert _results(Retriever.load(tmp_path / "ix", embedder=embedder)) == _results(without)
    # nothing left to do: every run is one segment without deletions
    assert optimize(tmp_path / "ix", embedder=embedder).merged == 0


def test_merged_postings_are_those_a_build_of_the_live_rows_gives() -> None:
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    lists = [[str(w) for w in rng.choice(words, size=int(rng.integers(0, 9)))]
             for _ in range(300)]
    lists[120] = ["only", "here"]  # words no other row holds
    cuts = [0, 120, 121, 121, 300]  # a part of one row, and an empty part, among them
    parts = [Postings.build(lists[a:b]) for a, b in itertools.pairwise(cuts)]
    keep = [rng.random(b - a) < 0.7 for a, b in itertools.pairwise(cuts)]
    keep[1][:] = False  # a part wholly deleted: its own words are gone
    merged = Postings.merge(parts, keep)
    live = [t for t, k in zip(lists, np.concatenate(keep), strict=True) if k]
    built = Postings.build(live)
    assert merged.terms == built.terms and "only" not in merged.terms
    for name in ("indptr", "rows", "tf", "lengths"):
        a, b = np.asarray(getattr(merged, name)), np.asarray(getattr(built, name))
        assert a.dtype == b.dtype and np.array_equal(a, b), name


@pytest.mark.parametrize("searcher", ["auto", "ivf"])
def test_the_first_stage_shared_out_by_segment_is_each_list_made_whole(
        tmp_path: Path, embedder, names: list[str], monkeypatch, searcher: str) -> None:
    """A large index's first stage makes its lists a segment at a time, the parts shared by
    two threads: its candidates and BM25 scores are those of each list made over the whole
    index (a deleted report's rows left out; a filter's; the reports a question names by
    their rows, in pieces, or by a mask, which an IVF-PQ segment searches in the same scan
    as the whole scope when it can)."""
    from inspect_qa import index as index_module
    from inspect_qa import stores
    from inspect_qa.search import first_stage

    monkeypatch.setattr(index_module, "MERGE_FACTOR", 100)  # the segments stay apart
    build_index(_seeds(tmp_path / "some", names[:3]), tmp_path / "ix", embedder=embedder,
                dense=searcher)
    for name in names[3:]:
        add_documents(tmp_path / "ix", [SEEDS / name], embedder=embedder)
    scans: collections.Counter[int] = collections.Counter()  # searches a shared scan made
    within, alone = stores.DenseStore.approximate_within, stores.DenseStore.approximate
    calls = threading.local()  # the first stage's two threads count apart

    def counted(self, *args, **kwargs):
        calls.n = 0
        got = within(self, *args, **kwargs)
        scans[calls.n] += 1
        del calls.n
        return got

    def searched(self, *args):
        if hasattr(calls, "n"):
            calls.n += 1
        return alone(self, *args)
    monkeypatch.setattr(stores.DenseStore, "approximate_within", counted)
    monkeypatch.setattr(stores.DenseStore, "approximate", searched)
    # the first segment's smallest report: a deletion marker, not a rewrite
    remove_documents(tmp_path / "ix", [min(names[:3], key=lambda n: (SEEDS / n).stat().st_size)],
                     embedder=embedder)
    r = Retriever.load(tmp_path / "ix", embedder=embedder)
    ix, corpus = r.index, r.corpus
    assert len(ix.segments) >= 3 and corpus.live is not None
    monkeypatch.setattr(first_stage, "REFERENCE_ROWS", 2)  # the large-index path
    monkeypatch.setattr(first_stage, "DEPTH", 6)  # lists shorter than a segment
    monkeypatch.setattr(first_stage, "PIECE_ROWS", 9)  # a named report's rows in pieces
    monkeypatch.setattr(corpus, "_once", {})  # the sample drawn again: 2 rows
    depth = first_stage.DEPTH

    def dense(store, vector, mask):
        _, rows = store.search(vector.reshape(1, -1), depth, mask)
        return rows[0][rows[0] >= 0]

    questions = ["the May 2018 letter on adoption", "supervision in the sixth monitoring visit",
                 "caseloads in the first monitoring visit", "agency staff turnover"]
    named = 0
    first = corpus.document_ids[corpus.chunk_documents[corpus.live_rows[0]]]
    some = corpus.mask(set(corpus.document_ids) - {first})  # a filter: a live report left out
    assert some is not None and not some[corpus.live].all()
    for exact_rows, share in ((first_stage.EXACT_ROWS, 0.5), (0, 0.0)):
        monkeypatch.setattr(first_stage, "EXACT_ROWS", exact_rows)
        monkeypatch.setattr(first_stage, "EXACT_SHARE", share)
        for q, allowed in itertools.product(questions, (None, some & corpus.live)):
            question = r.analyser.analyse(q, True)
            got = first_stage.run(corpus, question, allowed, dense=True, lexical=True)
            lc, sl = first_stage.lexical_scores(ix, question)
            scope = corpus.live if allowed is None else allowed
            masks = [scope]
            if question.hints:
                reports = corpus.hint_scores(question.hints) > 0
                masks.append(reports[corpus.chunk_documents] & scope)
                named += 1
            want = [first_stage.reference_rows(corpus)]
            for mask in masks:
                sentences = mask[corpus.sentence_chunks]
                want += [dense(ix.dense, question.vector, mask), lc.top(depth, mask),
                         corpus.sentence_chunks[dense(ix.sentence_dense, question.vector,
                                                      sentences)],
                         corpus.sentence_chunks[sl.top(depth, sentences)]]
            np.testing.assert_array_equal(got.rows, np.unique(np.concatenate(want)))
            assert got.lexical_chunk is not None and got.lexical_sentence is not None
            for a, b in ((got.lexical_chunk, lc), (got.lexical_sentence, sl)):
                for x, y in zip(a.parts, b.parts, strict=True):
                    np.testing.assert_array_equal(x, y)
    assert named >= 8  # questions naming reports, both ways, with and without the filter
    if searcher == "ivf":
        assert scans[1] >= 5  # both lists from one scan (searched again: test_stores)


def test_rows_split_by_segment_are_those_each_segment_owns_sorted_or_not(monkeypatch) -> None:
    """``split_rows`` cuts ascending rows where each segment starts (no sort: ``np.unique``
    is not called), and splits any others by each row's segment: either way each segment's
    rows, where they are in the input, and their local numbers, the segments in order (an
    empty segment, repeated rows; rows beyond the segments as before, left to the caller)."""
    from inspect_qa.segments import split_rows

    rng = np.random.default_rng(5)
    bounds = np.array([0, 7, 7, 20, 21, 40], dtype=np.int64)  # the second segment is empty

    def owned(rows: np.ndarray) -> list[tuple[int, list[int], list[int]]]:
        owner = np.searchsorted(bounds, rows, side="right") - 1
        return [(k, np.flatnonzero(owner == k).tolist(),
                 (rows[owner == k] - bounds[k]).tolist()) for k in sorted(set(owner.tolist()))]

    ascending = [np.array([39]), np.arange(40), np.array([3, 3, 8, 8, 39])]
    ascending += [np.sort(rng.choice(40, size, replace=False)) for size in (1, 5, 20)]
    others = [np.zeros(0, np.int64), np.array([25, 2, 30, 2]), np.array([3, 40]),
              np.array([-1, 5])] + [rng.integers(0, 40, 12) for _ in range(5)]
    unique = np.unique
    for rows in ascending + others:
        if any(rows is r for r in ascending):
            monkeypatch.setattr(np, "unique", None)  # the cut needs no sort
        got = [(k, where.tolist(), local.tolist()) for k, where, local in split_rows(rows, bounds)]
        monkeypatch.setattr(np, "unique", unique)
        assert got == owned(rows), rows


def test_the_sentences_of_allowed_passages_are_counted_by_runs_as_one_by_one() -> None:
    """``Corpus.sentence_count`` (runs of allowed passages) is the passages' sentences summed
    one by one: passages of no sentence, runs at either end, nothing or everything allowed."""
    from inspect_qa.search.corpus import Corpus

    rng = np.random.default_rng(4)
    counts = rng.integers(0, 6, 300)
    counts[[0, 150, 299]] = 0
    corpus = Corpus.__new__(Corpus)
    corpus.sentence_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    corpus.sentence_ends = np.cumsum(counts).astype(np.int64)
    masks = [np.zeros(300, bool), np.ones(300, bool), np.zeros(0, bool)]
    masks += [rng.random(300) < share for share in (0.05, 0.5, 0.95)]
    masks += [np.repeat(rng.random(30) < 0.5, 10) for _ in range(5)]  # runs, as reports are
    for mask in masks:
        want = int(counts[: len(mask)][mask].sum())
        assert corpus.sentence_count(mask) == want


def test_a_failing_part_of_shared_work_is_raised_and_stops_the_rest(monkeypatch) -> None:
    import threading

    from inspect_qa.search import first_stage
    from inspect_qa.search.first_stage import OWN, WORKER, _Shared

    ran: list[int] = []
    failed = threading.Event()

    def part(i: int):
        def task() -> None:
            if i == 0:
                failed.set()
                raise ValueError("a damaged segment")
            ran.append(i)
        return task

    # the worker's part fails while this thread waits in its own: raised here all the same
    work = _Shared()
    work.add([part(0)], WORKER)
    work.start()
    work.add([lambda: failed.wait(10)] + [part(i) for i in range(1, 20)], OWN)
    with pytest.raises(ValueError, match="damaged segment"):
        work.finish()
    assert failed.is_set() and ran == []  # nothing was started after the failure

    class ShutDown:  # no worker: this thread runs both lanes, and stops at the failure
        def submit(self, fn, *args):
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(first_stage, "_workers", ShutDown)
    work = _Shared()
    work.add([part(i) for i in (5, 0, 6)], WORKER)
    work.start()
    with pytest.raises(ValueError, match="damaged segment"):
        work.finish()
    assert ran == [6]  # the other lane is taken from its end: 6, then 0 failed, 5 not started


def _helped_with(lane: int) -> tuple[list[int], bool]:
    """Shared work of 20 parts in ``lane``, the first of which waits until the thread whose lane
    it is not has run one: the parts run, and whether that thread helped."""
    import threading

    from inspect_qa.search.first_stage import OWN, _Shared

    main, helped, ran, waited = threading.get_ident(), threading.Event(), [], []

    def part(i: int):
        def task() -> None:
            ran.append(i)
            if (threading.get_ident() != main) == (lane == OWN):
                helped.set()
        return task

    work = _Shared()
    work.start()
    work.add([lambda: waited.append(helped.wait(10))] + [part(i) for i in range(20)], lane)
    work.finish()
    return sorted(ran), waited == [True]


def test_shared_work_runs_every_part_once_each_thread_helping_with_the_other_s() -> None:
    from inspect_qa.search.first_stage import OWN, WORKER

    for lane in (OWN, WORKER):
        assert _helped_with(lane) == (list(range(20)), True)


def test_the_best_rows_of_scores_are_a_sort_s_with_ties_and_nan() -> None:
    from inspect_qa.search import first_stage

    rng = np.random.default_rng(3)
    depth = first_stage.DEPTH
    for n in (5, depth, depth + 1, 3 * depth):
        scores = rng.integers(0, 5, n).astype(np.float32)  # many ties
        scores[rng.random(n) < 0.1] = np.nan
        scores[rng.random(n) < 0.1] = -np.inf
        rows = rng.permutation(10 * n)[:n]
        for positive in (False, True):
            order = np.lexsort((rows, -scores))[:depth]  # NaN last, as the sort puts it
            if positive:
                order = order[scores[order] > 0]
            np.testing.assert_array_equal(first_stage._best(scores, rows, positive),
                                          rows[order])
    nan = np.full(3 * depth, np.nan, dtype=np.float32)  # only NaN: still a list
    assert len(first_stage._best(nan, np.arange(3 * depth))) == depth
