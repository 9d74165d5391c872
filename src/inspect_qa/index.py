"""Building and updating an index: read, chunk, embed only what changed, save atomically.

Storage (directory layout, manifest, checksums, loading) lives in :mod:`inspect_qa.storage`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .chunking import Chunk, ChunkSettings, make_chunks, normalise
from .documents import (
    Document,
    Skipped,
    no_documents_message,
    read_document,
    scan_corpus,
    skipped_message,
)
from .embedding import DEFAULT_MODEL, Embedder, TokenVectors, load_embedder
from .errors import (
    CorpusError,
    IndexIncompatible,
    IndexNotFound,
    InspectQAError,
    UnreadableDocument,
)
from .layout import table_headings
from .lexical import BM25_PARAMS, LexicalTokenizer, Postings
from .storage import (
    FORMAT_VERSION,
    SPOOL_PREFIX,
    Earlier,
    Index,
    SentenceRef,
    build_lock,
    commit,
    load_index,
    load_segments,
    merge_segments,
    read_earlier,
    read_manifest,
    salvage_documents,
    write_segment,
)
from .stores import (
    ANN_NPROBE,
    FLAT_MAX_ROWS,
    TOKEN_TRAIN_MAX,
    TOKEN_TRAIN_MIN,
    TokenCodec,
    TokenStore,
    token_storage,
)

log = logging.getLogger(__name__)

#: Texts embedded at once (the fastest batch of a bare encode here, 16 against 32, 64, 128).
EMBED_BATCH = 16
#: Smallest chunk size accepted, in model word pieces.
MIN_CHUNK_TOKENS = 16
#: Word pieces are kept exactly (float16) in an index of at most this many passages, and
#: compressed (TokenCodec: about 54 bytes a piece instead of 770) in a larger one, unless a
#: build asks for one or the other (``tokens="exact"`` / ``"compressed"``).
TOKENS_EXACT_CHUNKS = 500


@dataclass(frozen=True)
class BuildReport:
    """What a build did. ``unchanged`` documents were reused without re-embedding; ``kept``
    ones were added with :func:`add_documents` from outside the corpus folder and stay (``lost``
    ones could not: see there);
    ``skipped`` files could not be indexed (id, reason); ``ignored`` counts files of other
    formats by suffix."""

    index_dir: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    #: Reports once added with :func:`add_documents` that a rebuild of a damaged index could not
    #: keep: their stored text was damaged too.
    lost: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    ignored: tuple[tuple[str, int], ...] = ()
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0
    rebuilt: bool = True
    #: Segments merged into others after the change (by the automatic policy, or optimize).
    merged: int = 0
    #: Added or changed documents with no passage to search (too little text).
    empty: tuple[str, ...] = ()
    #: Files that cannot be read now, whose version indexed before is kept (also in
    #: ``skipped``, with the reason; not in ``unchanged``).
    stale: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


# -- build ------------------------------------------------------------------------------------


def pipeline_fingerprint() -> str:
    """Hash of the code that turns files into indexed text (reading, layout, chunking, headers).

    Stored in the manifest: when that code changes, unchanged documents are re-chunked and
    re-embedded rather than reused, so an index never mixes two versions of the pipeline.
    """
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in ("documents.py", "layout.py", "chunking.py", "index.py", "stores.py", "lexical.py",
                 "storage.py", "readers/__init__.py", "readers/pdf.py", "readers/repair.py",
                 "readers/office.py", "readers/web.py"):
        h.update((here / name).read_bytes())
    try:
        from importlib.metadata import version

        for dist in ("bm25s", "pypdfium2", "python-docx", "trafilatura"):
            h.update(version(dist).encode())
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


def _embed(embedder: Embedder, texts: list[str], what: str, progress: bool,
           context_chars: list[int] | None = None,
           label: str = "") -> tuple[np.ndarray, list[TokenVectors]]:
    """Vectors and word-piece vectors of ``texts``, in batches, with a progress bar (the first
    ``context_chars[i]`` characters of text ``i`` are context: no pieces of their own).

    Texts are embedded longest first, as ``SentenceTransformer.encode`` does: a batch of
    texts of like length pads little (``benchmarks/build_throughput.py``)."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32), []
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    tokens: list[TokenVectors | None] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc=f"embedding {what}{label}", unit=what.split()[-1])
    for k in range(0, len(order), EMBED_BATCH):
        batch = order[k : k + EMBED_BATCH]
        pooled, pieces = embedder.embed_tokens(
            [texts[i] for i in batch], batch_size=EMBED_BATCH,
            context_chars=[context_chars[i] for i in batch] if context_chars is not None else None)
        vectors[batch] = pooled
        for i, p in zip(batch, pieces, strict=True):
            # kept as float16 until stored (as they are stored): half the memory of a build
            tokens[i] = TokenVectors(p.ids, p.vectors.astype(np.float16), p.pieces)
        if bar is not None:
            bar.update(len(batch))
    if bar is not None:
        bar.close()
    return vectors, [t for t in tokens if t is not None]


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


def _check_chunk_size(embedder: Embedder, settings: ChunkSettings) -> None:
    if not isinstance(settings.chunk_tokens, int) or not (
        MIN_CHUNK_TOKENS <= settings.chunk_tokens <= embedder.max_tokens - 16
    ):
        raise InspectQAError(
            f"chunk_tokens={settings.chunk_tokens!r} does not fit the model's window of "
            f"{embedder.max_tokens} tokens: use {MIN_CHUNK_TOKENS} to {embedder.max_tokens - 16}"
        )


