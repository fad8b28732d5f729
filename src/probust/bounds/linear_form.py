"""Sound upper bounds on P(a . delta <= -c) for the noise laws of probust's perturbations.

Used by PROVEN (estimators/proven.py): CROWN gives margin >= a . delta + c, so the failure probability
is at most P(a . delta + c <= 0). Three bounds, all sound:

* ``hoeffding_tail`` (Weng et al. ICML'19): independent delta_i in [lo_i, hi_i] with means mu_i:
  P <= exp(-2 t^2 / sum a_i^2 (hi_i - lo_i)^2), t = c + sum a_i mu_i (1 if t <= 0).
* ``l2_ball_tail``: delta uniform in an L2 ball of radius eps (no clip): a . delta / (eps |a|) = 2B - 1
  with B ~ Beta((d+1)/2, (d+1)/2): the probability itself.
* ``convolution_tail``: independent coordinates with known CDFs. Each term a_i delta_i is rounded *down*
  to a grid of step h, which can only lower the sum, so P(rounded sum <= -c) >= P(sum <= -c); the
  rounded terms are discrete and their sum's law is computed by FFT convolutions (a pairwise tree, so
  the cost is O(M log M log d) for M grid cells). The grid has 2^19 cells over the sum's range, so the
  rounding moves the sum by at most d h (returned); FFT round-off is covered by an absolute 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .._scipy import signal, stats

#: Absolute allowance for floating-point error of the FFT convolutions.
FFT_SLACK = 1e-12
GRID_CELLS = 2**19

#: cdf(i, values, inclusive) = P(delta_i <= values) if inclusive else P(delta_i < values).
CoordinateCdf = Callable[[int, np.ndarray, bool], np.ndarray]


def hoeffding_tail(a: np.ndarray, c: float, lo: np.ndarray, hi: np.ndarray, mean: np.ndarray) -> float:
    """Hoeffding bound on P(sum a_i delta_i <= -c) for independent delta_i in [lo_i, hi_i] with given means."""
    t = c + float(a @ mean)
    spread = float(((a * (hi - lo)) ** 2).sum())
    if t <= 0 or spread == 0:
        return 1.0 if t <= 0 else 0.0
    return math.exp(-2 * t * t / spread)


def l2_ball_tail(a: np.ndarray, c: float, eps: float) -> float:
    """Exact P(a . delta <= -c) for delta uniform in the L2 ball of radius eps (dimension len(a))."""
    norm = float(np.linalg.norm(a))
    if norm == 0:
        return 1.0 if c <= 0 else 0.0
    k = (a.size + 1) / 2
    return float(stats.beta.cdf((1 - c / (eps * norm)) / 2, k, k))


def clipped_cdf(
    continuous: Callable[[int, np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray
) -> CoordinateCdf:
    """CDF of delta_i = clip(x_i + noise_i) - x_i: coordinate i's noise CDF ``continuous(i, values)`` on
    [lo_i, hi_i], with atoms at both ends."""

    def cdf(i: int, values: np.ndarray, inclusive: bool) -> np.ndarray:
        inside = continuous(i, values)
        if inclusive:
            return np.where(values < lo[i], 0.0, np.where(values >= hi[i], 1.0, inside))
        return np.where(values <= lo[i], 0.0, np.where(values > hi[i], 1.0, inside))

    return cdf


def convolution_tail(
    a: np.ndarray, c: float, cdf: CoordinateCdf, lo: np.ndarray, hi: np.ndarray
) -> tuple[float, float]:
    """Sound upper bound on P(sum a_i delta_i <= -c) for independent delta_i in [lo_i, hi_i].

    Returns ``(bound, shift)`` where ``shift = d h`` is the largest amount the rounding lowered the sum by.
    """
    idx = np.flatnonzero(a)
    term_lo = np.minimum(a[idx] * lo[idx], a[idx] * hi[idx])
    term_hi = np.maximum(a[idx] * lo[idx], a[idx] * hi[idx])
    span = float((term_hi - term_lo).sum())
    if float(term_lo.sum()) > -c:  # the sum can never reach -c: a deterministic certificate
        return 0.0, 0.0
    if span == 0:
        return 1.0, 0.0
    h = span / GRID_CELLS
    base = np.floor(term_lo / h).astype(np.int64)
    cells = np.floor(term_hi / h).astype(np.int64) - base + 1
    pmfs = []
    for j, i in enumerate(idx):
        edges = (base[j] + np.arange(cells[j] + 1)) * h / a[i]  # cell k: edge_k <= a_i delta_i < edge_k+1
        if a[i] > 0:
            pmf = np.diff(cdf(i, edges, False))
        else:  # a_i < 0 flips the order: P(edge_k+1 / a_i < delta_i <= edge_k / a_i)
            pmf = -np.diff(cdf(i, edges, True))
        pmfs.append(np.clip(pmf, 0.0, None))
    while len(pmfs) > 1:  # pairwise tree of FFT convolutions
        pmfs = [signal.fftconvolve(p, q) for p, q in zip(pmfs[::2], pmfs[1::2], strict=False)] + (
            [pmfs[-1]] if len(pmfs) % 2 else []
        )
    law = pmfs[0]
    last = math.floor(-c / h) - int(base.sum())  # rounded sum <= -c  <=>  cell index <= last
    tail = float(np.clip(law[: max(0, last + 1)], 0.0, None).sum())
    return min(1.0, tail + FFT_SLACK), len(idx) * h
