"""Saving and loading an index directory: atomic versions, manifest, checksums, no pickle.

Layout of ``index_dir``::

    CURRENT              name of the live version directory (replaced atomically)
    v-<time>-<rand>/     one complete index:
        manifest.json    format, versions, model fingerprint, settings, documents, checksums
        texts.bin        the documents' texts, UTF-8, one after another (in manifest order)
        text_offsets.npy byte offset of each text in texts.bin, and its end
        lower_case.json  the words the texts write in lower case somewhere (for names)
        chunks.npy       one row per passage: document number, start, end, page, last page,
                         section number (-1: none); chunk_ids.npy, sections.json beside it
        sentences.npy    one row per sentence: passage row, start, end, context start, end
        chunk_vectors.npy, sentence_vectors.npy   (float16, unit length)
        lexical/, sentence_lexical/   bm25s files (JSON + .npy)
        chunk_tokens/, sentence_tokens/   word-piece ids, vectors (float16) or their codes,
                         row offsets and each piece's row count; token_codec/ when compressed

Nothing is kept per passage as a Python object: arrays are memory-mapped when loaded
(:mod:`inspect_qa.tables`), and a document's text is read when one of its passages is shown.

A build writes a new version directory, fsyncs it, then swaps ``CURRENT`` with ``os.replace``;
a build killed at any moment leaves the previous version loadable and unchanged. Loading checks
the checksum of every file of an index up to :data:`VERIFY_ALL_BYTES`; a larger one has its
small files checked at load and the rest by ``inspect-qa check`` (reading gigabytes at every
load would take longer than the load).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
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
from .stores import ANN_NPROBE, FLAT_MAX_ROWS, DenseStore, LexicalStore, TokenCodec, TokenStore
from .tables import (
    ChunkTable,
    DocumentInfo,
    DocumentStore,
    SentenceRef,
    SentenceTable,
    read_texts,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 4
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
#: An index this large (bytes) or smaller has every file verified at load.
VERIFY_ALL_BYTES = 256 * 2**20
#: In a larger one, files up to this size are verified at load.
VERIFY_FILE_BYTES = 16 * 2**20


@dataclass
class Index:
    """A loaded index: documents, chunks, sentences and their stores. Read-only once built."""

    path: Path
    manifest: dict[str, Any]
    documents: DocumentStore
    chunks: ChunkTable
    chunk_vectors: np.ndarray
    sentences: SentenceTable
    sentence_vectors: np.ndarray
    lexical: LexicalStore
    sentence_lexical: LexicalStore
    chunk_tokens: TokenStore
    sentence_tokens: TokenStore
    #: Words the documents write in lower case somewhere (see answers.lower_case_words).
    lower_case: frozenset[str] = frozenset()
    #: Approximate (IVF-PQ) searchers of the chunk and sentence vectors, where built.
    chunk_ann: Any = None
    sentence_ann: Any = None
    dense: DenseStore = field(init=False)
    sentence_dense: DenseStore = field(init=False)

    def __post_init__(self) -> None:
        self.dense = DenseStore(self.chunk_vectors, self.chunk_ann)
        self.sentence_dense = DenseStore(self.sentence_vectors, self.sentence_ann)

    @property
    def sentence_offsets(self) -> np.ndarray:
        """Row of each chunk's first sentence (sentences are stored in chunk order)."""
        return self.sentences.offsets[:-1]

    @property
    def model_name(self) -> str:
        return str(self.manifest["model"]["name"])


# -- files ------------------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(path: Path, rows: Sequence[Any]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise InspectQAError(
                f"another build of {str(index_dir)!r} is running; wait for it to finish"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_version_dir(index_dir: str | Path) -> Path:
    """The live version directory of ``index_dir``. Raises :class:`IndexNotFound`."""
    root = Path(index_dir)
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexNotFound(
            f"no index at {str(root)!r}: build one with `inspect-qa index CORPUS --out {root}`"
        )
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} has an unreadable {CURRENT} file ({exc}); rebuild "
                           f"it with `inspect-qa index CORPUS --out {root}`") from exc
    version = root / name
    if not name or "/" in name or not version.is_dir():
        raise IndexCorrupt(
            f"index {str(root)!r} points at a missing version {name!r}; rebuild it with "
            f"`inspect-qa index CORPUS --out {root}`"
        )
    return version


