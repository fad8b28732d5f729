"""Synthetic campaigns whose true pfd is known exactly: for checking that the bounds are conservative.

Cell c of K has operational probability OP_c; an input of cell c is robust (theta = 0) with probability
``1 - q_c`` and otherwise fragile with ``theta ~ Beta(a, b)``, so ``lambda_c = q_c a / (a + b)`` and the
true pfd is ``sum_c OP_c lambda_c``. The campaign evaluates inputs drawn with cell shares ``input_shares``
(a test set need not follow the operation), estimating each theta from ``queries`` Bernoulli trials, and
the operational data are ``n_operational`` draws from OP counted in the cells.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..metrics import OperationalProfile

__all__ = ["SyntheticCampaign", "synthetic_campaign"]


@dataclasses.dataclass(frozen=True)
class SyntheticCampaign:
    """Per-input estimates, true thetas and cells, the counted profile, and the true pfd."""

    failure_probabilities: np.ndarray
    theta: np.ndarray
    cells: np.ndarray
    profile: OperationalProfile
    truth: float


def synthetic_campaign(
    op_probabilities, fragile_share, *, fragile_law: tuple[float, float] = (0.5, 2.0), input_shares=None,
    n_inputs: int = 1000, n_operational: int = 3000, queries: int = 1000, seed: int = 0,
) -> SyntheticCampaign:
    """One synthetic campaign (see the module docstring); same seed, same campaign.

    Examples
    --------
    >>> camp = synthetic_campaign([0.5, 0.5], [0.02, 0.1], fragile_law=(1, 1), seed=0)
    >>> round(camp.truth, 4), camp.failure_probabilities.shape, int(camp.profile.counts.sum())
    (0.03, (1000,), 3000)
    """
    op = np.asarray(op_probabilities, dtype=float)
    q = np.broadcast_to(np.asarray(fragile_share, dtype=float), op.shape)
    shares = op if input_shares is None else np.asarray(input_shares, dtype=float)
    rng = np.random.default_rng(seed)
    cells = rng.choice(op.size, size=n_inputs, p=shares / shares.sum())
    a, b = fragile_law
    theta = np.where(rng.random(n_inputs) < q[cells], rng.beta(a, b, n_inputs), 0.0)
    estimates = rng.binomial(queries, theta) / queries
    counts = rng.multinomial(n_operational, op).astype(float)
    profile = OperationalProfile(np.zeros((op.size, 0)), counts)
    return SyntheticCampaign(estimates, theta, cells, profile, float(op @ (q * a / (a + b))))
