#!/usr/bin/env bash
# Seed-corpus evaluation with floors a few questions under the figures of 2026-11-22, so that a
# change that makes retrieval or answers worse fails. Raise the floors when figures improve.
# Results are printed, not saved (CI runs on a clone).
#
# 1. eval/gold.jsonl (158 questions; weights and the answer model were fitted on it). Figures:
#    hybrid hit@1 0.889, hit@5 0.952, mrr@10 0.920, ndcg@10 0.918, recall@10 0.964, answer
#    accuracy 0.802, abstention recall 0.406 (13 of 32); lexical hit@5 0.905, mrr@10 0.818;
#    dense hit@5 0.809, mrr@10 0.658.
# 2. eval/holdout.jsonl (50 questions written apart and never used to tune anything). Figures:
#    hybrid hit@1 0.900, hit@5 1.000, mrr@10 0.942, answer accuracy 0.725, abstention recall 0.3.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/python -m inspect_qa.eval --no-save "$@" \
  --fail-under hybrid:hit@1=0.85 \
  --fail-under hybrid:hit@5=0.93 \
  --fail-under hybrid:mrr@10=0.89 \
  --fail-under hybrid:ndcg@10=0.89 \
  --fail-under hybrid:recall@10=0.94 \
  --fail-under lexical:hit@5=0.88 \
  --fail-under lexical:mrr@10=0.78 \
  --fail-under dense:hit@5=0.78 \
  --fail-under dense:mrr@10=0.62 \
  --fail-under hybrid:answer_accuracy=0.77 \
  --fail-under hybrid:abstention_recall=0.31
exec .venv/bin/python -m inspect_qa.eval --no-save --gold eval/holdout.jsonl --modes hybrid "$@" \
  --fail-under hybrid:hit@1=0.85 \
  --fail-under hybrid:hit@5=0.95 \
  --fail-under hybrid:mrr@10=0.90 \
  --fail-under hybrid:answer_accuracy=0.67 \
  --fail-under hybrid:abstention_recall=0.2
