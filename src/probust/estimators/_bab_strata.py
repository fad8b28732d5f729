"""bab without bounds: an adaptive partition of a semantic latent, then stratified draws with an exact interval.

The bounds cannot follow ``grid_sample`` (rotation, translation, scaling, blur: the image is resampled at
parameter-dependent positions), so for semantic perturbations no box is ever proven safe or failing. What
remains of branch and bound is the partition: in 1 to 4 latent parameters, boxes can be split until the
failure boundary is resolved, and sampling box by box keeps every region at a known sampling rate: a failure mode
the partition misses costs accuracy and width, never coverage (where a splitting estimator's chains that never
reach one of two failing tails give a confident wrong interval: the rough-landscape failure of amls). Nothing
here is sound; the interval is exact in the sampling sense (Clopper-Pearson, union bound).

Coordinates: u in [0, 1]^k, the latent's CDF values, so that the law of u is uniform and a box's probability is
its volume (dyadic, exact): z = u for a uniform latent, z = Phi^-1(u) for a normal one (a composition with a
normal latent reads its uniform parts through Phi, so z = Phi^-1(u) there too).

Partition (``PILOT`` x budget queries; each box gets ``DRAWS`` uniform draws, and a split box hands its draws to
the children they fall in). Multilevel, as splitting estimators are, but over boxes instead of chains: a level L,
first the score exceeded with mass ``RHO``; split the open boxes, heaviest m sqrt(f (1 - f)) first (f: Jeffreys'
estimate of their fraction of draws above L; mass x spread, Neyman's allocation), where open means straddling L
(some draws above, some not) or holding a draw above the previous level without being wholly above L (so that a
second failure mode whose scores lag, the other tail of a rotation, is refined too); once the straddling boxes
weigh at most ``RESOLVED`` x the estimated mass above L, raise L to the score exceeded with ``RHO`` of that mass
(at most 0, the failure threshold). The partition depends only on these pilot draws.

Estimate (the rest of the budget, fresh draws): the boxes fall into at most four groups by their pilot draws: no
failure and no draw above the previous level (far), no failure but such a draw (near), all failing, mixed. Group g
of mass M_g gets n_g draws in proportion to max(1 / 4G, M_g / 2 + M_g sigma_g / (2 sum_h M_h sigma_h)) (half by
mass, half Neyman; sigma_g^2 = q_g (1 - q_g), q_g Jeffreys' estimate from its pilot draws; every group at least
about 1/4G of the draws), each drawn from the law conditioned on the group (a box with probability m_b / M_g,
uniform inside), so its k_g failures are Binomial(n_g, P(F | g)) given the partition. Then

    p = sum_g M_g P(F | g),   p_hat = sum_g M_g k_g / n_g,
    interval: sum_g M_g [CP_low, CP_high](k_g, n_g) at level 1 - (1 - confidence) / G   (union bound over the
    G groups), so it covers p with probability >= confidence whatever the partition.

The mass-proportional half keeps the far group at Monte Carlo's density or so: a failure mode the pilot missed is
still sampled at that rate, and the interval's upper end is then about Monte Carlo's (the price of exactness).
"""

from __future__ import annotations

import math

import torch

from .. import _rng
from ..intervals import ConfidenceInterval, binomial_ci
from ..perturbations import Compose, Perturbation, Semantic
from ..querying import Oracle

#: Draws per box in the partition phase.
DRAWS = 8
#: Conditional mass of each level above the previous one.
RHO = 0.1
#: A level is resolved, and raised, once its straddling boxes weigh at most this times the mass above it.
RESOLVED = 1.0
#: Share of the budget spent building the partition.
PILOT = 0.5
#: Smallest budget: the root box's draws, and a draw per group.
MIN_BUDGET = 4 * DRAWS


def is_semantic(pert: Perturbation) -> bool:
    """Whether bab runs on ``pert`` by sampling only (a semantic family, or a composition of them)."""
    return isinstance(pert, Semantic) or (
        isinstance(pert, Compose) and all(isinstance(p, Semantic) for p in pert.parts)
    )


