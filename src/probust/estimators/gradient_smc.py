"""Sequential Monte Carlo with adaptive tempering and gradient-informed (Langevin) moves.

Tit, Furon & Rousset, "Gradient-informed neural network statistical robustness estimation", AISTATS 2023
(https://proceedings.mlr.press/v206/tit23a.html). In the standard-normal coordinates ``g`` of the latent,
with failure score ``s`` and potential ``v(g) = max(0, -s(g))``, the targets

    pi_beta(g) ∝ N(g; 0, I) exp(-beta v(g)),   Z_beta = E[exp(-beta v(g))],   g ~ N(0, I),

go from the perturbation's law (beta = 0) to the law conditioned on failure (beta = inf, Z_inf = p):

    g_1..g_N ~ N(0, I);  beta = 0;  log Z = 0
    loop:
        beta' = the largest beta' such that the ESS of w_i = exp(-(beta' - beta) v(g_i)) is >= ess_fraction N
                (beta' = inf once >= ess_fraction N particles fail: then w_i = 1{s(g_i) > 0})
        log Z += log mean(w_i)
        if beta' = inf: stop                # p_hat = Z_beta * mean(1{s > 0} / exp(-beta v)) = Z_inf
        resample N particles with probabilities w_i / sum(w)   (multinomial)
        beta = beta';  n_moves Metropolis-adjusted Langevin moves of every particle, invariant for pi_beta,
        with gradients of s through the perturbation; step size adapted towards target_acceptance

Moves use the Crank-Nicolson Langevin proposal (``kernel="pcnl"``, exact for the Gaussian part, so its
acceptance does not decay with the dimension) or plain MALA (``kernel="mala"``, as in the paper's code);
see :mod:`probust.estimators._gradient_kernels`.

Interval. The product estimator is unbiased for a fixed beta sequence (Del Moral 2004) but its variance
has no closed form, and the one-run genealogy estimator of Lee & Whiteley (Biometrika 2018) proved
unreliable here (60% coverage of a 95% interval on gold cases: over ~30 steps the genealogy collapses).
So the particles run as M = ``n_replicas`` independent samplers (batched, each with its own betas and
step size); p_hat is the mean of their estimates and the interval ``p_hat exp(-/+ t sigma)``, with
``sigma^2 = log(1 + CV^2 / M)``, CV the replicas' coefficient of variation and t Student's with M - 1
degrees of freedom, assumes that mean is near log-normal. Replicas keep >= 50 particles (smaller ones
are too skewed: coverage fell to ~0.91). A run cut short by the budget stops every replica at its
current beta with ``Z_beta * mean(1{s > 0})``, still unbiased, and a warning. Measured on the 55 gold
cells of ``benchmarks/rare_event_accuracy.py`` (2e5 queries): median |log10 error| 0.019 and coverage 0.952
over 10 runs per cell with one set of case seeds, but 0.022 and 150/165 = 0.909 [0.854, 0.948] over 3 runs
per cell with another (and 0.90 on PR-Bench at 1e5 queries): the interval is somewhat too narrow, most so
on uniform-l2 at p <= 1e-12. On narrow cones (uniform-l2, d = 10, p <= 1e-9) the moves stall, p is ~25%
low and a warning says so.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from .._scipy import optimize, stats
from ..components import PROBABILITY, Interval, Options, param, register
from ..intervals import ConfidenceInterval, binomial_ci
from ..querying import Oracle
from . import _gradient_kernels as gk
from ._base import Estimator, Outcome

_INIT, _RESAMPLE, _MOVE, _ACCEPT = 1, 2, 3, 4  # random streams
_MIN_REPLICA = 50  # particles per replica: fewer make the replica estimates too skewed for the t interval


def _ess(log_w: np.ndarray) -> float:
    w = np.exp(log_w - log_w.max())
    return float(w.sum() ** 2 / (w * w).sum())


def next_beta(beta: float, v: np.ndarray, target_ess: float) -> float:
    """The tempering step of the ESS rule: inf if the failing particles alone reach the target, else the root.

    The increment solves ESS(beta + d) = target (the ESS falls as d grows), bracketed by doubling and found by
    Brent's method to relative precision 1e-12 (~10 ESS evaluations; bisection took ~40).
    """
    if np.count_nonzero(v == 0) >= target_ess:
        return math.inf
    if np.ptp(v) == 0:  # every particle has the same potential > 0: no information in the weights
        return math.inf
    lo, hi = 0.0, 1.0 / max(float(v.std()), 1e-300)
    for _ in range(100):
        if _ess(-hi * v) < target_ess:
            break
        lo, hi = hi, 2 * hi
    else:  # the particles of least potential alone keep the ESS: a flat potential, beta grows without bound
        return beta + hi
    # ESS(0) = n > target: a sign change on [lo, hi].
    return beta + optimize.brentq(lambda d: _ess(-d * v) - target_ess, lo, hi, rtol=1e-12)


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class GradientSMC(Estimator):
    """Adaptive-tempering SMC with Langevin moves (Tit, Furon & Rousset, AISTATS 2023).

    Parameters
    ----------
    n_particles
        Total number of particles N over all replicas; ``None`` picks ``budget // 200`` within [100, 2000]
        (about 50 tempering iterations of ``n_moves`` moves fit in the budget; p = 1e-15 takes ~30).
    n_moves
        Langevin moves per tempering iteration.
    ess_fraction
        Target effective sample size of the incremental weights, as a fraction of N (0.875 in the paper's code).
    kernel
        ``"pcnl"`` (Crank-Nicolson Langevin, default) or ``"mala"``.
    target_acceptance
        Acceptance rate the step size is adapted to (0.574 is optimal for MALA in high dimension).
    max_iterations
        Tempering iterations after which the run stops (a stalled beta) with a warning.
    n_replicas
        Independent SMC samplers the particles are split into (at least 50 particles each), for the interval.
    """

    n_particles: int | None = param(None, Interval(int, 2))
    n_moves: int = param(4, Interval(int, 1))
    ess_fraction: float = param(0.875, PROBABILITY)
    kernel: gk.Kernel = param("pcnl", Options(*gk.KERNELS))
    target_acceptance: float = param(0.574, PROBABILITY)
    max_iterations: int = param(500, Interval(int, 1))
    n_replicas: int = param(8, Interval(int, 1))
    name = "gradient-smc"
    own_replicas = True
    guarantee = "model-based"
    min_budget = 10
    tags = frozenset({"needs-gradients"})

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        n_total = min(oracle.budget, self.n_particles or min(2000, max(100, oracle.budget // 200)))
        m = max(1, min(self.n_replicas, n_total // _MIN_REPLICA))  # replica r owns particles r*n .. (r+1)*n - 1
        n, shape = n_total // m, gk.latent_size(oracle)
        g = gk.normals(entropy, _INIT, 0, (m * n, *shape))
        s, ds = gk.scores_and_grads(oracle, g)
        initial_failures = int((s > 0).sum())
        beta, log_z, active = np.zeros(m), np.zeros(m), np.ones(m, dtype=bool)
        step = np.full(m, 0.5 if self.kernel == "pcnl" else min(1.0, math.prod(shape) ** (-1 / 3)))
        hist = {key: [[] for _ in range(m)] for key in ("betas", "ess", "acceptance", "step_sizes")}
        fraction, moves, cut = np.zeros(m), 0, False
        for iteration in range(self.max_iterations + 1):
            cut = oracle.remaining < active.sum() * n * self.n_moves or iteration == self.max_iterations
            u_resample = gk.uniforms(entropy, _RESAMPLE, iteration, m * n)
            order = np.arange(m * n)
            for r in np.flatnonzero(active):  # one tempering step of replica r
                rows = slice(r * n, (r + 1) * n)
                v = torch.clamp(-s[rows], min=0).numpy()
                fraction[r] = np.mean(v == 0)
                beta_next = math.inf if cut else next_beta(beta[r], v, self.ess_fraction * n)
                log_w = np.where(v == 0, 0.0, -np.inf) if math.isinf(beta_next) else -(beta_next - beta[r]) * v
                if not np.isfinite(log_w).any():  # no particle of the replica fails: its estimate is 0
                    log_z[r], active[r] = -math.inf, False
                    continue
                w = np.exp(log_w - log_w.max())
                log_z[r] += log_w.max() + np.log(w.mean())
                hist["ess"][r].append(float(w.sum() ** 2 / (w * w).sum()))
                if math.isinf(beta_next):
                    active[r] = False
                    continue
                cumulative = np.cumsum(w)  # multinomial resampling
                order[rows] = r * n + np.minimum(np.searchsorted(cumulative, u_resample[rows] * cumulative[-1]), n - 1)
                beta[r] = beta_next
                hist["betas"][r].append(beta_next)
            if not active.any():
                break
            g, s, ds = g[order], s[order], ds[order]
            # All rows move while every replica is active: then a slice, not a boolean index (which copies).
            moving = slice(None) if active.all() else torch.from_numpy(np.repeat(active, n))
            accepted = np.zeros(int(active.sum()))
            for _ in range(self.n_moves):  # Langevin moves of the active replicas, each at its own beta and step
                noise = gk.normals(entropy, _MOVE, moves, (m * n, *shape))[moving]
                u = gk.uniforms(entropy, _ACCEPT, moves, m * n)[moving]
                g[moving], s[moving], ds[moving], acc = gk.langevin_step(
                    oracle, self.kernel, g[moving], s[moving], ds[moving], np.repeat(beta[active], n),
                    np.repeat(step[active], n), noise, u)
                rate = acc.double().reshape(-1, n).mean(1).numpy()  # per replica
                accepted += rate / self.n_moves
                step[active] = gk.adapt_step(self.kernel, step[active], rate, self.target_acceptance)
                moves += 1
            for r, rate in zip(np.flatnonzero(active), accepted, strict=True):
                hist["acceptance"][r].append(float(rate))
                hist["step_sizes"][r].append(float(step[r]))
        outcome = self._outcome(np.exp(log_z), initial_failures, m, n, fraction, cut, iteration, hist, confidence)
        return dataclasses.replace(outcome, iid=(initial_failures, m * n))

    def _outcome(self, estimates, initial_failures, m, n, fraction, cut, iteration, hist, confidence) -> Outcome:
        """Mean of the replica estimates, the t interval over replicas, warnings and diagnostics."""
        p_hat, warnings = float(estimates.mean()), []
        if p_hat > 0 and m > 1:
            sigma = math.sqrt(math.log1p(float(estimates.var(ddof=1)) / p_hat**2 / m))
            t = float(stats.t.isf((1 - confidence) / 2, m - 1))
            spread = math.exp(min(t * sigma, 700.0))  # two replicas at a high level: t is huge, exp would overflow
            ci = ConfidenceInterval(p_hat / spread, min(1.0, p_hat * spread), confidence,
                                    f"lognormal-t-over-{m}-replicas")
        elif p_hat > 0:
            ci = ConfidenceInterval(0.0, 1.0, confidence, "none (one replica: no variance estimate)")
            warnings.append("the budget allows only one SMC replica: no variance estimate, the interval is [0, 1]")
        else:
            ci = dataclasses.replace(binomial_ci(initial_failures, n * m, confidence, "clopper-pearson", "upper"),
                                     method="clopper-pearson-initial-particles")
            warnings.append(
                "no particle reached the failure region: the estimate is 0 and the upper bound is the exact "
                f"one from the {n * m} initial i.i.d. particles"
            )
        if cut:
            reason = "beta stalled (max_iterations)" if iteration == self.max_iterations else "budget exhausted"
            warnings.append(
                f"{reason} before the end of the tempering (failing fractions "
                f"{', '.join(f'{f:.0%}' for f in fraction)}): the estimate stays unbiased but is noisy"
            )
        ess = [e for run in hist["ess"] for e in run]
        acceptance = [a for run in hist["acceptance"] for a in run]
        if ess and min(ess) < 0.5 * self.ess_fraction * n:
            warnings.append(f"the effective sample size collapsed to {min(ess):.1f} of {n} particles")
        if acceptance and min(acceptance) < 0.05:
            warnings.append(f"the Langevin acceptance rate collapsed to {min(acceptance):.3f}: particles barely move")
        steps = [h for run in hist["step_sizes"] for h in run]
        if steps and min(steps) < 1e-3:  # seen only on narrow failure sets (a 6-degree cone in d = 10)
            warnings.append(f"the Langevin step fell to {min(steps):.1e}: particles move little and the estimate "
                            "may be biased low (a narrow failure region); more n_moves reduces the bias")
        # A collapse of the ESS, of the acceptance or of the step: the interval rests on moves that did not happen.
        failed = bool(ess and min(ess) < 0.5 * self.ess_fraction * n) or bool(acceptance and min(acceptance) < 0.05) \
            or bool(steps and min(steps) < 1e-3)
        diagnostics = {"n_particles": n, "n_replicas": m, "replica_estimates": estimates.tolist(),
                       "n_iterations": [len(b) for b in hist["betas"]], "final_failing_fraction": fraction.tolist(),
                       **hist}
        return Outcome(p_hat, ci, diagnostics=diagnostics, warnings=tuple(warnings),
                       status="unreliable" if failed and p_hat > 0 and not cut else "complete")
