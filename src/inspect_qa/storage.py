"""Saving and loading an index directory: immutable segments, an atomic commit point,
checksums, no pickle.

Layout of ``index_dir``::

    CURRENT              name of the live commit (replaced atomically)
    v-<time>-<rand>/     one commit:
        manifest.json    format, versions, model fingerprint, settings, the live documents,
                         and the segments that hold them, each with the checksum of its
                         segment.json and the documents deleted from it since it was written
    segments/s-<time>-<rand>/   one segment, written once and never changed:
        segment.json     its documents (id, metadata, text hash), counts, each file's checksum
        texts.bin        the documents' texts, UTF-8, one after another (in segment.json order)
        text_offsets.npy byte offset of each text in texts.bin, and its end
        lower_case.json  the words the texts write in lower case somewhere (for names), each
                         with the number of documents that do
        chunks.npy       one row per passage: document number, start, end, page, last page,
                         section number (-1: none); chunk_ids.npy, sections.json beside it
        sentences.npy    one row per sentence: passage row, start, end, context start, end
        chunk_vectors.npy (float16, unit length); sentence_vectors.npy, sentence_scales.npy
                         (int8 codes and a scale each: stores.Int8Rows)
        chunk_ann.faiss, sentence_ann.faiss       IVF-PQ searchers of a large segment
        lexical/, sentence_lexical/   BM25 postings (:mod:`inspect_qa.lexical`)
        chunk_tokens/, sentence_tokens/   word-piece ids, vectors (float16) or their codes,
                         row offsets and each piece's row count; token_codec/ when compressed

This is Lucene's design. Adding or changing a report writes one small segment (its own
passages) and a new commit naming the old segments and the new one; a changed or removed
report is a deletion marker in the commit (its rows stay in their segment, never returned,
left out of every statistic) until its segment is merged (:func:`inspect_qa.index.optimize`).
Nothing is kept per passage as a Python object: arrays are memory-mapped when loaded
(:mod:`inspect_qa.tables`), and a document's text is read when one of its passages is shown.

A segment is written in a temporary directory, fsynced and renamed; then the commit is
written the same way and ``CURRENT`` swapped with ``os.replace``: killed at any moment, a
build leaves the previous commit loadable and unchanged. Loading checks the checksum of every
file of an index up to :data:`VERIFY_ALL_BYTES`; a larger one has its small files checked at
load and the rest by ``inspect-qa check`` (reading gigabytes at every load would take longer
than the load).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .answers import lower_case_words
from .checksums import sha256_file
from .chunking import Chunk
from .documents import Document
from .errors import IndexCorrupt, IndexIncompatible, IndexNotFound, InspectQAError
from .lexical import LexicalStore, Postings
from .pages import release
from .segments import (
    Documents,
    LateInteraction,
    SegmentedDense,
    SegmentedTokens,
    Stacked,
    VectorSearch,
    bounds_of,
)
from .stores import (
    FLAT_MAX_ROWS,
    DenseStore,
    Int8Rows,
    NpyWriter,
    TokenCodec,
    TokenStore,
    token_storage,
)
from .tables import (
    ChunkTable,
    DocumentInfo,
    DocumentsById,
    DocumentStore,
    SentenceRef,
    SentenceTable,
    read_texts,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 5
CURRENT = "CURRENT"
#: Name prefix of a build's temporary file of report texts (``index.Spool``).
SPOOL_PREFIX = ".tmp-spool-"
MANIFEST = "manifest.json"
SEGMENTS = "segments"
SEGMENT_MANIFEST = "segment.json"
#: An index this large (bytes) or smaller has every file verified at load.
VERIFY_ALL_BYTES = 256 * 2**20
#: In a larger one, files up to this size are verified at load.
VERIFY_FILE_BYTES = 16 * 2**20


@dataclass
class Segment:
    """One loaded segment: its documents, passages, sentences and stores, rows numbered from
    0 within it."""

    name: str
    path: Path
    doc_ids: list[str]
    documents: DocumentStore
    chunks: ChunkTable
    sentences: SentenceTable
    chunk_vectors: np.ndarray
    sentence_vectors: Int8Rows
    lexical: Postings
    sentence_lexical: Postings
    chunk_tokens: TokenStore
    sentence_tokens: TokenStore
    dense: DenseStore
    sentence_dense: DenseStore
    #: Words its documents write in lower case, each with the number of documents that do.
    lower_case: dict[str, int]


@dataclass
class Index:
    """A loaded index: its segments read as one. Rows of passages and sentences are numbered
    one segment after another; ``live`` marks the passages of live documents (``None``: all
    are). Read-only once loaded."""

    path: Path
    manifest: dict[str, Any]
    segments: list[Segment]
    documents: Documents
    chunks: ChunkTable
    sentences: SentenceTable
    #: Passage vectors (float16) and sentence vectors (int8 and a scale), one segment's or a
    #: :class:`~inspect_qa.segments.Stacked` of several.
    chunk_vectors: np.ndarray | Stacked
    sentence_vectors: Int8Rows | Stacked
    lexical: LexicalStore
    sentence_lexical: LexicalStore
    chunk_tokens: LateInteraction
    sentence_tokens: LateInteraction
    dense: VectorSearch
    sentence_dense: VectorSearch
    #: Words the documents write in lower case somewhere (see answers.lower_case_words).
    lower_case: frozenset[str] = frozenset()
    live: np.ndarray | None = None
    live_sentences: np.ndarray | None = field(default=None)

    @property
    def sentence_offsets(self) -> np.ndarray:
        """Row of each chunk's first sentence (sentences are stored in chunk order)."""
        return self.sentences.offsets[:-1]

    @property
    def model_name(self) -> str:
        return str(self.manifest["model"]["name"])

    @property
    def live_rows(self) -> np.ndarray:
        """The rows of live passages, ascending (``chunks`` numbers every row of every
        segment, a deleted document's too, until its segment is merged)."""
        if self.live is None:
            return np.arange(len(self.chunks), dtype=np.int64)
        return np.flatnonzero(self.live)

    def rows_of(self, doc_ids: set[str]) -> dict[str, np.ndarray]:
        """The passage rows (ascending) of each live document of ``doc_ids``."""
        doc_of = np.asarray(self.chunks.table[:, 0], dtype=np.int64)
        order = np.argsort(doc_of, kind="stable")  # rows grouped by document, in row order
        bounds = np.searchsorted(doc_of[order], np.arange(len(self.chunks.doc_ids) + 1))
        found: dict[str, np.ndarray] = {}
        for n, doc_id in enumerate(self.chunks.doc_ids):
            if doc_id not in doc_ids:
                continue
            rows = order[bounds[n] : bounds[n + 1]]
            if self.live is not None:
                rows = rows[self.live[rows]]
            if len(rows):
                found[doc_id] = rows
        return found


