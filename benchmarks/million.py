"""A million-passage index without embedding a million passages: replicate a built index.

    # once: a 100,000-passage index built through the whole pipeline, kept
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale.py --sizes 100000 --keep \
        --work /tmp/scale1m --threads 1
    # then: ten copies of its segments, vectors perturbed, measured as scale.py measures
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/million.py \
        --base /tmp/scale1m/size_100000/index --copies 10 --out /tmp/scale1m/million \
        --threads 1 --json benchmarks/out/million.json

Embedding a million passages takes days on two cores with the real model, and building them
through the pipeline with the model-free ``HashingEmbedder`` about two hours here. The issue
allows vectors "from real ones perturbed": this script makes copy ``r`` (``r`` = 0 .. copies-1)
of every segment of ``--base``, as its own segment of the new index:

- documents renamed ``r<r>/<id>`` (copy 0 keeps the names) and passage ids re-hashed, so every
  document and passage is distinct;
- passage and sentence vectors perturbed (copy 0 kept as built): ``v + e``, ``e`` Gaussian of
  expected norm ``--noise``, then made unit again (the cosine of a copy to its original is
  about ``1/sqrt(1 + noise^2)``: 0.89 at the default 0.5), so that copies are near but never
  equal, the hard case for approximate search (a collection's boilerplate paragraphs);
- each large segment's IVF-PQ searchers trained and filled again from its new vectors, as a
  build would;
- texts, BM25 postings and word pieces copied as they are (the same words: a copy's BM25 and
  late-interaction scores equal its original's);
- every file checksummed into a new ``segment.json``; one commit (``storage.commit``) names
  them all.

The copy is then measured by ``scale.py``'s own children, each in a fresh interpreter: load
seconds and RSS, search and answer p50/p95 (query encoding excluded), adding one new report
(made by ``scale.CorpusMaker``, outside every corpus), and the first stage's recall against
exact search. Not a build benchmark: the base's build is.

``--reuse --restamp`` measures an existing copy again after a change to search code only: it
commits the same segments under this code's pipeline fingerprint (adding a report refuses an
index of another pipeline, which is right for a change to how reports are read or stored).
``--reann`` first rebuilds every segment's IVF-PQ searchers with this code (for a change to
how they are built), hard-linking the other files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale

#: Files a copy writes anew; every other file of a segment is copied as it is.
REWRITTEN = {"segment.json", "chunk_ids.npy", "chunk_vectors.npy", "sentence_vectors.npy",
             "sentence_scales.npy", "chunk_ann.faiss", "sentence_ann.faiss"}


def perturb(vectors: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Unit rows ``vectors + e``, ``e`` Gaussian with expected norm ``noise``."""
    x = np.asarray(vectors, dtype=np.float32)
    x = x + rng.normal(0.0, noise / np.sqrt(x.shape[1]), size=x.shape).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def copy_segment(src: Path, root: Path, r: int, noise: float, seed: int) -> dict[str, Any]:
    """Copy ``r`` of segment ``src`` into ``root/segments``; returns its commit entry."""
    from inspect_qa import storage
    from inspect_qa.stores import DenseStore, Int8Rows

    name = storage._stamp("s")
    tmp = root / storage.SEGMENTS / f".tmp-{name}"
    tmp.mkdir(parents=True)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir():
            (tmp / rel).mkdir(parents=True, exist_ok=True)
        elif rel.as_posix() not in REWRITTEN:
            shutil.copyfile(path, tmp / rel)
    meta = json.loads((src / storage.SEGMENT_MANIFEST).read_text(encoding="utf-8"))
    rng = np.random.default_rng([seed, r, int(hashlib.sha256(src.name.encode()).hexdigest()[:8], 16)])
    ids = np.load(src / "chunk_ids.npy", allow_pickle=False)
    chunk = np.load(src / "chunk_vectors.npy", mmap_mode="r")
    codes = np.load(src / "sentence_vectors.npy", mmap_mode="r")
    scales = np.load(src / "sentence_scales.npy", mmap_mode="r")
    if r:
        ids = np.array([hashlib.blake2b(f"{r}/{i}".encode(), digest_size=8).hexdigest()
                        for i in ids.tolist()], dtype=ids.dtype)
        chunk = np.concatenate([perturb(chunk[i : i + 65536], noise, rng).astype(np.float16)
                                for i in range(0, len(chunk), 65536)])
        parts = [Int8Rows.quantize(perturb(Int8Rows(codes, scales)[i : i + 65536], noise, rng))
                 for i in range(0, len(codes), 65536)]
        codes = np.concatenate([c for c, _ in parts])
        scales = np.concatenate([s for _, s in parts])
    np.save(tmp / "chunk_ids.npy", ids, allow_pickle=False)
    np.save(tmp / "chunk_vectors.npy", np.asarray(chunk), allow_pickle=False)
    np.save(tmp / "sentence_vectors.npy", np.asarray(codes), allow_pickle=False)
    np.save(tmp / "sentence_scales.npy", np.asarray(scales), allow_pickle=False)
    kinds = {}
    for what, key, vectors in (("chunk", "passages", np.asarray(chunk)),
                               ("sentence", "sentences", Int8Rows(np.asarray(codes),
                                                                  np.asarray(scales)))):
        kinds[what] = meta["dense"][key]
        if kinds[what] == "ivf-pq":
            import faiss

            faiss.write_index(DenseStore.build_ann(vectors, seed=r),
                              str(tmp / f"{what}_ann.faiss"))
    infos = [dict(d, id=rename(d["id"], r)) for d in meta["documents"]]
    counts = meta["counts"]
    return storage._finish_segment(root / storage.SEGMENTS, tmp, name, infos, counts["chunks"],
                                   counts["sentences"], kinds)


