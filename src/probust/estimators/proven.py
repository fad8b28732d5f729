"""PROVEN: probabilistic robustness certificates from linear bounds (Weng et al., ICML'19).

Weng, Chen, Nguyen, Squillante, Boopathy, Oseledets & Daniel, "PROVEN: Verifying robustness of neural
networks with a probabilistic approach", ICML 2019. For bounded noise delta and a failure region
linear in the outputs, OR_i AND_j (g_ij(x) = a_ij . f(x) + b_ij >= 0) (``output_regions``: a label change
of class y is the union over j != y of f_j - f_y >= 0, the paper's case):

    for every half-space:
        -g_ij(x + delta) >= A_ij . delta + c_ij                          # CROWN linear lower bound
    P(failure) <= sum_i min_j P(A_ij . delta + c_ij <= 0)                # union over i, the best j of each
    each term bounded by Hoeffding (independent coordinates, the paper's choice) or, with
    law="exact", by the law of a_j . delta itself (Beta for the L2 ball; a rounded-down FFT
    convolution for independent coordinates, or Hoeffding where that is smaller): still sound, tighter

The linear bounds come from CROWN (the paper's choice) or, with ``relaxation="alpha-crown"``, from
alpha-CROWN (Xu et al., ICLR'21: ``bounds.crown``), whose ReLU lower slopes are optimised per half-space
for the score (c_j + a_j . mu) / ||a_j o w||_2, where mu = E[delta] and w_i = hi_i - lo_i are the
coordinates' means and ranges (mu = 0, w = 1 for the L2 ball). That score is what the certificate term
decreases in for the L2 ball (exactly: the Beta tail is a function of c / (eps ||a||)) and for
law="hoeffding" (Hoeffding's exponent is -2 score^2 when score > 0); for the exact law of independent
coordinates it is the central-limit proxy (the uniform law's variance is w_i^2 / 12). Each half-space keeps
the smaller of its CROWN and alpha-CROWN terms (both sound), so alpha-CROWN is never looser.

The result is a deterministic upper bound on the failure probability (a lower bound on PR) that holds
for the model itself: ``bound_kind="deterministic"``, ``ci = [0, bound]``. No model queries are made.
Supports the networks ``bounds.graph`` follows (chains or graphs of Linear, Conv2d, BatchNorm, ReLU, sigmoid,
tanh, max / average pooling, residual sums, concatenations...), the
properties of ``output_regions.output_region`` and bounded noise: UniformLinf (one radius or one per
coordinate) and Box with any clip, TruncatedGaussian with p=inf, UniformL2 without clip (law="exact" only).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import torch

from .._scipy import special
from ..bounds import LinearBound, NetworkBounds
from ..bounds.linear_form import clipped_cdf, convolution_tail, hoeffding_tail, l2_ball_tail
from ..components import Options, param, register
from ..errors import ConfigurationError, needs_layers
from ..intervals import ConfidenceInterval
from ..output_regions import output_region
from ..perturbations import Box, TruncatedGaussian, UniformL2, UniformLinf
from ..properties import LabelChange, TopK
from ..querying import Oracle
from ._base import Estimator, Outcome


def _coordinates(pert, x: np.ndarray):
    """Range, mean and CDF of each clipped coordinate delta_i (independent-coordinate laws)."""
    if isinstance(pert, TruncatedGaussian):
        eps = pert.eps
        a, b = np.full(x.size, -eps), np.full(x.size, eps)
        t = special.ndtr(-eps / pert.sigma)

        def cont(i, v):
            return np.clip((special.ndtr(np.clip(v, -eps, eps) / pert.sigma) - t) / (1 - 2 * t), 0, 1)
    else:  # uniform on [a_i, b_i] (a coordinate of zero width is a point mass)
        a, b = _uniform_range(pert, x)
        width = b - a
        safe = np.where(width > 0, width, 1.0)

        def cont(i, v):
            return np.where(width[i] > 0, np.clip((v - a[i]) / safe[i], 0.0, 1.0), (v >= a[i]).astype(float))
    clip_lo, clip_hi = pert.clip if pert.clip is not None else (-np.inf, np.inf)
    lo, hi = np.maximum(a, clip_lo - x), np.minimum(b, clip_hi - x)
    cdf = clipped_cdf(cont, lo, hi)
    # E[delta_i] = hi - integral_lo^hi F(v) dv (F includes the atom at lo). The trapezoid rule is exact for
    # the uniform law; for the truncated normal its error is below 1e-9 * (hi - lo) on 4097 points, and
    # MEAN_SLACK moves each mean towards the side that can only loosen Hoeffding's bound.
    pts = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, 4097)[None, :]
    mean = hi - np.trapezoid(cont(np.arange(x.size)[:, None], pts), pts, axis=1)
    return lo, hi, mean, cdf


def _uniform_range(pert, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The interval [a_i, b_i] of each coordinate's uniform displacement (before clipping)."""
    if isinstance(pert, Box):
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64).ravel(), x.shape) for v in (pert.lo, pert.hi))
        return lo - x, hi - x
    eps = np.broadcast_to(np.asarray(pert.eps, dtype=np.float64).ravel(), x.shape)
    return -eps, eps