# -- files ------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    if index_dir.exists() and not index_dir.is_dir():
        raise InspectQAError(f"{str(index_dir)!r} is a file, not a folder: give --out a folder "
                             "for the index (a new one, or an index to update)")
    try:
        index_dir.mkdir(parents=True)
        created = True  # by this call: no other build can have made it
    except FileExistsError:
        created = False
    except OSError as exc:  # a parent that is a file, no permission
        raise InspectQAError(f"cannot make the index folder {str(index_dir)!r} "
                             f"({exc.strerror or exc})") from exc
    with (index_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InspectQAError(
                f"another build of {str(index_dir)!r} is running; wait for it to finish"
            ) from exc
        try:
            yield
        except BaseException:
            if created:  # a mistyped path (no index there, no reports) leaves no folder behind
                with contextlib.suppress(OSError):  # while the lock is held
                    (index_dir / ".lock").unlink()
                    index_dir.rmdir()  # only when nothing else was written in it
            raise
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_version_dir(index_dir: str | Path) -> Path:
    """The live version directory of ``index_dir``. Raises :class:`IndexNotFound`."""
    return _pointer(Path(index_dir))[0]


def _holds_reports(folder: Path) -> bool:
    """Whether ``folder`` holds report files at its top (a look at a few entries, no more)."""
    from .readers import SUFFIXES

    with contextlib.suppress(OSError):
        for n, entry in enumerate(os.scandir(folder)):
            if n >= 1000:
                break
            if entry.is_file() and Path(entry.name).suffix.lower() in SUFFIXES:
                return True
    return False


def _pointer(root: Path) -> tuple[Path, str | None]:
    """The live commit's directory, and the SHA-256 of its manifest that ``CURRENT`` holds
    beside its name (``None`` in an index written before it did)."""
    pointer = root / CURRENT
    if root.exists() and not root.is_dir():
        raise IndexNotFound(f"no index at {str(root)!r}: it is a file, not an index folder")
    if not pointer.is_file():
        if _holds_reports(root):  # a corpus folder given where its index was meant
            raise IndexNotFound(
                f"no index at {str(root)!r}: it holds reports; index them with "
                f"`inspect-qa index {root} --out INDEX` and pass INDEX")
        raise IndexNotFound(
            f"no index at {str(root)!r}: build one with `inspect-qa index CORPUS --out {root}`"
        )
    try:
        name, _, digest = pointer.read_text(encoding="utf-8").strip().partition("\n")
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} has an unreadable {CURRENT} file ({exc}); rebuild "
                           f"it with `inspect-qa index CORPUS --out {root}`") from exc
    version = root / name
    if not name or "/" in name or not version.is_dir():
        raise IndexCorrupt(
            f"index {str(root)!r} points at a missing version {name!r}; rebuild it with "
            f"`inspect-qa index CORPUS --out {root}`"
        )
    return version, digest.strip() or None


def _fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then the directories holding them."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for p in files:
        with p.open("rb") as fh:
            os.fsync(fh.fileno())
    for d in {p.parent for p in files} | {folder}:
        _fsync_dir(d)