def rename(doc_id: str, r: int) -> str:
    return doc_id if r == 0 else f"r{r}/{doc_id}"


def replicate(base: Path, out: Path, copies: int, noise: float, seed: int) -> dict[str, Any]:
    from inspect_qa import storage

    if out.exists():
        raise SystemExit(f"{out} exists: give a new folder")
    manifest = storage.read_manifest(base)
    if any(e.get("deleted") for e in manifest["segments"]):
        raise SystemExit("the base index has deleted reports: optimize it first")
    out.mkdir(parents=True)
    entries, documents = [], {}
    t0 = time.perf_counter()
    for r in range(copies):
        for e in manifest["segments"]:
            old = dict(e)
            entry = copy_segment(base / storage.SEGMENTS / e["name"], out, r, noise, seed)
            entry.update({k: old[k] for k in ("sentences", "chunk_pieces", "sentence_pieces",
                                              "tokens") if k in old})
            entries.append(entry)
            for doc_id, record in manifest["documents"].items():
                if record["segment"] == e["name"]:
                    documents[rename(doc_id, r)] = dict(record, segment=entry["name"])
            print(f"copy {r + 1}/{copies}: segment {e['name']} "
                  f"({e['chunks']:,} passages) in {time.perf_counter() - t0:.0f}s",
                  file=sys.stderr, flush=True)
    new = dict(manifest, segments=entries, documents=documents)
    new["counts"] = dict(manifest["counts"], documents=len(documents),
                         chunks=sum(int(e["chunks"]) for e in entries),
                         sentences=sum(int(e.get("sentences", 0)) for e in entries),
                         segments=len(entries))
    new["replicated"] = {"base": str(base), "copies": copies, "noise": noise, "seed": seed}
    storage.commit(out, new)
    return {"replicate_s": time.perf_counter() - t0, "chunks": new["counts"]["chunks"],
            "documents": len(documents), "segments": len(entries)}


def restamp(out: Path) -> None:
    """Commit ``out``'s segments again, its manifest naming this code's pipeline."""
    from inspect_qa import storage
    from inspect_qa.index import pipeline_fingerprint
    from inspect_qa.stores import ANN_NPROBE

    manifest = storage.read_manifest(out)
    manifest["pipeline"] = pipeline_fingerprint()
    manifest["dense"] = dict(manifest.get("dense", {}), nprobe=ANN_NPROBE)
    manifest["replicated"] = dict(manifest.get("replicated", {}), restamped=True)
    storage.commit(out, manifest)