def _open_old(index_root: Path, embedder: Embedder,
              settings: ChunkSettings) -> tuple[Index | None, Index | Earlier | None]:
    """``(reusable, readable)``: the existing index when it can be updated in place (same
    model, settings, pipeline), and when it can at least be read (its documents' texts: an
    index of an earlier format too, so that the reports added to it are kept)."""
    try:
        candidate = load_index(index_root)
    except IndexNotFound:
        return None, None
    except IndexIncompatible as exc:
        earlier = read_earlier(index_root)
        log.warning("existing index at %s is of another format (%s): full rebuild%s",
                    index_root, exc, ", keeping its documents" if earlier else "")
        return None, earlier
    except InspectQAError as exc:
        salvaged = salvage_documents(index_root)
        origins = _origins(salvaged)
        added = [i for i, d in origins.items() if d.get("origin") == "added"]
        intact = sum(1 for i in added if i in salvaged.documents)
        unknown = sum(1 for d in origins.values() if d.get("origin") == "unknown")
        log.warning("existing index at %s is unusable (%s): full rebuild%s", index_root, exc,
                    f", keeping {intact} of the {len(added)} reports added to it (those whose "
                    "text is intact)" if added else
                    "; its manifest cannot be read, so the reports it held that are not in "
                    "the folder (added with `inspect-qa add`, or removed) cannot be told apart "
                    "and are not kept: they are listed as lost" if unknown else "")
        return None, salvaged
    if _compatible(candidate.manifest, embedder, settings):
        return candidate, candidate
    log.warning("index at %s was built with another model, settings or pipeline "
                "version: rebuilding it in full", index_root)
    return None, candidate


def _origins(old: Index | Earlier | None) -> dict[str, dict[str, Any]]:
    if old is None:
        return {}
    docs = old.manifest.get("documents", {})
    return {i: d for i, d in docs.items() if isinstance(d, dict)}


def build_index(
    corpus_dir: str | Path,
    index_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    settings: ChunkSettings | None = None,
    progress: bool = False,
    strict: bool = False,
    max_bytes: int | None = None,
    tokens: str | None = None,
    dense: str | None = None,
) -> BuildReport:
    """Build or update the index of ``corpus_dir`` in ``index_dir``.

    The index is made to hold the reports of ``corpus_dir`` (plus any added from elsewhere with
    :func:`add_documents`): files whose bytes are unchanged are not read again and keep their
    chunks and vectors; new and changed files are read and embedded; files gone from the folder
    are dropped. A file that cannot be read is skipped with its reason in the report
    (``strict``: a :class:`CorpusError` before anything is written). Nothing changed: nothing
    is written. The previous index stays loadable whatever happens.

    ``tokens`` says how word pieces are kept: ``"exact"`` (float16), ``"compressed"``
    (:class:`~inspect_qa.stores.TokenCodec`) or ``"auto"`` (exact up to
    :data:`TOKENS_EXACT_CHUNKS` passages; an index once compressed stays so). ``dense`` says
    how vectors are searched: ``"flat"`` (exact), ``"ivf"`` (IVF-PQ candidates, scored
    exactly) or ``"auto"`` (IVF-PQ past :data:`~inspect_qa.stores.FLAT_MAX_ROWS` rows). Not
    given, both are what the existing index was built with (``"auto"`` for a new one), and
    :func:`add_documents` / :func:`remove_documents` keep them.
    """
    if dense not in (None, "auto", "flat", "ivf"):
        raise InspectQAError(f"dense must be auto, flat or ivf, not {dense!r}")
    if tokens not in (None, "auto", "exact", "compressed"):
        raise InspectQAError(f"tokens must be auto, exact or compressed, not {tokens!r}")
    t0 = time.perf_counter()
    index_root = Path(index_dir)
    corpus_root = Path(corpus_dir)
    embedder, settings = resolve_config(index_root, embedder, settings)
    _check_chunk_size(embedder, settings)
    with build_lock(index_root):
        old, readable = _open_old(index_root, embedder, settings)
        tokens = tokens or _setting(readable, "tokens")
        dense = dense or _setting(readable, "dense")
        if old is not None and tokens == "exact" and old.chunk_tokens.compressed:
            old = None  # compressed pieces cannot be made exact again: embed everything anew
        origins = _origins(readable)
        known = {i: str(d.get("file_sha256")) for i, d in origins.items()
                 if old is not None and d.get("file_sha256")
                 and d.get("origin", "corpus") == "corpus"}
        with Spool(index_root) as spool:
            scan = scan_corpus(corpus_root, max_bytes=max_bytes, known=known,
                               progress=progress, keep=spool.keep)
            return _build_from_scan(index_root, corpus_root, scan, old, readable, origins,
                                    embedder, settings, progress, t0, strict, tokens, dense)


def _build_from_scan(index_root: Path, corpus_root: Path, scan: Any, old: Index | None,
                     readable: Index | Earlier | None, origins: dict[str, dict[str, Any]],
                     embedder: Embedder, settings: ChunkSettings, progress: bool, t0: float,
                     strict: bool, tokens: str, dense: str) -> BuildReport:
    """The rest of :func:`build_index`, once the folder is scanned (its new reports spooled)."""
    if strict and scan.skipped:
        raise CorpusError(skipped_message(scan.skipped))
    docs: list[Report] = list(scan.documents)
    if old is not None:
        docs += _indexed(old, scan.unchanged)
    skipped = list(scan.skipped)
    stale: set[str] = set()
    if readable is not None:
        # A file indexed before that cannot be read now keeps its indexed version: a bad
        # download over a good one never loses the report.
        for k, s in enumerate(skipped):
            before = origins.get(s.id, {})
            if s.id in readable.documents and before.get("origin", "corpus") == "corpus":
                docs.append(readable.documents[s.id])
                skipped[k] = Skipped(s.id, f"{s.reason} (the version indexed before is kept)")
                stale.add(s.id)
    in_folder = {d.id for d in docs}
    # Reports added from elsewhere stay, whatever the folder holds (and across a rebuild
    # for another pipeline or model: their text is in the old index).
    kept = tuple(sorted(i for i, d in origins.items()
                        if d.get("origin") == "added" and i not in in_folder
                        and readable is not None and i in readable.documents))
    lost = tuple(sorted(i for i, d in origins.items()
                        if d.get("origin") in ("added", "unknown") and i not in in_folder
                        and i not in kept))
    if readable is not None:
        docs += [readable.documents[i] for i in kept]
    if not docs:
        raise CorpusError(no_documents_message(corpus_root, scan))
    docs.sort(key=lambda d: d.id)
    report = _update(index_root, docs, old, embedder, settings, progress, t0,
                     added_origin=set(kept), skipped=skipped, ignored=scan.ignored,
                     added_from={i: str(origins[i]["added_from"]) for i in kept
                                 if origins[i].get("added_from")},
                     kept=kept, corpus_root=corpus_root, tokens=tokens, dense=dense)
    # a report kept from before is listed as skipped, with its reason, not as unchanged
    unchanged = tuple(i for i in report.unchanged if i not in stale)
    return replace(report, lost=lost, unchanged=unchanged, stale=tuple(sorted(stale)))


