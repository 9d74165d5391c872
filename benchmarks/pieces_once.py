"""Would storing each word piece once cost quality? A probe on the seed index.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/pieces_once.py [--index index]

Today a passage's word pieces and its sentences' word pieces are stored apart: each sentence
is embedded on its own (with its report's header as context), so its pieces' vectors are of
that pass, not of the passage's. Storing each piece once would mean scoring a sentence's late
interaction with the passage pass's vectors of the same pieces (about a third of the disk of a
compressed index). This probe makes that sentence store in memory, from the passage store of
a built seed index (exact pieces), and runs the gold and held-out sets both ways.

A sentence's pieces are found in its passage's as the same run of piece ids (a table row's
headings, read with the row as context, are found only when the passage holds them next to
the row; otherwise the row's own pieces are used). Prints the share of sentences found, and
hit@1 / MRR / answer accuracy / abstention, hybrid, for each store.

``--refit``: the answer model (sentence weights, confidence, threshold, gates) was fitted on
features of the separate pass; with this flag it is fitted again for each store, as
``python -m inspect_qa.calibrate`` fits it (on ``eval/gold.jsonl`` and ``eval/offtopic.jsonl``),
before that store's sets are run. The held-out sets (``holdout``, ``offtopic_holdout``) are the
fair comparison then: the gold ones are the fit's own questions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from inspect_qa import calibrate
from inspect_qa.embedding import TokenVectors
from inspect_qa.eval.gold import load_gold
from inspect_qa.eval.runner import run_gold, summarise
from inspect_qa.retriever import Retriever
from inspect_qa.stores import TokenStore

ROOT = Path(__file__).resolve().parents[1]


def find_run(haystack: np.ndarray, needle: np.ndarray, start: int) -> int:
    """Where ``needle`` first occurs in ``haystack`` at or after ``start`` (-1: nowhere)."""
    n = len(needle)
    for i in range(start, len(haystack) - n + 1):
        if haystack[i] == needle[0] and np.array_equal(haystack[i : i + n], needle):
            return i
    return -1


def from_passages(r: Retriever) -> tuple[TokenStore, float]:
    """A sentence store whose vectors are the passage pass's, and the share found whole."""
    ix = r.index
    rows: list[TokenVectors] = []
    whole = 0
    for c in range(len(ix.chunks)):
        chunk = ix.chunk_tokens.row(c)
        cursor = 0
        first, last = ix.sentences.range_of(c)
        for j in range(first, last):
            own = ix.sentence_tokens.row(j)
            ids = np.asarray(own.ids)
            at, used = find_run(chunk.ids, ids, cursor), ids
            if at >= 0:
                whole += 1
            else:  # a table row read with its headings: its own pieces are its end
                for cut in range(1, len(ids)):
                    at = find_run(chunk.ids, ids[cut:], cursor)
                    if at >= 0:
                        used = ids[cut:]
                        break
            if at < 0 or not len(used):
                rows.append(TokenVectors(ids, np.asarray(own.vectors), ()))
                continue
            rows.append(TokenVectors(used, np.asarray(chunk.vectors[at : at + len(used)]), ()))
            cursor = at + len(used)
    return TokenStore.build(rows, ix.chunk_vectors.shape[1]), whole / max(len(rows), 1)


def scores(r: Retriever, gold: Path) -> dict[str, float]:
    docs = {d: doc.text for d, doc in r.index.documents.items()}
    items = load_gold(gold, docs)
    s = summarise(items, run_gold(r, items, ["hybrid"], 10)["hybrid"])
    m, a = s["metrics"], s["answers"]
    return {"hit@1": m["hit@1"], "mrr@10": m["mrr@10"],
            "answer_accuracy": round(a["answer_accuracy"], 4),
            "abstention_recall": round(a["abstention_recall"], 4)}


def refit(r: Retriever) -> None:
    """Fit the answer model again on this retriever's features, as ``calibrate`` does."""
    docs = {d: doc.text for d, doc in r.index.documents.items()}
    items = [it for g in ("gold", "offtopic")
             for it in load_gold(ROOT / "eval" / f"{g}.jsonl", docs)]
    r.calibration = calibrate.fit(calibrate.collect(r, items))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    ap.add_argument("--refit", action="store_true",
                    help="fit the answer model again for each store before running the sets")
    args = ap.parse_args()
    r = Retriever.load(args.index)
    if r.index.chunk_tokens.compressed:
        raise SystemExit("build the seed index with exact pieces (the default for the seeds)")
    sets = ("gold", "holdout", "offtopic_holdout") if args.refit else ("gold", "holdout")
    out = {}
    if args.refit:
        refit(r)
    for name in sets:
        out[f"{name} separate"] = scores(r, ROOT / "eval" / f"{name}.jsonl")
    store, share = from_passages(r)
    r.index.sentence_tokens = store
    r.corpus.index.sentence_tokens = store
    if args.refit:
        refit(r)
    for name in sets:
        out[f"{name} once"] = scores(r, ROOT / "eval" / f"{name}.jsonl")
    out["sentences found whole"] = round(share, 4)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
