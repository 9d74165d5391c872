#!/usr/bin/env bash
# Set up .venv with inspect-qa and the CPU build of torch (never the multi-GB CUDA one).
#   bash scripts/setup.sh          the app and library
#   bash scripts/setup.sh --dev    plus the test tools (pytest, hypothesis, ruff, mypy, playwright)
# Re-running is quick: nothing is reinstalled while pyproject.toml and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
extras=""
if [[ "${1:-}" == "--dev" ]]; then extras="[dev]"; fi

if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi

stamp=".venv/.inspect-qa-installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)${extras:+-dev}"
if [[ ! -f "$stamp" ]]; then
  echo "setup: installing inspect-qa${extras} into .venv (CPU torch; a few minutes the first time)" >&2
  # constraints.txt pins torch==2.13.0+cpu, which pip finds in the machine's local wheel folder.
  # The machine's pip config lists optional local indexes; silence its notes about missing ones.
  .venv/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".${extras}" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  rm -f .venv/.inspect-qa-installed-*
  touch "$stamp"
fi
