"""Saving and loading an index directory: atomic versions, manifest, checksums, no pickle.

Layout of ``index_dir``::

    CURRENT              name of the live version directory (replaced atomically)
    v-<time>-<rand>/     one complete index:
        manifest.json    format, versions, model fingerprint, settings, documents, checksums
        documents.jsonl  id, metadata, content hash and text of each document
        chunks.jsonl     one Chunk per line, with its sentences' offsets
        sentences.jsonl  [chunk row, start, end(, context start, context end)] per sentence
        chunk_vectors.npy, sentence_vectors.npy
        lexical/, sentence_lexical/   bm25s files (JSON + .npy)
        chunk_tokens/, sentence_tokens/   word-piece ids, vectors (float16) and row offsets

A build writes a new version directory, fsyncs it, then swaps ``CURRENT`` with ``os.replace``;
a build killed at any moment leaves the previous version loadable and unchanged.
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
from .checksums import sha256_file
from .chunking import Chunk, normalise
from .documents import Document
from .errors import IndexCorrupt, IndexIncompatible, IndexNotFound, InspectQAError
from .stores import DenseStore, LexicalStore, TokenStore

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
CURRENT = "CURRENT"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SentenceRef:
    """A sentence of the index: which chunk holds it and where it is in the document."""

    chunk: int
    start: int
    end: int
    #: A span of the document the sentence is read with (a table row's column headings), or
    #: ``None``. It is embedded and indexed with the sentence, never cited as its text.
    context: tuple[int, int] | None = None

    def read_text(self, doc_text: str) -> str:
        """What the sentence is read as when embedded and indexed: its context, then itself."""
        own = normalise(doc_text[self.start : self.end])
        if self.context is None:
            return own
        return f"{normalise(doc_text[self.context[0] : self.context[1]])}\n{own}"

    def to_row(self) -> list[int]:
        return [self.chunk, self.start, self.end, *(self.context or ())]

    @classmethod
    def from_row(cls, row: list[int]) -> SentenceRef:
        if len(row) not in (3, 5):
            raise ValueError(f"a sentence row has 3 or 5 numbers, not {row!r}")
        return cls(row[0], row[1], row[2], (row[3], row[4]) if len(row) == 5 else None)


@dataclass
class Index:
    """A loaded index: documents, chunks, sentences and both stores. Read-only once built."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentences: list[SentenceRef]
    sentence_vectors: np.ndarray
    lexical: LexicalStore
    sentence_lexical: LexicalStore
    chunk_tokens: TokenStore
    sentence_tokens: TokenStore
    dense: DenseStore = field(init=False)
    #: Row of each chunk's first sentence (sentences are stored in chunk order).
    sentence_offsets: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.dense = DenseStore(self.chunk_vectors)
        owners = np.array([s.chunk for s in self.sentences], dtype=np.int64)
        self.sentence_offsets = np.searchsorted(owners, np.arange(len(self.chunks)))

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


def save_version(index_dir: Path, manifest: dict[str, Any], documents: list[Document],
          chunks: list[Chunk], chunk_vectors: np.ndarray, sentences: list[SentenceRef],
          sentence_vectors: np.ndarray, lexical: LexicalStore,
          sentence_lexical: LexicalStore, chunk_tokens: TokenStore,
          sentence_tokens: TokenStore) -> Path:
    name = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    _write_jsonl(tmp / "documents.jsonl", [
        {"id": d.id, "content_hash": d.content_hash, "metadata": d.metadata, "text": d.text}
        for d in documents
    ])
    _write_jsonl(tmp / "chunks.jsonl", [c.to_dict() for c in chunks])
    _write_jsonl(tmp / "sentences.jsonl", [s.to_row() for s in sentences])
    np.save(tmp / "chunk_vectors.npy", chunk_vectors, allow_pickle=False)
    np.save(tmp / "sentence_vectors.npy", sentence_vectors, allow_pickle=False)
    lexical.save(tmp / "lexical")
    sentence_lexical.save(tmp / "sentence_lexical")
    chunk_tokens.save(tmp / "chunk_tokens")
    sentence_tokens.save(tmp / "sentence_tokens")
    files = sorted(p for p in tmp.rglob("*") if p.is_file())
    manifest["files"] = {p.relative_to(tmp).as_posix(): sha256_file(p) for p in files}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    for p in [*files, tmp / MANIFEST]:
        with p.open("rb") as fh:
            os.fsync(fh.fileno())
    for d in {p.parent for p in files}:
        _fsync_dir(d)
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


def _cleanup(index_dir: Path, keep: str) -> None:
    for p in index_dir.iterdir():
        stale_version = p.is_dir() and p.name.startswith(("v-", ".tmp-v-")) and p.name != keep
        stale_pointer = p.is_file() and p.name.startswith(f".{CURRENT}.")
        if stale_version:
            shutil.rmtree(p, ignore_errors=True)
        elif stale_pointer:
            p.unlink(missing_ok=True)


# -- load -------------------------------------------------------------------------------------


def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    """The manifest of the live version. Raises :class:`IndexNotFound` / :class:`IndexCorrupt`."""
    version = current_version_dir(index_dir)
    try:
        manifest: dict[str, Any] = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8 (a flipped byte), not JSON
        raise IndexCorrupt(
            f"the manifest of index {str(index_dir)!r} is unreadable ({exc}); rebuild with "
            f"`inspect-qa index CORPUS --out {index_dir}`"
        ) from exc
    return manifest


def load_index(index_dir: str | Path, *, verify: bool = True) -> Index:
    """Load the live version of ``index_dir``, checking format and file checksums.

    Raises:
        IndexNotFound: nothing built there.
        IndexCorrupt: a file is missing or does not match its checksum.
        IndexIncompatible: built by another format version of inspect-qa.
    """
    root = Path(index_dir)
    version = current_version_dir(root)
    manifest = read_manifest(root)
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
        for rel, digest in manifest.get("files", {}).items():
            path = version / rel
            if not path.is_file():
                raise IndexCorrupt(f"index {str(root)!r} is missing {rel}; {fix}")
            if sha256_file(path) != digest:
                raise IndexCorrupt(
                    f"index {str(root)!r}: {rel} does not match its checksum (changed or "
                    f"damaged since it was built); {fix}"
                )
    try:
        docs = {
            r["id"]: Document(id=r["id"], text=r["text"], metadata=r["metadata"])
            for r in _read_jsonl(version / "documents.jsonl")
        }
        chunks = [Chunk.from_dict(r) for r in _read_jsonl(version / "chunks.jsonl")]
        sentences = [SentenceRef.from_row(r) for r in _read_jsonl(version / "sentences.jsonl")]
        chunk_vectors = np.load(version / "chunk_vectors.npy", allow_pickle=False)
        sentence_vectors = np.load(version / "sentence_vectors.npy", allow_pickle=False)
        lexical = LexicalStore.load(version / "lexical")
        sentence_lexical = LexicalStore.load(version / "sentence_lexical")
        chunk_tokens = TokenStore.load(version / "chunk_tokens")
        sentence_tokens = TokenStore.load(version / "sentence_tokens")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} cannot be read ({exc}); {fix}") from exc
    if (len(chunk_vectors) != len(chunks) or len(sentence_vectors) != len(sentences)
            or len(chunk_tokens) != len(chunks) or len(sentence_tokens) != len(sentences)):
        raise IndexCorrupt(f"index {str(root)!r}: vectors and chunks disagree in number; {fix}")
    return Index(root, manifest, docs, chunks, chunk_vectors, sentences, sentence_vectors, lexical,
                 sentence_lexical, chunk_tokens, sentence_tokens)
