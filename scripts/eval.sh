#!/usr/bin/env bash
# Seed-corpus evaluation with floors about four questions under the figures of 2026-11-22
# (hybrid hit@1 0.786, hit@5 0.929, mrr@10 0.852, ndcg@10 0.863, recall@10 0.956, answer accuracy
# 0.691; lexical hit@5 0.913, mrr@10 0.818; dense hit@5 0.818, mrr@10 0.658): a change that makes
# retrieval or answers worse fails. Raise the floors when they improve. Results are printed, not
# saved (CI runs on a clone).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m inspect_qa.eval --no-save "$@" \
  --fail-under hybrid:hit@1=0.75 \
  --fail-under hybrid:hit@5=0.90 \
  --fail-under hybrid:mrr@10=0.82 \
  --fail-under hybrid:ndcg@10=0.83 \
  --fail-under hybrid:recall@10=0.92 \
  --fail-under lexical:hit@5=0.88 \
  --fail-under lexical:mrr@10=0.78 \
  --fail-under dense:hit@5=0.78 \
  --fail-under dense:mrr@10=0.62 \
  --fail-under hybrid:answer_accuracy=0.65
