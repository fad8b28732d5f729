"""Adaptive multilevel splitting (AMLS) for rare failure probabilities.

Webb, Rainforth, Teh & Kumar, "A statistical approach to assessing neural network robustness", ICLR 2019
(https://arxiv.org/abs/1811.07209), after Cerou & Guyader, "Adaptive multilevel splitting for rare event
analysis", Stoch. Anal. Appl. 2007. With scores s (failure <=> s > 0), N particles and kept fraction rho:

    g_1..g_N ~ N(0, I);  log p = 0;  L_0 = -inf
    repeat:
        L_k = min(quantile_{1 - rho}(s), 0)           # the (1 - rho) N-th smallest score (ties: by tag)
        if L_k <= L_{k-1}: L_k = 0; warn "stalled"    # Webb's rule: no progress, finish here
        if L_k == 0: log p += log(#{s > 0} / N); stop
        log p += log(#{s >= L_k} / N)
        replace each particle with s < L_k by a copy of a uniformly drawn survivor
        M pCN moves of every particle, invariant for N(0, I) restricted to {s >= L_k}

Scores that tie (plateaus) are ordered by each particle's independent tag (``_splitting``, "Ties"): a level is
then a (score, tag) pair, and a plateau is crossed in levels of the pair instead of ending the run. Webb's rule
is left only for moves that are all rejected.

Interval: a normal interval on log p. Cerou, Del Moral, Furon & Guyader ("Sequential Monte Carlo for rare event
estimation", Stat. Comput. 2012) show for this adaptive algorithm that sqrt(N) (p_hat - p) / p is asymptotically
normal with variance n0 (1 - p0) / p0 + (1 - r0) / r0 (n0 intermediate levels of kept fraction p0, final fraction
r0), i.e. Var(log p_hat) ~ sum_k (1 - r_k) / (r_k N) -- *if* the M moves turn the ~1/rho copies of each survivor
into independent draws. They do not quite: measured at M = 5, the spread was 1.2x that formula and 95% intervals
covered 90%. We therefore estimate each level's variance by treating the copies of one survivor as a cluster
(``_splitting.family_relative_variance``, the ratio estimator of cluster sampling), which equals the formula above
for independent particles and grows with the correlation of the copies, and sum over levels. It still assumes
that the errors of different levels are uncorrelated and N large. M = 7 is the default because it is where the
measured spread meets the estimated one (95% intervals covered 95.3% and 95.7% of 300 runs at p = 1e-9 and
1e-15) and where the error is smallest at a fixed budget (M = 5 gives more particles but correlated ones; M = 10
too few particles). The estimator carries an O(1/N) positive bias of relative size n0 (1 - p0) / (p0 N),
negligible next to the standard deviation.

Depth before particles. N is planned for 1e-15 (about 15 levels at rho = 0.1), but when the levels are still
rising beyond that plan (``_splitting.level_trend`` extrapolates the last level increments), the cloud is thinned
to a random subset (still distributed by the conditioned law) so that the remaining budget covers the predicted
levels: at p = 4.6e-18 a budget of 1e5 then reaches the failures instead of stopping near 1e-15. The variance
formula above holds level by level with each level's own N.

If the budget runs out before level 0, the result is the estimate so far (the current level's probability
times the fraction of particles already failing) with the interval [0, upper bound of the level's
probability], which holds whatever the unexplored tail is. Its status says why: "stalled" if the levels were
converging below 0 (no failure region found), "budget-exhausted" if they were still heading for 0.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ..components import Interval, param, register
from ..intervals import ConfidenceInterval
from ..querying import Oracle
from . import _splitting as sp
from ._base import Estimator, Outcome

#: Failure probability that the automatic particle count plans for (about 15 levels at rho = 0.1).
PLAN_PROBABILITY = 1e-15
#: Fewest particles the cloud is thinned to when spending the budget on depth (10 survivors at rho = 0.1).
DEPTH_FLOOR = 100
#: Level increments that ``level_trend`` extrapolates.
TREND_WINDOW = 5


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class AdaptiveMultilevelSplitting(Estimator):
    """Adaptive multilevel splitting with pCN moves (Webb et al., ICLR 2019).

    Parameters
    ----------
    rho
        Fraction of particles kept at each level (the levels are (1 - rho)-quantiles of the scores).
    n_particles
        N; ``None`` chooses it from the budget so that probabilities down to 1e-15 fit (at least 100 particles:
        with a smaller budget the run stops early, with a warning, for very small probabilities).
    n_steps
        M, the pCN moves of every particle at each level (see the module docstring for the choice of 7).
    target_acceptance, initial_step
        The pCN step adapts towards this acceptance rate, starting from ``initial_step``.
    """

    rho: float = param(0.1, Interval(float, 0, 1, "neither"))
    n_particles: int | None = param(None, sp.PARTICLES)
    n_steps: int = param(7, sp.STEPS)
    target_acceptance: float = param(0.3, sp.ACCEPTANCE)
    initial_step: float = param(0.5, sp.STEP_SIZE)
    name = "amls"
    guarantee = "model-based"
    min_budget = 2

    def planned_levels(self) -> int:
        """Levels of the plan: to PLAN_PROBABILITY, and one spare (the last kept fraction may fall below rho)."""
        return math.ceil(math.log(PLAN_PROBABILITY) / math.log(self.rho) - 1e-9) + 1

    def particles_for(self, budget: int) -> int:
        """N for a budget: each particle costs one initial query plus M per intermediate level."""
        if self.n_particles is not None:
            return min(self.n_particles, budget)
        return sp.planned_particles(budget, 1 + self.n_steps * (self.planned_levels() - 1), floor=DEPTH_FLOOR)

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        n, m = self.particles_for(oracle.budget), self.n_steps
        kernel = sp.PCNKernel(oracle, entropy, self.initial_step, self.target_acceptance)
        g, s, u = sp.initial_particles(oracle, entropy, n)
        iid = (int((s > 0).sum()), n)
        log_p, var, var_ideal = 0.0, 0.0, 0.0  # variances of log p_hat (see the docstring)
        level = (-math.inf, 0.0)  # (score, tag) of the current level
        family = torch.arange(n)  # the survivor of the last resampling that each particle is a copy of
        trace: dict[str, list] = {k: [] for k in ("levels", "kept", "particles", "acceptance", "step_size",
                                                  "distinct")}
        warnings: list[str] = []
        status = "reached level 0"
        while True:
            new_level = sp.order_statistic(s, u, min(n - 1, math.floor((1 - self.rho) * n)))
            if new_level[0] >= 0:
                new_level = (0.0, 0.0)
            elif new_level <= level or bool(sp.beyond(s, u, *new_level, strict=False).all()):
                warnings.append(f"level stalled at {new_level[0]:.4g} after {len(trace['levels'])} levels (moves "
                                "rejected); finished as if the next level were 0, so the estimate is crude")
                status, new_level = "stalled", (0.0, 0.0)
            above = s > 0 if new_level[0] == 0.0 else sp.beyond(s, u, *new_level, strict=False)
            kept = int(above.sum())
            trace["levels"].append(new_level[0])
            trace["kept"].append(kept)
            trace["particles"].append(n)
            if kept == 0:
                break
            log_p += math.log(kept / n)
            var += sp.family_relative_variance(above, family)
            var_ideal += (n - kept) / (kept * n)
            if new_level[0] == 0.0:
                break
            level = new_level
            n_next = n
            if self.n_particles is None:  # depth before particles (module docstring)
                n_next = sp.depth_count(n, DEPTH_FLOOR, oracle.remaining, m,
                                        self.planned_levels() - len(trace["levels"]),
                                        sp.level_trend(trace["levels"], TREND_WINDOW)[1])
            if oracle.remaining < n_next * m:
                status = "budget exhausted"
                break
            alive = torch.nonzero(above).flatten()
            dead = torch.nonzero(~above).flatten()
            picks = sp.choose(entropy, len(trace["levels"]), len(alive), len(dead))
            g[dead], s[dead], u[dead] = g[alive[picks]], s[alive[picks]], u[alive[picks]]
            family[alive], family[dead] = torch.arange(len(alive)), picks
            if n_next < n:
                keep = sp.thin_particles(entropy, len(trace["levels"]), n, n_next)
                g, s, u, family, n = g[keep], s[keep], u[keep], family[keep], n_next
            g, s, u, rate, _ = kernel.move(g, s, u, level, m, strict=False)
            trace["acceptance"].append(rate)
            trace["step_size"].append(kernel.step)
            trace["distinct"].append(len(torch.unique(torch.stack([s, u], 1), dim=0)) / n)

        failing = int((s > 0).sum())
        limit = sp.level_trend(trace["levels"], TREND_WINDOW)[0]
        if status == "budget exhausted" and limit < 0:  # converging below 0: no failure region found
            warnings.append(f"the levels were converging to {limit:.4g} < 0 when the budget ran out: no failure "
                            "region was found (the failure probability may well be 0)")
            status = "converged below 0"
        if kept == 0:
            estimate, low = 0.0, 0.0
            high = min(1.0, sp.ci_from_log(log_p, math.sqrt(var), confidence)[1] * sp.zero_count_upper(n, confidence))
        elif status in ("budget exhausted", "converged below 0"):
            estimate, low = math.exp(log_p) * failing / kept, 0.0
            high = sp.ci_from_log(log_p, math.sqrt(var), confidence)[1]
            if status == "budget exhausted":
                warnings.append(f"budget exhausted at level {level[0]:.4g} (probability ~{math.exp(log_p):.3g}) while "
                                "the levels were still rising: failures may exist beyond this budget; the interval "
                                "is [0, upper bound of that level's probability]")
        else:
            estimate = math.exp(log_p)
            low, high = sp.ci_from_log(log_p, math.sqrt(var), confidence)
        rates = trace["acceptance"]
        low_rate = [i + 1 for i, r in enumerate(rates) if r < sp.LOW_ACCEPTANCE]
        if low_rate:
            warnings.append(f"pCN acceptance rate fell below {sp.LOW_ACCEPTANCE} at levels {low_rate[:10]}: the "
                            "moves barely mix and the interval is too narrow")
        if min(trace["kept"]) < 10 and status != "stalled":
            warnings.append(f"as few as {min(trace['kept'])} survivors at a level; increase n_particles or rho")
        few = [i + 1 for i, d in enumerate(trace["distinct"]) if d < 0.5]
        if few:
            warnings.append(f"fewer than half of the particles are distinct after the moves at levels {few[:10]}; "
                            "increase n_steps")
        diagnostics = {
            "n_particles": trace["particles"][0], "n_steps": m, "n_levels": len(trace["levels"]), "status": status,
            "level_limit": limit,
            **{k: sp.thin(v)[0] for k, v in trace.items()},
            "n_failing_particles": failing, "log10_estimate": sp.log10(estimate),
            "log_variance": var, "log_variance_idealised": var_ideal,  # Var(log p_hat): by families / Cerou et al.
        }
        ci = ConfidenceInterval(low, high, confidence, "amls-asymptotic-lognormal")
        mixing_failed = bool(low_rate or few) and status == "reached level 0"  # what the interval rests on
        return Outcome(estimate, ci, diagnostics=diagnostics, warnings=tuple(warnings),
                       status="unreliable" if mixing_failed else sp.STATUS[status], iid=iid)
