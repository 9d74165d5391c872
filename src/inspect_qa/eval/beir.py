"""BEIR-layout datasets: loading, cached document embeddings, dense/lexical score matrices.

A BEIR dataset is a folder with ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``, one header
line). Each corpus document is one retrieval unit, embedded as ``title + " " + text`` the way MTEB
does; the model reads its first 256 word pieces and ignores the rest, which is also how MTEB's
published figure for all-MiniLM-L6-v2 was computed. That path does not go through the chunking
index: it measures the retrieval methods, not the chunker.

Vectors are cached under an index directory as ``.npy`` files with a JSON manifest (model
fingerprint, checksum of the embedded texts, checksum of each file), so a second run skips the
embedding and a changed model or corpus is never served stale vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GoldSetError
from ..storage import sha256_file

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
BM25_SETTINGS: dict[str, Any] = {"method": "lucene", "k1": 1.5, "b": 0.75}
#: Lexical tokenisers tried: bm25s's own (``\w\w+``, English stopwords, Snowball stemmer), as in
#: the bm25s benchmark, and inspect-qa's ``LexicalTokenizer`` (numbers and 1-letter words kept).
TOKENIZERS = ("bm25s", "inspect-qa")


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset in memory. ``qrels[split][query_id][doc_id]`` is the graded relevance."""

    name: str
    path: Path
    doc_ids: tuple[str, ...]
    doc_texts: tuple[str, ...]
    query_ids: tuple[str, ...]
    query_texts: tuple[str, ...]
    qrels: dict[str, dict[str, dict[str, int]]]

    def split_rows(self, split: str) -> list[int]:
        """Rows of ``query_ids`` that have judgments in ``split``."""
        judged = self.qrels[split]
        return [i for i, q in enumerate(self.query_ids) if q in judged]


