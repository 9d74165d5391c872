"""Index scale benchmark: build, disk, load, search/answer latency and one-report add at size.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scale.py [--sizes 10000,100000] [--seed 0]
        [--work DIR] [--keep] [--questions 200] [--threads N] [--json benchmarks/out/scale.json]

For each requested size N (in passages, "chunks"):

1. Generates a synthetic corpus of about N chunks: plain-text reports of 40-60 paragraphs, each
   a shuffle of the seed reports' paragraphs (``seeds/*.txt``) with words swapped for other seed
   words, numbers and dates changed and the council renamed (one of ~30 English councils), under
   a title line and a date line so metadata extraction works. Deterministic for a ``--seed``;
   report ``i`` is the same whatever N, so a small sample (``--sample`` reports, built first)
   measures the chunks per report and sets the number of reports.
2. Builds the index with the model-free ``HashingEmbedder(384)`` (only the index work is
   measured, not a model) in a child process: wall seconds and the child's peak RSS.
3. Disk: bytes of the index folder, and per chunk.
4. In a fresh child process: ``Retriever.load`` seconds, RSS after loading, the first (cold)
   answer, then ``search`` and ``answer`` latency p50/p95 over ``--questions`` questions from
   ``eval/gold.jsonl`` (cycled when there are fewer). Query encoding is EXCLUDED: the embedder
   is wrapped so the time spent in ``embed``/``embed_tokens`` is accumulated and subtracted
   from each call. Also the child's peak RSS.
5. In another child: the first stage's recall against exact search (``child_recall``).
6. In another child: ``add_documents`` of one new report (from outside the corpus folder).

Latency is sensitive to other load: search re-ranks with torch, whose default thread pool
slows several-fold when another process holds a core; ``--threads 1`` pins it, and each row
records the load average at its start.

Memory: the build holds every new text's word-piece vectors (float32) until they are stored,
so its peak RSS grows with the corpus (about 1.6 GB at 2,000 chunks when this was written):
try a small size first and check that the largest fits the machine.

Prints one JSON object per size, then a Markdown table; ``--json`` writes the list of objects.
Peak RSS is the child's own high-water mark (``VmHWM`` in ``/proc/self/status``, read as it
exits): ``ru_maxrss`` of a child (``RUSAGE_CHILDREN``/``wait4``) is not used as the peak, as
Linux carries the parent's high-water mark into it across ``exec``. Linux only. Only the
public API of ``inspect_qa`` is used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIMENSION = 384
CHILD_FLAG = "--child"

COUNCILS: tuple[tuple[str, str], ...] = (
    ("Barnsley", "Barnsley Metropolitan Borough Council"),
    ("Bolton", "Bolton Metropolitan Borough Council"),
    ("Bradford", "Bradford Metropolitan District Council"),
    ("Calderdale", "Calderdale Metropolitan Borough Council"),
    ("Coventry", "Coventry City Council"),
    ("Derby", "Derby City Council"),
    ("Doncaster", "Doncaster Metropolitan Borough Council"),
    ("Dudley", "Dudley Metropolitan Borough Council"),
    ("Gateshead", "Gateshead Metropolitan Borough Council"),
    ("Kirklees", "Kirklees Metropolitan Borough Council"),
    ("Knowsley", "Knowsley Metropolitan Borough Council"),
    ("Leeds", "Leeds City Council"),
    ("Leicester", "Leicester City Council"),
    ("Norfolk", "Norfolk County Council"),
    ("Northumberland", "Northumberland County Council"),
    ("Oldham", "Oldham Metropolitan Borough Council"),
    ("Rochdale", "Rochdale Metropolitan Borough Council"),
    ("Rotherham", "Rotherham Metropolitan Borough Council"),
    ("Salford", "Salford City Council"),
    ("Sandwell", "Sandwell Metropolitan Borough Council"),
    ("Sefton", "Sefton Metropolitan Borough Council"),
    ("Solihull", "Solihull Metropolitan Borough Council"),
    ("Stockport", "Stockport Metropolitan Borough Council"),
    ("Suffolk", "Suffolk County Council"),
    ("Sunderland", "Sunderland City Council"),
    ("Tameside", "Tameside Metropolitan Borough Council"),
    ("Walsall", "Walsall Metropolitan Borough Council"),
    ("Warrington", "Warrington Borough Council"),
    ("Wigan", "Wigan Metropolitan Borough Council"),
    ("Wolverhampton", "Wolverhampton City Council"),
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
TITLES = ("Monitoring visit of {council} children's services",
          "{council}: inspection of children's services",
          "Focused visit to {council} children's services",
          "{place} children's services: progress report")
#: Chance that a lower-case word of four letters or more is swapped for another seed word.
SWAP_RATE = 0.08
_TOKEN = re.compile(r"\d+|[A-Za-z][A-Za-z'’-]*")
_MONTH_SET = frozenset(MONTHS)


# -- synthetic corpus -------------------------------------------------------------------------


class CorpusMaker:
    """Makes synthetic reports from the seed reports' paragraphs and vocabulary."""

    def __init__(self, seed_dir: Path, seed: int):
        self.seed = seed
        self.paragraphs = seed_paragraphs(sorted(seed_dir.glob("*.txt")))
        if not self.paragraphs:
            raise SystemExit(f"no seed paragraphs in {seed_dir}")
        words = {w for p in self.paragraphs for w in re.findall(r"\b[a-z]{4,}\b", p)}
        self.vocabulary = sorted(words)

    def report(self, i: int) -> str:
        """Report number ``i``: the same text for the same seed, whatever the corpus size."""
        rng = random.Random(f"{self.seed}:{i}")
        place, council = rng.choice(COUNCILS)
        n = rng.randint(40, 60)
        paras = rng.sample(self.paragraphs, min(n, len(self.paragraphs)))
        title = rng.choice(TITLES).format(council=council, place=place)
        date = f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.randint(2012, 2024)}"
        body = [self.perturb(p, rng, place) for p in paras]
        return "\n\n".join([title, date, *body]) + "\n"

    def perturb(self, para: str, rng: random.Random, place: str) -> str:
        def swap(m: re.Match[str]) -> str:
            tok = m.group(0)
            if tok.isdigit():
                if len(tok) == 4 and tok[:2] in ("19", "20"):
                    return str(rng.randint(2010, 2024))
                lo = 10 ** (len(tok) - 1) if len(tok) > 1 else 0
                return str(rng.randint(lo, 10 ** len(tok) - 1))
            if tok == "Dudley":
                return place
            if tok in _MONTH_SET:
                return rng.choice(MONTHS)
            if tok.islower() and len(tok) >= 4 and rng.random() < SWAP_RATE:
                return rng.choice(self.vocabulary)
            return tok

        return _TOKEN.sub(swap, para)

    def write(self, folder: Path, first: int, count: int) -> list[Path]:
        """Write reports ``first .. first+count-1`` into ``folder`` (a thousand per subfolder)."""
        paths = []
        for i in range(first, first + count):
            path = folder / f"{i // 1000:03d}" / f"report_{i:06d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.report(i), encoding="utf-8")
            paths.append(path)
        return paths