def reann(out: Path, threads: int | None = None) -> dict[str, Any]:
    """Rebuild every segment's approximate dense searchers (``*_ann.faiss``) with this code's
    ``DenseStore.build_ann``, as a build would make them; every other file is hard-linked from
    the segment it was in (nothing else changes, and nothing is copied). One new commit."""
    import faiss

    from inspect_qa import storage
    from inspect_qa.checksums import sha256_file
    from inspect_qa.stores import DenseStore, Int8Rows

    if threads:
        faiss.omp_set_num_threads(threads)
    manifest = storage.read_manifest(out)
    t0 = time.perf_counter()
    renamed, entries = {}, []
    for e in manifest["segments"]:
        src = out / storage.SEGMENTS / e["name"]
        meta = json.loads((src / storage.SEGMENT_MANIFEST).read_text(encoding="utf-8"))
        name = storage._stamp("s")
        tmp = out / storage.SEGMENTS / f".tmp-{name}"
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if path.is_dir():
                (tmp / rel).mkdir(parents=True, exist_ok=True)
            elif not rel.name.endswith("_ann.faiss") and rel.name != storage.SEGMENT_MANIFEST:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                os.link(path, tmp / rel)
        for what, key in (("chunk", "passages"), ("sentence", "sentences")):
            if meta["dense"][key] != "ivf-pq":
                continue
            if what == "chunk":
                vectors: Any = np.load(src / "chunk_vectors.npy", mmap_mode="r")
            else:
                vectors = Int8Rows(np.load(src / "sentence_vectors.npy", mmap_mode="r"),
                                   np.load(src / "sentence_scales.npy", mmap_mode="r"))
            faiss.write_index(DenseStore.build_ann(vectors), str(tmp / f"{what}_ann.faiss"))
            meta["files"][f"{what}_ann.faiss"] = sha256_file(tmp / f"{what}_ann.faiss")
        (tmp / storage.SEGMENT_MANIFEST).write_text(json.dumps(meta, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
        os.replace(tmp, out / storage.SEGMENTS / name)
        renamed[e["name"]] = name
        entries.append(dict(e, name=name, sha256=sha256_file(out / storage.SEGMENTS / name
                                                              / storage.SEGMENT_MANIFEST)))
        print(f"searchers of {e['name']} ({e['chunks']:,} passages) rebuilt in "
              f"{time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    documents = {d: dict(r, segment=renamed[r["segment"]])
                 for d, r in manifest["documents"].items()}
    storage.commit(out, dict(manifest, segments=entries, documents=documents))
    return {"reann_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", type=Path, required=True, help="a built index (format 5)")
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True, help="a new folder for the copy")
    ap.add_argument("--restamp", action="store_true",
                    help="with --reuse: commit the copy again under this code's pipeline "
                         "fingerprint (for a change to search code only, which would otherwise "
                         "make adding a report refuse the index)")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--gold", type=Path, default=scale.ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--search-questions", type=int, default=20,
                    help="questions whose whole search is compared with exact dense search "
                         "(each reads every vector)")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--reuse", action="store_true", help="measure --out as it is")
    ap.add_argument("--reann", action="store_true",
                    help="with --reuse: rebuild every segment's IVF-PQ searchers with this "
                         "code first (a change to how they are built; other files hard-linked)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    row: dict[str, Any] = {"base": str(args.base), "copies": args.copies, "noise": args.noise}
    if not args.reuse:
        row.update(replicate(args.base, args.out, args.copies, args.noise, args.seed))
    else:
        if args.reann:
            row.update(reann(args.out, args.threads))
        if args.restamp:
            restamp(args.out)
            row["restamped"] = True
    disk = scale.dir_bytes(args.out)
    gold = [json.loads(line)["question"]
            for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [gold[i % len(gold)] for i in range(args.questions)]
    print("measuring load, search and answer", file=sys.stderr, flush=True)
    query = scale.run_child("query", {"index": str(args.out), "questions": questions},
                            args.threads)
    print("measuring first-stage recall", file=sys.stderr, flush=True)
    recall = scale.run_child("recall", {"index": str(args.out), "questions": gold,
                                        "search_questions": args.search_questions},
                             args.threads)
    row.update({
        "chunks": query["index_chunks"], "sentences": query["index_sentences"],
        "documents": query["index_documents"], "disk_bytes": disk, "disk_mb": disk / 2**20,
        "kb_per_chunk": disk / 1024 / query["index_chunks"], "load_s": query["load_s"],
        "loaded_rss_mb": query["rss_loaded_mb"], "query_peak_rss_mb": query["peak_rss_mb"],
        "rss_end_mb": query["rss_end_mb"], "rss_anon_end_mb": query.get("rss_anon_end_mb"),
        "first_answer_ms": query["first_answer_ms"], "questions": query["questions"],
        "search_ms": query["search_ms"], "answer_ms": query["answer_ms"],
        "search_warm_ms": query["search_warm_ms"], "answer_warm_ms": query["answer_warm_ms"],
        "recall": {k: v for k, v in recall.items() if k.startswith("recall")},
        "recall_questions": recall["questions"], "search_questions": recall["search_questions"],
        "threads": args.threads,
    })
    # a report of the synthetic kind that no corpus of scale.py's sizes holds, nor this index
    from inspect_qa import storage

    held = {Path(i).name for i in storage.read_manifest(args.out)["documents"]}
    number = next(n for n in range(10**6 - 1, 0, -1) if f"report_{n:06d}.txt" not in held)
    maker = scale.CorpusMaker(scale.ROOT / "seeds", args.seed)
    extra = maker.write(args.out.parent / "million_extra", number, 1)[0]
    print("measuring adding one report", file=sys.stderr, flush=True)
    add = scale.run_child("add", {"index": str(args.out), "file": str(extra)}, args.threads)
    row.update({"add_one_report_s": add["add_s"], "add_peak_rss_mb": add["peak_rss_mb"],
                "add_embedded_chunks": add["embedded_chunks"]})
    print(json.dumps(row, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