def _stamp(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def write_segment(index_dir: Path, documents: Sequence[Document], chunks: Sequence[Chunk],
                  chunk_vectors: np.ndarray, sentences: Sequence[SentenceRef],
                  sentence_vectors: np.ndarray, lexical: Postings, sentence_lexical: Postings,
                  chunk_tokens: TokenStore, sentence_tokens: TokenStore,
                  dense: str = "auto") -> dict[str, Any]:
    """Write one segment of ``documents`` (durably, under ``segments/``) and return its entry
    for a commit: name, checksum of its segment.json, counts and how its vectors are searched.
    Nothing reads it until a commit names it.

    ``dense``: ``"auto"`` builds an approximate searcher (IVF-PQ) of the passage or sentence
    vectors past :data:`~inspect_qa.stores.FLAT_MAX_ROWS` rows; ``"flat"`` never; ``"ivf"``
    always."""
    name = _stamp("s")
    root = index_dir / SEGMENTS
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}"
    tmp.mkdir()
    doc_ids = [d.id for d in documents]
    offsets = [0]
    with (tmp / "texts.bin").open("wb") as fh:
        for d in documents:
            offsets.append(offsets[-1] + fh.write(d.text.encode("utf-8")))
    np.save(tmp / "text_offsets.npy", np.array(offsets, dtype=np.int64), allow_pickle=False)
    # Words written in lower case somewhere (the rest are names, to answers): counted now, so
    # that no search ever reads every text.
    _save_lower_case(tmp, documents)
    table, ids, sections = ChunkTable.encode(chunks, doc_ids)
    np.save(tmp / "chunks.npy", _narrow(table), allow_pickle=False)
    np.save(tmp / "chunk_ids.npy", ids, allow_pickle=False)
    (tmp / "sections.json").write_text(json.dumps(sections, ensure_ascii=False), encoding="utf-8")
    np.save(tmp / "sentences.npy", _narrow(SentenceTable.encode(sentences)), allow_pickle=False)
    kinds = {}
    for what, vectors in (("chunk", chunk_vectors), ("sentence", sentence_vectors)):
        if what == "chunk":
            stored: Any = np.asarray(vectors, dtype=np.float16)
            np.save(tmp / "chunk_vectors.npy", stored, allow_pickle=False)
        else:
            stored = Int8Rows(*Int8Rows.quantize(vectors))
            np.save(tmp / "sentence_vectors.npy", stored.codes, allow_pickle=False)
            np.save(tmp / "sentence_scales.npy", stored.scales, allow_pickle=False)
        # (a single vector cannot train a quantiser: it is searched exactly)
        approximate = len(vectors) > 1 and (
            dense == "ivf" or (dense == "auto" and len(vectors) > FLAT_MAX_ROWS))
        if approximate:
            import faiss

            faiss.write_index(DenseStore.build_ann(stored), str(tmp / f"{what}_ann.faiss"))
        kinds[what] = "ivf-pq" if approximate else "flat"
    lexical.save(tmp / "lexical")
    sentence_lexical.save(tmp / "sentence_lexical")
    chunk_tokens.save(tmp / "chunk_tokens")
    sentence_tokens.save(tmp / "sentence_tokens")
    if chunk_tokens.codec is not None:
        if sentence_tokens.codec is not chunk_tokens.codec:
            raise ValueError("chunk and sentence pieces must share one codec")
        chunk_tokens.codec.save(tmp / "token_codec")
    infos = [{"id": d.id, "content_hash": d.content_hash, "metadata": d.metadata}
             for d in documents]
    return _finish_segment(root, tmp, name, infos, len(chunks), len(sentences), kinds)


def commit(index_dir: Path, manifest: dict[str, Any]) -> Path:
    """Make ``manifest`` (whose ``segments`` name segments already written) the live commit,
    atomically, and delete what no commit needs any more."""
    for entry in manifest["segments"]:
        if not (index_dir / SEGMENTS / entry["name"] / SEGMENT_MANIFEST).is_file():
            raise ValueError(f"segment {entry['name']} was not written")
    name = _stamp("v")
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    # one line: json's C encoder (indented output takes its Python one: 0.50 s against 0.16 s
    # for the manifest of 36,000 reports)
    (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    _fsync_tree(tmp)
    final = index_dir / name
    os.replace(tmp, final)
    _fsync_dir(index_dir)
    pointer_tmp = index_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    # the commit's name, and its manifest's checksum: a damaged manifest is found at load
    pointer_tmp.write_text(f"{name}\n{sha256_file(final / MANIFEST)}\n", encoding="utf-8")
    with pointer_tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)  # the switch: atomic
    _fsync_dir(index_dir)
    _cleanup(index_dir, keep=name, segments={e["name"] for e in manifest["segments"]})
    return final


def _save_lower_case(folder: Path, documents: Sequence[Document]) -> None:
    """Each word the documents write in lower case somewhere, with how many do: a deleted
    document's words can then be taken away without reading the others."""
    counts: Counter[str] = Counter()
    for d in documents:
        counts.update(lower_case_words([d.text]))
    (folder / "lower_case.json").write_text(json.dumps(dict(sorted(counts.items())),
                                                       ensure_ascii=False), encoding="utf-8")


def _narrow(table: np.ndarray) -> np.ndarray:
    """``table`` as int32 when every value fits (half the disk), else int64."""
    if not table.size or (int(table.min()) >= -(2**31) and int(table.max()) < 2**31):
        return table.astype(np.int32)
    return table.astype(np.int64)


def _cleanup(index_dir: Path, keep: str, segments: set[str]) -> None:
    """Delete old commits, segments no commit names, and what a killed build left."""
    for p in index_dir.iterdir():
        stale_version = p.is_dir() and p.name.startswith(("v-", ".tmp-v-")) and p.name != keep
        stale_pointer = p.is_file() and p.name.startswith(f".{CURRENT}.")
        # a killed build's spool; a running build's (the lock lets one run) stays readable
        # through its open file once unlinked
        stale_spool = p.is_file() and p.name.startswith(SPOOL_PREFIX)
        if stale_version:
            shutil.rmtree(p, ignore_errors=True)
        elif stale_pointer or stale_spool:
            p.unlink(missing_ok=True)
    root = index_dir / SEGMENTS
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and p.name not in segments:
                shutil.rmtree(p, ignore_errors=True)


def segment_dirs(index_dir: str | Path) -> list[Path]:
    """The directories of the live commit's segments, in order."""
    root = Path(index_dir)
    manifest = read_manifest(root)
    return [root / SEGMENTS / e["name"] for e in manifest.get("segments", [])]