class Indexed:
    """A document the index already holds, as a change needs it: id, text hash and metadata
    at hand, its text read from the index only when a rewrite asks for it (adding one report
    to an index of 36,000 read every text: 5.5 of 18 s at a million passages)."""

    def __init__(self, old: Index, doc_id: str):
        info = old.documents.info[doc_id]
        self.id, self.metadata, self.content_hash = doc_id, info.metadata, info.content_hash
        record = old.manifest.get("documents", {}).get(doc_id, {})
        self._chars: int | None = record.get("chars") if isinstance(record, dict) else None
        self._old = old

    @property
    def chars(self) -> int:
        """Its text's length, from the manifest (read from the text when not there)."""
        return int(self._chars) if self._chars is not None else len(self.text)

    def document(self) -> Document:
        return self._old.documents[self.id]

    @property
    def text(self) -> str:
        return self.document().text


def _indexed(old: Index, ids: Iterable[str]) -> list[Indexed]:
    return [Indexed(old, i) for i in ids]


class Spool:
    """The texts of the reports a build reads, kept in a temporary file in the index folder
    until their batch is chunked and embedded: a build holds one batch's texts at a time, not
    the corpus's (about 1 KB a passage: a gigabyte at a million). Removed when the build ends;
    one a killed build left is removed by the next commit."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{SPOOL_PREFIX}{secrets.token_hex(4)}"
        self._fh = self.path.open("w+b")

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)

    def keep(self, doc: Document) -> Spooled:
        data = doc.text.encode("utf-8")
        offset = self._fh.seek(0, 2)
        self._fh.write(data)
        return Spooled(self, doc.id, doc.metadata, hashlib.sha256(data).hexdigest(),
                       len(doc.text), offset, len(data))

    def read(self, offset: int, size: int) -> str:
        self._fh.seek(offset)
        return self._fh.read(size).decode("utf-8")


class Spooled:
    """A report read by this build, its text in the build's :class:`Spool`."""

    def __init__(self, spool: Spool, doc_id: str, metadata: dict[str, Any], content_hash: str,
                 chars: int, offset: int, size: int):
        self.id, self.metadata, self.content_hash, self.chars = (doc_id, metadata, content_hash,
                                                                 chars)
        self._spool, self._at = spool, (offset, size)

    def document(self) -> Document:
        return Document(self.id, self._spool.read(*self._at), self.metadata)

    @property
    def text(self) -> str:
        return self.document().text


#: A report as a build or change handles it: read now, held by the index, or spooled.
Report = Document | Indexed | Spooled


def _document(d: Report) -> Document:
    return d if isinstance(d, Document) else d.document()


def _chars(d: Report) -> int:
    return len(d.text) if isinstance(d, Document) else d.chars


