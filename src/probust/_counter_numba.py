"""The numba CPU kernels of :mod:`probust._counter_rng` (imported only where numba is installed).

``fill(key, start, out)`` writes uniforms ``start, start + 1, ...`` of the stream ``key`` into the float32
vector ``out``; ``affine(key, start, lo, width, clo, chi, out)`` writes the perturbed inputs
``min(max(lo + u * width, clo), chi)`` row by row (``lo`` and ``width`` hold one value per coordinate of a
row): each row's uniforms are made and mapped while they sit in the L1 cache, so the uniforms never travel
through memory on their own. Both are ``nogil`` (a caller may run them on its own threads). Compiled on
first use and cached on disk (about a second, once per machine).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from ._splitmix import GAMMA, M1, M2, SCALE

_SCALE = np.float32(SCALE)
_LOW24 = np.uint64(0xFFFFFF)


def _jit(signature: str | None = None) -> Callable:
    def decorate(fn: Callable) -> Callable:
        options = {"nogil": True, "boundscheck": False}
        args = (signature,) if signature else ()
        try:
            return numba.njit(*args, cache=True, **options)(fn)
        except RuntimeError:  # no writable cache directory (numba: "no locator available"): compile in memory
            return numba.njit(*args, **options)(fn)
    return decorate


@_jit()
def _word(key: np.uint64, j: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """SplitMix64 word ``j`` of the stream ``key`` (the ``j``-th output of SplittableRandom(key))."""
    z = key + (j + np.uint64(1)) * np.uint64(GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(M2)
    return z ^ (z >> np.uint64(31))


@_jit()
def _edge(key: np.uint64, start: np.int64, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(out.size):
        z = _word(key, np.uint64((start + i) // 2))
        bits = z >> np.uint64(40) if (start + i) % 2 == 0 else (z >> np.uint64(16)) & _LOW24
        out[i] = np.float32(np.int32(bits)) * _SCALE


@_jit()
def _pairs(key: np.uint64, first: np.int64, out: np.ndarray) -> None:  # pragma: no cover - compiled
    # The hot loop: whole words, two uniforms each, no branch (vectorises). The 24-bit integers convert
    # through int32: AVX2 converts int32 lanes to float32 in one instruction, int64 lanes not at all.
    for w in range(out.size // 2):
        z = _word(key, np.uint64(first + w))
        out[2 * w] = np.float32(np.int32(z >> np.uint64(40))) * _SCALE
        out[2 * w + 1] = np.float32(np.int32((z >> np.uint64(16)) & _LOW24)) * _SCALE


@_jit("void(uint64, int64, float32[::1])")
def fill(key: np.uint64, start: np.int64, out: np.ndarray) -> None:  # pragma: no cover - compiled
    head = min(start % 2, out.size)  # an odd start begins inside a word
    _edge(key, start, out[:head])
    body = (out.size - head) // 2 * 2
    _pairs(key, (start + head) // 2, out[head : head + body])
    _edge(key, start + head + body, out[head + body :])


@_jit("void(uint64, int64, float32[::1], float32[::1], float32, float32, float32[::1])")
def affine(key, start, lo, width, clo, chi, out) -> None:  # pragma: no cover - compiled
    m = lo.size
    for r in range(out.size // m):
        row = out[r * m : (r + 1) * m]
        fill(key, start + r * m, row)
        for c in range(m):  # two exactly rounded float32 operations, then the clip, as Perturbation.apply
            row[c] = min(max(lo[c] + row[c] * width[c], clo), chi)
