"""Probabilistic Lipschitzness (Definition 2; Mangal, Sarangmath, Nori & Orso, SAS 2020).

    P[ ||f(x) - f(x')|| <= k ||x - x'|| ]  >= 1 - epsilon      for x ~ D, x' gamma-close to x

Pairs are drawn as x from the data and x' = x + delta from a perturbation supported in the gamma-ball
(e.g. ``UniformL2(eps=gamma)``): with real data, exactly-gamma-close pairs of independent draws are too
rare to sample in high dimension. The probability is a binomial proportion over pairs, reported with an
exact (Clopper-Pearson) interval; inputs are reused round-robin, each pair with its own noise.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .. import _rng
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, binomial_ci
from ..perturbations import Box, Compose, Perturbation, Semantic
from ..querying import LatentStream
from ..serialisation import Serialisable


@dataclasses.dataclass(frozen=True)
class LipschitzEstimate(Serialisable):
    """Estimated P(||f(x) - f(x')|| <= k ||x - x'||) with its interval, and the ratios' quantiles."""

    probability: float
    ci: ConfidenceInterval
    k: float
    n_pairs: int
    ratio_quantiles: dict[str, float]


@torch.no_grad()
def probabilistic_lipschitz(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    perturbation: Perturbation,
    k: float,
    *,
    n_pairs: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    output_norm: float = 2.0,
    input_norm: float = 2.0,
    batch_size: int = 1024,
) -> LipschitzEstimate:
    """Estimate the probability that ``model`` is k-Lipschitz on pairs (x, x + delta)."""
    if not k > 0 or n_pairs < 1:
        raise ConfigurationError(f"need k > 0 and n_pairs >= 1, got k={k!r}, n_pairs={n_pairs!r}")
    if isinstance(perturbation, Box):  # its shift ignores x: there is no displacement to add to each input
        raise ConfigurationError("probabilistic Lipschitzness needs noise around each input; a Box is one fixed "
                                 "input set (use uniform-linf with per-coordinate radii)")
    if isinstance(perturbation, (Compose, Semantic)):  # x' is not x + displacement: pairs are not reused that way
        raise ConfigurationError(f"probabilistic Lipschitzness needs additive noise, got {perturbation.to_spec()}; "
                                 "use uniform-l2 (pairs within a radius)")
    entropy = _rng.resolve_seed(seed)
    x_shape = tuple(inputs.shape[1:])
    stream = LatentStream(perturbation, x_shape, entropy)
    ratios = []
    for start in range(0, n_pairs, batch_size):
        rows = torch.arange(start, min(n_pairs, start + batch_size)) % len(inputs)
        x = inputs[rows]
        xp = perturbation.shift(torch.zeros(x_shape, dtype=x.dtype), stream.take(len(rows)).to(x.dtype)) + x
        if perturbation.clip is not None:
            xp = xp.clamp(*perturbation.clip)
        d_out = (model(xp) - model(x)).flatten(1).norm(p=output_norm, dim=1)
        d_in = (xp - x).flatten(1).norm(p=input_norm, dim=1)
        ratios.append((d_out / d_in.clamp_min(torch.finfo(d_in.dtype).tiny)).double())
    ratio = torch.cat(ratios).numpy()
    holds = int((ratio <= k).sum())
    ci = binomial_ci(holds, n_pairs, confidence)
    quantiles = {f"q{q:g}": float(np.quantile(ratio, q)) for q in (0.5, 0.9, 0.99, 0.999)}
    return LipschitzEstimate(holds / n_pairs, ci, float(k), n_pairs, quantiles)