def save_version(index_dir: Path, manifest: dict[str, Any], documents: Sequence[Document],
                 chunks: Sequence[Chunk], chunk_vectors: np.ndarray,
                 sentences: Sequence[SentenceRef], sentence_vectors: np.ndarray,
                 lexical: LexicalStore, sentence_lexical: LexicalStore,
                 chunk_tokens: TokenStore, sentence_tokens: TokenStore,
                 dense: str = "auto") -> Path:
    """Write a complete version and make it the live one. ``dense``: ``"auto"`` builds an
    approximate searcher (IVF-PQ) for the chunk or sentence vectors past
    :data:`~inspect_qa.stores.FLAT_MAX_ROWS` rows; ``"flat"`` never; ``"ivf"`` always."""
    name = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    doc_ids = [d.id for d in documents]
    if list(manifest["documents"]) != doc_ids:
        raise ValueError("the manifest lists other documents than those saved")
    offsets = [0]
    with (tmp / "texts.bin").open("wb") as fh:
        for d in documents:
            offsets.append(offsets[-1] + fh.write(d.text.encode("utf-8")))
    np.save(tmp / "text_offsets.npy", np.array(offsets, dtype=np.int64), allow_pickle=False)
    # Words written in lower case somewhere (the rest are names, to answers): counted now, so
    # that no search ever reads every text.
    (tmp / "lower_case.json").write_text(json.dumps(sorted(lower_case_words(
        [d.text for d in documents])), ensure_ascii=False), encoding="utf-8")
    table, ids, sections = ChunkTable.encode(chunks, doc_ids)
    np.save(tmp / "chunks.npy", _narrow(table), allow_pickle=False)
    np.save(tmp / "chunk_ids.npy", ids, allow_pickle=False)
    (tmp / "sections.json").write_text(json.dumps(sections, ensure_ascii=False), encoding="utf-8")
    np.save(tmp / "sentences.npy", _narrow(SentenceTable.encode(sentences)), allow_pickle=False)
    np.save(tmp / "chunk_vectors.npy", np.asarray(chunk_vectors, dtype=np.float16),
            allow_pickle=False)
    np.save(tmp / "sentence_vectors.npy", np.asarray(sentence_vectors, dtype=np.float16),
            allow_pickle=False)
    kinds = {}
    for what, vectors in (("chunk", chunk_vectors), ("sentence", sentence_vectors)):
        approximate = dense == "ivf" or (dense == "auto" and len(vectors) > FLAT_MAX_ROWS)
        if approximate and len(vectors):
            import faiss

            faiss.write_index(DenseStore.build_ann(np.asarray(vectors, dtype=np.float16)),
                              str(tmp / f"{what}_ann.faiss"))
        kinds[what] = ("ivf-pq" if approximate and len(vectors) else "flat")
    manifest["dense"] = {"library": "faiss", "metric": "inner_product", "setting": dense,
                         "passages": kinds["chunk"],
                         "sentences": kinds["sentence"], "flat_max_rows": FLAT_MAX_ROWS,
                         "nprobe": ANN_NPROBE, "vectors": "float16, scored exactly"}
    lexical.save(tmp / "lexical")
    sentence_lexical.save(tmp / "sentence_lexical")
    chunk_tokens.save(tmp / "chunk_tokens")
    sentence_tokens.save(tmp / "sentence_tokens")
    if chunk_tokens.codec is not None:
        if sentence_tokens.codec is not chunk_tokens.codec:
            raise ValueError("chunk and sentence pieces must share one codec")
        chunk_tokens.codec.save(tmp / "token_codec")
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest["files"] = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in files}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    for p in [*files, tmp / MANIFEST]:
        with p.open("rb") as fh:
            os.fsync(fh.fileno())
    for folder in {p.parent for p in files}:
        _fsync_dir(folder)
    final = index_dir / name
    os.replace(tmp, final)
    _fsync_dir(index_dir)
    pointer_tmp = index_dir / f".{CURRENT}.{secrets.token_hex(4)}"
    pointer_tmp.write_text(name + "\n", encoding="utf-8")
    with pointer_tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)  # the switch: atomic
    _fsync_dir(index_dir)
    _cleanup(index_dir, keep=name)
    return final


def _narrow(table: np.ndarray) -> np.ndarray:
    """``table`` as int32 when every value fits (half the disk), else int64."""
    if not table.size or (int(table.min()) >= -(2**31) and int(table.max()) < 2**31):
        return table.astype(np.int32)
    return table.astype(np.int64)


