"""Unsupervised adaptation of the embedding model to a corpus (SimCSE), measured, not shipped.

Each sentence of the index (5 words or more) is its own positive pair, the two views differing
only by dropout; in-batch negatives, temperature 0.05 (scale 20), AdamW. One epoch over the seed
index's sentences takes under a minute on 2 cores. The model is saved to OUT; evaluate it with

    python -m inspect_qa.eval --gold eval/plain.jsonl --model OUT --index /tmp/simcse-index

    python benchmarks/simcse_adapt.py [--index index] [--out /tmp/simcse-model] [--epochs 1]
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    from inspect_qa.embedding import bundled_model_path
    from inspect_qa.storage import load_index

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--out", default="/tmp/simcse-model")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-5)
    args = ap.parse_args()
    torch.manual_seed(0)
    random.seed(0)
    ix = load_index(args.index)
    sentences = []
    for s in ix.sentences:
        text = " ".join(ix.documents[ix.chunks[s.chunk].doc_id].text[s.start : s.end].split())
        if len(text.split()) >= 5:
            sentences.append(text)
    sentences = list(dict.fromkeys(sentences))
    model = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr)
    model.train()  # dropout on: the two views of a sentence differ only by it
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        random.shuffle(sentences)
        for i in range(0, len(sentences) - 31, 32):
            batch = sentences[i : i + 32]
            a = model(dict(model.tokenize(batch)))["sentence_embedding"]
            b = model(dict(model.tokenize(batch)))["sentence_embedding"]
            a = torch.nn.functional.normalize(a, dim=-1)
            b = torch.nn.functional.normalize(b, dim=-1)
            loss = torch.nn.functional.cross_entropy(a @ b.T * 20.0, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    model.save(args.out)
    print(f"{len(sentences)} sentences, {args.epochs} epoch(s) in "
          f"{time.perf_counter() - t0:.0f} s; saved to {args.out}")


if __name__ == "__main__":
    main()
