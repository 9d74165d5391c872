import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inspect_qa.embedding import HashingEmbedder
from inspect_qa.errors import IndexCorrupt, IndexIncompatible, IndexNotFound, InspectQAError
from inspect_qa.index import build_index
from inspect_qa.retriever import Retriever
from inspect_qa.storage import current_version_dir, load_index, read_manifest, segment_dirs

from .conftest import NEWS


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts, *, batch_size=32, progress=False):
        self.embedded.extend(texts)
        return super().embed(texts)


def test_build_and_load_round_trip(corpus: Path, tmp_path: Path, embedder) -> None:
    rep = build_index(corpus, tmp_path / "ix", embedder=embedder)
    assert rep.rebuilt and set(rep.added) == {"letter.txt", "sub/news.md"}
    ix = load_index(tmp_path / "ix")
    assert len(ix.chunks) == rep.chunks == len(ix.chunk_vectors)
    # stored as float16: unit length to float16's precision
    assert ix.chunk_vectors.dtype == np.float16 and ix.sentence_vectors.codes.dtype == np.int8
    norms = np.linalg.norm(ix.chunk_vectors.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=2e-3)
    m = read_manifest(tmp_path / "ix")
    for key in ("format_version", "package_version", "model", "chunking", "documents",
                "segments", "counts", "built_at"):
        assert key in m
    assert m["model"]["fingerprint"] == embedder.fingerprint()
    assert m["documents"]["letter.txt"]["content_hash"] == ix.documents["letter.txt"].content_hash


