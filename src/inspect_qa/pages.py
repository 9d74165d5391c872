"""Scattered reads of memory-mapped arrays, announced before they are made.

A search reads a few hundred small pieces of a large index: the postings of the question's
words, the vectors and word pieces of its candidates. Read as they are needed, each piece not in
the page cache is a page fault, and the faults are served one after another. :func:`will_need`
tells the kernel first (``madvise(MADV_WILLNEED)``) which pages are about to be read, so that
their reads are issued together and the disk serves them at once; the search then reads them as
before. Only advice: the results are the same with it or without it, and where it is not
available (not Linux, an array in memory) nothing is done.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from typing import Any

import numpy as np

#: Arrays smaller than this are left alone: the kernel's own read-ahead takes them whole.
SMALL_BYTES = 16 << 20

_PAGE = mmap.PAGESIZE
_MADV_WILLNEED = 3
_MADV_DONTNEED = 4


def _load_madvise() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        f = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    f.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    f.restype = ctypes.c_int
    return f


_madvise = _load_madvise()


def mapped(a: Any) -> bool:
    """Whether ``a`` is (a view of) a memory-mapped file."""
    while a is not None:
        if isinstance(a, mmap.mmap):
            return True
        a = getattr(a, "base", None)
    return False


def _advisable(a: Any) -> bool:
    return (_madvise is not None and isinstance(a, np.ndarray) and a.ndim >= 1
            and a.flags.c_contiguous and a.nbytes >= SMALL_BYTES and mapped(a))


def will_need(a: Any, starts: np.ndarray, stops: np.ndarray) -> int:
    """Announce that rows ``[starts[i], stops[i])`` of ``a`` are about to be read; returns how
    many runs of pages were announced (0 when ``a`` is not a large memory-mapped array)."""
    if not _advisable(a) or not len(starts):
        return 0
    row = a.strides[0]
    base = a.ctypes.data
    lo = (base + np.asarray(starts, dtype=np.int64) * row) // _PAGE
    hi = (base + np.asarray(stops, dtype=np.int64) * row + _PAGE - 1) // _PAGE
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    if not len(lo):
        return 0
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    # runs of pages that touch or overlap become one call
    new = np.concatenate([[True], lo[1:] > hi[:-1]])
    first, last = lo[new], np.maximum.reduceat(hi, np.flatnonzero(new))
    for p, q in zip(first.tolist(), last.tolist(), strict=True):
        _madvise(p * _PAGE, (q - p) * _PAGE, _MADV_WILLNEED)
    return len(first)


def release(a: Any) -> bool:
    """Drop the pages of read-only memory-mapped ``a`` from this process's memory
    (``madvise(MADV_DONTNEED)``): they stay in the page cache, and a later read maps them again.
    For a build copying many files one after another, whose pages would otherwise all count
    in its resident memory until the end. Returns whether anything was done."""
    if (_madvise is None or not isinstance(a, np.ndarray) or a.flags.writeable
            or not a.nbytes or not mapped(a)):
        return False
    p = a.ctypes.data // _PAGE * _PAGE
    return _madvise(p, a.ctypes.data + a.nbytes - p, _MADV_DONTNEED) == 0