def _update(index_root: Path, docs: Sequence[Report], old: Index | None,
            embedder: Embedder,
            settings: ChunkSettings, progress: bool, t0: float, *, added_origin: set[str],
            skipped: list[Skipped], ignored: dict[str, int], kept: tuple[str, ...] = (),
            corpus_root: Path | None = None, tokens: str = "auto",
            dense: str = "auto", added_from: dict[str, str] | None = None) -> BuildReport:
    """Write the index of ``docs`` (reusing ``old``'s vectors for unchanged ones), or nothing
    when nothing changed."""
    old_hashes = {i: d.content_hash for i, d in old.documents.info.items()} if old else {}
    new_hashes = {d.id: d.content_hash for d in docs}
    added = tuple(i for i in new_hashes if i not in old_hashes and i not in kept)
    removed = tuple(i for i in old_hashes if i not in new_hashes)
    changed = tuple(i for i in new_hashes if i in old_hashes and old_hashes[i] != new_hashes[i])
    unchanged = tuple(i for i in new_hashes if old_hashes.get(i) == new_hashes[i]
                      and i not in kept)
    before = _origins(old)
    origin_changed = old is not None and any(
        (i in added_origin) != (before.get(i, {}).get("origin") == "added")
        # a file re-saved with the same text: its new checksum is recorded
        or (d.metadata.get("file_sha256") or before.get(i, {}).get("file_sha256"))
        != before.get(i, {}).get("file_sha256")
        for i, d in ((d.id, d) for d in docs))
    skips = tuple((s.id, s.reason) for s in skipped)
    other = tuple(sorted(ignored.items()))
    # Another way of keeping vectors or pieces than the index's: everything is rewritten.
    recompress = old is not None and (
        (tokens == "compressed" and not old.chunk_tokens.compressed)
        or dense != _setting(old, "dense"))
    if old is not None and not (added or removed or changed or origin_changed or recompress):
        return BuildReport(str(index_root), unchanged=unchanged, kept=kept, skipped=skips,
                           ignored=other, chunks=int(old.manifest["counts"]["chunks"]),
                           seconds=time.perf_counter() - t0, rebuilt=False)
    corpus_root = corpus_root or _corpus_root(old)
    by_id = {d.id: d for d in docs}
    entries: list[dict[str, Any]] = []
    embedded = 0
    written: dict[str, tuple[str, int, int]] = {}
    if old is not None and not recompress:
        # Incremental: the new and changed reports make one new segment; the changed and
        # removed ones are marked deleted in the segments that held them.
        fresh = [_document(by_id[i]) for i in sorted(set(added) | set(changed))]
        gone = set(removed) | set(changed)
        before = old.manifest["documents"]
        entries = [dict(e, deleted=sorted(set(e.get("deleted", [])) | {
            i for i in gone if before.get(i, {}).get("segment") == e["name"]}))
            for e in old.manifest["segments"]]
        live_old = sum(int(before[i]["chunks"]) for i in unchanged if i in before) + sum(
            int(before[i]["chunks"]) for i in kept if i in before)
        if fresh:
            segment = _write_docs(index_root, fresh, old, set(), embedder, settings, progress,
                                  tokens, dense, live_old, exact_only=True)
            if segment is None:  # the index grew past exact word pieces: rewrite it whole
                entries = []
            else:
                entries.append(segment.entry)
                embedded, written = segment.embedded, segment.counts
    full = not entries
    if full:
        # The whole index, a segment per batch of about BUILD_SEGMENT_CHARS characters: a
        # build holds one batch's embeddings at a time, whatever the corpus's size.
        batches = _batches(docs)
        if len(batches) > 1 and tokens == "auto":
            tokens = "compressed"  # millions of characters: far past TOKENS_EXACT_CHUNKS
        codec: TokenCodec | None = None
        for number, batch in enumerate(batches, 1):
            label = f" (batch {number} of {len(batches)})" if len(batches) > 1 else ""
            segment = _write_docs(index_root, [_document(d) for d in batch], old,
                                  set(unchanged) | set(kept), embedder,
                                  settings, progress, tokens, dense,
                                  sum(int(e["chunks"]) for e in entries), codec=codec,
                                  label=label)
            assert segment is not None
            codec = segment.codec
            entries.append(segment.entry)
            embedded += segment.embedded
            written.update(segment.counts)
    entries = [e for e in entries if len(e.get("deleted", [])) < int(e["documents"])]
    seconds = time.perf_counter() - t0
    manifest = _manifest(docs, old, entries, written, embedder, settings, seconds, added_origin,
                         corpus_root, tokens, dense, added_from or {})
    commit(index_root, manifest)
    merged = 0
    if full and len(entries) > 1:
        # A build's batches are merged at once, into segments of up to LARGE_SEGMENT_CHUNKS
        # passages: a search visits fewer segments, and no batch waits for its tier to fill.
        for group in _runs(entries, {e["name"]: int(e["chunks"]) for e in entries},
                           LARGE_SEGMENT_CHUNKS):
            if len(group) > 1:
                _merge(index_root, group)
                merged += len(group)
    merged += _merge_policy(index_root)
    return BuildReport(str(index_root), added=added, changed=changed, removed=removed,
                       unchanged=unchanged, kept=kept, skipped=skips, ignored=other,
                       chunks=manifest["counts"]["chunks"], embedded_chunks=embedded,
                       seconds=time.perf_counter() - t0, merged=merged,
                       empty=tuple(i for i in (*added, *changed)
                                   if not manifest["documents"][i]["chunks"]))


#: A full build writes a segment per this many characters of text (about 3,000 passages): its
#: peak memory is one batch's embeddings, not the corpus's.
BUILD_SEGMENT_CHARS = 3_000_000
#: Segments are not merged (by the policy) into one of more passages than this: a merge holds
#: its passages in memory, and a search visits each segment's IVF cells in turn.
MAX_MERGE_CHUNKS = 65_536
#: Segments of one size tier (passages, in powers of this) are merged once there are this
#: many, as a log-structured merge: a passage is rewritten about log(n) times in all.
MERGE_FACTOR = 4
#: A build merges its batches, and ``optimize`` an index's segments, into segments of up to
#: this many passages (about 1.5 million sentences): larger segments search faster, since a
#: large store's searcher reads a smaller share of its rows
#: (:func:`~inspect_qa.stores.ann_visits`), but training the searcher of one takes minutes,
#: which the automatic policy does not spend in the middle of an add. A merge of one held
#: 2.7 GB at most (docs/benchmarks.md).
LARGE_SEGMENT_CHUNKS = 4 * MAX_MERGE_CHUNKS


def _runs(entries: Sequence[dict[str, Any]], live: dict[str, int], limit: int) -> list[list[str]]:
    """The segments ``entries`` in order, in runs of at most ``limit`` live passages (a
    segment larger than that alone)."""
    runs: list[list[str]] = []
    size = 0
    for e in entries:
        if not runs or size + live[e["name"]] > limit:
            runs.append([])
            size = 0
        runs[-1].append(e["name"])
        size += live[e["name"]]
    return runs


def _batches(docs: Sequence[Report]) -> list[list[Report]]:
    """``docs`` in order, in runs of about :data:`BUILD_SEGMENT_CHARS` characters."""
    batches: list[list[Report]] = [[]]
    size = 0
    for d in docs:
        chars = _chars(d)
        if batches[-1] and size + chars > BUILD_SEGMENT_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(d)
        size += chars
    return batches


def _segment_chunks(manifest: dict[str, Any]) -> dict[str, int]:
    """Live passages of each segment of a commit."""
    live = {e["name"]: 0 for e in manifest["segments"]}
    for d in manifest["documents"].values():
        live[d["segment"]] = live.get(d["segment"], 0) + int(d["chunks"])
    return live