def test_no_pickle_anywhere(corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    for p in (tmp_path / "ix").rglob("*"):
        if p.is_file():
            assert p.suffix not in (".pkl", ".pickle"), p
            assert not p.read_bytes().startswith(b"\x80"), p  # any pickle protocol
            assert p.suffix in (".json", ".jsonl", ".npy", "") or p.name in (
                "CURRENT", "texts.bin"), p
            if p.suffix == ".npy":
                np.load(p, allow_pickle=False)


def test_rebuild_with_nothing_changed_is_a_no_op(corpus: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    build_index(corpus, tmp_path / "ix", embedder=emb)
    version = current_version_dir(tmp_path / "ix")
    emb.embedded.clear()
    rep = build_index(corpus, tmp_path / "ix", embedder=emb)
    assert not rep.rebuilt and emb.embedded == []
    assert current_version_dir(tmp_path / "ix") == version


def test_only_the_changed_document_is_re_embedded(corpus: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    build_index(corpus, tmp_path / "ix", embedder=emb)
    before = load_index(tmp_path / "ix")
    letter_rows = [i for i, c in enumerate(before.chunks) if c.doc_id == "letter.txt"]
    emb.embedded.clear()
    (corpus / "sub" / "news.md").write_text(NEWS + "\nFostering panels meet weekly.\n")
    rep = build_index(corpus, tmp_path / "ix", embedder=emb)
    assert rep.changed == ("sub/news.md",) and rep.unchanged == ("letter.txt",)
    assert emb.embedded and all("letter" not in t.lower() for t in emb.embedded)
    assert all("Exampleton" not in t for t in emb.embedded)
    after = load_index(tmp_path / "ix")
    after_rows = [i for i, c in enumerate(after.chunks) if c.doc_id == "letter.txt"]
    np.testing.assert_array_equal(before.chunk_vectors[letter_rows],
                                  after.chunk_vectors[after_rows])
    # removing a document
    (corpus / "sub" / "news.md").unlink()
    rep = build_index(corpus, tmp_path / "ix", embedder=emb)
    assert rep.removed == ("sub/news.md",)
    ix = load_index(tmp_path / "ix")
    assert set(ix.documents) == {"letter.txt"}
    assert {ix.chunks.doc_id(i) for i in ix.live_rows} == {"letter.txt"}


def test_missing_index_names_the_command(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="inspect-qa index CORPUS --out"):
        load_index(tmp_path / "nothing")
    # a folder of reports given for the index is told to be indexed, not to hold the index
    with pytest.raises(IndexNotFound, match=rf"holds reports.*inspect-qa index {corpus} --out"):
        load_index(corpus)


def test_a_mistyped_index_or_corpus_path_leaves_no_folder(corpus: Path, tmp_path: Path,
                                                         embedder) -> None:
    from inspect_qa.index import add_documents, optimize, remove_documents

    missing = tmp_path / "typo"
    for change in (lambda: add_documents(missing, [corpus / "letter.txt"], embedder=embedder),
                   lambda: remove_documents(missing, ["letter.txt"], embedder=embedder),
                   lambda: optimize(missing, embedder=embedder),
                   lambda: build_index(tmp_path / "no_reports", missing, embedder=embedder)):
        with pytest.raises(InspectQAError):
            change()
        assert not missing.exists()
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    with pytest.raises(InspectQAError):
        build_index(tmp_path / "no_reports", tmp_path / "ix", embedder=embedder)
    assert (tmp_path / "ix").is_dir()  # an index that was there stays


def test_a_build_refused_by_the_lock_leaves_the_running_builds_folder(corpus: Path,
                                                                     tmp_path: Path,
                                                                     embedder) -> None:
    from inspect_qa.storage import build_lock

    new = tmp_path / "new"
    with build_lock(new):  # a build that made the folder and is running
        with pytest.raises(InspectQAError, match="another build"):
            build_index(corpus, new, embedder=embedder)
        assert (new / ".lock").is_file()
        with pytest.raises(InspectQAError, match="another build"):  # still locked
            build_index(corpus, new, embedder=embedder)


def test_tampered_file_is_detected(corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    texts = segment_dirs(tmp_path / "ix")[0] / "texts.bin"
    texts.write_bytes(texts.read_bytes().replace(b"Caseloads", b"Casel0ads"))
    with pytest.raises(IndexCorrupt, match=r"texts.bin.*checksum.*inspect-qa index"):
        load_index(tmp_path / "ix")


def test_a_large_index_checks_its_big_files_in_check_not_at_every_load(
        corpus: Path, tmp_path: Path, embedder, monkeypatch) -> None:
    from inspect_qa import storage

    build_index(corpus, tmp_path / "ix", embedder=embedder)
    vectors = segment_dirs(tmp_path / "ix")[0] / "sentence_vectors.npy"
    raw = bytearray(vectors.read_bytes())
    raw[-1] ^= 0x01  # a flipped bit in the last vector
    vectors.write_bytes(bytes(raw))
    # Sizes as a large index's: every file "large" except the manifest's neighbours.
    monkeypatch.setattr(storage, "VERIFY_ALL_BYTES", 0)
    monkeypatch.setattr(storage, "VERIFY_FILE_BYTES", vectors.stat().st_size - 1)
    load_index(tmp_path / "ix")  # the damaged big file is not read at load...
    with pytest.raises(IndexCorrupt, match=r"sentence_vectors\.npy"):
        storage.verify_files(tmp_path / "ix")  # ...and `inspect-qa check` finds it
    # and a small damaged file is still found at load
    texts = segment_dirs(tmp_path / "ix")[0] / "sections.json"
    texts.write_text(texts.read_text() + " ")
    with pytest.raises(IndexCorrupt, match=r"sections\.json"):
        load_index(tmp_path / "ix")


def test_a_flipped_byte_in_the_manifest_is_index_corrupt(corpus: Path, tmp_path: Path,
                                                         embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    manifest = current_version_dir(tmp_path / "ix") / "manifest.json"
    raw = bytearray(manifest.read_bytes())
    raw[40] = 0xFF  # not UTF-8 any more
    manifest.write_bytes(bytes(raw))
    with pytest.raises(IndexCorrupt, match=r"manifest\.json does not match its checksum"):
        load_index(tmp_path / "ix")
    # an index whose CURRENT holds no checksum (as before format 5) still names the file
    (tmp_path / "ix" / "CURRENT").write_text(manifest.parent.name + "\n")
    with pytest.raises(IndexCorrupt, match=r"manifest\.json, the manifest, is unreadable"):
        load_index(tmp_path / "ix")
    (tmp_path / "ix" / "CURRENT").write_bytes(b"\xff\xfe")
    with pytest.raises(IndexCorrupt, match="CURRENT"):
        load_index(tmp_path / "ix")


def test_missing_file_is_detected(corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    (segment_dirs(tmp_path / "ix")[0] / "chunk_vectors.npy").unlink()
    with pytest.raises(IndexCorrupt, match=r"missing segments/s-[^/]+/chunk_vectors\.npy"):
        load_index(tmp_path / "ix")


def test_other_format_version_is_refused(corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    mpath = current_version_dir(tmp_path / "ix") / "manifest.json"
    m = json.loads(mpath.read_text())
    m["format_version"] = 999
    mpath.write_text(json.dumps(m))
    (tmp_path / "ix" / "CURRENT").write_text(mpath.parent.name + "\n")  # as another format
    with pytest.raises(IndexIncompatible, match="format 999"):
        load_index(tmp_path / "ix")


def test_other_model_is_refused_and_rebuilt(corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    other = HashingEmbedder(dimension=64)
    with pytest.raises(IndexIncompatible, match="another fingerprint"):
        Retriever.load(tmp_path / "ix", embedder=other)
    rep = build_index(corpus, tmp_path / "ix", embedder=other)  # full rebuild, not an error
    assert rep.rebuilt and rep.embedded_chunks == rep.chunks
    assert Retriever.load(tmp_path / "ix", embedder=other).index.chunk_vectors.shape[1] == 64


def test_chunk_size_must_fit_the_window(corpus: Path, tmp_path: Path, embedder) -> None:
    from inspect_qa.chunking import ChunkSettings

    for bad in (10_000, 0, -5, 15):
        with pytest.raises(InspectQAError, match="does not fit"):
            build_index(corpus, tmp_path / "ix", embedder=embedder,
                        settings=ChunkSettings(chunk_tokens=bad))


def test_corpus_without_a_passage_is_a_clear_error(tmp_path: Path, embedder) -> None:
    from inspect_qa.errors import CorpusError

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "tiny.txt").write_text("Hello.\n")
    with pytest.raises(CorpusError, match="no passage"):
        build_index(tmp_path / "c", tmp_path / "ix", embedder=embedder)


def test_update_keeps_the_model_and_settings_of_the_index(corpus: Path, tmp_path: Path) -> None:
    from inspect_qa.chunking import ChunkSettings

    other = HashingEmbedder(dimension=64)
    build_index(corpus, tmp_path / "ix", embedder=other, settings=ChunkSettings(chunk_tokens=40))
    (corpus / "more.txt").write_text("The adoption panel met in June and approved five carers.\n")
    rep = build_index(corpus, tmp_path / "ix")  # no model or settings named
    m = read_manifest(tmp_path / "ix")
    assert rep.added == ("more.txt",) and rep.embedded_chunks == 1
    assert m["model"]["name"] == "hashing-64" and m["chunking"]["chunk_tokens"] == 40
    assert Retriever.build(corpus, tmp_path / "ix").embedder.dimension == 64


def test_a_chunk_carries_the_pages_of_its_first_and_last_characters(tmp_path: Path,
                                                                     embedder) -> None:
    (tmp_path / "c").mkdir()
    page = "The panel reviewed cases and found that plans were clear and timely. "
    # A paragraph that runs on to page 2 (a form feed inside it), then a section on page 3.
    (tmp_path / "c" / "r.txt").write_text(page * 2 + "The panel then\fmet again. " + page
                                          + "\n\f\nFindings\n\n" + page * 2 + "\n")
    ix = load_index(build_index(tmp_path / "c", tmp_path / "ix", embedder=embedder).index_dir)
    assert [(c.page, c.page_end) for c in ix.chunks] == [(1, 2), (3, 3)]
    r = Retriever.load(tmp_path / "ix", embedder=embedder)
    passage = r.search("the panel then met again")[0]
    assert (passage.page, passage.page_end) == (1, 2)
    assert "\f" not in passage.text and "The panel then met again." in passage.text


SLOW_BUILD = """
import sys, time
from inspect_qa.embedding import HashingEmbedder
from inspect_qa.index import build_index

class Slow(HashingEmbedder):
    def embed(self, texts, *, batch_size=32, progress=False):
        time.sleep(0.01)
        return super().embed(texts)

print("start", flush=True)
build_index(sys.argv[1], sys.argv[2], embedder=Slow())
print("done", flush=True)
"""


def test_kill_9_during_build_leaves_previous_index_usable(seeds_copy: Path, tmp_path: Path,
                                                          embedder) -> None:
    ix = tmp_path / "ix"
    build_index(seeds_copy, ix, embedder=embedder)
    old_version = current_version_dir(ix)
    old_files = _commit_files(ix)
    # Change every document so that a rebuild has to re-embed all of them.
    for p in seeds_copy.iterdir():
        p.write_text(p.read_text() + "\nAppendix added later.\n")
    script = tmp_path / "slow_build.py"
    script.write_text(SLOW_BUILD)
    outcomes = set()
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0):
        proc = subprocess.Popen([sys.executable, str(script), str(seeds_copy), str(ix)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = load_index(ix)  # never raises: the old or a complete new version is live
        live = current_version_dir(ix)
        if live == old_version:
            assert _commit_files(ix) == old_files
            outcomes.add("old")
        else:
            assert all("Appendix added later." in d.text for d in loaded.documents.values())
            outcomes.add("new")
            break
    assert "old" in outcomes  # at least one kill landed mid-build
    # A normal build afterwards works and cleans up what the killed builds left.
    build_index(seeds_copy, ix, embedder=embedder)
    leftovers = [p.name for p in ix.iterdir() if p.name.startswith((".tmp", "v-"))]
    assert leftovers == [current_version_dir(ix).name]
    assert sorted((ix / "segments").iterdir()) == sorted(segment_dirs(ix))


def _commit_files(ix: Path) -> dict[str, bytes]:
    """Every file of the live commit: its manifest and its segments' files."""
    folders = [current_version_dir(ix), *segment_dirs(ix)]
    return {p.relative_to(ix).as_posix(): p.read_bytes()
            for folder in folders for p in folder.rglob("*") if p.is_file()}


def test_pipeline_change_rebuilds_everything(corpus: Path, tmp_path: Path, monkeypatch) -> None:
    from inspect_qa import index as index_module

    emb = CountingEmbedder()
    build_index(corpus, tmp_path / "ix", embedder=emb)
    assert read_manifest(tmp_path / "ix")["pipeline"] == index_module.pipeline_fingerprint()
    monkeypatch.setattr(index_module, "pipeline_fingerprint", lambda: "another-version")
    emb.embedded.clear()
    rep = build_index(corpus, tmp_path / "ix", embedder=emb)
    assert rep.rebuilt and rep.embedded_chunks == rep.chunks and rep.unchanged == ()


def test_a_build_holds_one_batch_of_texts_not_the_corpus(
        seeds_copy: Path, tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build reads every report before its first batch, but keeps their texts in a spool
    file, not in memory: when a batch is written, the only reports held as text are the
    batch's. The spool is gone afterwards, and the index holds the texts the files hold."""
    import gc

    from inspect_qa import index as index_module
    from inspect_qa.documents import Document

    monkeypatch.setattr(index_module, "BUILD_SEGMENT_CHARS", 1)  # a batch per report
    held: list[tuple[int, int]] = []
    write = index_module._write_docs
    gc.collect()
    # type(), not isinstance(): gc's objects include weak proxies of dead objects, which
    # isinstance() would look through (ReferenceError) and torch's deprecated names
    before = {id(o) for o in gc.get_objects() if type(o) is Document}  # other tests'

    def counting(root, docs, *args, **kwargs):
        alive = sum(type(o) is Document and id(o) not in before for o in gc.get_objects())
        held.append((len(docs), alive))
        return write(root, docs, *args, **kwargs)

    monkeypatch.setattr(index_module, "_write_docs", counting)
    build_index(seeds_copy, tmp_path / "ix", embedder=embedder, tokens="exact")
    assert len(held) == 5
    assert all(alive <= batch for batch, alive in held), held
    assert not [p for p in (tmp_path / "ix").iterdir() if p.name.startswith(".tmp-spool-")]
    ix = load_index(tmp_path / "ix")
    for doc_id in ix.documents:
        assert ix.documents[doc_id].text == (seeds_copy / doc_id).read_text(encoding="utf-8")


def test_a_spool_left_by_a_killed_build_is_removed(corpus: Path, tmp_path: Path,
                                                   embedder) -> None:
    (tmp_path / "ix").mkdir()
    stale = tmp_path / "ix" / ".tmp-spool-deadbeef"
    stale.write_bytes(b"text of a build that was killed")
    build_index(corpus, tmp_path / "ix", embedder=embedder)
    assert not stale.exists()
