"""Counter-based uniforms: SplitMix64 words indexed by position, two 24-bit uniforms per word.

Word ``j`` of the stream with key ``k`` is ``mix(k + (j + 1) * GAMMA)``, the SplitMix64 generator of
Steele, Lea & Flood (OOPSLA 2014, "Fast splittable pseudorandom number generators"; the finaliser is
Stafford's "Mix13", GAMMA = 2^64 / golden ratio): the ``j``-th output of ``java.util.SplittableRandom``
seeded with ``k``, which passes BigCrush. Because a word depends only on ``(k, j)``, uniform ``i`` of a stream
is computed wherever it is needed, on any device, without state: the same seed gives the same samples at
any batch size, and on a GPU the latents are made where the model runs.

Uniform ``i`` takes 24 bits of word ``i // 2`` (bits 40-63 for even ``i``, bits 16-39 for odd ``i``) and is
``m / 2^24`` for that 24-bit integer ``m``: exactly uniform on the grid ``{0, 1, ..., 2^24 - 1} / 2^24``.
That is the law probust drew before (numpy's ``Generator.random(dtype=float32)`` is ``(32 bits >> 8) / 2^24``,
torch's float32 ``rand`` the same grid), so no estimate changes in law, only in which numbers a seed gives.
Why the resolution cannot bias a reported probability: a grid uniform is ``floor(2^24 V) / 2^24`` for
``V ~ U(0, 1)``, so p under the grid law is exactly the continuous-law probability of the event "the
rounded-down latent fails"; it differs from the continuous p only through latents whose 2^-24 cell meets the
failure boundary (the two CDFs differ by at most 2^-24 per coordinate, Kolmogorov distance). For
``x' = x + eps (2u - 1)`` the cell is ``2 eps 2^-24`` wide, finer than float32's own spacing of inputs in
[0.5, 1] (2^-24) for eps <= 0.5: the model, fed float32 inputs, cannot tell the two laws apart beyond the
rounding it already does. Rare-event estimators reach small p through the normal CDF in Gaussian
coordinates (``latent_from_normal``), not through these uniforms, so no level set is resolved by this grid.

Backends: a numba kernel on the CPU (0.8 ns per uniform against 2.8 ns for numpy's PCG64 float32 on this
machine, ``benchmarks/mc_throughput.py``), and the same function in torch integer arithmetic on any other
device, or on the CPU when numba is absent. Both give bit-identical results (tests/test_rng.py). Numba is
written by hand here because no library offers a counter-based generator whose numbers are the same on the
CPU and in torch on a GPU (torch's Philox is not exposed by index, and its CPU and CUDA streams differ).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

GAMMA = 0x9E3779B97F4A7C15
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_SCALE = 2.0**-24


def _signed(value: int) -> int:
    """The int64 with the bits of the uint64 ``value`` (torch has int64 arithmetic, wrapping modulo 2^64)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shr(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (torch's ``>>`` on int64 is arithmetic)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def _uniforms_torch(key: int, start: int, out: torch.Tensor) -> None:
    n = out.numel()
    first, last = start // 2, (start + n + 1) // 2  # words covering uniforms start .. start + n - 1
    j = torch.arange(first + 1, last + 1, dtype=torch.int64, device=out.device)
    z = j * _signed(GAMMA) + _signed(key)
    z = (z ^ _shr(z, 30)) * _signed(_M1)
    z = (z ^ _shr(z, 27)) * _signed(_M2)
    z = z ^ _shr(z, 31)
    pairs = torch.stack((_shr(z, 40), _shr(z, 16) & 0xFFFFFF), dim=1).flatten()
    offset = start - 2 * first
    out.view(-1).copy_(pairs[offset : offset + n]).mul_(_SCALE)


@functools.cache
def _numba_kernel() -> Callable[[int, int, np.ndarray], None] | None:
    """The compiled CPU kernel, or None where numba is not installed (compiled once per process, cached on disk)."""
    try:
        import numba
    except ImportError:
        return None

    def fill(key: np.uint64, start: np.int64, out: np.ndarray) -> None:  # pragma: no cover - compiled
        scale = np.float32(_SCALE)
        for i in range(out.size):
            j = np.uint64((start + i) // 2)
            z = key + (j + np.uint64(1)) * np.uint64(GAMMA)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
            z = z ^ (z >> np.uint64(31))
            bits = z >> np.uint64(40) if (start + i) % 2 == 0 else (z >> np.uint64(16)) & np.uint64(0xFFFFFF)
            out[i] = np.float32(np.int64(bits)) * scale

    def fill_pairs(key: np.uint64, first: np.int64, out: np.ndarray) -> None:  # pragma: no cover - compiled
        # The hot loop: whole words, two uniforms each, no branch (vectorises).
        scale = np.float32(_SCALE)
        for w in range(out.size // 2):
            z = key + np.uint64(first + w + 1) * np.uint64(GAMMA)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
            z = z ^ (z >> np.uint64(31))
            out[2 * w] = np.float32(np.int64(z >> np.uint64(40))) * scale
            out[2 * w + 1] = np.float32(np.int64((z >> np.uint64(16)) & np.uint64(0xFFFFFF))) * scale

    signature = "void(uint64, int64, float32[::1])"
    try:
        jit = numba.njit(signature, cache=True, nogil=True, boundscheck=False)
        edge, pairs = jit(fill), jit(fill_pairs)
    except RuntimeError:  # no writable cache directory (numba: "no locator available"): compile in memory
        jit = numba.njit(signature, nogil=True, boundscheck=False)
        edge, pairs = jit(fill), jit(fill_pairs)

    def kernel(key: int, start: int, flat: np.ndarray) -> None:
        head = min(start % 2, flat.size)  # an odd start begins inside a word
        edge(np.uint64(key), start, flat[:head])
        body = (flat.size - head) // 2 * 2
        pairs(np.uint64(key), (start + head) // 2, flat[head : head + body])
        edge(np.uint64(key), start + head + body, flat[head + body :])

    return kernel


def uniforms(key: int, start: int, out: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Fill float32 ``out`` (any shape, C order) with uniforms ``start, start + 1, ...`` of the stream ``key``.

    ``backend``: ``"auto"`` (numba on the CPU when installed, else torch), ``"numba"`` or ``"torch"``.
    """
    if out.dtype != torch.float32:
        raise TypeError(f"counter uniforms are float32, got an output tensor of {out.dtype}")
    if not 0 <= key < 2**64 or start < 0:
        raise ValueError(f"key must be a 64-bit unsigned integer and start >= 0, got {key} and {start}")
    kernel = _numba_kernel() if backend != "torch" and out.device.type == "cpu" else None
    if backend == "numba" and kernel is None:
        raise RuntimeError("numba is not installed (pip install numba) or the tensor is not on the CPU")
    if kernel is None:
        _uniforms_torch(key, start, out)
    elif out.is_contiguous():
        kernel(key, start, out.detach().view(-1).numpy())
    else:
        flat = np.empty(out.numel(), dtype=np.float32)
        kernel(key, start, flat)
        out.copy_(torch.from_numpy(flat).view(out.shape))
    return out
