"""Importance sampling with a Gaussian mean shift towards the design point.

The classical reliability-engineering estimator (Melchers, "Importance sampling in structural systems",
Struct. Saf. 1989), in the standard-normal coordinates ``g`` of the perturbation's latent
(``latent_from_normal``), where the law of x' is N(0, I) and the failure score is s(g):

    g* = argmin |g| s.t. s(g) >= 0       # FORM design point: improved HL-RF steps with gradients
    m = g*;  draw a pilot g_i ~ N(m, I)
    while the pilot has fewer than 10 failures (a degenerate design point: e.g. the cone of uniform-l2,
    whose design point is the origin; or a strongly curved failure set), cross-entropy rounds
    (Rubinstein & Kroese 2004) move m outwards:
        level = (1 - rho)-quantile of s(g_i), or 0 once 10 pilot points fail;  elite = {s(g_i) >= level}
        e = direction of g* (or the w-averaged unit score gradient of the elite if |g*| < 1)
        m = max(|g*|, w-average over the elite of g_i . e) e,   w_i = phi(g_i) / phi(g_i - m)
        draw a new pilot g_i ~ N(m, I)
    draw fresh g_i ~ N(m, I), i = 1..n (the rest of the budget);  w_i = exp(-g_i . m + |m|^2 / 2)
    p_hat = mean(w_i 1{s(g_i) > 0}),  se^2 = sample variance of the w_i 1{s(g_i) > 0} / n

The final sample is independent of the shift, so ``p_hat`` is unbiased for any ``m``. The interval is
the normal one on the weighted mean, ``p_hat -/+ z se``: it assumes the CLT for the weighted indicators
(light-tailed weights, i.e. a proposal that covers the failure region). The effective sample size of
the failing weights is reported, with a warning when it is small. The CE direction is kept
one-dimensional: a d-dimensional CE mean from a pilot sample is too noisy in high dimension (Au & Beck,
Prob. Eng. Mech. 2003). Mean-shift IS cannot fix a failure set whose conditional law differs from a
shifted standard normal in many directions (narrow cones in moderate d, corners of the L-inf box at
extreme p): there the weights degenerate, and the ESS warning says so.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .._scipy import stats
from ..components import PROBABILITY, Interval, param, register
from ..intervals import ConfidenceInterval
from ..querying import Oracle
from . import _gradient_kernels as gk
from ._base import Estimator, Outcome

_FORM_START, _PILOT, _FINAL = 1, 2, 3  # random streams
_MIN_ELITE = 10  # pilot failures enough to estimate the conditional mean from failures alone
_CHUNK = 1024  # final samples per random block
_MAX_SHIFT = 30.0  # |m| beyond 30 would mean p < 1e-190: a runaway iteration, not a design point


def _clip_norm(m: torch.Tensor) -> torch.Tensor:
    norm = float(m.norm())
    return m * (_MAX_SHIFT / norm) if norm > _MAX_SHIFT else m


@register
@dataclasses.dataclass(frozen=True, kw_only=True)
class ImportanceSampling(Estimator):
    """Mean-shift importance sampling around the FORM design point, refined by cross-entropy steps.

    Parameters
    ----------
    form_steps
        Maximum HL-RF gradient steps (one query each) for the design point.
    ce_rounds
        Maximum cross-entropy refinement rounds (0: use the FORM point as is).
    elite_fraction
        Fraction rho of pilot samples kept as elite while the pilot sees too few failures.
    design_fraction
        Largest share of the budget spent on the design point and the pilot rounds.
    shift_scale
        Multiplies the final shift (1: as found; other values give a deliberately poorer proposal,
        e.g. to check unbiasedness; 0: plain Monte Carlo).
    """

    form_steps: int = param(50, Interval(int, 0))
    ce_rounds: int = param(8, Interval(int, 0))
    elite_fraction: float = param(0.1, PROBABILITY)
    design_fraction: float = param(0.3, Interval(float, 0, 1, "left"))
    shift_scale: float = param(1.0, Interval(float, 0))
    name = "is"
    guarantee = "model-based"
    min_budget = 10
    tags = frozenset({"needs-gradients"})

    def _design_point(self, oracle: Oracle, entropy: int, allowance: int) -> tuple[torch.Tensor, dict]:
        """FORM by the improved HL-RF iteration (Zhang & Der Kiureghian 1995): the HL-RF step
        ``g -> ((grad s . g - s) / |grad s|^2) grad s``, halved until the merit |g|^2 / 2 + c |s| decreases."""
        shape = gk.latent_size(oracle)
        if allowance < 1:
            return torch.zeros(shape, dtype=torch.float64), {"form_steps": 0, "form_converged": False,
                                                             "design_point_norm": 0.0}
        g = 1e-2 * gk.normals(entropy, _FORM_START, 0, (1, *shape))  # not 0: the L2-ball map is singular there
        s, ds = gk.scores_and_grads(oracle, g)
        used, steps, converged = 1, 0, False
        while steps < self.form_steps and used < allowance:
            steps += 1
            grad_norm = float(ds.norm())
            if grad_norm == 0.0:  # on a tie (score exactly 0: converged) or a flat score
                converged = steps > 1
                break
            direction = _clip_norm((float((ds * g).sum()) - float(s[0])) / grad_norm**2 * ds) - g
            c = 2 * (float(g.norm()) + 1) / grad_norm
            merit = 0.5 * float((g * g).sum()) + c * abs(float(s[0]))
            improved = False
            for halving in range(8):
                if used >= allowance:
                    break
                cand = g + 0.5**halving * direction
                s_c, ds_c = gk.scores_and_grads(oracle, cand)
                used += 1
                if 0.5 * float((cand * cand).sum()) + c * abs(float(s_c[0])) < merit:
                    improved = True
                    break
            if not improved:  # no decrease along the HL-RF direction: a stationary point of the merit
                converged = used < allowance
                break
            moved, g, s, ds = float((cand - g).norm()), cand, s_c, ds_c
            if moved <= 1e-3 * (1 + float(g.norm())):
                converged = True
                break
        on_boundary = abs(float(s[0])) < 1e-2 * (1 + abs(oracle.clean_score))
        converged = converged and on_boundary and float(g.norm()) < _MAX_SHIFT
        info = {"form_steps": steps, "form_converged": converged, "design_point_norm": float(g.norm())}
        return g[0] if converged else torch.zeros_like(g[0]), info  # not converged: the pilot starts at the prior

    def _refine(self, oracle: Oracle, m: torch.Tensor, entropy: int, allowance: int) -> tuple[torch.Tensor, dict]:
        """Check the design point with a pilot sample; if it rarely fails, multilevel cross-entropy rounds
        move the shift along the w-averaged unit score gradient until the pilot sees failures."""
        n_pilot = max(10, min(1000, oracle.budget // 40))
        levels: list[float] = []
        iid = (0, 0)  # the pilot at the origin is an i.i.d. sample of the perturbation law
        r_min = float(m.norm())  # the shift moves out from the design point, never back towards the origin
        for r in range(self.ce_rounds):
            if n_pilot > allowance - oracle.n_queries:
                break
            g = m + gk.normals(entropy, _PILOT, r, (n_pilot, *m.shape))
            s, ds = gk.scores_and_grads(oracle, g)
            n_fail = int((s > 0).sum())
            if not bool(m.any()):
                iid = (iid[0] + n_fail, iid[1] + n_pilot)
            if r == 0 and n_fail >= _MIN_ELITE:
                break  # the proposal at the design point hits the failure set: keep it
            level = 0.0 if n_fail >= _MIN_ELITE else min(0.0, float(torch.quantile(s, 1 - self.elite_fraction)))
            norms = ds.flatten(1).norm(dim=1)
            elite = (s >= level) & (norms > 0)
            levels.append(level)
            if not bool(elite.any()):
                break
            w = torch.softmax(-(g[elite] * m).flatten(1).sum(1), 0)  # phi(g) / phi(g - m), normalised
            if r_min >= 1.0:  # a proper design point: keep its direction, move along it
                e = m / m.norm()
            else:
                unit = ds[elite] / norms[elite].view(-1, *[1] * m.ndim)
                e = (w.view(-1, *[1] * m.ndim) * unit).sum(0)
                if not float(e.norm()) > 1e-12 * float(w.max()):
                    # The elite's gradients cancel (failure on both sides of a symmetric landscape): no one
                    # direction to shift along. Keep the shift so far and stop refining, rather than divide by 0.
                    break
                e = e / e.norm()
            m = _clip_norm(max(r_min, float((w * (g[elite] * e).flatten(1).sum(1)).sum())) * e)
            if level >= 0:
                break
        return m, {"ce_levels": levels, "pilot_size": n_pilot, "iid": iid}

    def _run(self, oracle: Oracle, confidence: float, entropy: int) -> Outcome:
        allowance = int(self.design_fraction * oracle.budget)
        m, diagnostics = self._design_point(oracle, entropy, allowance)
        m, ce = self._refine(oracle, m, entropy, allowance)
        iid = ce.pop("iid")
        m = self.shift_scale * m
        half_sq_norm = 0.5 * float((m * m).sum())
        n = oracle.remaining
        total = total_sq = 0.0
        k = 0
        for block, start in enumerate(range(0, n, _CHUNK)):  # keyed by block: batch-size independent
            g = m + gk.normals(entropy, _FINAL, block, (min(_CHUNK, n - start), *m.shape))
            fail = gk.scores(oracle, g) > 0
            y = torch.where(fail, torch.exp(-(g * m).flatten(1).sum(1) + half_sq_norm), 0.0)
            total, total_sq, k = total + float(y.sum()), total_sq + float((y * y).sum()), k + int(fail.sum())
        p_hat = total / n
        var = max(0.0, (total_sq - n * p_hat * p_hat) / (n - 1)) / n if n > 1 else math.inf
        se = math.sqrt(var)
        ess = total**2 / total_sq if total_sq > 0 else 0.0
        z, warnings, status = float(stats.norm.isf((1 - confidence) / 2)), [], "complete"
        if k == 0:
            warnings.append(
                f"no failure among {n} importance samples: the estimate is 0 and IS gives no upper bound "
                "(weights are unbounded); the interval is [0, 1]. Use mc or sequential for a guaranteed bound."
            )
            ci = ConfidenceInterval(0.0, 1.0, confidence, "none (no failure observed)")
        else:
            ci = ConfidenceInterval(max(0.0, p_hat - z * se), min(1.0, p_hat + z * se), confidence, "normal-is")
            if ess < 30:
                status = "unreliable"
                warnings.append(
                    f"effective sample size of the failing weights is {ess:.1f} (< 30): the weights are "
                    "degenerate and the normal interval is unreliable"
                )
        diagnostics.update(ce)
        diagnostics.update({
            "shift_norm": float(m.norm()), "n_final_samples": n, "n_final_failures": k, "ess": ess,
            "standard_error": se, "relative_se": se / p_hat if p_hat > 0 else None,
        })
        return Outcome(min(1.0, p_hat), ci, diagnostics=diagnostics, warnings=tuple(warnings), status=status, iid=iid)
