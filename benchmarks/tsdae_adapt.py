"""Unsupervised adaptation of the embedding model to a corpus (TSDAE), measured, not shipped.

TSDAE (Wang, Reimers and Gurevych 2021) trains the encoder so that a decoder can rebuild each
sentence from its embedding alone, given the sentence with 60% of its words deleted: the
sentence vector must hold what the sentence says. The decoder is the same model with
cross-attention added and its weights tied to the encoder's (sentence-transformers'
``DenoisingAutoEncoderLoss``); AdamW at 3e-5, batches of 8, as the paper. The corpus is the
index's distinct sentences of 5 words or more (645 on the seeds). The model is saved to OUT;
evaluate it with

    python -m inspect_qa.eval --gold eval/plain.jsonl --model OUT --index /tmp/tsdae-index

    python benchmarks/tsdae_adapt.py [--index index] [--out /tmp/tsdae-model] [--epochs 1]
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def damaged(sentence: str, rng: random.Random, ratio: float = 0.6) -> str:
    """``sentence`` with ``ratio`` of its words deleted (one kept at least), as TSDAE's noise."""
    words = sentence.split()
    kept = [w for w in words if rng.random() > ratio]
    return " ".join(kept or [rng.choice(words)])


def main() -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    from inspect_qa.embedding import bundled_model_path
    from inspect_qa.storage import load_index

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default="index")
    ap.add_argument("--out", default="/tmp/tsdae-model")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    rng = random.Random(0)
    ix = load_index(args.index)
    sentences = []
    for s in ix.sentences:
        text = " ".join(ix.documents[ix.chunks[s.chunk].doc_id].text[s.start : s.end].split())
        if len(text.split()) >= 5:
            sentences.append(text)
    sentences = list(dict.fromkeys(sentences))
    model = SentenceTransformer(str(bundled_model_path()), device="cpu", local_files_only=True)
    loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    optimiser = torch.optim.AdamW(loss.parameters(), lr=args.lr)
    model.train()
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        rng.shuffle(sentences)
        for i in range(0, len(sentences), args.batch):
            batch = sentences[i : i + args.batch]
            noisy = dict(model.preprocess([damaged(s, rng) for s in batch]))
            whole = dict(model.preprocess(batch))
            value = loss([noisy, whole], None)
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
    model.eval()
    model.save(args.out)
    print(f"{len(sentences)} sentences, {args.epochs} epoch(s) in "
          f"{time.perf_counter() - t0:.0f} s; saved to {args.out}")


if __name__ == "__main__":
    main()