# -- load -------------------------------------------------------------------------------------


def read_manifest(index_dir: str | Path, version: Path | None = None,
                  digest: str | None = None) -> dict[str, Any]:
    """The manifest of the live commit (checked against the checksum ``CURRENT`` holds), or
    of ``version`` (checked against ``digest`` when given). Raises :class:`IndexNotFound` /
    :class:`IndexCorrupt`."""
    if version is None:
        version, digest = _pointer(Path(index_dir))
    path = version / MANIFEST
    fix = f"rebuild with `inspect-qa index CORPUS --out {index_dir}`"
    if digest is not None and path.is_file() and sha256_file(path) != digest:
        raise IndexCorrupt(f"index {str(index_dir)!r}: {version.name}/{MANIFEST} does not match "
                           f"its checksum (changed or damaged since it was written); {fix}")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8 (a flipped byte), not JSON
        raise IndexCorrupt(
            f"index {str(index_dir)!r}: {version.name}/{MANIFEST}, the manifest, is unreadable "
            f"({exc}); {fix}"
        ) from exc
    return manifest


@dataclass
class Earlier:
    """What a rebuild needs of an index of an earlier format: its manifest and its documents
    (texts and metadata), to keep the reports added to it from outside its folder."""

    manifest: dict[str, Any]
    documents: DocumentsById


def salvage_documents(index_dir: str | Path) -> Earlier:
    """What can still be read of a damaged index: the live documents whose segment.json matches
    its checksum and whose text still has the hash it was indexed with (so that a rebuild keeps
    the reports added to the index from outside its folder when their own text is intact).

    When even the commit's manifest cannot be read, which documents were live (and which
    were added from outside the folder, or removed) is unknown: none is kept, and the manifest
    returned names each document a segment folder holds with origin ``"unknown"``, so that a
    rebuild can say which it could not keep."""
    root = Path(index_dir)
    try:
        manifest = read_manifest(root)
        entries = list(manifest.get("segments", []))
    except (InspectQAError, OSError, AttributeError, TypeError):
        return Earlier({"documents": {i: {"origin": "unknown"}
                                      for i in _segment_document_ids(root)}},
                       Documents([], []))
    stores: list[DocumentStore] = []
    live: list[list[str]] = []
    for entry in entries:
        try:
            folder = root / SEGMENTS / entry["name"]
            if sha256_file(folder / SEGMENT_MANIFEST) != entry.get("sha256"):
                continue
            meta = _segment_meta(root, folder / SEGMENT_MANIFEST)
            # No whole-file checksum: each text is checked against its own hash below, so one
            # damaged report does not take its segment's others with it.
            infos = [DocumentInfo(d["id"], d["metadata"], d["content_hash"])
                     for d in meta["documents"]]
            store = DocumentStore(infos, read_texts(folder / "texts.bin"),
                                  np.load(folder / "text_offsets.npy", allow_pickle=False))
            deleted = set(entry.get("deleted", []))
            ids = [d.id for d in infos if d.id not in deleted and _intact(store, d.id)]
        except (InspectQAError, OSError, ValueError, KeyError, TypeError):
            continue
        stores.append(store)
        live.append(ids)
    return Earlier(manifest, Documents(stores, live))


def _segment_document_ids(root: Path) -> list[str]:
    """The ids of the documents the index's segment folders name, each segment.json read as
    it is (nothing can check it without the commit's manifest)."""
    ids: set[str] = set()
    for path in sorted((root / SEGMENTS).glob(f"*/{SEGMENT_MANIFEST}")):
        if path.parent.name.startswith("."):  # a segment still being written
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            ids.update(d["id"] for d in meta["documents"] if isinstance(d["id"], str))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(ids)


def _intact(store: DocumentStore, doc_id: str) -> bool:
    try:
        return store.verify(doc_id)
    except IndexCorrupt:  # its bytes are not UTF-8 any more
        return False


def read_earlier(index_dir: str | Path) -> Earlier | None:
    """The documents of an index of format 4 (one version folder holding ``texts.bin``,
    ``text_offsets.npy`` and the manifest's documents in order), checked against their hashes;
    ``None`` when there is no such index or it cannot be read whole."""
    root = Path(index_dir)
    try:
        version, _ = _pointer(root)
        manifest = read_manifest(root, version)
        if manifest.get("format_version") != 4:
            return None
        infos = [DocumentInfo(i, d["metadata"], d["content_hash"])
                 for i, d in manifest["documents"].items()]
        documents = DocumentStore(infos, read_texts(version / "texts.bin"),
                                  np.load(version / "text_offsets.npy", allow_pickle=False))
        if not all(documents.verify(d.id) for d in infos):
            return None
        return Earlier(manifest, documents)
    except (InspectQAError, OSError, ValueError, KeyError, TypeError):
        return None