#: Allowance for the numerical integration of the coordinate means (see ``_coordinates``).
MEAN_SLACK = 1e-9


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class Proven(Estimator):
    """PROVEN certificate: a sound upper bound on the failure probability from CROWN linear bounds.

    Parameters
    ----------
    law
        ``"exact"`` (default): the law of each linear form; ``"hoeffding"``: the paper's Hoeffding bound.
    relaxation
        ``"crown"`` (default, the paper's) or ``"alpha-crown"``: optimised ReLU lower slopes (module
        docstring; 30 Adam steps). Never looser, but why it is not the default: measured on mnist-mlp and
        digits-mlp (``benchmarks/proven_tightness.py --tables relaxations``) it tightens bounds that are
        already far from Monte Carlo (0.99 -> 0.90 where MC sees no failure in 1e5 samples, 1e-80 -> 1e-88)
        or that are 1 either way, and it doubles the seconds per input (each class's exact law is computed
        for both linear forms).
    """

    law: Literal["exact", "hoeffding"] = param("exact", Options("exact", "hoeffding"))
    relaxation: Literal["crown", "alpha-crown"] = param("crown", Options("crown", "alpha-crown"))
    name = "proven"
    guarantee = "sound"
    tags = frozenset({"white-box"})

    def _linear_bounds(
        self, network: NetworkBounds, spec: torch.Tensor, mean: torch.Tensor, width: torch.Tensor
    ) -> list[LinearBound]:
        """The candidate linear bounds of the margins: CROWN's, and alpha-CROWN's for the score
        (c + A mu) / ||A o w|| (module docstring) if asked for."""
        crown = network.linear_bounds(spec)
        if self.relaxation == "crown":
            return [crown]
        tiny = torch.finfo(torch.float64).tiny

        def score(A: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            return (c + A @ mean) / (A * width).norm(dim=1).clamp_min(tiny)

        return [crown, network.alpha_crown(spec, score)]

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        pert, failure = oracle.perturbation, oracle.failure
        if not isinstance(oracle.model, torch.nn.Module):
            raise needs_layers("PROVEN", oracle.model)
        region = output_region(failure, oracle.clean_output.flatten(1).shape[1])
        polytopes = region.matrices()
        spec = -torch.cat([A for A, _ in polytopes])  # row ij: -a_ij, bounded below by CROWN
        offsets = torch.cat([b for _, b in polytopes])  # -g_ij = spec_ij . f - b_ij
        x = oracle.x.detach().double().cpu()
        xn = x.numpy().ravel()
        if isinstance(pert, UniformL2) or (isinstance(pert, TruncatedGaussian) and pert.p == 2):
            if not isinstance(pert, UniformL2) or pert.clip is not None or self.law != "exact":
                raise ConfigurationError(
                    f"PROVEN supports L2 noise only as unclipped uniform-l2 with law='exact', got {pert.to_spec()}"
                )
            network = NetworkBounds(oracle.model, x, l2_radius=pert.eps)
            forms = self._linear_bounds(network, spec, torch.zeros(xn.size, dtype=torch.float64),
                                        torch.ones(xn.size, dtype=torch.float64))

            def tail(a: np.ndarray, c: float) -> tuple[float, float]:
                return l2_ball_tail(a, c, pert.eps), 0.0
        elif isinstance(pert, (UniformLinf, Box, TruncatedGaussian)):
            lo, hi, mean, cdf = _coordinates(pert, xn)
            box = (torch.from_numpy(xn + lo).reshape(x.shape), torch.from_numpy(xn + hi).reshape(x.shape))
            network = NetworkBounds(oracle.model, x, box=box)
            forms = self._linear_bounds(network, spec, torch.from_numpy(mean), torch.from_numpy(hi - lo))

            def tail(a: np.ndarray, c: float) -> tuple[float, float]:
                # lowering c by the worst mean error keeps Hoeffding's bound an over-estimate
                bound = hoeffding_tail(a, c - MEAN_SLACK * float(np.abs(a) @ (hi - lo)), lo, hi, mean)
                if self.law == "hoeffding":
                    return bound, 0.0
                exact, shift = convolution_tail(a, c, cdf, lo, hi)  # both sound: keep the smaller
                return min(bound, exact), shift  # (Hoeffding wins far out)
        else:
            raise ConfigurationError(
                f"PROVEN needs bounded noise (uniform-linf, box, uniform-l2, truncated-gaussian), got {pert.to_spec()}"
            )
        # per half-space and candidate linear form (CROWN, alpha-CROWN): every term is sound, keep the smallest
        results = [[(*tail(form.A[r].numpy().ravel(), float(form.c[r] - offsets[r])), float(form.c[r] - offsets[r]))
                    for form in forms] for r in range(len(spec))]
        chosen = [min(row) for row in results]
        rows = np.cumsum([0] + [len(b) for _, b in polytopes])
        terms = [min(t for t, _, _ in chosen[rows[i]:rows[i + 1]]) for i in range(len(polytopes))]
        upper = min(1.0, float(np.sum(terms)))
        ci = ConfidenceInterval(0.0, upper, 1.0, f"proven-{self.law}", "upper")
        per_class = {}
        if isinstance(failure, (LabelChange, TopK)):  # one polyhedron per other class, in class order
            others = [str(j) for j in range(len(terms) + 1) if j != failure.label]
            per_class = {"per_class_bounds": dict(zip(others, terms, strict=True))}
        return Outcome(
            upper, ci, bound_kind="deterministic",
            diagnostics={"per_polytope_bounds": terms, **per_class,
                         "linear_offsets": [c for _, _, c in chosen], "relaxation": self.relaxation,
                         "rounding_shift": max(s for row in results for _, s, _ in row)},
        )
