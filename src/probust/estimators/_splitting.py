"""Shared machinery of the splitting estimators (``amls``, ``last-particle``).

Particles live in **Gaussian coordinates** g ~ N(0, I) of the perturbation's latent shape and are mapped to
the latent with ``perturbation.latent_from_normal(g)`` before scoring, so one kernel serves every
perturbation (the normal CDF turns g into the uniform latent of ``UniformLinf``).

The Markov kernel is the preconditioned Crank-Nicolson (pCN) proposal (Cotter, Roberts, Stuart & White,
Stat. Sci. 2013)

    g' = sqrt(1 - s^2) g + s xi,   xi ~ N(0, I),

which is reversible with respect to N(0, I); the Metropolis-Hastings acceptance for N(0, I) restricted to
{score > level} is therefore the indicator of score(g') > level (>= for AMLS levels). The step s is fixed
during one batch of moves (a level of AMLS, an iteration of last particle) and adapted between batches
towards a target acceptance rate (Robbins-Monro in log s), so the kernel follows the shrinking width of the
conditioned law as the levels rise.

Ties. A score can be flat on a set of positive probability (dead ReLUs, clipped outputs: on ACAS Xu 2_8 with
property 2, 92% of the box gives one identical score). Levels of the score alone then tie and stop rising. Each
particle therefore carries an independent tag u ~ U(0, 1), and particles are ordered by (score, tag)
lexicographically: the pair has a continuous law, so the levels of the splitting theory are those of
{(s, u) > (L, t)}, whose probability P[s > L] + P[s = L] (1 - t) runs continuously through a plateau. The kernel
proposes a fresh tag with every pCN move (an independence proposal from the tag's own law, so the pair stays
reversible for N(0, I) x U(0, 1)). Where scores do not tie the tags never decide anything: the numbers are
those of the score alone.

Randomness: only from ``_rng.block_generator(entropy, stream, block)`` with one stream per purpose (initial
draws, kernel noise, resampling and tags, keyed by the level / iteration). No random
number depends on the oracle's batch size, so a seed gives the same result at any ``batch_size``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import _rng
from .._scipy import stats
from ..components import Interval
from ..querying import Oracle

STREAM_INIT, STREAM_KERNEL, STREAM_RESAMPLE, STREAM_THIN, STREAM_TAG = 0, 1, 2, 3, 4
#: Acceptance rate below which a level's moves are reported as collapsed.
LOW_ACCEPTANCE = 0.05
#: Largest number of per-level entries kept in diagnostics (longer lists are thinned evenly).
MAX_TRACE = 500
#: The result status of each way a splitting run ends (``diagnostics["status"]``).
STATUS = {"reached level 0": "complete", "stalled": "stalled", "converged below 0": "stalled",
          "budget exhausted": "budget-exhausted"}


def block_torch_generator(entropy: int, stream: int, block: int) -> torch.Generator:
    """A torch generator seeded by one random block (torch's normal sampler is 2x faster than numpy's)."""
    return torch.Generator().manual_seed(int(_rng.block_generator(entropy, stream, block).integers(2**63)))


def normals(entropy: int, stream: int, block: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Standard normals (float32, CPU) of one random block."""
    return torch.randn(shape, generator=block_torch_generator(entropy, stream, block))


def choose(entropy: int, block: int, population: int, size: int) -> torch.Tensor:
    """``size`` indices drawn uniformly with replacement from ``range(population)`` (the resampling step)."""
    return torch.from_numpy(_rng.block_generator(entropy, STREAM_RESAMPLE, block).integers(population, size=size))


def score(oracle: Oracle, g: torch.Tensor) -> torch.Tensor:
    """Failure scores of particles given in Gaussian coordinates (costs ``len(g)`` queries).

    Uniform latents are computed in float64: in float32 the normal CDF rounds to exactly 1 beyond g ~ 5.4, so the
    whole tail of probability 3e-8 of one coordinate would collapse onto the face of the box (measured: a 1-D
    uniform-linf case with p = 1e-12 came out as 5e-8).
    """
    if oracle.perturbation.latent_law == "uniform":
        g = g.double()
    return oracle.scores(oracle.perturbation.latent_from_normal(g))