def _files(root: Path, version: Path, manifest: dict[str, Any],
           metas: dict[str, dict[str, Any]] | None = None) -> dict[str, str]:
    """Every file of the commit (relative to ``root``) with its checksum: each segment's
    segment.json (checked against the commit) lists the segment's own files. Each segment.json
    read is kept in ``metas`` (by segment name), so that a load parses it once."""
    fix = f"rebuild it with `inspect-qa index CORPUS --out {root}`"
    files: dict[str, str] = {}
    for entry in manifest.get("segments", []):
        folder = f"{SEGMENTS}/{entry['name']}"
        meta_path = root / folder / SEGMENT_MANIFEST
        if not meta_path.is_file():
            raise IndexCorrupt(f"index {str(root)!r} is missing {folder}/{SEGMENT_MANIFEST}; {fix}")
        if sha256_file(meta_path) != entry.get("sha256"):
            raise IndexCorrupt(f"index {str(root)!r}: {folder}/{SEGMENT_MANIFEST} does not match "
                               f"its checksum (changed or damaged since it was built); {fix}")
        meta = _segment_meta(root, meta_path)
        if metas is not None:
            metas[entry["name"]] = meta
        for rel, digest in meta["files"].items():
            files[f"{folder}/{rel}"] = digest
    return files


def _segment_meta(root: Path, path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or not isinstance(meta.get("files"), dict):
            raise ValueError("not a segment manifest")
        return meta
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"index {str(root)!r}: {path.parent.name}/{path.name} is unreadable "
                           f"({exc}); rebuild it with `inspect-qa index CORPUS --out {root}`"
                           ) from exc


def verify_files(index_dir: str | Path, *, everything: bool = True,
                 version: Path | None = None) -> list[str]:
    """Check the live commit's files against their checksums; returns the files checked
    (relative to ``index_dir``).

    ``everything=False`` checks every file of an index up to :data:`VERIFY_ALL_BYTES`, and
    only files up to :data:`VERIFY_FILE_BYTES` of a larger one (see the module docstring).

    Raises:
        IndexCorrupt: a file is missing or does not match its checksum.
    """
    root = Path(index_dir)
    digest = None
    if version is None:
        version, digest = _pointer(root)
    return _verify(root, version, read_manifest(root, version, digest), everything, None)


def _verify(root: Path, version: Path, manifest: dict[str, Any], everything: bool,
            metas: dict[str, dict[str, Any]] | None) -> list[str]:
    files = _files(root, version, manifest, metas)
    fix = f"rebuild it with `inspect-qa index CORPUS --out {root}`"
    sizes = {}
    for rel in files:
        path = root / rel
        if not path.is_file():
            raise IndexCorrupt(f"index {str(root)!r} is missing {rel}; {fix}")
        sizes[rel] = path.stat().st_size
    small = everything or sum(sizes.values()) <= VERIFY_ALL_BYTES
    checked = [rel for rel in files if small or sizes[rel] <= VERIFY_FILE_BYTES]
    # read and hashed on every core (both outside the GIL): a cold load at a million
    # passages spent 2.0 of its 5.2 s here on one
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(os.sched_getaffinity(0))))) as pool:
        digests = list(pool.map(lambda rel: sha256_file(root / rel), checked))
    for rel, digest in zip(checked, digests, strict=True):
        if digest != files[rel]:
            raise IndexCorrupt(
                f"index {str(root)!r}: {rel} does not match its checksum (changed or "
                f"damaged since it was built); {fix}"
            )
    if len(checked) < len(files):
        log.info("index %s: %d large files are verified by `inspect-qa check`, not at load",
                 root, len(files) - len(checked))
    return checked


def load_index(index_dir: str | Path, *, verify: bool = True) -> Index:
    """Load the live commit of ``index_dir``, checking its format and (``verify``) its files'
    checksums as :func:`verify_files` does at load.

    Raises:
        IndexNotFound: nothing built there.
        IndexCorrupt: a file is missing, unreadable or does not match its checksum.
        IndexIncompatible: built by another format version of inspect-qa.
    """
    root = Path(index_dir)
    for attempt in range(3):
        version, digest = _pointer(root)  # once: a build may switch CURRENT meanwhile
        try:
            return _load(root, version, digest, verify)
        except IndexCorrupt:
            # A commit switched while this one was read deletes what only the old one used:
            # read the new one. The same commit failing again is damage.
            if attempt == 2 or _pointer(root)[0] == version:
                raise
    raise AssertionError("unreachable")


def _load(root: Path, version: Path, digest: str | None, verify: bool) -> Index:
    manifest = read_manifest(root, version, digest)
    fix = f"rebuild it with `inspect-qa index CORPUS --out {root}`"
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexIncompatible(
            f"index {str(root)!r} has format {manifest.get('format_version')!r}, this inspect-qa "
            f"reads format {FORMAT_VERSION}; {fix}"
        )
    if manifest.get("package_version") != __version__:
        log.warning(
            "index %s was built by inspect-qa %s, this is %s",
            root, manifest.get("package_version"), __version__,
        )
    metas: dict[str, dict[str, Any]] = {}
    try:
        if verify:
            _verify(root, version, manifest, False, metas)
        else:
            for rel in _files(root, version, manifest, metas):
                if not (root / rel).is_file():
                    raise IndexCorrupt(f"index {str(root)!r} is missing {rel}; {fix}")
    except (KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"index {str(root)!r}: {version.name}/{MANIFEST} does not list its "
                           f"segments as it should ({exc!r}); {fix}") from exc
    try:
        entries = manifest["segments"]
        codecs: dict[str, TokenCodec] = {}
        segments = [_load_segment(root / SEGMENTS / e["name"], codecs, metas[e["name"]])
                    for e in entries]
        deleted = [set(e.get("deleted", [])) for e in entries]
        return _join(root, manifest, segments, deleted)
    except RuntimeError as exc:  # FAISS's own error for a damaged index file
        raise IndexCorrupt(f"index {str(root)!r}: an approximate-search file cannot be read "
                           f"({str(exc).splitlines()[0][:200]}); {fix}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} cannot be read ({exc}); {fix}") from exc


