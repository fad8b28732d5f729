"""Cramér–Chernoff layer-wise certificate: Lipschitz propagation of the noise to the margins.

After Couellan, "Probabilistic robustness estimates for feed-forward neural networks", Neural Networks
142 (2021): propagate the input noise through the layers with their Lipschitz constants and bound the
tail of the output deviation with the Cramér–Chernoff method. What is sound, and what this file does:

    g_i(x') = c_i . f(x') + b_i                  # safe margins: failure  =>  some g_i(x') <= 0
    L_i = Lipschitz constant of g_i              # bounds/lipschitz.py: exact block spectral norms,
                                                 # ReLU 1-Lipschitz, dead neurons (CROWN) dropped on
                                                 # the noise support when it is bounded
    r = min_i g_i(x) / L_i                       # |g_i(x') - g_i(x)| <= L_i ||x' - x||_2, so
    P(failure) <= P(||x' - x||_2 >= r)           # failure needs ||x' - x|| >= r   (deterministically)
              <= P(||delta||_2 >= r)             # clipping is 1-Lipschitz per coordinate

and the tail of the noise norm, for delta with i.i.d. coordinates (uniform / truncated normal on
[-eps, eps]), by Cramér–Chernoff on the sum of the independent squares:

    P(sum_i delta_i^2 >= r^2) <= min_{lam > 0} exp(d log E[exp(lam delta_1^2)] - lam r^2)

with the exact moment generating function (Dawson's integral / the normal CDF; any lam gives a valid
bound, so the numerical minimiser cannot break soundness); with ``law="exact"`` also by a rounded-down
FFT convolution of the squares (``bounds.linear_form.convolution_tail``) and the smaller is kept.
Gaussian noise: ||delta||^2 / sigma^2 ~ chi2_d exactly; uniform L2 ball: P = 1 - (r / eps)^d;
truncated-Gaussian L2 ball: a ratio of chi2 probabilities.

Why not the paper's route: a sub-Gaussian vector pushed through a nonlinear Lipschitz map is not
sub-Gaussian with the propagated proxy in general. The sound concentration route exists -- for Gaussian
noise P(g(delta) <= E g - t) <= exp(-t^2 / (2 L^2 sigma^2)) (Tsirelson–Ibragimov–Sudakov), for independent
bounded coordinates McDiarmid with differences 2 eps L, together with |E g - g(0)| <= L E||delta|| -- but it
is never tighter than the norm tail above (the worst L-Lipschitz g is g(0) - L ||delta||, for which the
norm tail is exact), so it is only reported in ``diagnostics["concentration_bound"]`` and min'd in.

Result: a deterministic upper bound on the failure probability for the model itself (exact arithmetic),
``bound_kind="deterministic"``, ``ci = [0, bound]``, no model queries. Properties: label change and
regression tolerance. Layers: those of ``bounds.crown`` (others raise ``UnsupportedLayerError``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Literal

import numpy as np
import torch

from .._scipy import optimize, special, stats
from ..bounds import NetworkBounds
from ..bounds.linear_form import clipped_cdf, convolution_tail
from ..bounds.lipschitz import lipschitz_of_rows
from ..components import Flag, Options, param, register
from ..errors import ConfigurationError, needs_layers
from ..intervals import ConfidenceInterval
from ..perturbations import Gaussian, TruncatedGaussian, UniformL2, UniformLinf
from ..properties import LabelChange, RegressionTolerance
from ..querying import Oracle
from ._base import Estimator, Outcome
from .proven import MEAN_SLACK, _coordinates


def _log_gauss_integral(kappa: float, eps: float) -> float:
    """log of the integral of exp(-kappa t^2) over [-eps, eps], for any sign of kappa."""
    if kappa > 0:
        return 0.5 * math.log(math.pi / kappa) + math.log(special.erf(eps * math.sqrt(kappa)))
    if kappa < 0:
        mu = -kappa
        return math.log(2.0) + mu * eps * eps + math.log(special.dawsn(eps * math.sqrt(mu))) - 0.5 * math.log(mu)
    return math.log(2 * eps)




def chernoff_square_tail(r: float, d: int, eps: float, sigma: float | None) -> float:
    """min over lam of E[exp(lam sum delta_i^2)] / exp(lam r^2), delta_i i.i.d. uniform (sigma None) or
    N(0, sigma^2) truncated to [-eps, eps]."""
    if r * r >= d * eps * eps:
        return 0.0
    base = 0.5 / sigma**2 if sigma is not None else 0.0
    log_norm = _log_gauss_integral(base, eps)

    def log_bound(log_a: float) -> float:  # lam = exp(log_a) / eps^2
        lam = math.exp(log_a) / eps**2
        return d * (_log_gauss_integral(base - lam, eps) - log_norm) - lam * r * r

    opt = optimize.minimize_scalar(log_bound, bounds=(math.log(1e-9), math.log(1e5)), method="bounded")
    return float(min(1.0, math.exp(min(0.0, log_bound(opt.x)))))


def exact_square_tail(r: float, d: int, eps: float, sigma: float | None) -> float:
    """Sound upper bound on P(sum delta_i^2 >= r^2) by the rounded-down convolution of the squares."""
    if sigma is None:
        cont = lambda i, v: np.sqrt(np.clip(v, 0, None)) / eps  # noqa: E731
    else:
        z = 2 * special.ndtr(eps / sigma) - 1
        cont = lambda i, v: (2 * special.ndtr(np.sqrt(np.clip(v, 0, None)) / sigma) - 1) / z  # noqa: E731
    lo, hi = np.zeros(d), np.full(d, eps * eps)
    bound, _ = convolution_tail(-np.ones(d), r * r, clipped_cdf(cont, lo, hi), lo, hi)
    return bound


def norm_tail(pert, r: float, d: int, law: str) -> float:
    """Upper bound on P(||delta||_2 >= r) for the unclipped noise delta."""
    if r <= 0:
        return 1.0
    if isinstance(pert, Gaussian):
        return float(stats.chi2.sf((r / pert.sigma) ** 2, d))
    if isinstance(pert, UniformL2):
        return 0.0 if r >= pert.eps else float(-math.expm1(d * math.log(r / pert.eps)))
    if isinstance(pert, TruncatedGaussian) and pert.p == 2:
        a2, r2 = (pert.eps / pert.sigma) ** 2, (r / pert.sigma) ** 2
        tail = 0.0 if r2 >= a2 else (stats.chi2.sf(r2, d) - stats.chi2.sf(a2, d)) / stats.chi2.cdf(a2, d)
        return float(min(1.0, max(0.0, tail)))
    eps, sigma = pert.eps, (pert.sigma if isinstance(pert, TruncatedGaussian) else None)
    bound = chernoff_square_tail(r, d, eps, sigma)
    if law == "exact" and bound > 0:
        bound = min(bound, exact_square_tail(r, d, eps, sigma))
    return bound


def concentration_bound(pert, network: NetworkBounds | None, x, rows, offsets, margins, lipschitz, sens) -> float:
    """Union over rows of Lipschitz concentration bounds on P(g_i(x') <= 0) (see the module docstring).

    ``network``: CROWN over the noise support box (None if unbounded), shared with the Lipschitz constants.
    """
    if isinstance(pert, Gaussian):  # TIS; E g_i >= g_i(x) - L_i E||delta|| >= g_i(x) - L_i sigma sqrt(d)
        t = margins - lipschitz * pert.sigma * math.sqrt(x.numel())
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(t > 0, np.exp(-(t**2) / (2 * (lipschitz * pert.sigma) ** 2)), 1.0)
        return float(min(1.0, terms.sum()))
    if not isinstance(pert, UniformLinf) and not (isinstance(pert, TruncatedGaussian) and pert.p == math.inf):
        return 1.0
    # McDiarmid: independent coordinates with ranges hi_j - lo_j; the mean from CROWN's linear lower bound
    # g_i(x + delta) >= A_i delta + c_i, so E g_i >= c_i + A_i E[delta] (E[delta] of the clipped law); the
    # support box [max(x - eps, clip_lo), min(x + eps, clip_hi)] is the coordinates' [x + lo, x + hi]
    lo, hi, mean, _ = _coordinates(pert, x.numpy().ravel())
    crown = network.linear_bounds(rows)
    a = crown.A.flatten(1).numpy()
    t = crown.c.numpy() + offsets.numpy() + a @ mean - MEAN_SLACK * np.abs(a) @ (hi - lo)
    spread = ((sens * (hi - lo)) ** 2).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(t > 0, np.exp(-2 * t**2 / spread), 1.0)
    return float(min(1.0, terms.sum()))


def _support_box(pert, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A box containing every perturbed input (None if unbounded)."""
    lo = hi = None
    if isinstance(pert, (UniformLinf, UniformL2, TruncatedGaussian)):
        lo, hi = x - pert.eps, x + pert.eps
    if pert.clip is not None:
        c_lo, c_hi = (torch.full_like(x, v) for v in pert.clip)
        lo, hi = (c_lo, c_hi) if lo is None else (torch.maximum(lo, c_lo), torch.minimum(hi, c_hi))
    return None if lo is None else (lo, hi)


def safe_margins(failure, clean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows C and offsets b with failure => some (C f(x') + b)_i <= 0 (flattened output)."""
    n_out = clean.numel()
    if isinstance(failure, LabelChange):
        others = [j for j in range(n_out) if j != failure.label]
        rows = torch.zeros(len(others), n_out, dtype=torch.float64)
        rows[:, failure.label] = 1.0
        rows[torch.arange(len(others)), others] = -1.0
        return rows, torch.zeros(len(others), dtype=torch.float64)
    if isinstance(failure, RegressionTolerance):  # |f_k - ref_k| > tol  <=>  tol -/+ (f_k - ref_k) < 0
        ref = torch.tensor(failure.reference, dtype=torch.float64)
        eye = torch.eye(n_out, dtype=torch.float64)
        return torch.cat([-eye, eye]), torch.cat([ref + failure.tolerance, failure.tolerance - ref])
    raise ConfigurationError(
        f"cramer-chernoff bounds label-change and regression-tolerance properties, not {failure.describe()}; "
        "use a sampling estimator (e.g. 'mc' or 'cc-cert') for it"
    )


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class CramerChernoff(Estimator):
    """Deterministic upper bound on the failure probability from Lipschitz propagation of the noise.

    Parameters
    ----------
    law
        ``"exact"`` (default): for i.i.d. bounded coordinates also the sound FFT convolution of the squares
        (about a second at d = 784); ``"chernoff"``: the Cramér–Chernoff bound only.
    local
        Drop neurons that CROWN proves dead on the noise support (bounded noise or clip); default True.
    """

    law: Literal["exact", "chernoff"] = param("exact", Options("exact", "chernoff"))
    local: bool = param(True, Flag())
    name = "cramer-chernoff"
    guarantee = "sound"
    tags = frozenset({"white-box"})

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        pert = oracle.perturbation
        if not isinstance(oracle.model, torch.nn.Module):
            raise needs_layers("cramer-chernoff", oracle.model)
        if not isinstance(pert, (Gaussian, UniformLinf, UniformL2, TruncatedGaussian)):
            raise ConfigurationError(f"cramer-chernoff does not support the perturbation {pert.to_spec()}")
        if isinstance(pert, UniformLinf) and not isinstance(pert.eps, float):
            raise ConfigurationError("cramer-chernoff needs one radius eps, not one per coordinate; use proven")
        x = oracle.x.detach().double().cpu()
        with torch.no_grad():
            clean = copy.deepcopy(oracle.model).double().eval()(x.unsqueeze(0))[0].flatten()
        rows, offsets = safe_margins(oracle.failure, clean)
        margins = (rows @ clean + offsets).numpy()
        support = _support_box(pert, x)
        # one CROWN pass over the support serves the dead-neuron masks and the McDiarmid mean below
        network = None if support is None else NetworkBounds(oracle.model, x, box=support)
        lipschitz, sens, info = lipschitz_of_rows(oracle.model, x, rows, network=network if self.local else None)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(lipschitz > 0, margins / lipschitz, np.where(margins > 0, np.inf, -np.inf))
        radius = float(ratios.min())
        bound = 0.0 if radius == math.inf else norm_tail(pert, radius, x.numel(), self.law)
        conc = concentration_bound(pert, network, x, rows, offsets, margins, lipschitz, sens)
        upper = min(bound, conc)
        ci = ConfidenceInterval(0.0, upper, 1.0, f"cramer-chernoff-{self.law}", "upper")
        return Outcome(
            upper, ci, bound_kind="deterministic",
            diagnostics={"radius": radius, "norm_tail_bound": bound, "concentration_bound": conc,
                         "clean_margins": margins.tolist(), "lipschitz": lipschitz.tolist(), **info},
        )