def _cleanup(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        stale_version = p.is_dir() and p.name.startswith(("v-", ".tmp-v-")) and p.name != keep
        stale_pointer = p.is_file() and p.name.startswith(f".{CURRENT}.")
        if stale_version:
            shutil.rmtree(p, ignore_errors=True)
        elif stale_pointer:
            p.unlink(missing_ok=True)


# -- load -------------------------------------------------------------------------------------


def read_manifest(index_dir: str | Path, version: Path | None = None) -> dict[str, Any]:
    """The manifest of the live version (or of ``version``). Raises :class:`IndexNotFound` /
    :class:`IndexCorrupt`."""
    version = version or current_version_dir(index_dir)
    try:
        manifest: dict[str, Any] = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8 (a flipped byte), not JSON
        raise IndexCorrupt(
            f"the manifest of index {str(index_dir)!r} is unreadable ({exc}); rebuild with "
            f"`inspect-qa index CORPUS --out {index_dir}`"
        ) from exc
    return manifest


def verify_files(index_dir: str | Path, *, everything: bool = True,
                 version: Path | None = None) -> list[str]:
    """Check the live version's files against their checksums; returns the files checked.

    ``everything=False`` checks every file of an index up to :data:`VERIFY_ALL_BYTES`, and
    only files up to :data:`VERIFY_FILE_BYTES` of a larger one (see the module docstring).

    Raises:
        IndexCorrupt: a file is missing or does not match its checksum.
    """
    root = Path(index_dir)
    version = version or current_version_dir(root)
    manifest = read_manifest(root, version)
    fix = f"rebuild it with `inspect-qa index CORPUS --out {root}`"
    files = manifest.get("files", {})
    sizes = {}
    for rel in files:
        path = version / rel
        if not path.is_file():
            raise IndexCorrupt(f"index {str(root)!r} is missing {rel}; {fix}")
        sizes[rel] = path.stat().st_size
    small = everything or sum(sizes.values()) <= VERIFY_ALL_BYTES
    checked = []
    for rel, digest in files.items():
        if not small and sizes[rel] > VERIFY_FILE_BYTES:
            continue
        if sha256_file(version / rel) != digest:
            raise IndexCorrupt(
                f"index {str(root)!r}: {rel} does not match its checksum (changed or "
                f"damaged since it was built); {fix}"
            )
        checked.append(rel)
    if len(checked) < len(files):
        log.info("index %s: %d large files are verified by `inspect-qa check`, not at load",
                 root, len(files) - len(checked))
    return checked


def load_index(index_dir: str | Path, *, verify: bool = True) -> Index:
    """Load the live version of ``index_dir``, checking its format and (``verify``) its files'
    checksums as :func:`verify_files` does at load.

    Raises:
        IndexNotFound: nothing built there.
        IndexCorrupt: a file is missing, unreadable or does not match its checksum.
        IndexIncompatible: built by another format version of inspect-qa.
    """
    root = Path(index_dir)
    version = current_version_dir(root)  # once: a build may switch CURRENT meanwhile
    manifest = read_manifest(root, version)
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
    if verify:
        verify_files(root, everything=False, version=version)
    else:
        for rel in manifest.get("files", {}):
            if not (version / rel).is_file():
                raise IndexCorrupt(f"index {str(root)!r} is missing {rel}; {fix}")

    def arr(name: str) -> np.ndarray:
        # a plain array view of the mapped file: np.memmap's own indexing is slower
        return np.asarray(np.load(version / name, allow_pickle=False, mmap_mode="r"))

    try:
        infos = [DocumentInfo(i, d["metadata"], d["content_hash"])
                 for i, d in manifest["documents"].items()]
        documents = DocumentStore(infos, read_texts(version / "texts.bin"),
                                  np.load(version / "text_offsets.npy", allow_pickle=False))
        sentences = SentenceTable(arr("sentences.npy"), len(arr("chunks.npy")))
        sections = json.loads((version / "sections.json").read_text(encoding="utf-8"))
        chunks = ChunkTable(arr("chunks.npy"), arr("chunk_ids.npy"), sections,
                            [d.id for d in infos], documents, sentences)
        chunk_vectors = arr("chunk_vectors.npy")
        sentence_vectors = arr("sentence_vectors.npy")
        lexical = LexicalStore.load(version / "lexical")
        sentence_lexical = LexicalStore.load(version / "sentence_lexical")
        codec = (TokenCodec.load(version / "token_codec")
                 if (version / "token_codec").is_dir() else None)
        chunk_tokens = TokenStore.load(version / "chunk_tokens", codec)
        sentence_tokens = TokenStore.load(version / "sentence_tokens", codec)
        lower_case = frozenset(json.loads((version / "lower_case.json").read_text(
            encoding="utf-8")))
        anns = {}
        for what in ("chunk", "sentence"):
            path = version / f"{what}_ann.faiss"
            if path.is_file():
                import faiss

                anns[what] = faiss.read_index(str(path))
    except RuntimeError as exc:  # FAISS's own error for a damaged index file
        raise IndexCorrupt(f"index {str(root)!r}: an approximate-search file cannot be read "
                           f"({str(exc).splitlines()[0][:200]}); {fix}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} cannot be read ({exc}); {fix}") from exc
    if (len(chunk_vectors) != len(chunks) or len(sentence_vectors) != len(sentences)
            or len(chunk_tokens) != len(chunks) or len(sentence_tokens) != len(sentences)):
        raise IndexCorrupt(f"index {str(root)!r}: vectors and chunks disagree in number; {fix}")
    return Index(root, manifest, documents, chunks, chunk_vectors, sentences, sentence_vectors,
                 lexical, sentence_lexical, chunk_tokens, sentence_tokens, lower_case,
                 anns.get("chunk"), anns.get("sentence"))
