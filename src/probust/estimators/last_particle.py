"""Last-particle splitting: rare failure probabilities with an exact-style Poisson interval.

Tit, Furon & Rousset, "Efficient statistical assessment of neural network corruption robustness",
NeurIPS 2021 (https://arxiv.org/abs/2110.11186), after Guyader, Hengartner & Matzner-Lobert, "Simulation and
estimation of extreme quantiles and extreme probabilities", Appl. Math. Optim. 2011. With scores s (failure
<=> s > 0), N particles and k kills per iteration (k = 1 is the original last-particle algorithm):

    g_1..g_N ~ N(0, I);  C = 0                        # C counts the kills below the target
    repeat:
        Z = k-th smallest score
        if Z > 0: C += #{s <= 0}; stop                # the partial last batch
        kill every particle with s <= Z (K >= k of them, more only with ties);  C += K
        replace each by a copy of a uniformly drawn survivor (s > Z), moved by T pCN steps
        invariant for N(0, I) restricted to {s > Z}
    p_hat = prod over iterations of (1 - K_i / N) * (1 - j / N)   (j = kills of the partial last batch)

Scores that tie (plateaus) are ordered by each particle's independent tag (``_splitting``, "Ties"), so exactly k
particles die per iteration and the (score, tag) pair has the continuous law the theory below needs.

Idealised theory (the moves give fresh draws of the conditioned law). In the coordinates
Y = -log P[S > s] the particles are i.i.d. Exp(1), and within an iteration the kill levels are order statistics
of N exponentials: the kills form a counting process whose inter-arrival times are exponential with rates
N, N-1, ..., N-K+1, starting again at N after each iteration. Its value at lambda = -log p is C. Hence:

* p_hat = prod over kills of (1 - 1/rate) is unbiased (product-integral martingale), for every k; with k = 1
  it is Guyader's (1 - 1/N)^C with C ~ Poisson(-N log p) and Var(log p_hat) ~ -log p / N. For k > 1,
  Var(log p_hat) ~ (-log p / N) f / (1 - f) / -log(1 - f) with f = k/N (Cerou et al. 2012 with p0 = 1 - f): at
  the default f = 1/4 that is 16% more per particle, but a particle is killed 13% less often, so variance
  times queries stays within 1% of k = 1 while the model sees batches of k instead of single inputs.
* Interval: P[C >= c] = P[T_c <= lambda] with T_c the sum of the first c inter-arrival times, so
  lambda lies in [q_{alpha/2}(T_C), q_{1-alpha/2}(T_{C+1})] (Garwood's exact Poisson interval when k = 1;
  for k > 1 T_c is approximated by the gamma law with its exact mean and variance, an excellent fit since the
  rates differ by at most k/N), and p in [exp(-upper), exp(-lower)].

Depth before particles, as in ``amls``: N is planned for 1e-15, and when the levels still rise beyond that plan
the cloud is thinned to a random subset so that the remaining budget covers the predicted iterations (the kill
rates above are then those of the current N, so the estimate and interval stay as stated).

If the budget runs out before every particle fails, the estimate is the one so far (the product times the
failing fraction) and the interval is [0, upper bound of the probability of the last killed level]; the status
says whether the levels were converging below 0 ("stalled": no failure region found) or still rising
("budget-exhausted").
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

#: Failure probability that the automatic particle count plans for (-log p ~ 34.5 kills per particle).
PLAN_PROBABILITY = 1e-15
#: Default k / N. Measured at a fixed budget of 2e5 (benchmarks/rare_event_accuracy.py): N/20, N/10, N/4 and N/2
#: give the same accuracy (the idealised variance per query varies by < 5% up to N/2), and N/4 runs 2x faster
#: than N/10 on a CPU (fewer, larger model batches); k = 1 took 28 s where N/4 takes 0.3 s.
KILL_FRACTION = 0.25
#: Fewest particles the cloud is thinned to when spending the budget on depth.
DEPTH_FLOOR = 50
#: Level increments (iterations) that ``level_trend`` extrapolates: about three factors of 10 in probability at
#: k / N = 1/4 (with fewer, the fit of one iteration's noisy increments flips between converging and rising).
TREND_WINDOW = 24


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class LastParticle(Estimator):
    """Last-particle (k = 1) or batched (k > 1) adaptive splitting with a Poisson-type interval.

    Parameters
    ----------
    n_particles
        N; ``None`` chooses it from the budget so that probabilities down to 1e-15 fit (at least 50).
    kill
        k, the particles killed per iteration; ``None`` uses ceil(N / 4) (the model then sees batches of k).
    n_steps
        T, the pCN moves of each new particle.
    target_acceptance, initial_step
        The pCN step adapts towards this acceptance rate, starting from ``initial_step``.
    """

    n_particles: int | None = param(None, sp.PARTICLES)
    kill: int | None = param(None, Interval(int, 1))
    n_steps: int = param(10, sp.STEPS)
    target_acceptance: float = param(0.3, sp.ACCEPTANCE)
    initial_step: float = param(0.5, sp.STEP_SIZE)
    name = "last-particle"
    guarantee = "model-based"
    min_budget = 2

    def particles_for(self, budget: int) -> tuple[int, int]:
        """(N, k) for a budget: each particle costs one query plus T per kill.

        A particle is killed ~ -log p (k/N) / -log(1 - k/N) times (idealised); 5% is added for the spread.
        """
        if self.n_particles is not None:
            n = min(self.n_particles, budget)
            return n, max(1, min(n - 1, self.kill or math.ceil(KILL_FRACTION * n)))
        n = sp.planned_particles(budget, 1 + self.n_steps * self.planned_kills(), floor=DEPTH_FLOOR)
        return n, max(1, min(n - 1, self.kill or math.ceil(KILL_FRACTION * n)))

    def planned_kills(self) -> float:
        """Kills per particle of the plan (to PLAN_PROBABILITY); with a given k, planned for k/N -> 0 (the most)."""
        per_kill = KILL_FRACTION / -math.log1p(-KILL_FRACTION) if self.kill is None else 1.0
        return 1.05 * -math.log(PLAN_PROBABILITY) * per_kill

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        (n, k), t = self.particles_for(oracle.budget), self.n_steps
        n0, k0 = n, k
        kernel = sp.PCNKernel(oracle, entropy, self.initial_step, self.target_acceptance)
        g, s, u = sp.initial_particles(oracle, entropy, n)
        iid = (int((s > 0).sum()), n)
        log_p, kills, mean, var = 0.0, 0, 0.0, 0.0  # mean, var: of the kill time T_C in the Y coordinates
        trace: dict[str, list] = {key: [] for key in ("levels", "killed", "acceptance", "step_size")}
        unmoved, warnings, status = 0, [], "reached level 0"
        while True:
            level, tag = sp.order_statistic(s, u, k - 1)  # ties of the score are broken by the tags
            killed = (s <= 0) if level > 0 else ~sp.beyond(s, u, level, tag, strict=True)
            n_kill = int(killed.sum())
            if level <= 0 and n_kill == n:  # every particle is a clone of one (score, tag): no move was accepted
                status = "stalled"
                break
            if level <= 0 and oracle.remaining < n_kill * t:
                status = "budget exhausted"
                break
            rates = torch.arange(n, n - n_kill, -1, dtype=torch.float64)
            log_p += math.log1p(-n_kill / n)
            kills, mean, var = kills + n_kill, mean + float((1 / rates).sum()), var + float((rates**-2).sum())
            if level > 0:
                break
            trace["levels"].append(level)
            trace["killed"].append(n_kill)
            dead = torch.nonzero(killed).flatten()
            alive = torch.nonzero(~killed).flatten()
            parents = alive[sp.choose(entropy, len(trace["levels"]), len(alive), n_kill)]
            g_new, s_new, u_new, rate, moved = kernel.move(g[parents], s[parents], u[parents], (level, tag), t,
                                                           strict=True)
            g[dead], s[dead], u[dead] = g_new, s_new, u_new
            unmoved += int((~moved).sum())
            if self.n_particles is None:  # depth before particles (module docstring)
                n_next = sp.depth_count(n, DEPTH_FLOOR, oracle.remaining, t * k / n,
                                        self.planned_kills() * n0 / k0 - len(trace["levels"]),
                                        sp.level_trend(trace["levels"], TREND_WINDOW)[1])
                if n_next < n:
                    keep = sp.thin_particles(entropy, len(trace["levels"]), n, n_next)
                    g, s, u, n = g[keep], s[keep], u[keep], n_next
                    k = max(1, min(n - 1, self.kill or math.ceil(KILL_FRACTION * n)))
            trace["acceptance"].append(rate)
            trace["step_size"].append(kernel.step)

        alpha = 1.0 - confidence
        failing = int((s > 0).sum())
        limit = sp.level_trend(trace["levels"], TREND_WINDOW)[0]
        if status == "budget exhausted" and limit < 0:  # converging below 0: no failure region found
            warnings.append(f"the levels were converging to {limit:.4g} < 0 when the budget ran out: no failure "
                            "region was found (the failure probability may well be 0)")
            status = "converged below 0"
        # lambda = -log p >= q_{alpha/2}(T_C): the upper end for p; T_{C+1} adds the next kill (rate N - j).
        high = math.exp(-sp.gamma_quantile(alpha / 2, mean, var))
        if status == "reached level 0":
            next_rate = n - (kills - sum(trace["killed"]))
            lam_high = sp.gamma_quantile(1 - alpha / 2, mean + 1 / next_rate, var + next_rate**-2)
            estimate, low = math.exp(log_p), math.exp(-lam_high)
        elif status == "stalled":
            estimate, low, high = 0.0, 0.0, high * sp.zero_count_upper(n, confidence)
            warnings.append(f"stalled: all {n} particles are copies of one point at score {level:.4g} (no move was "
                            "accepted): no failure region was found; the upper bound is raised to the one the "
                            "initial i.i.d. particles support")
        else:
            estimate, low = math.exp(log_p) * failing / n, 0.0
            last = trace["levels"][-1] if trace["levels"] else -math.inf
            if status == "budget exhausted":
                warnings.append(f"budget exhausted at level {last:.4g} (probability ~{math.exp(log_p):.3g}) while "
                                "the levels were still rising: failures may exist beyond this budget; the interval "
                                "is [0, upper bound of that level's probability]")
        iterations = len(trace["levels"])
        # Acceptance pooled over windows of ~N kills (one renewal of the particle cloud), so that k = 1 is not noisy.
        window = math.ceil(n / k)
        moves, killed = [r * c for r, c in zip(trace["acceptance"], trace["killed"], strict=True)], trace["killed"]
        pooled = [sum(moves[i : i + window]) / sum(killed[i : i + window]) for i in range(0, iterations, window)]
        low_rate = sum(r < sp.LOW_ACCEPTANCE for r in pooled)
        if low_rate:
            warnings.append(f"pCN acceptance rate fell below {sp.LOW_ACCEPTANCE} in {low_rate} of {len(pooled)} "
                            f"windows of {window} iterations: the moves barely mix and the interval is too narrow")
        if unmoved > 0.2 * sum(trace["killed"]):
            warnings.append(f"{unmoved} of the new particles never moved away from their parent (too few distinct "
                            "particles); increase n_steps")
        diagnostics = {
            "n_particles": n0, "final_particles": n, "level_limit": limit, "kill": k0, "n_steps": t, "status": status,
            "n_kills": kills, "n_iterations": iterations,
            "unmoved_copies": unmoved, "n_failing_particles": failing, "log10_estimate": sp.log10(estimate),
            "trace_stride": sp.thin(trace["levels"])[1], **{key: sp.thin(v)[0] for key, v in trace.items()},
        }
        ci = ConfidenceInterval(low, min(1.0, high), confidence, "last-particle-poisson")
        mixing_failed = bool(low_rate or unmoved > 0.2 * sum(trace["killed"])) and status == "reached level 0"
        return Outcome(estimate, ci, diagnostics=diagnostics, warnings=tuple(warnings),
                       status="unreliable" if mixing_failed else sp.STATUS[status], iid=iid)