def seed_paragraphs(files: Sequence[Path]) -> list[str]:
    """The seed reports' paragraphs: blank-line separated blocks (their lines kept as the seeds
    wrap them), a block that stops mid-sentence joined to the next, letter furniture (salutations, sign-offs)
    and short blocks (addresses, headings) left out."""
    out: list[str] = []
    for f in files:
        blocks = ["\n".join(" ".join(ln.split()) for ln in b.splitlines() if ln.strip())
                  for b in re.split(r"\n\s*\n", f.read_text(encoding="utf-8"))]
        pending = ""
        for block in filter(None, blocks):
            pending = f"{pending}\n{block}".strip()
            if not re.search(r"[.:;?!\"”)]$", pending) and len(pending.split()) < 120:
                continue
            if (len(pending.split()) >= 8
                    and not re.match(r"(?:Dear|Yours)\s", pending)):
                out.append(pending)
            pending = ""
        if len(pending.split()) >= 8:
            out.append(pending)
    return out


# -- measurements in child processes ----------------------------------------------------------


def _status_mb(field: str) -> float:
    """``VmRSS``/``VmHWM`` of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class TimedEmbedder:
    """Wraps an embedder and accumulates the seconds spent encoding, to subtract them."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    @property
    def max_tokens(self) -> int:
        return int(self.inner.max_tokens)

    def embed(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.embed(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def embed_tokens(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.embed_tokens(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0


def child_build(p: dict[str, Any]) -> dict[str, Any]:
    from inspect_qa import HashingEmbedder, build_index

    t0 = time.perf_counter()
    rep = build_index(p["corpus"], p["index"], embedder=HashingEmbedder(DIMENSION),
                      dense=p["dense"], tokens=p["tokens"])
    return {"build_s": time.perf_counter() - t0, "chunks": rep.chunks,
            "documents": len(rep.added), "skipped": len(rep.skipped)}


def child_query(p: dict[str, Any]) -> dict[str, Any]:
    from inspect_qa import HashingEmbedder, Retriever

    rss_before = _status_mb("VmRSS")
    emb = TimedEmbedder(HashingEmbedder(DIMENSION))
    t0 = time.perf_counter()
    r = Retriever.load(p["index"], embedder=emb)
    load_s = time.perf_counter() - t0
    rss_loaded = _status_mb("VmRSS")
    questions: list[str] = p["questions"]

    def timed(call: Callable[[str], Any], q: str) -> float:
        enc0 = emb.seconds
        t = time.perf_counter()
        call(q)
        return (time.perf_counter() - t) - (emb.seconds - enc0)

    first_answer = timed(r.answer, questions[0])  # cold: lazy structures built on first use
    for q in questions[1:4]:  # warm-up
        r.search(q)
        r.answer(q)
    search, answer = [], []
    enc_total0 = emb.seconds
    for q in questions:
        search.append(timed(lambda x: r.search(x, k=5), q))
        answer.append(timed(r.answer, q))
    enc_total1 = emb.seconds
    # the same again: a question's first search reads its pages of a large index from disk
    # (the figures above); these are the searches and answers of pages already read
    search_warm = [timed(lambda x: r.search(x, k=5), q) for q in questions]
    answer_warm = [timed(r.answer, q) for q in questions]
    return {
        "load_s": load_s, "rss_before_load_mb": rss_before, "rss_loaded_mb": rss_loaded,
        "index_chunks": len(r.index.chunks), "index_sentences": len(r.index.sentences),
        "index_documents": len(r.index.documents),
        "first_answer_ms": first_answer * 1000, "questions": len(questions),
        "search_ms": _percentiles(search), "answer_ms": _percentiles(answer),
        "search_warm_ms": _percentiles(search_warm), "answer_warm_ms": _percentiles(answer_warm),
        "encode_ms_per_call": (enc_total1 - enc_total0) * 1000 / (2 * len(questions)),
        "rss_end_mb": _status_mb("VmRSS"), "rss_anon_end_mb": _status_mb("RssAnon"),
    }


def child_add(p: dict[str, Any]) -> dict[str, Any]:
    from inspect_qa import HashingEmbedder, add_documents

    t0 = time.perf_counter()
    rep = add_documents(p["index"], [p["file"]], embedder=HashingEmbedder(DIMENSION))
    return {"add_s": time.perf_counter() - t0, "chunks_after": rep.chunks,
            "embedded_chunks": rep.embedded_chunks}


class ExactDense:
    """Exact dense search over stored vectors, a block of rows at a time (the reference the
    approximate first stage is measured against; FAISS's flat copy of a million sentences
    would not fit in memory)."""

    def __init__(self, vectors: Any, kind: str = "exact"):
        self.vectors = vectors
        self.kind = kind

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, xq: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        xq = np.asarray(xq, dtype=np.float32)
        best_d = np.full((len(xq), 0), -np.inf, np.float32)
        best_i = np.zeros((len(xq), 0), np.int64)
        n = len(self.vectors)
        for a in range(0, n, 65536):
            rows = np.arange(a, min(n, a + 65536))
            d = xq @ np.asarray(self.vectors[rows], dtype=np.float32).T
            if allowed is not None:
                d[:, ~allowed[rows]] = -np.inf
            best_d = np.concatenate([best_d, d], axis=1)
            best_i = np.concatenate([best_i, np.broadcast_to(rows, d.shape)], axis=1)
            if best_d.shape[1] > k:
                keep = np.argpartition(-best_d, k - 1, axis=1)[:, :k]
                best_d = np.take_along_axis(best_d, keep, 1)
                best_i = np.take_along_axis(best_i, keep, 1)
        order = np.argsort(-best_d, axis=1, kind="stable")
        best_d = np.take_along_axis(best_d, order, 1)
        best_i = np.take_along_axis(best_i, order, 1)
        return best_d, np.where(np.isfinite(best_d), best_i, -1)

    def score(self, xq: np.ndarray, rows: np.ndarray) -> np.ndarray:
        v = np.asarray(self.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)
        return (v @ np.asarray(xq, dtype=np.float32).reshape(-1)).astype(np.float32)


def child_recall(p: dict[str, Any]) -> dict[str, Any]:
    """Recall@10 and @100 of the index's dense searchers (IVF-PQ in large segments) against
    exact search, for passages and sentences, over ``questions`` (searched exactly all at
    once: one pass over the vectors); and of ``Retriever.search``'s top ten against the same
    search with exact dense lists, over the first ``search_questions`` (each exact search
    reads every vector: seconds a question at a million passages)."""
    import dataclasses

    from inspect_qa import HashingEmbedder, Retriever

    emb = HashingEmbedder(DIMENSION)
    r = Retriever.load(p["index"], embedder=emb)
    ix = r.index
    questions: list[str] = p["questions"]
    exact = dataclasses.replace(ix, dense=ExactDense(ix.chunk_vectors),
                                sentence_dense=ExactDense(ix.sentence_vectors))
    reference = Retriever(exact, emb)
    xq = np.asarray(emb.embed(questions), dtype=np.float32)
    out: dict[str, Any] = {"questions": len(questions), "dense_kind": ix.dense.kind}
    for what, approx, full in (("passages", ix.dense, exact.dense),
                               ("sentences", ix.sentence_dense, exact.sentence_dense)):
        _, want = full.search(xq, 100)
        _, got = approx.search(xq, 100)
        for k in (10, 100):
            found = [len(set(got[i, :k].tolist()) & set(want[i, :k].tolist())) / k
                     for i in range(len(questions))]
            out[f"recall@{k}_dense_{what}"] = float(np.mean(found))
        # what the first stage needs: the exact ten best among the hundred its list brings
        # (the candidates are then scored exactly)
        within = [len(set(got[i, :100].tolist()) & set(want[i, :10].tolist())) / 10
                  for i in range(len(questions))]
        out[f"recall@10_in_100_dense_{what}"] = float(np.mean(within))
    same = []
    for q in questions[: p.get("search_questions", 20)]:
        a = [h.chunk_id for h in r.search(q, k=10)]
        b = [h.chunk_id for h in reference.search(q, k=10)]
        same.append(len(set(a) & set(b)) / max(1, len(b)))
    out["search_questions"] = len(same)
    out["recall@10_search"] = float(np.mean(same))
    return out


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "build": child_build, "query": child_query, "add": child_add, "recall": child_recall,
}


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "mean": float(ms.mean())}


def run_child(kind: str, params: dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """Run ``CHILDREN[kind](params)`` in a fresh interpreter: its result, its peak RSS and
    ``wall_s`` (spawn and imports included).

    ``peak_rss_mb`` is the child's own high-water mark (``VmHWM``, read by the child as it
    exits). ``ru_maxrss_mb`` (``os.wait4`` on that child) is kept beside it, but Linux carries
    the spawning process's high-water mark across ``exec`` into it, so it is never below the
    parent's peak.
    """
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), CHILD_FLAG, kind],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(params))
    proc.stdin.close()
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = result.pop("vmhwm_mb")
    result["ru_maxrss_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    result["wall_s"] = wall
    return result


def child_main(kind: str) -> None:
    params = json.loads(sys.stdin.read())
    result = CHILDREN[kind](params)
    result["vmhwm_mb"] = _status_mb("VmHWM")
    sys.stdout.write(json.dumps(result) + "\n")


# -- one size ---------------------------------------------------------------------------------


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def chunks_per_report(maker: CorpusMaker, work: Path, sample: int,
                      args: argparse.Namespace) -> float:
    """Chunks per synthetic report, from an index (built in a child) of the first ``sample``
    reports."""
    corpus, index = work / "sample_corpus", work / "sample_index"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(index, ignore_errors=True)
    maker.write(corpus, 0, sample)
    rep = run_child("build", {"corpus": str(corpus), "index": str(index),
                              "dense": args.dense, "tokens": args.tokens}, args.threads)
    shutil.rmtree(corpus)
    shutil.rmtree(index)
    return float(rep["chunks"]) / sample


def run_size(size: int, maker: CorpusMaker, per_report: float, work: Path,
             questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    base = work / f"size_{size}"
    shutil.rmtree(base, ignore_errors=True)
    corpus, index, extra = base / "corpus", base / "index", base / "extra"
    reports = max(1, math.ceil(size / per_report))
    t0 = time.perf_counter()
    maker.write(corpus, 0, reports)
    new_report = maker.write(extra, reports, 1)[0]  # never in the corpus folder
    generate_s = time.perf_counter() - t0
    print(f"[size {size}] {reports} reports written in {generate_s:.1f}s; building",
          file=sys.stderr, flush=True)

    load_avg = os.getloadavg()[0]
    build = run_child("build", {"corpus": str(corpus), "index": str(index),
                                "dense": args.dense, "tokens": args.tokens}, args.threads)
    chunks = int(build["chunks"])
    disk = dir_bytes(index)
    print(f"[size {size}] {chunks} chunks built in {build['build_s']:.1f}s; querying",
          file=sys.stderr, flush=True)
    query = run_child("query", {"index": str(index), "questions": questions}, args.threads)
    recall = run_child("recall", {"index": str(index), "questions": sorted(set(questions))},
                       args.threads)
    add = run_child("add", {"index": str(index), "file": str(new_report)}, args.threads)
    disk_after_add = dir_bytes(index)
    if not args.keep:
        shutil.rmtree(base)
    return {
        "size": size, "reports": reports, "chunks": chunks,
        "sentences": query["index_sentences"], "generate_s": generate_s,
        "build_s": build["build_s"], "build_peak_rss_mb": build["peak_rss_mb"],
        "disk_bytes": disk, "disk_mb": disk / 2**20, "kb_per_chunk": disk / 1024 / chunks,
        "disk_bytes_after_add": disk_after_add,
        "load_s": query["load_s"], "rss_before_load_mb": query["rss_before_load_mb"],
        "loaded_rss_mb": query["rss_loaded_mb"], "query_peak_rss_mb": query["peak_rss_mb"],
        "first_answer_ms": query["first_answer_ms"], "questions": query["questions"],
        "search_ms": query["search_ms"], "answer_ms": query["answer_ms"],
        "search_warm_ms": query["search_warm_ms"], "answer_warm_ms": query["answer_warm_ms"],
        "query_encoding_excluded_ms_per_call": query["encode_ms_per_call"],
        "recall": {k: v for k, v in recall.items() if k.startswith("recall")},
        "add_one_report_s": add["add_s"], "add_embedded_chunks": add["embedded_chunks"],
        "add_peak_rss_mb": add["peak_rss_mb"], "chunks_after_add": add["chunks_after"],
        "settings": {"embedder": f"hashing-{DIMENSION}", "dense": args.dense,
                     "tokens": args.tokens, "seed": args.seed, "threads": args.threads,
                     "load_average_at_start": load_avg, "cpus": os.cpu_count()},
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ["size", "chunks", "build s", "build peak RSS MB", "disk MB", "KB/chunk", "load s",
            "loaded RSS MB", "search p50/p95 ms", "answer p50/p95 ms", "add-one-report s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [f"{r['size']:,}", f"{r['chunks']:,}", f"{r['build_s']:.1f}",
                 f"{r['build_peak_rss_mb']:.0f}", f"{r['disk_mb']:.1f}",
                 f"{r['kb_per_chunk']:.2f}", f"{r['load_s']:.2f}", f"{r['loaded_rss_mb']:.0f}",
                 f"{r['search_ms']['p50']:.1f} / {r['search_ms']['p95']:.1f}",
                 f"{r['answer_ms']['p50']:.1f} / {r['answer_ms']['p95']:.1f}",
                 f"{r['add_one_report_s']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive integers, comma separated")
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=_sizes, default=[10_000, 100_000],
                    help="corpus sizes in chunks, comma separated (default 10000,100000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, help="folder for corpora and indexes (default: temp)")
    ap.add_argument("--keep", action="store_true", help="keep each size's corpus and index")
    ap.add_argument("--sample", type=int, default=20, help="reports in the calibration sample")
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--gold", type=Path, default=ROOT / "eval" / "gold.jsonl")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--dense", choices=("auto", "flat", "ivf"), default="auto")
    ap.add_argument("--tokens", choices=("auto", "exact", "compressed"), default="auto")
    ap.add_argument("--threads", type=int,
                    help="OMP_NUM_THREADS/MKL_NUM_THREADS of the children (default: inherited); "
                         "1 avoids torch's threads fighting another busy process")
    ap.add_argument("--json", type=Path, help="write the results (a JSON list) here")
    args = ap.parse_args()

    gold = [json.loads(line)["question"]
            for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [gold[i % len(gold)] for i in range(args.questions)]
    maker = CorpusMaker(args.seeds, args.seed)
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        work: Path = args.work or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="inspect_qa_scale_")))
        work.mkdir(parents=True, exist_ok=True)
        per_report = chunks_per_report(maker, work, args.sample, args)
        print(f"{per_report:.1f} chunks per report ({args.sample}-report sample)",
              file=sys.stderr, flush=True)
        for size in args.sizes:
            row = run_size(size, maker, per_report, work, questions, args)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(markdown(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == CHILD_FLAG:
        child_main(sys.argv[2])
    else:
        main()
