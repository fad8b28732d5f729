"""Operational profiles: weight per-input robustness by how often the operation meets each kind of input.

Zhao et al., "Assessing the reliability of deep learning classifiers through robustness evaluation and
operational profiles", AISafety'21; Dong et al., ACM TECS'23. The input space is partitioned into cells
(k-means clusters in a feature space of the model, e.g. its penultimate layer); the operational profile
OP_c is each cell's probability, estimated from operational data by counts; each cell's failure rate
lambda_c is the mean failure probability of the evaluated inputs in it; and

    pfd = sum_c OP_c lambda_c        (probability of failure per demand / input)

Cells that the operation visits but no evaluated input falls into get lambda_c = 1 (conservative, as in
the RAM implementation) and are reported. Uncertainty: a Bayesian bootstrap -- OP ~ Dirichlet(counts + 1/2)
(Jeffreys) and lambda_c from resampled evaluated inputs in the cell -- gives an interval for the pfd.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import torch

from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval
from ..serialisation import Serialisable


@torch.no_grad()
def penultimate_features(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
    """Activations before the last layer of an ``nn.Sequential`` (the model's own feature space)."""
    if not isinstance(model, torch.nn.Sequential) or len(model) < 2:
        raise ConfigurationError("penultimate features need an nn.Sequential; pass your own features instead")
    body = model[:-1].eval()
    return torch.cat([body(chunk).flatten(1) for chunk in x.split(batch_size)]).double().numpy()


@dataclasses.dataclass(frozen=True)
class OperationalProfile:
    """A partition of feature space into cells and each cell's operational probability."""

    centres: np.ndarray
    counts: np.ndarray

    @classmethod
    def fit(cls, operational_features: np.ndarray, n_cells: int = 10, seed: int = 0) -> OperationalProfile:
        """Cluster operational data into ``n_cells`` cells (k-means) and count the data in each."""
        feats = np.asarray(operational_features, dtype=float)
        if feats.ndim != 2 or len(feats) < n_cells:
            raise ConfigurationError(f"need a 2-D array with at least n_cells={n_cells} rows of operational data")
        from sklearn.cluster import KMeans  # here, not at the top: scikit-learn costs ~0.8 s of `import probust`

        km = KMeans(n_clusters=n_cells, n_init=4, random_state=seed).fit(feats)
        return cls(km.cluster_centers_, np.bincount(km.labels_, minlength=n_cells).astype(float))

    @property
    def probabilities(self) -> np.ndarray:
        return self.counts / self.counts.sum()

    def assign(self, features: np.ndarray) -> np.ndarray:
        """Cell of each row of ``features`` (nearest centre)."""
        feats = np.asarray(features, dtype=float)
        d2 = (feats * feats).sum(1)[:, None] - 2 * feats @ self.centres.T + (self.centres**2).sum(1)[None, :]
        return d2.argmin(1)


@dataclasses.dataclass(frozen=True)
class PfdEstimate(Serialisable):
    """Operational-profile-weighted probability of failure per input, with its interval."""

    pfd: float
    ci: ConfidenceInterval
    unweighted: float
    cell_failure_rates: tuple[float, ...]
    cell_probabilities: tuple[float, ...]
    empty_cells: tuple[int, ...]


def weighted_pfd(
    failure_probabilities, cells: np.ndarray, profile: OperationalProfile, *, confidence: float = 0.95,
    n_bootstrap: int = 2000, seed: int = 0, sided: Literal["two-sided", "upper"] = "two-sided",
) -> PfdEstimate:
    """pfd = sum_c OP_c lambda_c with a Bayesian-bootstrap interval (see the module docstring).

    ``sided="upper"`` gives the one-sided bound ``[0, q_confidence]`` that a pfd claim needs.
    """
    p = np.asarray(failure_probabilities, dtype=float).ravel()
    cells = np.asarray(cells).ravel()
    if p.shape != cells.shape or p.size == 0:
        raise ConfigurationError("need one cell per failure probability")
    n_cells = len(profile.counts)
    rng = np.random.default_rng(seed)
    members = [p[cells == c] for c in range(n_cells)]
    empty = [c for c in range(n_cells) if members[c].size == 0]
    rates = np.array([m.mean() if m.size else 1.0 for m in members])
    draws = np.empty(n_bootstrap)
    for b in range(n_bootstrap):  # n_bootstrap x n_cells small draws; vectorising gains nothing here
        op = rng.dirichlet(profile.counts + 0.5)
        lam = np.array([rng.dirichlet(np.ones(m.size)) @ m if m.size else 1.0 for m in members])
        draws[b] = op @ lam
    alpha = 1 - confidence
    if sided == "upper":
        ci = ConfidenceInterval(0.0, float(np.quantile(draws, confidence)), confidence, "bayesian-bootstrap", "upper")
    else:
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        ci = ConfidenceInterval(float(lo), float(hi), confidence, "bayesian-bootstrap")
    return PfdEstimate(float(profile.probabilities @ rates), ci, float(p.mean()), tuple(rates.tolist()),
                       tuple(profile.probabilities.tolist()), tuple(empty))
