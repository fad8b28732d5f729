"""The operational profile of a claim: cells fitted on a quarter of the operational data, counted on the rest.

:meth:`probust.metrics.OperationalProfile.fit` places k-means cells on the data and counts the same data
in them. For a claim the counts must be an honest multinomial sample given the cells, so the cells are
fitted on a random quarter and the other three quarters are counted (k-means needs far fewer points to
place K centres than the counts need to pin down K probabilities).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigurationError
from ..metrics import OperationalProfile, penultimate_features

__all__ = ["fit_profile", "profile_cells"]


def fit_profile(operational_features: np.ndarray, n_cells: int = 10, seed: int = 0) -> OperationalProfile:
    """k-means cells from a random quarter of ``operational_features``; ``counts`` from the rest.

    Examples
    --------
    >>> feats = np.random.default_rng(0).normal(size=(400, 2))
    >>> profile = fit_profile(feats, n_cells=4)
    >>> profile.centres.shape, int(profile.counts.sum())
    ((4, 2), 300)
    """
    feats = np.asarray(operational_features, dtype=float)
    if feats.ndim != 2 or len(feats) < 4 * n_cells:
        raise ConfigurationError(f"an operational profile of {n_cells} cells needs a 2-D array of at least "
                                 f"{4 * n_cells} operational inputs (a quarter fit the cells, the rest count them)")
    order = np.random.default_rng(seed).permutation(len(feats))
    fitting, counting = order[: len(feats) // 4], order[len(feats) // 4:]
    cells = OperationalProfile.fit(feats[fitting], n_cells=n_cells, seed=seed)
    counts = np.bincount(cells.assign(feats[counting]), minlength=n_cells).astype(float)
    return OperationalProfile(cells.centres, counts)


def profile_cells(model, inputs, operational_inputs, n_cells: int = 10,
                  seed: int = 0) -> tuple[np.ndarray, OperationalProfile]:
    """Profile fitted on ``operational_inputs`` in ``model``'s penultimate features, and the cell of each input."""
    profile = fit_profile(penultimate_features(model, operational_inputs), n_cells, seed)
    return profile.assign(penultimate_features(model, inputs)), profile
