"""k-out-of-N voting over independent perturbations of one demand, and the beta-factor common-cause model.

A KooN system of N copies of one model, each seeing its own independent perturbation of the same demand x
(N sensors, or N consecutive frames of a static scene), fails when fewer than K copies are right, i.e. when
at least ``m = N - K + 1`` copies fail. Given x the copies fail independently with probability theta(x), the
local failure probability of Definition 1, so (../shared/notes/system-level-reliability.md, Sec. 4)

    pfd_KooN = E_OP[ g(theta(X)) ],     g(t) = P(Bin(N, t) >= m).

Plugging the TSR into g is optimistic: g is convex near 0, so E g(theta) >= g(E theta) there (Jensen), which
is the whole point of measuring theta per input. A tracker that fails only after N consecutive misses of a
static scene is the 1ooN case: it fails when all N copies fail, g(t) = t^N.

Per input, a Monte Carlo campaign counted f failures in n i.i.d. perturbations. The plug-in g(f/n) is
biased (E[(f/n)^2] = t^2 + t(1-t)/n); the U-statistic of Hoeffding (1948) with kernel
``1[at least m of N draws fail]`` is exactly unbiased: averaging the kernel over all N-subsets of the n
draws gives the hypergeometric tail

    Y = P(H >= m),   H ~ Hypergeometric(n draws, f failures, N drawn),   E[Y] = g(theta(x)),

with Y in [0, 1], so the distribution-free bound of :func:`probust.reliability.operational_pfd` applies to
the Y_i unchanged. (Written here because no statistics library offers this estimator; scipy gives the
hypergeometric tail.)

The beta-factor model (IEC 61508-6, Annex D) adds common cause: a fraction beta of each channel's failure
probability p fails every channel at once, the rest is independent:
``p_sys = beta p + P(Bin(N, (1 - beta) p) >= m)``; for 1oo2, ``beta p + ((1 - beta) p)^2``.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from .._scipy import stats
from ..errors import ConfigurationError
from ..metrics import OperationalProfile
from ..serialisation import Serialisable
from ._common import check_count, check_probability
from .pfd import Method, OperationalPfd, operational_pfd

__all__ = ["Voting", "beta_factor", "k_out_of_n", "parse_voting"]


@dataclasses.dataclass(frozen=True)
class Voting(Serialisable):
    """pfd of a KooN system of one model (with its upper bound), of one channel, and the plug-in figure.

    ``plug_in`` is g(pfd of one channel): what the TSR alone would predict, optimistic when the failures
    concentrate on few inputs; ``ratio`` = system pfd / plug-in.
    """

    k: int
    n: int
    single: float
    system: OperationalPfd
    plug_in: float
    ratio: float

    @property
    def pfd(self) -> float:
        return self.system.pfd


def parse_voting(text: str) -> tuple[int, int]:
    """``"2oo3"`` -> (2, 3): the system works while at least K of the N channels do."""
    match = re.fullmatch(r"\s*(\d+)\s*oo\s*(\d+)\s*", str(text))
    if match is None:
        raise ConfigurationError(f"voting architecture {text!r} is not of the form KooN, e.g. 1oo2 or 2oo3")
    k, n = int(match[1]), int(match[2])
    if not 1 <= k <= n:
        raise ConfigurationError(f"voting architecture {text!r} needs 1 <= K <= N")
    return k, n


def _tail(k: int, n: int, t):
    """g(t) = P(Bin(N, t) >= N - K + 1)."""
    return stats.binom.sf(n - k, n, t)


def k_out_of_n(
    failures, samples, k: int, n: int, cells=None, profile: OperationalProfile | None = None, *, undecided=None,
    confidence: float = 0.95, method: Method = "bound", seed: int = 0,
) -> Voting:
    """KooN pfd ``E_OP[P(Bin(N, theta) >= N - K + 1)]`` from per-input Monte Carlo failure counts.

    Parameters
    ----------
    failures, samples
        Per input, the failures counted and the i.i.d. perturbations drawn (each at least ``n``).
    k, n
        The architecture: the system works while at least ``k`` of ``n`` channels do.
    cells, profile, undecided, confidence, method, seed
        As in :func:`probust.reliability.operational_pfd`; undecided inputs count as failing systems.

    Examples
    --------
    >>> v = k_out_of_n([0] * 90 + [50] * 10, [100] * 100, k=1, n=2)   # 10% of inputs fail half the time
    >>> round(v.pfd, 4), round(v.plug_in, 4), round(v.ratio, 1)      # E theta^2 vs (E theta)^2
    (0.0247, 0.0025, 9.9)
    """
    k, n = check_count(k, "K", minimum=1), check_count(n, "N", minimum=1)
    if k > n:
        raise ConfigurationError(f"a KooN architecture needs K <= N, got {k}oo{n}")
    f, s = np.asarray(failures, dtype=float).ravel(), np.asarray(samples, dtype=float).ravel()
    if f.shape != s.shape or f.size == 0 or (f < 0).any() or (f > s).any() or (f % 1).any() or (s % 1).any():
        raise ConfigurationError("need one whole failure count <= its sample count per input")
    if (s < n).any():
        raise ConfigurationError(f"every input needs at least N = {n} perturbations for the unbiased {k}oo{n} "
                                 f"estimate; the smallest count is {int(s.min())}")
    # Hypergeometric tail P(H >= m), H ~ Hypergeom(M=s, n=f, N=n): the U-statistic of the kernel (module docstring)
    y = stats.hypergeom.sf(n - k, s, f, n)
    system = operational_pfd(np.clip(y, 0.0, 1.0), cells, profile, undecided=undecided, confidence=confidence,
                             method=method, seed=seed)
    single = operational_pfd(f / s, cells, profile, undecided=undecided, confidence=confidence).pfd
    plug_in = float(_tail(k, n, single))
    ratio = system.pfd / plug_in if plug_in > 0 else (np.inf if system.pfd > 0 else np.nan)
    return Voting(k, n, single, system, plug_in, float(ratio))


def beta_factor(p: float, beta: float, k: int = 1, n: int = 2) -> float:
    """Per-demand pfd of a KooN system with common-cause fraction ``beta``: ``beta p + P(Bin(N, (1-beta)p) >= m)``.

    Examples
    --------
    >>> round(beta_factor(1e-3, 0.1), 10)        # the notes' example: beta dominates
    0.00010081
    """
    p = check_probability(p, "p", zero_ok=True)
    beta = check_probability(beta, "beta", zero_ok=True)
    k, n = check_count(k, "K", minimum=1), check_count(n, "N", minimum=1)
    if k > n:
        raise ConfigurationError(f"a KooN architecture needs K <= N, got {k}oo{n}")
    return float(beta * p + _tail(k, n, (1 - beta) * p))
