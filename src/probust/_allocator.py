"""Keep freed memory in the process heap (glibc) instead of returning it to the OS.

Batched CPU inference allocates and frees the same large activation buffers every batch. With glibc's
defaults, blocks above the mmap threshold are unmapped on free and page-faulted back in (zeroed by the
kernel) on the next batch: on the reference CNN this spent about a third of the time in the kernel and
halved throughput (benchmarks/mc_throughput.py). Raising the mmap and trim thresholds lets the heap
reuse those blocks. This changes the whole process, so only programs call it (the ``probust`` command,
benchmarks), never library code on a user's behalf.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
_TRIM_THRESHOLD = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Raise glibc's mmap/trim thresholds; returns False (and does nothing) where glibc is absent."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