def _merge_policy(index_root: Path) -> int:
    """Merge segments as the automatic policy says; returns how many were merged.

    A segment of which more than half the passages are deleted is rewritten alone; then,
    whenever :data:`MERGE_FACTOR` segments share a size tier (``floor(log4(passages))``),
    they are merged into one, unless that one would hold more than
    :data:`MAX_MERGE_CHUNKS` passages."""
    merged = 0
    while True:
        manifest = read_manifest(index_root)
        live = _segment_chunks(manifest)
        pick: list[str] = []
        for e in manifest["segments"]:
            if e.get("deleted") and live[e["name"]] * 2 < int(e["chunks"]):
                pick = [e["name"]]
                break
        if not pick:
            tiers: dict[int, list[str]] = {}
            for e in manifest["segments"]:
                tiers.setdefault(int(math.log(max(live[e["name"]], 1), MERGE_FACTOR)),
                                 []).append(e["name"])
            pick = next((names for _, names in sorted(tiers.items())
                         if len(names) >= MERGE_FACTOR
                         and sum(live[n] for n in names) <= MAX_MERGE_CHUNKS), [])
        if not pick:
            return merged
        _merge(index_root, pick)
        merged += len(pick)


def _merge(index_root: Path, names: list[str]) -> None:
    """Rewrite the segments ``names`` as one, without their deleted documents, array by array
    (:func:`~inspect_qa.storage.merge_segments`: nothing embedded or tokenized again), and
    commit it in their place."""
    manifest = read_manifest(index_root)
    chosen = set(names)
    picked = [k for k, e in enumerate(manifest["segments"]) if e["name"] in chosen]
    entries = [e for e in manifest["segments"] if e["name"] not in chosen]
    ids = [i for i, d in manifest["documents"].items() if d["segment"] in chosen]
    if ids:
        # only the segments merged are read: merging small ones costs what they hold
        segments = load_segments(index_root, manifest,
                                 [manifest["segments"][k]["name"] for k in picked])
        dense = str(manifest.get("dense", {}).get("setting") or "auto")
        entry = merge_segments(index_root, segments,
                               [set(manifest["segments"][k].get("deleted", [])) for k in picked],
                               dense)
        entries.insert(min(picked[0], len(entries)), entry)
        for i in ids:
            manifest["documents"][i]["segment"] = entry["name"]
    manifest["segments"] = entries
    manifest["built_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    manifest["counts"].update(segments=len(entries), deleted_documents=sum(
        len(e.get("deleted", [])) for e in entries))
    manifest["tokens"].update(
        chunk_pieces=sum(int(e["chunk_pieces"]) for e in entries),
        sentence_pieces=sum(int(e["sentence_pieces"]) for e in entries))
    commit(index_root, manifest)


def optimize(index_dir: str | Path, *, embedder: Embedder | None = None,
             progress: bool = False) -> BuildReport:
    """Merge the segments of the index at ``index_dir``, in order, into as few as hold up to
    :data:`LARGE_SEGMENT_CHUNKS` passages each (one, below a quarter of a million passages),
    dropping its deleted documents for good (nothing is embedded again). A segment left alone
    without deletions is not rewritten.

    Raises:
        IndexNotFound: no index there.
        IndexIncompatible: built by another version of the pipeline or model.
    """
    t0 = time.perf_counter()
    index_root = Path(index_dir)
    embedder, settings = resolve_config(index_root, embedder, None)
    with build_lock(index_root):
        old = _load_for_change(index_root, embedder, settings)
        entries = old.manifest["segments"]
        deleted = {e["name"] for e in entries if e.get("deleted")}
        runs = [r for r in _runs(entries, _segment_chunks(old.manifest), LARGE_SEGMENT_CHUNKS)
                if len(r) > 1 or deleted.intersection(r)]
        unchanged = tuple(sorted(old.documents))
        chunks = int(old.manifest["counts"]["chunks"])
        del old  # a merge reads only the segments it merges
        merged = 0
        bar = None
        if progress and len(runs) > 1:  # minutes each at a million passages
            from tqdm.auto import tqdm

            bar = tqdm(total=sum(map(len, runs)), desc="merging", unit="segment")
        for run in runs:
            _merge(index_root, run)
            merged += len(run)
            if bar is not None:
                bar.update(len(run))
        if bar is not None:
            bar.close()
        return BuildReport(str(index_root), unchanged=unchanged, chunks=chunks,
                           seconds=time.perf_counter() - t0, rebuilt=bool(merged),
                           merged=merged)


def _setting(index: Index | Earlier | None, what: str) -> str:
    """How ``index`` keeps its word pieces (``what="tokens"``) or searches its vectors
    (``"dense"``), as it was asked for when built; ``"auto"`` for no index."""
    value = index.manifest.get(what, {}).get("setting") if index is not None else None
    return str(value) if value else "auto"


def _corpus_root(old: Index | None) -> Path | None:
    root = old.manifest.get("corpus") if old is not None else None
    return Path(root) if isinstance(root, str) else None


def _load_for_change(index_root: Path, embedder: Embedder, settings: ChunkSettings) -> Index:
    """The index to add to or remove from: it must exist and match the pipeline and model."""
    old = load_index(index_root)
    if not _compatible(old.manifest, embedder, settings):
        raise IndexIncompatible(
            f"index {str(index_root)!r} was built by another version of the pipeline or "
            f"model; rebuild it with `inspect-qa index CORPUS --out {index_root}` first")
    return old


