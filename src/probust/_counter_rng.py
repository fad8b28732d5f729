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

Backends: numba kernels on the CPU (:mod:`probust._counter_numba`; 0.55 ns per uniform on one core against
2.8 ns for numpy's PCG64 float32 on this machine; requests of at least ``_PARALLEL_MIN`` uniforms are split
over torch's thread count, see docs/design.md), and the same function in
torch integer arithmetic on any other device, or on the CPU when numba is absent. Both give bit-identical
results (tests/test_rng.py). :func:`affine_sampler` fuses the draw with the pushforward of the affine
uniform families (``x' = clip(lo + width u)``), so plain Monte Carlo writes each perturbed input once. Numba is
written by hand here because no library offers a counter-based generator whose numbers are the same on the
CPU and in torch on a GPU (torch's Philox is not exposed by index, and its CPU and CUDA streams differ).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable

import numpy as np
import torch

from ._splitmix import GAMMA, M1, M2, SCALE

#: Outputs at least this large are split over threads (below, a woken pool costs more than it saves).
_PARALLEL_MIN = 2**17


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
    z = (z ^ _shr(z, 30)) * _signed(M1)
    z = (z ^ _shr(z, 27)) * _signed(M2)
    z = z ^ _shr(z, 31)
    pairs = torch.stack((_shr(z, 40), _shr(z, 16) & 0xFFFFFF), dim=1).flatten()
    offset = start - 2 * first
    out.view(-1).copy_(pairs[offset : offset + n]).mul_(SCALE)


@functools.cache
def _numba_kernels() -> types.ModuleType | None:
    """The compiled CPU kernels (:mod:`probust._counter_numba`), or None where numba is not installed."""
    try:
        from . import _counter_numba
    except ImportError:
        return None
    return _counter_numba


def _check(key: int, start: int, out: torch.Tensor) -> None:
    if out.dtype != torch.float32:
        raise TypeError(f"counter uniforms are float32, got an output tensor of {out.dtype}")
    if not 0 <= key < 2**64 or start < 0:
        raise ValueError(f"key must be a 64-bit unsigned integer and start >= 0, got {key} and {start}")


def _kernels_for(out: torch.Tensor, backend: str) -> types.ModuleType | None:
    kernels = _numba_kernels() if backend != "torch" and out.device.type == "cpu" else None
    if backend == "numba" and kernels is None:
        raise RuntimeError("numba is not installed (pip install numba) or the tensor is not on the CPU")
    return kernels


def _parts(kernels: types.ModuleType, n: int) -> int:
    """Threads for one kernel call: torch's intra-op thread count for large outputs (the model's threads are
    idle while its inputs are made), one below ``_PARALLEL_MIN`` uniforms, where waking a pool costs more."""
    return kernels.parallel_parts(torch.get_num_threads()) if n >= _PARALLEL_MIN else 1


def _launch(kernels: types.ModuleType, name: str, flat: np.ndarray, *args: object) -> None:
    """Run kernel ``name`` (``fill`` or ``affine``) with ``*args, flat``: its ``_parallel`` form on large outputs."""
    parts = _parts(kernels, flat.size)
    if parts > 1:
        getattr(kernels, name + "_parallel")(*args, flat, parts)
    else:
        getattr(kernels, name)(*args, flat)


def uniforms(key: int, start: int, out: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Fill float32 ``out`` (any shape, C order) with uniforms ``start, start + 1, ...`` of the stream ``key``.

    ``backend``: ``"auto"`` (numba on the CPU when installed, else torch), ``"numba"`` or ``"torch"``.
    """
    _check(key, start, out)
    kernels = _kernels_for(out, backend)
    if kernels is None:
        _uniforms_torch(key, start, out)
        return out
    flat = out.detach().view(-1).numpy() if out.is_contiguous() else np.empty(out.numel(), dtype=np.float32)
    _launch(kernels, "fill", flat, np.uint64(key), start)
    if not out.is_contiguous():
        out.copy_(torch.from_numpy(flat).view(out.shape))
    return out


def affine_sampler(
    key: int,
    lo: torch.Tensor,
    width: torch.Tensor,
    clip: tuple[float, float] | None,
    backend: str = "auto",
) -> Callable[[int, torch.Tensor], torch.Tensor]:
    """``fill(start, out)`` sets ``out`` (shape ``(n, *lo.shape)``) to ``clip(lo + u * width)``, uniforms ``start ...``.

    Row ``r`` uses uniforms ``start + r m .. start + (r + 1) m - 1`` (``m = lo.numel()``), in C order: exactly
    ``Perturbation.apply`` of those latents for an affine uniform family (``x' = clip(lo + width z)``), but
    without writing the latents to memory (one pass instead of three on the CPU). float32 throughout.
    Everything that does not change between calls (checks, the kernel, the coefficients as NumPy arrays) is
    done here once: right after a forward pass each Python-level step costs several times what it costs warm.
    """
    if not 0 <= key < 2**64:
        raise ValueError(f"key must be a 64-bit unsigned integer, got {key}")
    if lo.dtype != torch.float32 or width.dtype != torch.float32 or width.shape != lo.shape:
        raise TypeError("the fused sampler needs float32 lo and width of one shape (one row of the output)")
    clo, chi = clip if clip is not None else (-np.inf, np.inf)
    kernels = _kernels_for(lo, backend)
    if kernels is None:
        def fill_torch(start: int, out: torch.Tensor) -> torch.Tensor:
            _uniforms_torch(key, start, out)
            return out.mul_(width).add_(lo).clamp_(clo, chi)  # the same two rounded operations and clip
        return _checked(fill_torch, lo.shape)
    coefficients = (*(t.detach().contiguous().view(-1).numpy() for t in (lo, width)), np.float32(clo), np.float32(chi))

    def fill_numba(start: int, out: torch.Tensor) -> torch.Tensor:
        _launch(kernels, "affine", out.detach().view(-1).numpy(), np.uint64(key), start, *coefficients)
        return out
    return _checked(fill_numba, lo.shape)


def _checked(fill: Callable[[int, torch.Tensor], torch.Tensor],
             row: torch.Size) -> Callable[[int, torch.Tensor], torch.Tensor]:
    def checked(start: int, out: torch.Tensor) -> torch.Tensor:
        if out.dtype != torch.float32 or out.shape[1:] != row or not out.is_contiguous() or start < 0:
            raise ValueError(f"the fused sampler fills contiguous float32 tensors of rows {tuple(row)}, start >= 0")
        return fill(start, out)
    return checked