class _Partition:
    """Boxes [lo, hi] (N, k) of the unit cube and the pilot draws: points (P, k), scores (P,), owning box (P,).

    A split box hands its draws to the children they fall in (uniform in the parent, hence in each child) and
    each child gets ``DRAWS`` fresh ones: no score seen is forgotten, so a level once reached stays reached.
    """

    def __init__(self, oracle: Oracle, dim: int, entropy: int):
        self.oracle, self.entropy, self.blocks = oracle, entropy, 0
        self.normal = oracle.perturbation.latent_law == "normal"
        self.lo, self.hi = torch.zeros(1, dim, dtype=torch.float64), torch.ones(1, dim, dtype=torch.float64)
        self.points, self.scores = self.draw(self.lo, self.hi)
        self.owner = torch.zeros(DRAWS, dtype=torch.long)

    @property
    def mass(self) -> torch.Tensor:
        return (self.hi - self.lo).prod(1)

    def latent(self, u: torch.Tensor) -> torch.Tensor:
        u = u.clamp(1e-300, 1 - 2**-53)  # an end of the cube would be an infinite normal latent
        return torch.special.ndtri(u) if self.normal else u

    def draw(self, lo: torch.Tensor, hi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``DRAWS`` uniform points in each box (box-major) and their scores."""
        gen = _rng.block_generator(self.entropy, 1, self.blocks)
        self.blocks += 1
        u = torch.from_numpy(gen.random((len(lo), DRAWS, lo.shape[1])))
        points = (lo[:, None] + (hi - lo)[:, None] * u).flatten(0, 1)
        return points, self.oracle.scores(self.latent(points))

    def fraction(self, above: torch.Tensor) -> torch.Tensor:
        """Per box, the fraction of its draws flagged in ``above`` (P,)."""
        n = torch.bincount(self.owner, minlength=len(self.lo))
        return torch.bincount(self.owner, above.double(), minlength=len(self.lo)) / n

    def split(self, index: torch.Tensor) -> None:
        """Bisect the boxes ``index`` along their longest side (the first of equal ones); draw in the children."""
        rows, dims = index, (self.hi[index] - self.lo[index]).argmax(1)
        mid = (self.lo[rows, dims] + self.hi[rows, dims]) / 2
        upper = torch.arange(len(self.lo), len(self.lo) + len(index))
        upper_lo, upper_hi = self.lo[index].clone(), self.hi[index].clone()
        upper_lo[torch.arange(len(index)), dims] = mid
        self.hi[rows, dims] = mid  # the lower half keeps the box's index
        where = torch.full((len(self.lo),), -1, dtype=torch.long)
        where[index] = torch.arange(len(index))
        j = where[self.owner]  # the draws of split boxes: their row in ``index``, else -1
        moved = (j >= 0) & (self.points[torch.arange(len(self.owner)), dims[j.clamp_min(0)]] >= mid[j.clamp_min(0)])
        self.owner = torch.where(moved, upper[j.clamp_min(0)], self.owner)
        self.lo, self.hi = torch.cat([self.lo, upper_lo]), torch.cat([self.hi, upper_hi])
        children = torch.cat([index, upper])
        points, scores = self.draw(self.lo[children], self.hi[children])
        self.points, self.scores = torch.cat([self.points, points]), torch.cat([self.scores, scores])
        self.owner = torch.cat([self.owner, children.repeat_interleave(DRAWS)])

    def level_above(self, level: float, share: float) -> float:
        """The score exceeded with mass ``share`` x (the estimated mass above ``level``), at most 0."""
        n = torch.bincount(self.owner, minlength=len(self.lo))
        weight = (self.mass / n)[self.owner]
        order = torch.argsort(self.scores, descending=True)
        cumulative = torch.cumsum(weight[order], 0)
        target = share * float(weight[self.scores >= level].sum())
        cut = int(torch.searchsorted(cumulative, torch.tensor([target], dtype=torch.float64)).clamp_max(len(order) - 1))
        return min(0.0, float(self.scores[order[cut]]))


def build(
    oracle: Oracle, dim: int, pilot_budget: int, max_boxes: int, split_batch: int, entropy: int
) -> tuple[_Partition, float]:
    """The partition of the module docstring, within ``pilot_budget`` queries and ``max_boxes`` boxes, and the
    level before the last one it reached."""
    part = _Partition(oracle, dim, entropy)
    level = previous = part.level_above(-math.inf, RHO)
    spent = DRAWS
    while True:
        frac = part.fraction(part.scores >= level)
        straddle = (frac > 0) & (frac < 1)
        # also the boxes above the previous level that are not wholly above this one: a second failure mode
        # whose scores lag (the other tail of a rotation) is refined with them instead of left behind
        open_ = straddle | ((part.fraction(part.scores >= previous) > 0) & (frac < 1))
        above = float((part.mass * frac).sum())
        if level < 0 and float(part.mass[straddle].sum()) <= RESOLVED * above:
            raised = part.level_above(level, RHO)
            if raised > level:
                level, previous = raised, level
                continue
        room = min(split_batch, (pilot_budget - spent) // (2 * DRAWS), max_boxes - len(part.lo))
        if room <= 0 or not bool(open_.any()):
            return part, previous
        n = torch.bincount(part.owner, minlength=len(part.lo))
        jeffreys = (frac * n + 0.5) / (n + 1)
        priority = torch.where(open_, part.mass * (jeffreys * (1 - jeffreys)).sqrt(), 0.0)
        index = torch.argsort(priority, descending=True, stable=True)[: min(room, int(open_.sum()))]
        part.split(index)
        spent += 2 * DRAWS * len(index)


def estimate(
    oracle: Oracle, dim: int, confidence: float, max_boxes: int, split_batch: int, entropy: int
) -> tuple[float, ConfidenceInterval, dict[str, object]]:
    """The estimate, its exact interval and diagnostics (module docstring)."""
    part, below = build(oracle, dim, int(PILOT * oracle.remaining), max_boxes, split_batch, entropy)
    frac, near = part.fraction(part.scores > 0), part.fraction(part.scores >= below) > 0
    groups = [g for g in ((frac == 0) & ~near, (frac == 0) & near, frac == 1, (frac > 0) & (frac < 1)) if bool(g.any())]
    masses = [math.fsum(part.mass[g].tolist()) for g in groups]
    # Jeffreys' estimate of each group's failure fraction from its pilot draws: never 0 or 1, so a pure group
    # keeps a Neyman share in proportion to what its draws leave unknown
    pilot = [(float((part.scores[g[part.owner]] > 0).sum()), int(g[part.owner].sum())) for g in groups]
    spreads = [math.sqrt((k + 0.5) / (n + 1) * (n - k + 0.5) / (n + 1)) for k, n in pilot]
    n = oracle.remaining
    neyman = sum(m * s for m, s in zip(masses, spreads, strict=True))
    shares = [max(1 / (4 * len(groups)), m / 2 + m * s / neyman / 2) for m, s in zip(masses, spreads, strict=True)]
    counts = [max(1, int(n * share / sum(shares))) for share in shares]
    counts[counts.index(max(counts))] += n - sum(counts)  # the whole budget
    level = 1 - (1 - confidence) / len(groups)
    estimate, low, high, failures = 0.0, 0.0, 0.0, []
    for g, (group, m, count) in enumerate(zip(groups, masses, counts, strict=True)):
        k = _draw(part, group, count, 2 + g)
        ci = binomial_ci(k, count, level, "clopper-pearson")
        estimate, low, high = estimate + m * k / count, low + m * ci.low, high + m * ci.high
        failures.append(k)
    interval = ConfidenceInterval(
        low, min(1.0, high), confidence, "stratified: sum over groups of mass x clopper-pearson (union bound)"
    )
    diagnostics = {
        "boxes": len(part.lo),
        "pilot_queries": oracle.n_queries - sum(counts),
        "group_masses": masses,
        "group_draws": counts,
        "group_failures": failures,
        "sampling_note": "the bounds cannot follow this perturbation's transform: no box is proven "
        "safe or failing, nothing is sound; the interval is the sampling one",
    }
    return estimate, interval, diagnostics


def _draw(part: _Partition, group: torch.Tensor, count: int, stream: int) -> int:
    """Failures among ``count`` draws from the law conditioned on the union of the boxes of ``group``."""
    lo, hi = part.lo[group], part.hi[group]
    cumulative = torch.cumsum((hi - lo).prod(1), 0)
    gen = _rng.block_generator(part.entropy, stream, 0)
    u = torch.from_numpy(gen.random((count, 1 + lo.shape[1])))
    pick = torch.searchsorted(cumulative, u[:, 0] * cumulative[-1], right=True).clamp_max(len(lo) - 1)
    points = lo[pick] + (hi[pick] - lo[pick]) * u[:, 1:]
    return int((part.oracle.scores(part.latent(points)) > 0).sum())