def _read_jsonl(path: Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise GoldSetError(f"{path}: missing; a BEIR folder holds corpus.jsonl, queries.jsonl "
                           "and qrels/test.tsv")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GoldSetError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            missing = [f for f in fields if not isinstance(row.get(f), str)]
            if missing:
                raise GoldSetError(f"{path}:{n}: field(s) {missing} missing or not text")
            rows.append(row)
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id → corpus-id → score`` from a BEIR qrels TSV (header line, any line ending)."""
    out: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for n, line in enumerate(fh, 1):
            parts = line.rstrip("\r\n").split("\t")
            if n == 1 and parts[:1] == ["query-id"]:
                continue
            if parts == [""]:
                continue
            if len(parts) != 3:
                raise GoldSetError(f"{path}:{n}: expected query-id, corpus-id, score (tabs)")
            try:
                score = int(parts[2])
            except ValueError as exc:
                raise GoldSetError(f"{path}:{n}: score {parts[2]!r} is not a whole number") from exc
            out.setdefault(parts[0], {})[parts[1]] = score
    return out


def load_beir(folder: str | Path) -> BeirDataset:
    """Load a BEIR-layout folder. Raises :class:`GoldSetError` naming the bad file and line."""
    root = Path(folder)
    if not root.is_dir():
        raise GoldSetError(f"{root}: no such BEIR folder (it must hold corpus.jsonl, "
                           "queries.jsonl and qrels/test.tsv)")
    docs = _read_jsonl(root / "corpus.jsonl", ("_id", "text"))
    queries = _read_jsonl(root / "queries.jsonl", ("_id", "text"))
    qrels = {}
    for p in sorted((root / "qrels").glob("*.tsv")):
        qrels[p.stem] = read_qrels(p)
    if "test" not in qrels:
        raise GoldSetError(f"{root / 'qrels' / 'test.tsv'}: missing; it holds the judgments")
    doc_ids = tuple(d["_id"] for d in docs)
    known_docs, known_queries = set(doc_ids), {q["_id"] for q in queries}
    for split, judged in qrels.items():
        for qid, rels in judged.items():
            if qid not in known_queries:
                raise GoldSetError(f"{root / 'qrels' / (split + '.tsv')}: query {qid!r} is not "
                                   "in queries.jsonl")
            unknown = [d for d in rels if d not in known_docs]
            if unknown:
                raise GoldSetError(f"{root / 'qrels' / (split + '.tsv')}: query {qid!r} judges "
                                   f"document(s) {unknown[:3]} not in corpus.jsonl")
    return BeirDataset(
        name=root.resolve().name,
        path=root,
        doc_ids=doc_ids,
        doc_texts=tuple((str(d.get("title") or "") + " " + d["text"]).strip() for d in docs),
        query_ids=tuple(q["_id"] for q in queries),
        query_texts=tuple(q["text"] for q in queries),
        qrels=qrels,
    )


# -- cached embeddings ------------------------------------------------------------------------


def _sha256_texts(texts: tuple[str, ...] | list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def _read_cache_manifest(cache_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((cache_dir / "manifest.json").read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return {"format": CACHE_FORMAT, "sets": {}}
    if data.get("format") != CACHE_FORMAT or not isinstance(data.get("sets"), dict):
        return {"format": CACHE_FORMAT, "sets": {}}
    return data


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def cached_embeddings(embedder: Any, texts: tuple[str, ...] | list[str], cache_dir: Path,
                      name: str, *, batch: int = 256) -> tuple[np.ndarray, bool]:
    """Vectors of ``texts``, from ``cache_dir/<name>.npy`` when still valid, else embedded.

    Returns ``(vectors, from_cache)``. The cache is valid when the model fingerprint, the
    checksum of the texts and the checksum of the file all match the manifest.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest = _read_cache_manifest(cache_dir)
    entry = manifest["sets"].get(name, {})
    path = cache_dir / f"{name}.npy"
    texts_sha = _sha256_texts(texts)
    fingerprint = embedder.fingerprint()
    if (entry.get("fingerprint") == fingerprint and entry.get("texts_sha256") == texts_sha
            and path.is_file() and sha256_file(path) == entry.get("file_sha256")):
        vecs = np.load(path, allow_pickle=False)
        if len(vecs) == len(texts):
            return vecs, True
    log.info("embedding %d %s with %s (cache %s)", len(texts), name, embedder.name, cache_dir)
    t0 = time.perf_counter()
    parts = []
    for i in range(0, len(texts), batch):
        parts.append(embedder.embed(list(texts[i : i + batch]), batch_size=64))
        log.info("embedded %d/%d %s (%.0fs)", min(i + batch, len(texts)), len(texts), name,
                 time.perf_counter() - t0)
    vecs = (np.concatenate(parts) if parts
            else np.zeros((0, embedder.dimension), np.float32)).astype(np.float32)
    def write_npy(p: Path) -> None:
        with p.open("wb") as fh:
            np.save(fh, vecs, allow_pickle=False)

    _write_atomic(path, write_npy)
    manifest["sets"][name] = {
        "count": len(texts),
        "model": embedder.name,
        "fingerprint": fingerprint,
        "max_tokens": embedder.max_tokens,
        "texts_sha256": texts_sha,
        "file_sha256": sha256_file(path),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _write_atomic(cache_dir / "manifest.json",
                  lambda p: p.write_text(json.dumps(manifest, indent=2) + "\n", "utf-8"))
    return vecs, False


# -- score matrices ---------------------------------------------------------------------------


def dense_scores(query_vectors: np.ndarray, doc_vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity (inner product of unit vectors), shape ``(queries, documents)``."""
    return np.asarray(query_vectors @ doc_vectors.T, dtype=np.float32)


def _bm25s_tokens(texts: list[str]) -> list[list[str]]:
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    out = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False,
                         show_progress=False)
    return [list(t) for t in out]


def lexical_scores(doc_texts: tuple[str, ...] | list[str], query_texts: tuple[str, ...] | list[str],
                   tokenizer: str = "bm25s") -> np.ndarray:
    """BM25 (Lucene variant, k1=1.5, b=0.75) scores, shape ``(queries, documents)``.

    ``tokenizer`` is ``"bm25s"`` (as the bm25s benchmark) or ``"inspect-qa"`` (the seed index's
    :class:`~inspect_qa.lexical.LexicalTokenizer`).
    """
    import bm25s

    if tokenizer == "bm25s":
        docs, queries = _bm25s_tokens(list(doc_texts)), _bm25s_tokens(list(query_texts))
    elif tokenizer == "inspect-qa":
        from ..lexical import LexicalTokenizer

        tok = LexicalTokenizer()
        docs, queries = [tok(t) for t in doc_texts], [tok(t) for t in query_texts]
    else:
        raise ValueError(f"unknown tokenizer {tokenizer!r}: use one of {TOKENIZERS}")
    bm25 = bm25s.BM25(**BM25_SETTINGS)
    bm25.index([d or [""] for d in docs], show_progress=False)
    vocab = bm25.vocab_dict
    out = np.zeros((len(queries), len(docs)), dtype=np.float32)
    for i, q in enumerate(queries):
        known = [t for t in q if t in vocab]
        if known:
            out[i] = bm25.get_scores(known)
    return out


def run_from_scores(scores: np.ndarray, query_ids: list[str], doc_ids: tuple[str, ...],
                    depth: int = 100) -> dict[str, dict[str, float]]:
    """The ``depth`` best documents of each row, as ``{query_id: {doc_id: score}}``.

    Rows are given in ``query_ids`` order; ``-inf`` (not a candidate) is never included.
    """
    depth = min(depth, scores.shape[1])
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    run: dict[str, dict[str, float]] = {}
    for row, qid in enumerate(query_ids):
        cols = top[row]
        vals = scores[row, cols]
        run[qid] = {doc_ids[c]: float(v) for c, v in zip(cols, vals, strict=True)
                    if np.isfinite(v)}
    return run


def count_truncated(embedder: Any, texts: tuple[str, ...] | list[str]) -> int:
    """How many texts are longer than the model's window (the model reads only the start)."""
    limit = embedder.max_tokens
    # The tokenizer warns about every over-long text; counting them is the point here.
    quiet = logging.getLogger("transformers.tokenization_utils_base")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return sum(1 for t in texts if embedder.count_tokens(t) > limit)
    finally:
        quiet.setLevel(level)
