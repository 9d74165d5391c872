#!/usr/bin/env bash
# The whole test suite: set-up, checks, lint, types, tests (fast and real-model/browser), evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --dev

# The CPU build of torch only: a CUDA build drags in nvidia-* packages.
if .venv/bin/python -m pip list --disable-pip-version-check 2>/dev/null | grep -i '^nvidia-'; then
  echo "test: nvidia-* packages are installed; reinstall with: rm -rf .venv && bash scripts/setup.sh --dev" >&2
  exit 1
fi

# Browser tests drive Debian's chromium (Playwright cannot download its own browser here).
if ! command -v chromium >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]]; then
    echo "test: installing Debian's chromium for the browser tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test: chromium is missing; install it with: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

# Reader tests check PDF pages against poppler's pdftotext, an extractor independent of ours.
if ! command -v pdftotext >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]]; then
    echo "test: installing Debian's poppler-utils for the PDF page tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null
  else
    echo "test: pdftotext is missing; install it with: sudo apt-get install -y poppler-utils" >&2
    exit 1
  fi
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check src tests benchmarks scripts app.py
.venv/bin/mypy
.venv/bin/python -m pytest -q
# Retrieval quality must not fall: the seed evaluation with --fail-under floors.
bash scripts/eval.sh