def add_documents(
    index_dir: str | Path,
    files: list[str | Path],
    *,
    embedder: Embedder | None = None,
    progress: bool = False,
    strict: bool = False,
    max_bytes: int | None = None,
) -> BuildReport:
    """Add (or update) the reports ``files`` in the existing index at ``index_dir``.

    A file inside the index's corpus folder gets the id it has there (its path relative to the
    folder); any other file is known by its name. Files that cannot be read are skipped with
    the reason (``strict``: nothing is written and :class:`CorpusError` names them).

    Raises:
        IndexNotFound: no index there (build one with ``inspect-qa index``).
        CorpusError: two files would get the same id, or nothing could be read.
    """
    t0 = time.perf_counter()
    index_root = Path(index_dir)
    embedder, settings = resolve_config(index_root, embedder, None)
    with build_lock(index_root):
        old = _load_for_change(index_root, embedder, settings)
        root = _corpus_root(old)
        origins = _origins(old)
        new_docs: dict[str, Document] = {}
        skipped: list[Skipped] = []
        from_corpus: set[str] = set()
        added_from: dict[str, str] = {}
        listed: Any = files
        if progress and len(files) > 1:
            from tqdm.auto import tqdm

            listed = tqdm(files, desc="reading", unit="file")
        for f in listed:
            path = Path(f)
            absolute = path.resolve() if path.exists() else path.absolute()
            inside = root is not None and absolute.is_relative_to(root.resolve())
            doc_id = absolute.relative_to(root.resolve()).as_posix() if inside and root else path.name
            # A hidden file inside the folder is not part of it (`index` passes it over).
            in_folder = inside and not any(p.startswith(".") for p in doc_id.split("/"))
            if not in_folder and origins.get(doc_id, {}).get("origin", "corpus") == "corpus" \
                    and doc_id in old.documents:
                raise CorpusError(
                    f"the index already holds {doc_id!r} from its corpus folder; rename "
                    f"{str(path)!r} before adding it, or put it in the corpus folder")
            source = origins.get(doc_id, {}).get("added_from")
            if not in_folder and source and source != str(absolute):
                raise CorpusError(
                    f"the index already holds {doc_id!r}, added from {source!r}; rename "
                    f"{str(path)!r} before adding it, or drop the other first (`inspect-qa "
                    f"remove {doc_id}`)")
            if doc_id in new_docs:
                raise CorpusError(f"two files would both be known as {doc_id!r}; add them one "
                                  "at a time, or rename one")
            try:
                if path.is_dir():
                    raise UnreadableDocument(f"{doc_id}: a folder (use `inspect-qa index "
                                             "FOLDER` to index a folder)")
                new_docs[doc_id] = read_document(path, doc_id, max_bytes=max_bytes)
                if in_folder:
                    from_corpus.add(doc_id)
                else:
                    added_from[doc_id] = str(absolute)
            except UnreadableDocument as exc:
                skipped.append(Skipped(doc_id, str(exc).removeprefix(f"{doc_id}: ")))
        if strict and skipped:
            raise CorpusError(skipped_message(skipped))
        if not new_docs:
            raise CorpusError("nothing to add: " + "; ".join(f"{s.id}: {s.reason}"
                                                              for s in skipped))
        docs: list[Report] = [
            *_indexed(old, (i for i in old.documents if i not in new_docs)), *new_docs.values()]
        docs.sort(key=lambda d: d.id)
        added_origin = {i for i, d in origins.items() if d.get("origin") == "added"}
        added_origin |= set(new_docs) - from_corpus
        added_origin -= from_corpus
        return _update(index_root, docs, old, embedder, settings, progress, t0,
                       added_origin=added_origin, skipped=skipped, ignored={},
                       tokens=_setting(old, "tokens"), dense=_setting(old, "dense"),
                       added_from=added_from)


