"""Evaluation harness: gold question sets and BEIR datasets (``python -m inspect_qa.eval``).

Modules: :mod:`.gold` (gold files and the relevance test), :mod:`.metrics` (ranx-based
metrics), :mod:`.runner` (running a gold set), :mod:`.diagnostics` (why questions were missed),
:mod:`.beir` and :mod:`.beir_run` (BEIR datasets), :mod:`.fusion` (hybrid score fusion),
:mod:`.report` and :mod:`.results` (reports, saved results, thresholds), :mod:`.cli` (``main``).
"""

from .cli import main

__all__ = ["main"]
