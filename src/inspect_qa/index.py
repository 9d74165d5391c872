"""Build, save, load and update an index directory.

Layout of ``index_dir``::

    CURRENT              name of the live version directory (replaced atomically)
    v-<time>-<rand>/     one complete index:
        manifest.json    format, versions, model fingerprint, settings, documents, checksums
        documents.jsonl  id, metadata, content hash and text of each document
        chunks.jsonl     one Chunk per line, with its sentences' offsets
        chunk_vectors.npy, sentence_vectors.npy
        lexical/         bm25s files (JSON + .npy)

A build writes a new version directory, fsyncs it, then swaps ``CURRENT`` with ``os.replace``;
a build killed at any moment leaves the previous version loadable and unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .chunking import Chunk, ChunkSettings, make_chunks, normalise
from .documents import Document, read_corpus
from .embedding import DEFAULT_MODEL, Embedder, load_embedder
from .errors import CorpusError, IndexCorrupt, IndexIncompatible, IndexNotFound, InspectQAError
from .stores import BM25_PARAMS, DenseStore, LexicalStore

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Smallest chunk size accepted, in model word pieces.
MIN_CHUNK_TOKENS = 16
CURRENT = "CURRENT"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SentenceRef:
    """A sentence of the index: which chunk holds it and where it is in the document."""

    chunk: int
    start: int
    end: int


@dataclass(frozen=True)
class BuildReport:
    """What a build did. ``unchanged`` documents were reused without re-embedding."""

    index_dir: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    rebuilt: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


# -- text that is embedded --------------------------------------------------------------------


def with_header(text: str, doc: Document, section: str | None, count_tokens: Any,
                max_tokens: int) -> str:
    """``text`` with a short header placing it in its report: title, kind, date, section.

    The header is shortened, then dropped, rather than letting anything be truncated: the
    whole string always fits the model's window.
    """
    parts = [doc.title]
    kind = doc.metadata.get("kind")
    if kind:
        parts.append(str(kind))
    if doc.date:
        parts.append(human_date(doc.date))
    if section and normalise(section) not in text[: len(section) + 5]:
        parts.append(section)
    for header in (" — ".join(parts), section or "", ""):
        full = f"{header}\n{text}" if header else text
        if count_tokens(full) <= max_tokens:
            return full
    raise InspectQAError(
        f"a passage of {doc.id} exceeds the model window even without a header; rebuild with "
        "a smaller --chunk-tokens"
    )


def context_text(chunk: Chunk, doc: Document, count_tokens: Any, max_tokens: int) -> str:
    """The text embedded and BM25-indexed for a chunk: the header, then the chunk."""
    return with_header(chunk.text, doc, chunk.section, count_tokens, max_tokens)


def human_date(iso: str) -> str:
    """"2016-10-26" → "26 October 2016"; "2016-07" → "July 2016" (as reports write dates)."""
    parts = iso.split("-")
    try:
        month = datetime(2000, int(parts[1]), 1).strftime("%B")
    except (IndexError, ValueError):
        return iso
    return f"{int(parts[2])} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


# -- files ------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
def _build_lock(index_dir: Path) -> Iterator[None]:
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
    name = pointer.read_text(encoding="utf-8").strip()
    version = root / name
    if not name or "/" in name or not version.is_dir():
        raise IndexCorrupt(
            f"index {str(root)!r} points at a missing version {name!r}; rebuild it with "
            f"`inspect-qa index CORPUS --out {root}`"
        )
    return version


def _save(index_dir: Path, manifest: dict[str, Any], documents: list[Document],
          chunks: list[Chunk], chunk_vectors: np.ndarray, sentences: list[SentenceRef],
          sentence_vectors: np.ndarray, lexical: LexicalStore,
          sentence_lexical: LexicalStore) -> Path:
    name = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    _write_jsonl(tmp / "documents.jsonl", [
        {"id": d.id, "content_hash": d.content_hash, "metadata": d.metadata, "text": d.text}
        for d in documents
    ])
    _write_jsonl(tmp / "chunks.jsonl", [c.to_dict() for c in chunks])
    _write_jsonl(tmp / "sentences.jsonl", [[s.chunk, s.start, s.end] for s in sentences])
    np.save(tmp / "chunk_vectors.npy", chunk_vectors, allow_pickle=False)
    np.save(tmp / "sentence_vectors.npy", sentence_vectors, allow_pickle=False)
    lexical.save(tmp / "lexical")
    sentence_lexical.save(tmp / "sentence_lexical")
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
    except (OSError, json.JSONDecodeError) as exc:
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
        sentences = [SentenceRef(*r) for r in _read_jsonl(version / "sentences.jsonl")]
        chunk_vectors = np.load(version / "chunk_vectors.npy", allow_pickle=False)
        sentence_vectors = np.load(version / "sentence_vectors.npy", allow_pickle=False)
        lexical = LexicalStore.load(version / "lexical")
        sentence_lexical = LexicalStore.load(version / "sentence_lexical")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(f"index {str(root)!r} cannot be read ({exc}); {fix}") from exc
    if len(chunk_vectors) != len(chunks) or len(sentence_vectors) != len(sentences):
        raise IndexCorrupt(f"index {str(root)!r}: vectors and chunks disagree in number; {fix}")
    return Index(root, manifest, docs, chunks, chunk_vectors, sentences, sentence_vectors, lexical,
                 sentence_lexical)


# -- build ------------------------------------------------------------------------------------


def pipeline_fingerprint() -> str:
    """Hash of the code that turns files into indexed text (reading, layout, chunking, headers).

    Stored in the manifest: when that code changes, unchanged documents are re-chunked and
    re-embedded rather than reused, so an index never mixes two versions of the pipeline.
    """
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("documents.py", "layout.py", "chunking.py", "index.py", "stores.py"):
        h.update((here / name).read_bytes())
    try:
        from importlib.metadata import version

        h.update(version("bm25s").encode())
    except Exception:  # no metadata: the code hashes still guard the pipeline
        pass
    return h.hexdigest()[:16]


def _compatible(manifest: dict[str, Any], embedder: Embedder, settings: ChunkSettings) -> bool:
    return (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("model", {}).get("fingerprint") == embedder.fingerprint()
        and manifest.get("chunking") == settings.to_dict()
        and manifest.get("pipeline") == pipeline_fingerprint()
    )


def _embed(embedder: Embedder, texts: list[str], what: str, progress: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    batch = 32
    out = []
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=f"embedding {what}", unit=what.split()[-1])
    for i in range(0, len(texts), batch):
        out.append(embedder.embed(texts[i : i + batch], batch_size=batch))
        if bar is not None:
            bar.update(len(texts[i : i + batch]))
    if bar is not None:
        bar.close()
    return np.concatenate(out).astype(np.float32)


def resolve_config(index_dir: str | Path, embedder: Embedder | None,
                   settings: ChunkSettings | None) -> tuple[Embedder, ChunkSettings]:
    """The embedder and settings of a build: those given, else those of the existing index
    (so updating an index never silently switches its model), else the defaults."""
    existing: dict[str, Any] = {}
    if embedder is None or settings is None:
        try:
            existing = read_manifest(index_dir)
        except InspectQAError:
            existing = {}
    if embedder is None:
        embedder = load_embedder(existing.get("model", {}).get("name", DEFAULT_MODEL))
    if settings is None:
        chunking = existing.get("chunking")
        settings = ChunkSettings(**chunking) if isinstance(chunking, dict) else ChunkSettings()
    return embedder, settings


def build_index(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    settings: ChunkSettings | None = None,
    progress: bool = False,
) -> BuildReport:
    """Build or update the index of ``corpus_dir`` in ``index_dir``.

    Unchanged documents (same content hash, same model and settings) keep their chunks and
    vectors; only new and changed documents are embedded. Nothing changed: nothing is written.
    """
    t0 = time.perf_counter()
    index_root = Path(index_dir)
    embedder, settings = resolve_config(index_root, embedder, settings)
    if not isinstance(settings.chunk_tokens, int) or not (
        MIN_CHUNK_TOKENS <= settings.chunk_tokens <= embedder.max_tokens - 16
    ):
        raise InspectQAError(
            f"chunk_tokens={settings.chunk_tokens!r} does not fit the model's window of "
            f"{embedder.max_tokens} tokens: use {MIN_CHUNK_TOKENS} to {embedder.max_tokens - 16}"
        )
    docs = read_corpus(corpus_dir)
    with _build_lock(index_root):
        old: Index | None = None
        try:
            candidate = load_index(index_root)
            if _compatible(candidate.manifest, embedder, settings):
                old = candidate
            else:
                log.warning("index at %s was built with another model, settings or pipeline "
                            "version: rebuilding it in full", index_root)
        except IndexNotFound:
            pass
        except InspectQAError as exc:
            log.warning("existing index at %s is unusable (%s): full rebuild", index_root, exc)

        old_hashes = {d.id: d.content_hash for d in old.documents.values()} if old else {}
        new_hashes = {d.id: d.content_hash for d in docs}
        added = tuple(i for i in new_hashes if i not in old_hashes)
        removed = tuple(i for i in old_hashes if i not in new_hashes)
        changed = tuple(i for i in new_hashes if i in old_hashes and old_hashes[i] != new_hashes[i])
        unchanged = tuple(i for i in new_hashes if old_hashes.get(i) == new_hashes[i])
        if old is not None and not (added or removed or changed):
            return BuildReport(str(index_root), unchanged=unchanged, chunks=len(old.chunks),
                               seconds=time.perf_counter() - t0, rebuilt=False)

        return _rebuild(index_root, docs, old, embedder, settings, progress, t0,
                        added, changed, removed, unchanged)


def _rebuild(index_root: Path, docs: list[Document], old: Index | None, embedder: Embedder,
             settings: ChunkSettings, progress: bool, t0: float, added: tuple[str, ...],
             changed: tuple[str, ...], removed: tuple[str, ...],
             unchanged: tuple[str, ...]) -> BuildReport:
    reuse = set(unchanged)
    old_rows: dict[str, list[int]] = {}
    old_sent_rows: dict[int, list[int]] = {}
    if old is not None:
        for i, c in enumerate(old.chunks):
            old_rows.setdefault(c.doc_id, []).append(i)
        for j, s in enumerate(old.sentences):
            old_sent_rows.setdefault(s.chunk, []).append(j)

    chunks: list[Chunk] = []
    chunk_vecs: list[np.ndarray] = []
    sentences: list[SentenceRef] = []
    sent_vecs: list[np.ndarray] = []
    new_chunk_texts: list[str] = []
    new_sentence_texts: list[str] = []
    new_positions: list[tuple[int, int]] = []  # (chunk row, first sentence row) placeholders
    dim = embedder.dimension
    for doc in docs:
        if doc.id in reuse and old is not None:
            for row in old_rows.get(doc.id, []):
                chunk_row = len(chunks)
                chunks.append(old.chunks[row])
                chunk_vecs.append(old.chunk_vectors[row : row + 1])
                for j in old_sent_rows.get(row, []):
                    s = old.sentences[j]
                    sentences.append(SentenceRef(chunk_row, s.start, s.end))
                    sent_vecs.append(old.sentence_vectors[j : j + 1])
            continue
        for c in make_chunks(doc, embedder.count_tokens, settings):
            chunk_row = len(chunks)
            chunks.append(c)
            chunk_vecs.append(np.zeros((1, dim), np.float32))
            new_chunk_texts.append(context_text(c, doc, embedder.count_tokens, embedder.max_tokens))
            new_positions.append((chunk_row, -1))
            for a, b in c.sentences:
                sentences.append(SentenceRef(chunk_row, a, b))
                sent_vecs.append(np.zeros((1, dim), np.float32))
                # A sentence alone is ambiguous ("This was the first visit"): embed it with
                # the header of its report and section.
                new_sentence_texts.append(with_header(
                    normalise(doc.text[a:b]), doc, c.section, embedder.count_tokens,
                    embedder.max_tokens))

    if not chunks:
        raise CorpusError(
            f"no passage of at least {settings.min_words} words in {len(docs)} document(s): "
            "add reports with running text (headings, addresses and dates alone are not indexed)"
        )
    fresh_chunks = _embed(embedder, new_chunk_texts, "chunks", progress)
    fresh_sents = _embed(embedder, new_sentence_texts, "sentences", progress)
    for k, (row, _) in enumerate(new_positions):
        chunk_vecs[row] = fresh_chunks[k : k + 1]
    new_chunk_rows = {row for row, _ in new_positions}
    k = 0
    for j, s in enumerate(sentences):
        if s.chunk in new_chunk_rows:
            sent_vecs[j] = fresh_sents[k : k + 1]
            k += 1

    by_id = {d.id: d for d in docs}
    lexical_texts = [
        context_text(c, by_id[c.doc_id], embedder.count_tokens, embedder.max_tokens)
        for c in chunks
    ]
    lexical = LexicalStore.build(lexical_texts)
    sentence_lexical = LexicalStore.build(
        [normalise(by_id[chunks[s.chunk].doc_id].text[s.start : s.end]) for s in sentences]
    )
    chunk_matrix = np.concatenate(chunk_vecs) if chunk_vecs else np.zeros((0, dim), np.float32)
    sent_matrix = np.concatenate(sent_vecs) if sent_vecs else np.zeros((0, dim), np.float32)
    seconds = time.perf_counter() - t0
    manifest = _manifest(docs, chunks, sentences, embedder, settings, seconds)
    _save(index_root, manifest, docs, chunks, chunk_matrix, sentences, sent_matrix, lexical,
          sentence_lexical)
    return BuildReport(str(index_root), added=added, changed=changed, removed=removed,
                       unchanged=unchanged, chunks=len(chunks),
                       embedded_chunks=len(new_chunk_texts), seconds=seconds)


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("sentence-transformers", "torch", "faiss-cpu", "bm25s",
                 "langchain-text-splitters", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def _manifest(docs: list[Document], chunks: list[Chunk], sentences: list[SentenceRef],
              embedder: Embedder, settings: ChunkSettings, seconds: float) -> dict[str, Any]:
    per_doc: dict[str, int] = {}
    for c in chunks:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    return {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "model": {
            "name": embedder.name,
            "fingerprint": embedder.fingerprint(),
            "dimension": embedder.dimension,
            "max_tokens": embedder.max_tokens,
        },
        "chunking": settings.to_dict(),
        "pipeline": pipeline_fingerprint(),
        "lexical": {"library": "bm25s", **BM25_PARAMS, "stemmer": "snowball-english",
                    "stopwords": "bm25s-en"},
        "dense": {"library": "faiss", "index": "IndexFlatIP", "metric": "inner_product"},
        "libraries": _library_versions(),
        "counts": {"documents": len(docs), "chunks": len(chunks), "sentences": len(sentences)},
        "documents": {
            d.id: {"content_hash": d.content_hash, "chars": len(d.text),
                   "chunks": per_doc.get(d.id, 0), "metadata": d.metadata}
            for d in docs
        },
    }
