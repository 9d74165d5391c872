"""A build's embedding throughput against a bare ``SentenceTransformer.encode``, and the rest.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/build_throughput.py [--corpus seeds]
        [--copies 1] [--threads N] [--json benchmarks/out/build_throughput.json]

Builds the index of ``--corpus`` (``--copies`` renamed copies of each report, to make it
longer) with the bundled model into a temporary folder, timing every call to the embedder
(``embed_tokens``: pooled vectors and word-piece vectors from one pass). Then encodes the very
texts the build embedded with a bare ``SentenceTransformer.encode`` at batch sizes 16, 32, 64
and 128, and takes the best. Prints: build seconds, embedding seconds and texts a second, the
bare encode's, their ratio, and the share of the build that is not embedding (reading,
chunking, BM25, compression, writing). The model is loaded before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class Timed:
    """An embedder that remembers what it embedded and for how long."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.seconds = 0.0
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_tokens(self, texts: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = self.inner.embed_tokens(texts, **kwargs)
        self.seconds += time.perf_counter() - t0
        self.texts.extend(texts)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "seeds")
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    from inspect_qa import build_index
    from inspect_qa.embedding import load_embedder

    if args.threads:
        torch.set_num_threads(args.threads)
    embedder = load_embedder("bundled:all-MiniLM-L6-v2")
    model = embedder._load()  # the model loaded before any clock starts
    embedder.embed_tokens(["warm up"])
    work = Path(tempfile.mkdtemp(prefix="throughput-"))
    try:
        corpus = work / "corpus"
        corpus.mkdir()
        for k in range(args.copies):
            for p in sorted(args.corpus.glob("*.txt")):
                shutil.copy(p, corpus / f"{k:03d}_{p.name}")
        timed = Timed(embedder)
        t0 = time.perf_counter()
        rep = build_index(corpus, work / "index", embedder=timed)  # type: ignore[arg-type]
        build = time.perf_counter() - t0
        bare = {}
        for batch in (16, 32, 64, 128):
            t0 = time.perf_counter()
            model.encode(timed.texts, batch_size=batch, normalize_embeddings=True,
                         convert_to_numpy=True)
            bare[batch] = time.perf_counter() - t0
        best = min(bare, key=lambda b: bare[b])
        n = len(timed.texts)
        out = {
            "passages": rep.chunks, "texts_embedded": n, "build_s": round(build, 2),
            "embedding_s": round(timed.seconds, 2),
            "embedding_texts_per_s": round(n / timed.seconds, 1),
            "bare_encode_s": {b: round(v, 2) for b, v in bare.items()},
            "bare_best_batch": best, "bare_texts_per_s": round(n / bare[best], 1),
            "embedding_vs_bare": round(timed.seconds / bare[best], 3),
            "not_embedding_share_of_build": round(1 - timed.seconds / build, 3),
            "threads": torch.get_num_threads(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
