"""Loops compiled to machine code by numba, for the few per-question passes over many rows that
numpy can only do through temporary arrays."""

from __future__ import annotations

from typing import Any

import numba


def compiled(fn: Any, fastmath: bool = False) -> Any:
    """``fn`` compiled (releasing the GIL), its machine code cached on disk when a cache folder
    is writable (a read-only installation compiles it at each start, about a second).
    ``fastmath`` lets sums be reordered (into SIMD lanes): the result then differs from the
    loop's order in the last bits."""
    try:
        return numba.njit(nogil=True, cache=True, fastmath=fastmath)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, fastmath=fastmath)(fn)
