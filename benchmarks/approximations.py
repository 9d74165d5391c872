"""Each approximation of the large-index search path against the exact version, on SciFact.

    # once: SciFact as a folder of reports (title, then abstract), indexed exactly
    .venv/bin/python benchmarks/approximations.py corpus --beir ../shared/datasets/scifact \
        --out /tmp/scifact_corpus
    .venv/bin/inspect-qa index /tmp/scifact_corpus --out /tmp/ix_scifact --tokens exact --dense flat
    # then: the index as built, then made approximate in place (nothing is embedded again)
    .venv/bin/python benchmarks/approximations.py run --beir ../shared/datasets/scifact \
        --index /tmp/ix_scifact --json benchmarks/out/approximations.json

Measured through ``Retriever.search`` (hybrid: dense and BM25 over passages and sentences,
late-interaction re-ranking), on the test queries: nDCG@10 and recall@50 against the qrels (a
document counts when any of its passages is returned), and the share of the exact top ten that
each variant finds ("recall@10 against exact", passages). Variants, each adding to the last:

- exact: every passage scored (``first_stage.REFERENCE_ROWS`` raised past the index size);
- first stage: candidates from the four lists of ``first_stage.DEPTH`` and the even sample (of
  each size in ``--samples``; the later variants use the default);
- IVF-PQ: dense candidates from IVF-PQ instead of flat search (as ``--dense ivf`` builds);
- compressed pieces: word pieces kept as centroid + residual codes (as ``--tokens compressed``).

The last two are made in memory from the exact index's vectors, as a build would make them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _corpus(beir: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for line in (beir / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        (out / f"{d['_id']}.txt").write_text(f"{d['title']}\n\n{d['text']}\n", encoding="utf-8")
        n += 1
    print(f"{n} reports written to {out}")
    return 0


def _queries(beir: Path, qrels: dict) -> dict[str, str]:
    """The text of each query that ``qrels`` judges, by id."""
    queries = {}
    for line in (beir / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if d["_id"] in qrels:
            queries[d["_id"]] = d["text"]
    return queries


def _measure(r, queries: dict[str, str], qrels: dict, k: int = 100) -> tuple[dict, dict]:
    from inspect_qa.eval.metrics import ir_metrics

    run: dict[str, dict[str, float]] = {}
    tops: dict[str, list[str]] = {}
    times = []
    for qid, text in queries.items():
        t = time.perf_counter()
        hits = r.search(text, k=50)
        times.append(time.perf_counter() - t)
        tops[qid] = [p.chunk_id for p in hits[:10]]
        docs: dict[str, float] = {}
        for p in hits:
            doc = p.source.removesuffix(".txt")
            docs.setdefault(doc, p.score)
        run[qid] = docs
    means, _ = ir_metrics(qrels, run, ["ndcg@10", "recall@50"])
    means["search_p50_ms"] = float(np.percentile(np.array(times) * 1000, 50))
    return means, tops


def _run(args: argparse.Namespace) -> int:
    from inspect_qa import Retriever
    from inspect_qa.eval.beir import read_qrels
    from inspect_qa.search import first_stage
    from inspect_qa.stores import TOKEN_TRAIN_MAX, DenseStore, TokenCodec, TokenStore

    qrels = read_qrels(args.beir / "qrels" / "test.tsv")
    queries = _queries(args.beir, qrels)
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    out: dict = {"queries": len(queries), "variants": {}}
    default_reference = first_stage.REFERENCE_ROWS

    def variant(name: str, r, exact_tops: dict | None) -> dict:
        means, tops = _measure(r, queries, qrels)
        if exact_tops is not None:
            found = [len(set(tops[q]) & set(exact_tops[q])) / max(len(exact_tops[q]), 1)
                     for q in queries]
            means["recall@10_vs_exact"] = float(np.mean(found))
        out["variants"][name] = {k: round(v, 4) for k, v in means.items()}
        print(name, out["variants"][name], file=sys.stderr, flush=True)
        return tops

    r = Retriever.load(args.index)
    out["passages"] = len(r.index.chunks)
    out["sentences"] = len(r.index.sentences)
    first_stage.REFERENCE_ROWS = 10**9
    exact = variant("exact", r, None)
    for sample in args.samples:
        first_stage.REFERENCE_ROWS = sample
        variant(f"first stage, sample {sample}", r, exact)
    first_stage.REFERENCE_ROWS = default_reference
    # The approximate searchers and codes as a build makes them (stores.DenseStore.build_ann,
    # stores.TokenCodec), made here in memory from the exact index's own vectors.
    ix = r.index
    t = time.perf_counter()
    ix.dense = DenseStore(ix.chunk_vectors, DenseStore.build_ann(ix.chunk_vectors))
    ix.sentence_dense = DenseStore(ix.sentence_vectors, DenseStore.build_ann(ix.sentence_vectors))
    out["ivf_build_s"] = round(time.perf_counter() - t, 1)
    variant("first stage + IVF-PQ", r, exact)
    t = time.perf_counter()
    sample = np.concatenate([ix.chunk_tokens.first_vectors(TOKEN_TRAIN_MAX // 2),
                             ix.sentence_tokens.first_vectors(TOKEN_TRAIN_MAX // 2)])
    codec = TokenCodec.train(sample)
    for name in ("chunk_tokens", "sentence_tokens"):
        store = getattr(ix, name)
        setattr(ix, name, TokenStore.concat([TokenStore.build(
            [store.row(i) for i in range(a, min(a + 4096, len(store)))], ix.chunk_vectors.shape[1],
            codec) for a in range(0, len(store), 4096)]))
    out["compress_s"] = round(time.perf_counter() - t, 1)
    variant("first stage + IVF-PQ + compressed pieces", r, exact)
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--beir", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--beir", type=Path, required=True)
    r.add_argument("--index", type=Path, required=True)
    r.add_argument("--limit", type=int, default=0, help="first N test queries only")
    r.add_argument("--samples", type=lambda v: [int(x) for x in v.split(",")],
                   default=[4096, 1024, 256], help="sizes of the even sample to try")
    r.add_argument("--json", type=Path)
    args = ap.parse_args()
    return _corpus(args.beir, args.out) if args.cmd == "corpus" else _run(args)


if __name__ == "__main__":
    sys.exit(main())