def load_segments(index_dir: str | Path, manifest: dict[str, Any],
                  names: Sequence[str]) -> list[Segment]:
    """Only the segments ``names`` of the live commit (``manifest``), in that order, checked
    as a load checks them: a merge of a few small segments reads nothing of the others.

    Raises:
        IndexCorrupt: a file is missing, unreadable or does not match its checksum.
    """
    root = Path(index_dir)
    fix = f"rebuild it with `inspect-qa index CORPUS --out {root}`"
    by_name = {e["name"]: e for e in manifest.get("segments", [])}
    if any(n not in by_name for n in names):
        raise IndexCorrupt(f"index {str(root)!r} does not hold the segments {list(names)}; {fix}")
    metas: dict[str, dict[str, Any]] = {}
    version, _ = _pointer(root)
    _verify(root, version, {"segments": [by_name[n] for n in names]}, False, metas)
    codecs: dict[str, TokenCodec] = {}
    try:
        return [_load_segment(root / SEGMENTS / n, codecs, metas[n]) for n in names]
    except RuntimeError as exc:  # FAISS's own error for a damaged index file
        raise IndexCorrupt(f"index {str(root)!r}: an approximate-search file cannot be read "
                           f"({str(exc).splitlines()[0][:200]}); {fix}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} cannot be read ({exc}); {fix}") from exc


def _load_segment(path: Path, codecs: dict[str, TokenCodec], meta: dict[str, Any]) -> Segment:
    """One segment (``meta``: its segment.json), its arrays memory-mapped. Segments compressed with the same codec share one
    :class:`~inspect_qa.stores.TokenCodec` (``codecs``, by checksum)."""

    def arr(name: str) -> np.ndarray:
        # a plain array view of the mapped file: np.memmap's own indexing is slower
        return np.asarray(np.load(path / name, allow_pickle=False, mmap_mode="r"))

    infos = [DocumentInfo(d["id"], d["metadata"], d["content_hash"]) for d in meta["documents"]]
    documents = DocumentStore(infos, read_texts(path / "texts.bin"),
                              np.load(path / "text_offsets.npy", allow_pickle=False))
    doc_ids = [d.id for d in infos]
    table = arr("chunks.npy")
    sentences = SentenceTable(arr("sentences.npy"), len(table))
    sections = json.loads((path / "sections.json").read_text(encoding="utf-8"))
    chunks = ChunkTable(table, arr("chunk_ids.npy"), sections, doc_ids,
                        lambda n: documents[doc_ids[n]].text, sentences)
    codec = None
    if (path / "token_codec").is_dir():
        key = meta["files"].get("token_codec/centroids.npy", "") + meta["files"].get(
            "token_codec/codebooks.npy", "")
        codec = codecs.get(key) or codecs.setdefault(key, TokenCodec.load(path / "token_codec"))
    anns = {}
    for what in ("chunk", "sentence"):
        if (path / f"{what}_ann.faiss").is_file():
            import faiss

            # read, not mapped: FAISS searches a memory-mapped IVF-PQ file about seven times
            # slower (1.7 against 0.26 ms for 390,000 sentences)
            anns[what] = faiss.read_index(str(path / f"{what}_ann.faiss"))
    chunk_vectors = arr("chunk_vectors.npy")
    sentence_vectors = Int8Rows(arr("sentence_vectors.npy"), arr("sentence_scales.npy"))
    segment = Segment(
        name=path.name, path=path, doc_ids=doc_ids, documents=documents, chunks=chunks,
        sentences=sentences, chunk_vectors=chunk_vectors, sentence_vectors=sentence_vectors,
        lexical=Postings.load(path / "lexical"),
        sentence_lexical=Postings.load(path / "sentence_lexical"),
        chunk_tokens=TokenStore.load(path / "chunk_tokens", codec),
        sentence_tokens=TokenStore.load(path / "sentence_tokens", codec),
        dense=DenseStore(chunk_vectors, anns.get("chunk")),
        sentence_dense=DenseStore(sentence_vectors, anns.get("sentence")),
        lower_case=json.loads((path / "lower_case.json").read_text(encoding="utf-8")))
    n, m = len(chunks), len(sentences)
    if (len(chunk_vectors) != n or len(sentence_vectors) != m or len(segment.chunk_tokens) != n
            or len(segment.sentence_tokens) != m or len(segment.lexical) != n
            or len(segment.sentence_lexical) != m):
        raise ValueError(f"segment {path.name}: vectors and passages disagree in number")
    return segment


