"""Exact coverage of each binomial interval method (no simulation: sums of binomial probabilities).

For n samples and a grid of true failure probabilities p, coverage(p) = sum_k P(K = k) 1[p in CI(k)].
Prints the minimum and mean coverage per method; guaranteed methods must have min >= nominal.

Run: .venv/bin/python benchmarks/interval_coverage.py
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from probust.intervals import INTERVAL_METHODS, binomial_bounds


def coverage(method: str, n: int, p: np.ndarray, confidence: float) -> np.ndarray:
    k = np.arange(n + 1)
    lo, hi = binomial_bounds(k, n, (1 - confidence) / 2, method)
    inside = (lo[None, :] <= p[:, None]) & (p[:, None] <= hi[None, :])
    return (stats.binom.pmf(k[None, :], n, p[:, None]) * inside).sum(1)


def main() -> None:
    confidence = 0.99
    p = np.logspace(-5, np.log10(0.5), 400)
    print(f"two-sided {confidence:.0%} intervals, p on a log grid in [1e-5, 0.5] (400 points)")
    print(f"{'n':>7} {'method':>16} {'min coverage':>13} {'mean coverage':>14} {'share of p below nominal':>25}")
    for n in (100, 1000, 10_000):
        for method in INTERVAL_METHODS:
            cov = coverage(method, n, p, confidence)
            print(f"{n:7,} {method:>16} {cov.min():13.4f} {cov.mean():14.4f} {np.mean(cov < confidence):25.1%}")


if __name__ == "__main__":
    main()