def initial_particles(oracle: Oracle, entropy: int, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` i.i.d. particles from N(0, I), their scores and their tie-breaking tags."""
    g = normals(entropy, STREAM_INIT, 0, (n, *oracle.perturbation.latent_shape(oracle.x_shape)))
    tags = torch.from_numpy(_rng.block_generator(entropy, STREAM_TAG, 0).random(n))
    return g, score(oracle, g), tags


def beyond(s: torch.Tensor, u: torch.Tensor, level: float, tag: float, strict: bool) -> torch.Tensor:
    """Particles with ``(s, u) > (level, tag)`` lexicographically (``>=`` unless ``strict``)."""
    return (s > level) | ((s == level) & ((u > tag) if strict else (u >= tag)))


def order_statistic(s: torch.Tensor, u: torch.Tensor, j: int) -> tuple[float, float]:
    """The ``j``-th smallest (score, tag) pair (0-based), in the lexicographic order."""
    i = int(np.lexsort((u.numpy(), s.numpy()))[j])
    return float(s[i]), float(u[i])


def level_trend(levels: list[float], window: int) -> tuple[float, float]:
    """Where a rising level sequence is heading: ``(limit, steps)``, extrapolated from its last increments.

    The last ``window`` increments d_k are fitted as geometric, d_k ~ d r^k (least squares on log d_k): near
    a maximum of the score below 0 (no failure region) the levels converge geometrically (for a score linear
    near the best point of an m-dimensional box, P(s > s* - e) ~ e^m, so each level shrinks the gap by
    rho^(1/m)), while on the way to a failure region they keep a steady pace. ``limit`` = L + d r / (1 - r)
    (inf if r >= 1) and ``steps`` = the number of further levels whose increments d r, d r^2, ... cover the
    distance -L to 0 (inf if the limit is below 0, nan with fewer than ``window`` increments). Only used to
    plan the budget and to say how a run ended, never in the estimate itself.
    """
    if len(levels) <= window:
        return math.nan, math.nan
    last = np.asarray(levels[-window - 1:], dtype=np.float64)
    if not np.isfinite(last).all():
        return math.nan, math.nan
    d = np.maximum(np.diff(last), 1e-300)  # a level that did not rise: no progress at all
    slope, icpt = np.polyfit(np.arange(window), np.log(d), 1)
    r, step = math.exp(slope), math.exp(icpt + slope * (window - 1))
    distance = -float(last[-1])
    if distance <= 0:
        return math.inf, 0.0
    if abs(r - 1) < 1e-9:
        return math.inf, distance / step
    if r > 1:
        return math.inf, math.log1p(distance * (r - 1) / (step * r)) / math.log(r)
    limit = float(last[-1]) + step * r / (1 - r)
    if limit < 0:
        return limit, math.inf
    return limit, math.log1p(-distance * (1 - r) / (step * r)) / math.log(r)


def depth_count(n: int, floor: int, remaining: int, cost: float, planned: float, predicted: float) -> int:
    """Particles for the next step: fewer than ``n`` when the levels still rise beyond the plan.

    ``cost`` queries per particle and step; ``planned`` steps left in the plan the particle count was made
    for (the plan has its own spare), ``predicted`` further steps by ``level_trend`` (inf or nan: no
    prediction). Only when the prediction (plus a spare step) goes beyond the plan does the remaining budget
    cover it with as many particles as fit, never more than ``n`` nor fewer than ``floor``: spending the
    budget on depth rather than on particles that would run out before the failures.
    """
    if not math.isfinite(predicted) or math.ceil(predicted) + 1 <= planned:
        return n
    affordable = int(remaining // (cost * (math.ceil(predicted) + 1)))
    return n if affordable >= n else max(min(floor, n), affordable)


def thin_particles(entropy: int, block: int, n: int, size: int) -> torch.Tensor:
    """``size`` of ``n`` particle indices drawn uniformly without replacement (a random subset of a cloud
    distributed by the conditioned law is distributed by it too)."""
    return torch.from_numpy(_rng.block_generator(entropy, STREAM_THIN, block).permutation(n)[:size])


#: The constraints of the parameters the splitting estimators share (``probust.components``).
PARTICLES = Interval(int, 2)
STEPS = Interval(int, 1)
ACCEPTANCE = Interval(float, 0, 1, "neither")
STEP_SIZE = Interval(float, 0, 1, "right")


class PCNKernel:
    """pCN moves of a batch of particles restricted to {(score, tag) > (level, level tag)} (``>=`` when
    ``strict=False``); see the module docstring for the tags."""

    #: Robbins-Monro gain of the log step size, the range of the step and its largest growth per batch (the
    #: conditioned law only narrows as levels rise: a step that grew fast on an easy level overshoots the next).
    #: The floor is far below any step a smooth landscape needs: a failure set of thin intervals (half-width
    #: 1e-5 in the Gaussian coordinate) needs steps of that size, which a floor of 1e-4 forbade (issue 23).
    GAIN, MIN_STEP, MAX_STEP, MAX_GROWTH = 2.0, 1e-7, 1.0, 1.25
    #: When almost no move is accepted the step shrinks by this factor at once: AMLS meets only a few levels, and
    #: halving per level cannot follow a conditioned law that narrows by orders of magnitude (measured on a comb
    #: of thin intervals: acceptance 0.20, 0.05, 0.01, 0 over four levels, then a stall).
    COLLAPSE_SHRINK = 0.1

    def __init__(self, oracle: Oracle, entropy: int, step: float, target: float):
        self.oracle, self.entropy, self.step, self.target = oracle, entropy, step, target
        self.n_calls = 0  # the block id of the kernel noise: one block per call (a level, an iteration)

    def move(
        self, g: torch.Tensor, s: torch.Tensor, u: torch.Tensor, level: tuple[float, float], n_steps: int,
        strict: bool,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, torch.Tensor]:
        """``n_steps`` moves of every particle; returns particles, scores, tags, acceptance rate and a moved-mask.

        The step is fixed during the call and adapted afterwards from its acceptance rate: a step chosen from
        the acceptance of the very particles it moves breaks the invariance (measured: with 10 particles per
        call the last-particle estimate came out 1.6x too high at p = 1e-15).
        """
        accepted, moved = 0, torch.zeros(len(g), dtype=torch.bool)
        shrink = math.sqrt(1.0 - self.step**2)
        noise = block_torch_generator(self.entropy, STREAM_KERNEL, self.n_calls)
        tag_noise = block_torch_generator(self.entropy, STREAM_TAG, 1 + self.n_calls)
        self.n_calls += 1
        for _ in range(n_steps):
            proposal = torch.randn(g.shape, generator=noise).mul_(self.step).add_(g, alpha=shrink)
            u_new = torch.rand(len(g), dtype=torch.float64, generator=tag_noise)
            s_new = score(self.oracle, proposal)
            ok = beyond(s_new, u_new, *level, strict)
            g = torch.where(ok.view(-1, *([1] * (g.ndim - 1))), proposal, g)
            s, u = torch.where(ok, s_new, s), torch.where(ok, u_new, u)
            moved |= ok
            accepted += int(ok.sum())
        rate = accepted / (n_steps * len(g))
        factor = min(self.MAX_GROWTH, max(0.5, math.exp(self.GAIN * (rate - self.target))))
        if rate < LOW_ACCEPTANCE:
            factor = self.COLLAPSE_SHRINK
        self.step = min(self.MAX_STEP, max(self.MIN_STEP, self.step * factor))
        return g, s, u, rate, moved


def family_relative_variance(above: torch.Tensor, family: torch.Tensor) -> float:
    """Estimated Var(r_hat) / r^2 of the fraction r_hat of particles ``above`` a level, by families.

    Particles copied from the same survivor and moved by a finite number of steps are correlated; treating each
    family as a cluster (the ratio estimator of cluster sampling, Cochran 1977, Sec. 9.2) gives
    Var(r_hat) ~ F / (F - 1) sum_f (Y_f - r_hat m_f)^2 / N^2 for F families of sizes m_f with Y_f particles
    above. With independent particles (every family of size 1, or perfect mixing) its mean is r (1 - r) / N,
    the idealised term of Cerou et al.; with correlated copies it grows by the design effect.
    """
    sizes = torch.bincount(family).double()
    ups = torch.bincount(family, weights=above.double())[sizes > 0]
    sizes = sizes[sizes > 0]
    n, r, n_families = float(sizes.sum()), float(above.double().mean()), len(sizes)
    if n_families < 2:
        return (1 - r) / (r * n)
    var = n_families / (n_families - 1) * float(((ups - r * sizes) ** 2).sum()) / n**2
    return var / r**2


def planned_particles(budget: int, cost_per_particle: float, floor: int) -> int:
    """Particle count that spends ``budget`` when each particle costs ``cost_per_particle`` queries.

    Never below ``floor`` (a small budget is better spent on a usable particle cloud that stops early
    than on a tiny one), and never more than the budget itself.
    """
    return max(1, min(budget, max(floor, int(budget // cost_per_particle))))


def z_value(confidence: float) -> float:
    return float(stats.norm.isf((1.0 - confidence) / 2))


def zero_count_upper(n: int, confidence: float) -> float:
    """Clopper-Pearson upper bound (two-sided level) for a proportion with 0 successes out of n."""
    return 1.0 - ((1.0 - confidence) / 2) ** (1.0 / n)


def gamma_quantile(q: float, mean: float, var: float) -> float:
    """Quantile of a sum of independent exponentials, by the gamma law with the same mean and variance.

    Exact when all rates are equal (the sum is then gamma).
    """
    if mean <= 0:
        return 0.0
    return float(stats.gamma.ppf(q, mean * mean / var, scale=var / mean))


def thin(values: list, size: int = MAX_TRACE) -> tuple[list, int]:
    """At most ``size`` evenly spaced entries of ``values`` and the stride used."""
    stride = max(1, math.ceil(len(values) / size))
    return values[::stride], stride


def log10(p: float) -> float:
    return math.log10(p) if p > 0 else -math.inf


def ci_from_log(log_p: float, sd: float, confidence: float) -> tuple[float, float]:
    """Normal interval on log p, mapped back and clipped to [0, 1]."""
    z = z_value(confidence)
    return float(np.exp(log_p - z * sd)), min(1.0, float(np.exp(log_p + z * sd)))