def _join(root: Path, manifest: dict[str, Any], segments: list[Segment],
          deleted: list[set[str]]) -> Index:
    """The segments read as one index, without the documents ``deleted`` from each."""
    gone: list[np.ndarray | None] = []
    gone_sentences: list[np.ndarray | None] = []
    for seg, ids in zip(segments, deleted, strict=True):
        numbers = [i for i, d in enumerate(seg.doc_ids) if d in ids]
        if not numbers:
            gone.append(None)
            gone_sentences.append(None)
            continue
        rows = np.isin(np.asarray(seg.chunks.table[:, 0]), numbers)
        gone.append(rows)
        gone_sentences.append(rows[seg.sentences.chunks])
    documents = Documents([s.documents for s in segments],
                          [[d for d in s.doc_ids if d not in ids]
                           for s, ids in zip(segments, deleted, strict=True)])
    words: set[str] = set()
    for seg, ids in zip(segments, deleted, strict=True):
        counts = Counter(seg.lower_case)
        for doc_id in ids & set(seg.doc_ids):  # a deleted document's words count no more
            counts.subtract(lower_case_words([seg.documents[doc_id].text]))
        words.update(w for w, n in counts.items() if n > 0)
    lower_case = frozenset(words)
    lexical = LexicalStore([s.lexical for s in segments], gone)
    sentence_lexical = LexicalStore([s.sentence_lexical for s in segments], gone_sentences)
    live = live_sentences = None
    if any(g is not None for g in gone):
        live = ~np.concatenate([np.zeros(len(s.chunks), bool) if g is None else g
                                for s, g in zip(segments, gone, strict=True)])
        live_sentences = ~np.concatenate([np.zeros(len(s.sentences), bool) if g is None else g
                                          for s, g in zip(segments, gone_sentences, strict=True)])
    if len(segments) == 1:
        s = segments[0]
        tokens = ((s.chunk_tokens, s.sentence_tokens) if live is None else
                  (SegmentedTokens([s.chunk_tokens], gone),
                   SegmentedTokens([s.sentence_tokens], gone_sentences)))
        return Index(root, manifest, segments, documents, s.chunks, s.sentences,
                     s.chunk_vectors, s.sentence_vectors, lexical, sentence_lexical,
                     tokens[0], tokens[1], s.dense, s.sentence_dense, lower_case, live,
                     live_sentences)
    chunks, sentences = _joined_tables(segments)
    return Index(
        root, manifest, segments, documents, chunks, sentences,
        Stacked([s.chunk_vectors for s in segments]),
        Stacked([s.sentence_vectors for s in segments]), lexical, sentence_lexical,
        SegmentedTokens([s.chunk_tokens for s in segments], gone),
        SegmentedTokens([s.sentence_tokens for s in segments], gone_sentences),
        SegmentedDense([s.dense for s in segments]),
        SegmentedDense([s.sentence_dense for s in segments]), lower_case, live, live_sentences)


def _joined_tables(segments: list[Segment]) -> tuple[ChunkTable, SentenceTable]:
    """One passage table and one sentence table for all ``segments`` (small integer arrays,
    copied; document, section and passage numbers shifted to be the whole index's)."""
    doc_bounds = bounds_of([len(s.doc_ids) for s in segments])
    section_bounds = bounds_of([len(s.chunks.sections) for s in segments])
    chunk_bounds = bounds_of([len(s.chunks) for s in segments])
    tables, sentence_tables = [], []
    for k, s in enumerate(segments):
        t = np.array(s.chunks.table, dtype=np.int64)
        t[:, 0] += doc_bounds[k]
        t[t[:, 5] >= 0, 5] += section_bounds[k]
        tables.append(t)
        u = np.array(s.sentences.table, dtype=np.int64)
        u[:, 0] += chunk_bounds[k]
        sentence_tables.append(u)
    doc_ids = [d for s in segments for d in s.doc_ids]

    def text_of(n: int) -> str:
        k = int(np.searchsorted(doc_bounds, n, side="right") - 1)
        return segments[k].documents[doc_ids[n]].text

    sentences = SentenceTable(_narrow(np.concatenate(sentence_tables)), int(chunk_bounds[-1]))
    chunks = ChunkTable(_narrow(np.concatenate(tables)),
                        np.concatenate([np.asarray(s.chunks.ids) for s in segments]),
                        [x for s in segments for x in s.chunks.sections], doc_ids, text_of,
                        sentences)
    return chunks, sentences


# -- merge ------------------------------------------------------------------------------------


