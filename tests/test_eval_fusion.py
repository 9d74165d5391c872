"""Fusion of score matrices, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from inspect_qa.eval.fusion import (
    FusionSpec,
    fuse,
    minmax_fusion,
    ranks,
    rrf_fusion,
    top_mask,
    zscore_fusion,
)

DENSE = np.array([[0.9, 0.5, 0.1, 0.3]])
LEXICAL = np.array([[0.0, 10.0, 5.0, 2.0]])


def test_top_mask_and_ranks() -> None:
    assert top_mask(DENSE, 2).tolist() == [[True, True, False, False]]
    assert ranks(LEXICAL).tolist() == [[4, 1, 2, 3]]


def test_minmax_over_the_union_of_candidates() -> None:
    # depth 2: dense top {0, 1}, lexical top {1, 2} → candidates {0, 1, 2}
    # dense over candidates: (0.9, 0.5, 0.1) → (1, 0.5, 0); lexical: (0, 10, 5) → (0, 1, 0.5)
    got = minmax_fusion(DENSE, LEXICAL, 0.5, 2)
    assert got[0, :3] == pytest.approx([0.5, 0.75, 0.25])
    assert got[0, 3] == -np.inf


def test_zscore() -> None:
    got = zscore_fusion(DENSE, LEXICAL, 1.0, 4)
    d = DENSE[0]
    assert got[0] == pytest.approx((d - d.mean()) / d.std())


def test_rrf() -> None:
    # dense ranks (1, 2, 4, 3), lexical ranks (4, 1, 2, 3); depth 3 drops rank 4 from each side
    got = rrf_fusion(DENSE, LEXICAL, 0.5, 3)
    assert got[0] == pytest.approx([0.5 / 61, 0.5 / 62 + 0.5 / 61, 0.5 / 62, 0.5 / 63 + 0.5 / 63])


def test_weight_one_is_dense_order_and_zero_is_lexical_order() -> None:
    for method in ("minmax", "zscore", "rrf"):
        dense_only = fuse(DENSE, LEXICAL, FusionSpec(method, 1.0, 4))
        lexical_only = fuse(DENSE, LEXICAL, FusionSpec(method, 0.0, 4))
        assert np.argsort(-dense_only[0]).tolist() == [0, 1, 3, 2]
        assert np.argsort(-lexical_only[0]).tolist() == [1, 2, 3, 0]


def test_flat_side_contributes_nothing() -> None:
    got = minmax_fusion(DENSE, np.zeros_like(LEXICAL), 0.5, 4)
    assert got[0] == pytest.approx([0.5, 0.25, 0.0, 0.125])