def remove_documents(
    index_dir: str | Path,
    doc_ids: list[str],
    *,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> BuildReport:
    """Drop the documents ``doc_ids`` from the index at ``index_dir``.

    Raises:
        IndexNotFound: no index there.
        CorpusError: an id the index does not hold (the message lists close ones), or removing
            every document (delete the index folder instead).
    """
    import difflib

    t0 = time.perf_counter()
    index_root = Path(index_dir)
    embedder, settings = resolve_config(index_root, embedder, None)
    with build_lock(index_root):
        old = _load_for_change(index_root, embedder, settings)
        unknown = [i for i in doc_ids if i not in old.documents]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(old.documents), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else (
                "; `inspect-qa info` lists the documents")
            raise CorpusError(f"the index holds no document {unknown[0]!r}{hint}")
        gone = set(doc_ids)
        docs = _indexed(old, sorted(i for i in old.documents if i not in gone))
        if not docs:
            raise CorpusError("that would remove every document; delete the index folder "
                              f"{str(index_root)!r} instead")
        added_origin = {i for i, d in _origins(old).items() if d.get("origin") == "added"}
        return _update(index_root, docs, old, embedder, settings, progress, t0,
                       added_origin=added_origin & {d.id for d in docs}, skipped=[], ignored={},
                       tokens=_setting(old, "tokens"), dense=_setting(old, "dense"))


@dataclass(frozen=True)
class Written:
    """A segment written by :func:`_write_docs`: its commit entry, and how many passages were
    embedded for it."""

    entry: dict[str, Any]
    embedded: int
    #: Each document's segment, passages and sentences.
    counts: dict[str, tuple[str, int, int]]
    #: How its word pieces are compressed (``None``: exact).
    codec: TokenCodec | None = None


def _write_docs(index_root: Path, docs: list[Document], old: Index | None,
                reuse: set[str], embedder: Embedder, settings: ChunkSettings, progress: bool,
                tokens: str, dense: str, base_chunks: int, *,
                exact_only: bool = False, codec: TokenCodec | None = None,
                label: str = "") -> Written | None:
    """Write one segment holding ``docs``: those in ``reuse`` copied from ``old`` (vectors
    and word pieces as stored), the others chunked and embedded. ``base_chunks`` passages
    are in the index beside it (word pieces are compressed past
    :data:`TOKENS_EXACT_CHUNKS` in all). ``exact_only``: return ``None``, writing nothing,
    rather than compress the pieces of an index whose pieces are exact (the whole index must
    then be rewritten). ``codec``: compress word pieces with it (the codec of the segments
    written before in the same build) rather than choose."""
    reuse = reuse if old is not None else set()
    old_rows = old.rows_of(reuse) if old is not None and reuse else {}
    chunks: list[Chunk] = []
    chunk_vecs: list[np.ndarray] = []
    sentences: list[SentenceRef] = []
    sent_vecs: list[np.ndarray] = []
    # The pieces of each run of documents, in order: old rows reused, or new texts embedded.
    runs: list[tuple[str, Any]] = []
    new_chunk_texts: list[str] = []
    new_sentence_texts: list[str] = []
    new_sentence_context: list[int] = []
    dim = embedder.dimension
    for doc in docs:
        if doc.id in reuse and old is not None:
            rows = old_rows.get(doc.id, np.zeros(0, np.int64))
            for row in rows.tolist():
                chunk_row = len(chunks)
                chunks.append(old.chunks[row])
                first, last = old.sentences.range_of(row)
                for j in range(first, last):
                    sentences.append(replace(old.sentences[j], chunk=chunk_row))
                chunk_vecs.append(np.asarray(old.chunk_vectors[row : row + 1], np.float32))
                sent_vecs.append(np.asarray(old.sentence_vectors[first:last], np.float32))
            srows = (np.concatenate([np.arange(*old.sentences.range_of(r)) for r in rows.tolist()])
                     if len(rows) else np.zeros(0, np.int64))
            runs.append(("old", (rows, srows)))
            continue
        headings = table_headings(doc.text)
        n_chunks, n_sentences = len(new_chunk_texts), len(new_sentence_texts)
        for c in make_chunks(doc, embedder.count_tokens, settings):
            chunk_row = len(chunks)
            chunks.append(c)
            chunk_vecs.append(np.zeros((1, dim), np.float32))
            new_chunk_texts.append(context_text(c, doc, embedder.count_tokens, embedder.max_tokens))
            for a, b in c.sentences:
                ref = SentenceRef(chunk_row, a, b, headings.get(a))
                # A table row is read with its column headings ("April 2015 109 /17" means
                # nothing without "Social workers Perm/agency"), when both fit the window.
                if ref.context and embedder.count_tokens(ref.read_text(doc.text)) > embedder.max_tokens:
                    ref = replace(ref, context=None)
                sentences.append(ref)
                sent_vecs.append(np.zeros((1, dim), np.float32))
                # A sentence alone is ambiguous ("This was the first visit"): embed it with
                # the header of its report and section. The header is context only for its
                # word pieces: repeated in every sentence of a section, its own pieces would
                # match a question's words equally everywhere (gold set, hit@1 0.857 with
                # them, 0.889 without). A table row's headings are its own pieces.
                own = ref.read_text(doc.text)
                full = with_header(own, doc, c.section, embedder.count_tokens,
                                   embedder.max_tokens)
                new_sentence_texts.append(full)
                new_sentence_context.append(len(full) - len(own))
        runs.append(("new", (n_chunks, len(new_chunk_texts), n_sentences,
                             len(new_sentence_texts))))

    if not chunks and not base_chunks:
        raise CorpusError(
            f"no passage of at least {settings.min_words} words in {len(docs)} document(s): "
            "add reports with running text (headings, addresses and dates alone are not indexed)"
        )
    if (exact_only and (old is None or old.chunk_tokens.codec is None) and tokens == "auto"
            and base_chunks + len(chunks) > TOKENS_EXACT_CHUNKS):
        return None
    fresh_chunks, fresh_chunk_toks = _embed(embedder, new_chunk_texts, "chunks", progress,
                                            label=label)
    fresh_sents, fresh_sent_toks = _embed(embedder, new_sentence_texts, "sentences", progress,
                                          new_sentence_context, label=label)
    chunk_matrix = np.concatenate(chunk_vecs) if chunk_vecs else np.zeros((0, dim), np.float32)
    sent_matrix = np.concatenate(sent_vecs) if sent_vecs else np.zeros((0, dim), np.float32)
    # The embedded rows take their places, in order.
    new_chunk_rows = [i for i, c in enumerate(chunks) if _is_new(c, reuse)]
    chunk_matrix[new_chunk_rows] = fresh_chunks
    new_sentence_rows = [j for j, s in enumerate(sentences) if _is_new(chunks[s.chunk], reuse)]
    sent_matrix[new_sentence_rows] = fresh_sents

    codec = codec or _token_codec(old, base_chunks + len(chunks), tokens,
                         fresh_chunk_toks + fresh_sent_toks)
    chunk_parts, sentence_parts = [], []
    for kind, value in runs:
        if kind == "old" and old is not None:
            rows, srows = value
            chunk_parts.append(_stored(old.chunk_tokens.take(rows), codec, dim))
            sentence_parts.append(_stored(old.sentence_tokens.take(srows), codec, dim))
        else:
            c0, c1, s0, s1 = value
            chunk_parts.append(TokenStore.build(fresh_chunk_toks[c0:c1], dim, codec))
            sentence_parts.append(TokenStore.build(fresh_sent_toks[s0:s1], dim, codec))
    chunk_tokens = TokenStore.concat(chunk_parts)
    sentence_tokens = TokenStore.concat(sentence_parts)

    by_id = {d.id: d for d in docs}
    tok = LexicalTokenizer()
    lexical = Postings.build([tok(context_text(c, by_id[c.doc_id], embedder.count_tokens,
                                               embedder.max_tokens)) for c in chunks])
    sentence_lexical = Postings.build(
        [tok(s.read_text(by_id[chunks[s.chunk].doc_id].text)) for s in sentences])
    entry = write_segment(index_root, docs, chunks, chunk_matrix, sentences, sent_matrix,
                          lexical, sentence_lexical, chunk_tokens, sentence_tokens, dense)
    entry.update({"sentences": len(sentences), "chunk_pieces": len(chunk_tokens.ids),
                  "sentence_pieces": len(sentence_tokens.ids),
                  "tokens": token_storage(codec)})
    per_doc: dict[str, list[int]] = {d.id: [0, 0] for d in docs}
    for c in chunks:
        per_doc[c.doc_id][0] += 1
    for ref in sentences:
        per_doc[chunks[ref.chunk].doc_id][1] += 1
    return Written(entry, len(new_chunk_texts),
                   {i: (entry["name"], n, m) for i, (n, m) in per_doc.items()}, codec)


def _is_new(chunk: Chunk, reuse: set[str]) -> bool:
    return chunk.doc_id not in reuse


def _stored(store: TokenStore, codec: TokenCodec | None, dim: int) -> TokenStore:
    """``store``'s rows as the new index keeps them: as they are, or compressed now (an exact
    index that grew past the size where pieces are compressed)."""
    if codec is None or store.codec is codec:
        return store
    rows = [store.row(i) for i in range(len(store))]
    return TokenStore.build(rows, dim, codec)


def _token_codec(old: Index | None, chunks: int, tokens: str,
                 fresh: list[TokenVectors]) -> TokenCodec | None:
    """How word pieces are kept: the old index's codec (codes stay comparable), none (exact
    float16), or one trained now on the pieces at hand."""
    if old is not None and old.chunk_tokens.codec is not None:
        return old.chunk_tokens.codec
    if tokens == "exact" or (tokens == "auto" and chunks <= TOKENS_EXACT_CHUNKS):
        return None
    pool: list[np.ndarray] = [t.vectors for t in fresh]
    if old is not None:  # an exact index growing past the limit: its pieces count too
        pool.append(old.chunk_tokens.first_vectors(TOKEN_TRAIN_MAX))
    total = sum(len(v) for v in pool)
    if total < TOKEN_TRAIN_MIN:
        if tokens == "compressed":
            raise InspectQAError(f"too few word pieces ({total}) to train their compression: "
                                 f"it needs {TOKEN_TRAIN_MIN}; build with tokens='exact'")
        return None
    rng = np.random.default_rng(0)
    order = rng.permutation(len(pool))
    sample, n = [], 0
    for i in order:  # whole texts at random until the sample is full
        sample.append(pool[i])
        n += len(pool[i])
        if n >= TOKEN_TRAIN_MAX:
            break
    return TokenCodec.train(np.concatenate(sample))


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("sentence-transformers", "torch", "faiss-cpu", "bm25s",
                 "langchain-text-splitters", "numpy"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def _manifest(docs: Sequence[Report], old: Index | None, entries: list[dict[str, Any]],
              written: dict[str, tuple[str, int, int]], embedder: Embedder, settings: ChunkSettings,
              seconds: float, added_origin: set[str], corpus_root: Path | None, tokens: str,
              dense: str, added_from: dict[str, str]) -> dict[str, Any]:
    """The commit of ``docs``, held by the segments ``entries``; ``written`` gives the
    segment, passage and sentence counts of each document written now (the others keep
    theirs)."""
    before = old.manifest["documents"] if old is not None else {}
    documents: dict[str, Any] = {}
    for d in docs:
        if d.id in written:
            segment, chunks, sentences = written[d.id]
            chars = _chars(d)
            record = {"content_hash": d.content_hash, "chars": chars, "chunks": chunks,
                      "sentences": sentences, "segment": segment}
        else:
            record = {k: before[d.id][k]
                      for k in ("content_hash", "chars", "chunks", "sentences", "segment")}
        documents[d.id] = {**record, "metadata": d.metadata,
                           "file_sha256": d.metadata.get("file_sha256"),
                           "origin": "added" if d.id in added_origin else "corpus"}
        source = added_from.get(d.id) or before.get(d.id, {}).get("added_from")
        if d.id in added_origin and source:  # which file: another of the same name is refused
            documents[d.id]["added_from"] = source
    live = {e["name"]: e for e in entries}
    chunk_count = sum(int(d["chunks"]) for d in documents.values())
    sentence_count = sum(int(d["sentences"]) for d in documents.values())
    kinds = {(e["dense"]["passages"], e["dense"]["sentences"]) for e in entries}
    storage = {e["tokens"] for e in entries}
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
        "lexical": {"library": "inspect_qa.lexical (postings, statistics of all segments)",
                    **BM25_PARAMS, "stemmer": "snowball-english", "stopwords": "bm25s-en"},
        "libraries": _library_versions(),
        "corpus": str(corpus_root.resolve()) if corpus_root is not None else None,
        "tokens": {
            "use": "late-interaction re-ranking (MaxSim)",
            "setting": tokens,
            "storage": "exact" if storage == {"float16"} else "compressed",
            "dtype": " / ".join(sorted(storage)),
            "chunk_pieces": sum(int(e["chunk_pieces"]) for e in entries),
            "sentence_pieces": sum(int(e["sentence_pieces"]) for e in entries)},
        "dense": {"library": "faiss", "metric": "inner_product", "setting": dense,
                  "passages": "/".join(sorted({k[0] for k in kinds})),
                  "sentences": "/".join(sorted({k[1] for k in kinds})),
                  "flat_max_rows": FLAT_MAX_ROWS, "nprobe": ANN_NPROBE,
                  "vectors": "float16, scored exactly"},
        "counts": {"documents": len(docs), "chunks": chunk_count, "sentences": sentence_count,
                   "segments": len(entries),
                   "deleted_documents": sum(len(e.get("deleted", [])) for e in entries)},
        "segments": [live[n] for n in live],
        "documents": documents,
    }