def merge_segments(index_dir: Path, segments: Sequence[Segment], deleted: Sequence[set[str]],
                   dense: str = "auto") -> dict[str, Any]:
    """Write one segment holding the live documents of ``segments`` (in order), copied array
    by array: texts, passage and sentence rows, vectors, BM25 postings and word pieces as
    stored. Nothing is embedded or tokenized again, and no Python object is made per passage:
    memory is a few arrays of the merged segment's size, the vectors and pieces streamed.
    Every segment's word pieces must be kept alike (one codec, or all exact). Returns the
    segment's entry for a commit, as :func:`write_segment` does."""
    import faiss

    codecs = {id(s.chunk_tokens.codec) for s in segments}
    if len(codecs) > 1:
        raise ValueError("segments with different token codecs cannot be merged as stored")
    name = _stamp("s")
    root = index_dir / SEGMENTS
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}"
    tmp.mkdir()
    # Which rows stay: passages of live documents, and their sentences.
    keep_docs, keep_rows, keep_sentences = [], [], []
    for seg, gone in zip(segments, deleted, strict=True):
        docs = np.array([d not in gone for d in seg.doc_ids], dtype=bool)
        rows = docs[np.asarray(seg.chunks.table[:, 0], dtype=np.int64)]
        keep_docs.append(docs)
        keep_rows.append(rows)
        keep_sentences.append(rows[seg.sentences.chunks])
    # Documents and texts, streamed.
    infos: list[dict[str, Any]] = []
    offsets = [0]
    kept: list[Document] = []
    with (tmp / "texts.bin").open("wb") as fh:
        for seg, docs in zip(segments, keep_docs, strict=True):
            for k in np.flatnonzero(docs).tolist():
                doc = seg.documents[seg.doc_ids[k]]
                info = seg.documents.info[doc.id]
                infos.append({"id": doc.id, "content_hash": info.content_hash,
                              "metadata": info.metadata})
                offsets.append(offsets[-1] + fh.write(doc.text.encode("utf-8")))
                kept.append(doc)
    np.save(tmp / "text_offsets.npy", np.array(offsets, dtype=np.int64), allow_pickle=False)
    _save_lower_case(tmp, kept)
    # Passage and sentence tables, numbers made the merged segment's.
    tables, sentence_tables, ids = [], [], []
    sections: list[str] = []
    doc_base = row_base = 0
    for seg, docs, rows, sents in zip(segments, keep_docs, keep_rows, keep_sentences,
                                      strict=True):
        new_doc = np.cumsum(docs) - 1 + doc_base
        new_row = np.cumsum(rows) - 1 + row_base
        t = np.array(seg.chunks.table, dtype=np.int64)[rows]
        t[:, 0] = new_doc[t[:, 0]]
        t[t[:, 5] >= 0, 5] += len(sections)
        tables.append(t)
        ids.append(np.asarray(seg.chunks.ids)[rows])
        sections.extend(seg.chunks.sections)
        u = np.array(seg.sentences.table, dtype=np.int64)[sents]
        u[:, 0] = new_row[u[:, 0]]
        sentence_tables.append(u)
        doc_base += int(docs.sum())
        row_base += int(rows.sum())
    table = np.concatenate(tables)
    np.save(tmp / "chunks.npy", _narrow(table), allow_pickle=False)
    np.save(tmp / "chunk_ids.npy", np.concatenate(ids), allow_pickle=False)
    (tmp / "sections.json").write_text(json.dumps(sections, ensure_ascii=False), encoding="utf-8")
    sentence_table = np.concatenate(sentence_tables)
    np.save(tmp / "sentences.npy", _narrow(sentence_table), allow_pickle=False)
    kinds = {}
    for what, keep in (("chunk", keep_rows), ("sentence", keep_sentences)):
        parts = [getattr(s, f"{what}_vectors") for s in segments]
        if what == "chunk":
            out: Any = _stream_rows(tmp / "chunk_vectors.npy", parts, keep)
        else:
            out = Int8Rows(_stream_rows(tmp / "sentence_vectors.npy", [p.codes for p in parts],
                                        keep),
                           _stream_rows(tmp / "sentence_scales.npy", [p.scales for p in parts],
                                        keep))
        approximate = len(out) > 1 and (
            dense == "ivf" or (dense == "auto" and len(out) > FLAT_MAX_ROWS))
        if approximate:
            faiss.write_index(DenseStore.build_ann(out), str(tmp / f"{what}_ann.faiss"))
        for a in (out.codes, out.scales) if isinstance(out, Int8Rows) else (out,):
            release(a)
        kinds[what] = "ivf-pq" if approximate else "flat"
        del out
    for what, keep in (("lexical", keep_rows), ("sentence_lexical", keep_sentences)):
        Postings.merge([getattr(s, what) for s in segments], keep).save(tmp / what)
    pieces = {}
    for what, keep in (("chunk_tokens", keep_rows), ("sentence_tokens", keep_sentences)):
        pieces[what] = TokenStore.merge_to(tmp / what, [getattr(s, what) for s in segments], keep)
    codec = segments[0].chunk_tokens.codec
    if codec is not None:
        codec.save(tmp / "token_codec")
    entry = _finish_segment(root, tmp, name, infos, len(table), len(sentence_table), kinds)
    entry.update(sentences=len(sentence_table), chunk_pieces=pieces["chunk_tokens"],
                 sentence_pieces=pieces["sentence_tokens"], tokens=token_storage(codec))
    return entry


def _finish_segment(root: Path, tmp: Path, name: str, infos: list[dict[str, Any]],
                    chunks: int, sentences: int, kinds: dict[str, str]) -> dict[str, Any]:
    """Write the segment.json of the segment being written in ``tmp`` (its documents, counts
    and each file's checksum), make it durable and give it its name; returns its entry for a
    commit."""
    meta = {
        "format_version": FORMAT_VERSION,
        "documents": infos,
        "counts": {"documents": len(infos), "chunks": chunks, "sentences": sentences},
        "dense": {"passages": kinds["chunk"], "sentences": kinds["sentence"]},
        "files": {p.relative_to(tmp).as_posix(): sha256_file(p)
                  for p in sorted(tmp.rglob("*")) if p.is_file()},
    }
    (tmp / SEGMENT_MANIFEST).write_text(json.dumps(meta, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    _fsync_tree(tmp)
    os.replace(tmp, root / name)
    _fsync_dir(root)
    return {"name": name, "sha256": sha256_file(root / name / SEGMENT_MANIFEST),
            "chunks": chunks, "documents": len(infos), "deleted": [], "dense": meta["dense"]}


def _stream_rows(path: Path, parts: Sequence[np.ndarray], keep: Sequence[np.ndarray],
                 block: int = 65536) -> np.ndarray:
    """Write the rows ``keep`` of each of ``parts`` one after another into a new ``.npy`` at
    ``path``, a block at a time; returns it memory-mapped."""
    total = sum(int(k.sum()) for k in keep)
    out = NpyWriter(path, parts[0].dtype, (total, *parts[0].shape[1:]))
    for part, mask in zip(parts, keep, strict=True):
        for i in range(0, len(part), block):
            rows = part[i : i + block]
            out.write(np.asarray(rows)[mask[i : i + block]])
            release(rows)  # copied: its pages need not count in the build's memory
    out.close()
    return np.asarray(np.load(path, allow_pickle=False, mmap_mode="r"))
