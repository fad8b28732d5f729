"""The numba CPU kernels of :mod:`probust._counter_rng` (imported only where numba is installed).

``fill(key, start, out)`` writes uniforms ``start, start + 1, ...`` of the stream ``key`` into the float32
vector ``out``; ``affine(key, start, lo, width, clo, chi, out)`` writes the perturbed inputs
``min(max(lo + u * width, clo), chi)`` row by row (``lo`` and ``width`` hold one value per coordinate of a
row). Both work in blocks of ``_BLOCK`` words that sit in the L1 cache: a block's words are made in one
branch-free loop (the counter is an induction variable, so the loop has two multiplies per word, not three),
stored as their two 24-bit integers, and then converted (and mapped) into ``out``, so the uniforms never
travel through memory on their own. ``fill_parallel`` / ``affine_parallel`` split the same work over
``parts`` threads of numba's pool (the same numbers: every output depends on its index only). All are
``nogil``. Compiled on first use and cached on disk (a few seconds, once per machine).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import numba
import numpy as np
import torch

from ._splitmix import GAMMA, M1, M2, SCALE

_SCALE = np.float32(SCALE)
_LOW24 = np.uint64(0xFFFFFF)
_BLOCK = 256  # words per block: 2 KiB of packed integers, a small part of the L1 cache
# Uniform 2w (bits 40-63 of word w) goes to the int32 that comes first in memory, 2w + 1 (bits 16-39) second.
_EVEN_SHIFT, _ODD_SHIFT = (np.uint64(0), np.uint64(32)) if sys.byteorder == "little" else (np.uint64(32), np.uint64(0))


def _jit(signature: str | None = None, **extra: object) -> Callable:
    def decorate(fn: Callable) -> Callable:
        options = {"nogil": True, "boundscheck": False, **extra}
        args = (signature,) if signature else ()
        try:
            return numba.njit(*args, cache=True, **options)(fn)
        except RuntimeError:  # no writable cache directory (numba: "no locator available"): compile in memory
            return numba.njit(*args, **options)(fn)
    return decorate


@_jit(inline="always")
def _words(key: np.uint64, first: np.int64, n: np.int64, packed: np.ndarray) -> None:  # pragma: no cover
    """``packed[w]`` = the two 24-bit integers of SplitMix64 word ``first + w`` of stream ``key``, ``w < n``.

    Word ``j`` is ``mix(key + (j + 1) GAMMA)``, the ``j``-th output of SplittableRandom(key).
    """
    z = key + np.uint64(first) * np.uint64(GAMMA)
    for w in range(n):
        z += np.uint64(GAMMA)
        y = (z ^ (z >> np.uint64(30))) * np.uint64(M1)
        y = (y ^ (y >> np.uint64(27))) * np.uint64(M2)
        y ^= y >> np.uint64(31)
        packed[w] = ((y >> np.uint64(40)) << _EVEN_SHIFT) | (((y >> np.uint64(16)) & _LOW24) << _ODD_SHIFT)


@_jit()
def _segment(key, ustart, out, o, n, lo, width, clo, chi, mapped, packed) -> None:  # pragma: no cover - compiled
    """``out[o : o + n]`` from uniforms ``ustart ...``: ``u``, or ``clip(lo[t] + u width[t])`` if ``mapped``."""
    ints = packed.view(np.int32)  # AVX2 converts int32 lanes to float32 in one instruction, int64 lanes not at all
    first, skip, done = ustart // 2, ustart % 2, 0  # an odd start begins inside a word
    while done < n:
        words = min(packed.size, (skip + n - done + 1) // 2)
        _words(key, first, words, packed)
        take = min(2 * words - skip, n - done)
        # Local views, not offsets into the whole arrays: with offsets LLVM does not vectorise (2.7x slower).
        src, dst = ints[skip : skip + take], out[o + done : o + done + take]
        if mapped:  # two exactly rounded float32 operations, then the clip, as Perturbation.apply
            lo_, width_ = lo[done : done + take], width[done : done + take]
            for t in range(take):
                dst[t] = min(max(lo_[t] + (np.float32(src[t]) * _SCALE) * width_[t], clo), chi)
        else:
            for t in range(take):
                dst[t] = np.float32(src[t]) * _SCALE
        done, first, skip = done + take, first + words, 0


@_jit()
def _fill_range(key, start, out, a, b) -> None:  # pragma: no cover - compiled
    _segment(key, start + a, out, a, b - a, out, out, np.float32(0), np.float32(0), False,
             np.empty(_BLOCK, np.uint64))


@_jit()
def _affine_rows(key, start, lo, width, clo, chi, out, r0, r1) -> None:  # pragma: no cover - compiled
    m, packed = lo.size, np.empty(_BLOCK, np.uint64)
    for r in range(r0, r1):
        _segment(key, start + r * m, out, r * m, m, lo, width, clo, chi, True, packed)


@_jit("void(uint64, int64, float32[::1])")
def fill(key, start, out) -> None:  # pragma: no cover - compiled
    _fill_range(key, start, out, 0, out.size)


@_jit("void(uint64, int64, float32[::1], float32[::1], float32, float32, float32[::1])")
def affine(key, start, lo, width, clo, chi, out) -> None:  # pragma: no cover - compiled
    _affine_rows(key, start, lo, width, clo, chi, out, 0, out.size // lo.size)


# The parallel kernels compile (or load from the disk cache) on first use, not at import: loading one starts
# numba's thread pool, which only parallel_parts may do (_start_pool).
@_jit(parallel=True)
def fill_parallel(key, start, out, parts) -> None:  # pragma: no cover - compiled
    for p in numba.prange(parts):
        _fill_range(key, start, out, p * out.size // parts, (p + 1) * out.size // parts)


@_jit(parallel=True)
def affine_parallel(key, start, lo, width, clo, chi, out, parts) -> None:  # pragma: no cover - compiled
    rows = out.size // lo.size
    for p in numba.prange(parts):
        _affine_rows(key, start, lo, width, clo, chi, out, p * rows // parts, (p + 1) * rows // parts)


_SAFE_LAYERS = ("omp", "tbb")  # numba's workqueue layer aborts the process on concurrent launches
_probed: dict[str, object] = {}


def _layer() -> str | None:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet in this process
        return None


def parallel_parts(threads: int) -> int:
    """How many threads the ``*_parallel`` kernels may use now (1: call the serial kernel).

    Parallel only where numba's threading layer is thread-safe (OpenMP or TBB: asked for when no parallel
    numba code has run yet and ``NUMBA_THREADING_LAYER`` is unset; a workqueue layer chosen by the user is
    left alone and not used) and never in a process forked after it started, because GNU OpenMP's pool does
    not survive ``fork`` (numba aborts such a child). Numba's thread count is set to the result: a parallel
    region wakes as many threads as that count, whatever the work is split into.
    """
    if threads < 2:
        return 1
    if "pid" not in _probed:
        _probed["pid"] = os.getpid()
        _probed["ok"] = _start_pool()
    if not _probed["ok"] or os.getpid() != _probed["pid"]:
        return 1
    parts = min(threads, numba.config.NUMBA_NUM_THREADS)
    if numba.get_num_threads() != parts:
        numba.set_num_threads(parts)
    return parts


def _start_pool() -> bool:
    """Start numba's thread pool (the process's first parallel call); whether its layer is thread-safe.

    With torch loaded first, numba's OpenMP layer binds to torch's OpenMP runtime (one pool, not two), and
    starting it sets that runtime's thread count, which is torch's, to numba's (all cores). It is put back:
    probust never changes the thread count that a user or a worker process chose (in one process with torch
    at 1 thread per worker, the change made the suite's workers oversubscribe the cores, up to 10x slower).
    """
    if _layer() is None and "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "threadsafe"
    threads = torch.get_num_threads()
    try:
        fill_parallel(np.uint64(0), 0, np.empty(4, np.float32), 2)
    except ValueError:  # neither OpenMP nor TBB could be loaded
        numba.config.THREADING_LAYER = "default"
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return _layer() in _SAFE_LAYERS
