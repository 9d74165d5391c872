"""Fusion of dense and lexical score matrices, for hybrid search over a BEIR corpus.

Every function takes two score matrices of shape ``(queries, documents)`` (higher is better) and
returns one of the same shape. Documents outside the fused candidates get ``-inf``, so they rank
below every candidate. ``w`` is the weight of the dense side; the lexical side gets ``1 - w``.

- :func:`minmax_fusion` is normalised-score fusion as the first seed retriever did it: min-max
  scaling over the union of each side's top ``depth`` candidates, then a convex combination.
- :func:`zscore_fusion` scales each side by its mean and standard deviation over the same union.
- :func:`rrf_fusion` is reciprocal rank fusion, ``w / (60 + rank_dense) + (1 - w) / (60 +
  rank_lexical)`` over each side's top ``depth`` (a side's term is 0 outside its top ``depth``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: The constant of reciprocal rank fusion (Cormack et al., 2009).
RRF_K = 60

METHODS = ("minmax", "zscore", "rrf")


@dataclass(frozen=True)
class FusionSpec:
    """One fusion setting: method (``minmax``, ``zscore``, ``rrf``), dense weight, candidate
    depth, and the lexical tokenizer whose BM25 scores are fused."""

    method: str
    weight: float
    depth: int
    lexical: str = "bm25s"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def label(self) -> str:
        return f"{self.method} w={self.weight:.2f} depth={self.depth} lexical={self.lexical}"


def top_mask(scores: np.ndarray, depth: int) -> np.ndarray:
    """Boolean mask of each row's ``depth`` best columns."""
    n = scores.shape[1]
    depth = min(depth, n)
    idx = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=1)
    return mask


def _masked_minmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    lo = np.where(mask, x, np.inf).min(axis=1, keepdims=True)
    hi = np.where(mask, x, -np.inf).max(axis=1, keepdims=True)
    span = hi - lo
    # A flat side carries no ordering: it contributes 0 everywhere (as ``retriever._minmax``
    # does for all-zero lexical scores).
    safe = np.where(span > 1e-9, span, 1.0)
    return np.where(span > 1e-9, (x - lo) / safe, 0.0)


def _masked_zscore(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    count = mask.sum(axis=1, keepdims=True)
    mean = np.where(mask, x, 0.0).sum(axis=1, keepdims=True) / count
    var = np.where(mask, (x - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    return np.where(std > 1e-9, (x - mean) / np.where(std > 1e-9, std, 1.0), 0.0)


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of every column within its row (ties broken by column order)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return out


Parts = tuple[np.ndarray, np.ndarray, np.ndarray]


def components(dense: np.ndarray, lexical: np.ndarray, method: str, depth: int) -> Parts:
    """The two scaled sides and the candidate mask. Every fusion here is ``w * a + (1 - w) * b``
    on the candidates, so a sweep over weights scales once and combines many times."""
    if method == "rrf":
        rd, rl = ranks(dense), ranks(lexical)
        in_d, in_l = rd <= depth, rl <= depth
        return (np.where(in_d, 1.0 / (RRF_K + rd), 0.0), np.where(in_l, 1.0 / (RRF_K + rl), 0.0),
                in_d | in_l)
    if method not in ("minmax", "zscore"):
        raise ValueError(f"unknown fusion {method!r}: use minmax, zscore or rrf")
    scale = _masked_minmax if method == "minmax" else _masked_zscore
    cand = top_mask(dense, depth) | top_mask(lexical, depth)
    return scale(dense, cand), scale(lexical, cand), cand


def combine(parts: Parts, w: float) -> np.ndarray:
    """``w * a + (1 - w) * b`` on the candidates, ``-inf`` elsewhere."""
    a, b, cand = parts
    return np.where(cand, w * a + (1 - w) * b, -np.inf)


def minmax_fusion(dense: np.ndarray, lexical: np.ndarray, w: float, depth: int) -> np.ndarray:
    """``w * minmax(dense) + (1 - w) * minmax(lexical)`` over the union of both top ``depth``."""
    return combine(components(dense, lexical, "minmax", depth), w)


def zscore_fusion(dense: np.ndarray, lexical: np.ndarray, w: float, depth: int) -> np.ndarray:
    """``w * z(dense) + (1 - w) * z(lexical)``, z-scores over the union of both top ``depth``."""
    return combine(components(dense, lexical, "zscore", depth), w)


def rrf_fusion(dense: np.ndarray, lexical: np.ndarray, w: float, depth: int) -> np.ndarray:
    """``w / (60 + rank_dense) + (1 - w) / (60 + rank_lexical)`` over each side's top ``depth``."""
    return combine(components(dense, lexical, "rrf", depth), w)


def fuse(dense: np.ndarray, lexical: np.ndarray, spec: FusionSpec) -> np.ndarray:
    """Apply the fusion named by ``spec``."""
    return combine(components(dense, lexical, spec.method, spec.depth), spec.weight)
