"""pfd from a campaign: the operational profile over cells times each cell's failure rate, with an upper bound.

The reliability assessment model (RAM) of Zhao et al., "Assessing the reliability of deep learning
classifiers through robustness evaluation and operational profiles", AISafety'21, and Dong et al., ACM
TECS 22(3), 2023::

    pfd = sum_c OP_c lambda_c,     lambda_c = E[theta(x) | x in cell c]

where theta(x) is the local failure probability (1 - PR) at input x under the perturbation law. Inputs
are the demands: a demand draws x from the operational profile and then x' ~ Pr(.|x).

Per input, Y_i is the campaign's estimate of theta(x_i) (unbiased for Monte Carlo, an upper bound for
certificates). Conservative rules, each reported as a share of operational mass: a cell the operation
visits but no evaluated input falls in counts as lambda_c = 1 (``unvisited_mass``); an input whose estimate
is undecided (the estimator warned, or it was never evaluated) counts as Y_i = 1 (``undecided_mass``).

Two one-sided upper bounds at confidence C:

``"bound"`` (default; distribution-free, guaranteed)
    Two Chernoff-KL steps (Hoeffding 1963, Theorem 1: for independent X_i in [0, 1],
    ``P(Xbar <= mu - t) <= exp(-n kl(mu - t, mu))``, so ``sup{q : n kl(Xbar, q) <= ln(1/delta)}`` bounds
    the mean mu whatever the laws), each at delta/2 with delta = 1 - C:

    1. Given the profile's estimate OP^_c, the per-input values ``X_i = w_c Y_i / w_max`` with
       ``w_c = OP^_c m / m_c`` (m_c evaluated inputs in cell c) are independent in [0, 1] with mean
       ``sum_c OP^_c lambda_c / w_max``: inside a cell the Y_i are i.i.d. with mean exactly lambda_c,
       between-input variation and within-input estimation noise at once. This bounds
       ``V = sum_c OP^_c lambda_c`` by U_1 (the stratified estimator, no per-cell union bound).
    2. V is the average, over the counted operational data, of ``lambda_cell(x) in [0, 1]``, whose mean is
       the pfd; so ``pfd <= kl-upper(U_1, N)``.

    Cells whose weight w_c would inflate the bound more than their mass costs are counted as failing too
    (``sparse_mass``); that choice uses only OP^ and m_c, never the Y_i, so the bound stays valid. With all
    Y_i = 0 the bound is still about 3/m at 95% (``floor``): a pfd claim is limited by the number of
    distinct inputs, not by the queries spent on each (a fraction 3/m of never-seen inputs that always
    fail is consistent with m clean ones at 95%).
``"posterior"`` (approximate)
    The C-quantile of a Bayesian bootstrap (:func:`probust.metrics.weighted_pfd`): OP ~ Dirichlet(counts +
    1/2) times Dirichlet(1) weights over each cell's Y_i, whose spread already contains the within-input
    noise. This is the RAM's propagation with exact quantiles; it cannot see failures rarer than 1 in m_c
    inputs and under-covers there (``benchmarks/reliability_conservativeness.py`` measures how much).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

from .._deprecation import renamed_constants
from .._scipy import optimize, special
from ..errors import ConfigurationError
from ..intervals import ConfidenceInterval, check_confidence
from ..metrics import OperationalProfile, weighted_pfd
from ..serialisation import Serialisable

__all__ = ["PFD_METHODS", "Cell", "OperationalPfd", "kl_upper_bound", "operational_pfd"]

Method = Literal["bound", "posterior"]
PFD_METHODS: tuple[str, ...] = ("bound", "posterior")
__getattr__ = renamed_constants(__name__, {"METHODS": ("PFD_METHODS", PFD_METHODS)})


def kl_upper_bound(mean: float, n: int, delta: float) -> float:
    """Upper confidence bound on the mean of ``n`` i.i.d. [0, 1] variables from their average ``mean``.

    ``sup{q >= mean : n kl(mean, q) <= ln(1/delta)}`` with ``kl`` the Bernoulli relative entropy; it holds
    with probability >= 1 - delta for any law on [0, 1] (Hoeffding 1963, Theorem 1). For 0/1 data it is
    slightly looser than Clopper-Pearson; at ``mean = 0`` both are ``1 - delta^(1/n)``.

    Examples
    --------
    >>> round(kl_upper_bound(0.0, 1000, 0.05), 6)   # 1 - 0.05 ** (1 / 1000), the rule of three
    0.002991
    """
    level = math.log(1 / delta) / n
    if mean <= 0:
        return -math.expm1(-level)
    if mean >= 1:
        return 1.0

    def excess(q: float) -> float:
        return float(special.rel_entr(mean, q) + special.rel_entr(1 - mean, 1 - q)) - level

    top = 1 - 1e-15
    return 1.0 if excess(top) <= 0 else optimize.brentq(excess, mean, top, xtol=1e-15, rtol=1e-12)


@dataclasses.dataclass(frozen=True)
class Cell(Serialisable):
    """One cell of the profile: its operational share, evaluated inputs and failure rate (1 if unvisited)."""

    probability: float
    operational_count: int
    inputs: int
    undecided: int
    failure_rate: float


@dataclasses.dataclass(frozen=True)
class OperationalPfd(Serialisable):
    """pfd = sum_c OP_c lambda_c with its one-sided upper bound ``ci.high`` (see the module docstring).

    ``lower`` is the distribution-free one-sided lower bound at the same confidence (the "bound" method's
    lower-tail twin, with unvisited and sparse cells and undecided inputs counted as never failing): a
    target below it is refuted by the evidence.
    """

    pfd: float
    ci: ConfidenceInterval
    lower: float
    method: str
    unvisited_mass: float
    undecided_mass: float
    sparse_mass: float
    unweighted: float
    floor: float
    n_inputs: int
    n_undecided: int
    n_operational: int | None
    cells: tuple[Cell, ...]

    @property
    def upper(self) -> float:
        return self.ci.high


def _checked(failure_probabilities, cells, profile, undecided) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    y = np.asarray(failure_probabilities, dtype=float).ravel()
    if y.size == 0 or not np.isfinite(y).all() or (y < 0).any() or (y > 1).any():
        raise ConfigurationError("need at least one per-input failure probability, each in [0, 1]")
    mask = np.zeros(y.size, bool) if undecided is None else np.asarray(undecided, dtype=bool).ravel()
    if (profile is None) != (cells is None):
        raise ConfigurationError("give both the cells of the inputs and the operational profile, or neither")
    n_cells = 1 if profile is None else len(profile.counts)
    c = np.zeros(y.size, int) if cells is None else np.asarray(cells).ravel()
    if mask.shape != y.shape or c.shape != y.shape or (c < 0).any() or (c >= n_cells).any():
        raise ConfigurationError(f"need one undecided flag and one cell in 0..{n_cells - 1} per input")
    return np.where(mask, 1.0, y), c.astype(int), mask, n_cells


def _sparse_cells(op: np.ndarray, sizes: np.ndarray, delta: float) -> np.ndarray:
    """Cells to count as failing: the unvisited ones, plus the most over-weighted visited ones while that
    lowers the zero-failure bound. Decided from the profile and the cell sizes only, never from the Y_i."""
    order = sorted(np.flatnonzero(sizes), key=lambda k: -op[k] / sizes[k])
    best, best_floor = 0, math.inf
    for j in range(len(order)):
        kept = order[j:]
        m = sizes[kept].sum()
        floor = 1 - op[kept].sum() + (op[kept] * m / sizes[kept]).max() * -math.expm1(math.log(delta) / m)
        if floor < best_floor:
            best, best_floor = j, floor
    failing = sizes == 0
    failing[order[:best]] = True
    return failing


def _kl_lower_bound(mean: float, n: int, delta: float) -> float:
    return 1.0 - kl_upper_bound(1.0 - mean, n, delta)  # the same inequality for 1 - X


def _bound(y: np.ndarray, cells: np.ndarray, counts: np.ndarray | None, n_cells: int, delta: float,
           side: Literal["upper", "lower"] = "upper") -> tuple[float, float]:
    """The "bound" method's upper (or lower) bound on the pfd, and the operational mass of sparse cells.

    For the lower bound, unvisited and sparse cells count as never failing.
    """
    kl = kl_upper_bound if side == "upper" else _kl_lower_bound
    sizes = np.bincount(cells, minlength=n_cells)
    sums = np.bincount(cells, weights=y, minlength=n_cells)
    if counts is None:
        return kl(sums[0] / sizes[0], int(sizes[0]), delta), 0.0
    op = counts / counts.sum()
    failing = _sparse_cells(op, sizes, delta / 2)
    kept = ~failing
    m = int(sizes[kept].sum())
    weights = op[kept] * m / sizes[kept]
    mean = float(op[kept] @ (sums[kept] / sizes[kept])) / weights.max()
    first = weights.max() * kl(mean, m, delta / 2) + (op[failing].sum() if side == "upper" else 0.0)
    sparse = float(op[failing & (sizes > 0)].sum())
    return kl(min(1.0, first), int(counts.sum()), delta / 2), sparse


def operational_pfd(
    failure_probabilities,
    cells=None,
    profile: OperationalProfile | None = None,
    *,
    undecided=None,
    confidence: float = 0.95,
    method: Method = "bound",
    n_draws: int = 2000,
    seed: int = 0,
) -> OperationalPfd:
    """The pfd under an operational profile with a one-sided upper bound at ``confidence``.

    Parameters
    ----------
    failure_probabilities
        Per-input estimates Y_i of theta(x_i) in [0, 1].
    cells, profile
        Cell of each input and the :class:`~probust.metrics.OperationalProfile` whose ``counts`` are the
        operational data per cell. Without them the evaluated inputs themselves are the demands (one cell,
        its operational share known to be 1).
    undecided
        Flags of inputs whose estimate is not usable (counted as failing).
    method
        ``"bound"`` (distribution-free, default) or ``"posterior"`` (Bayesian bootstrap, ``n_draws`` draws).

    Examples
    --------
    >>> est = operational_pfd([0.0] * 999 + [0.01])
    >>> round(est.pfd, 8), round(est.upper, 5), round(est.floor, 5)
    (1e-05, 0.00306, 0.00299)
    """
    confidence = check_confidence(confidence)
    if method not in PFD_METHODS:
        raise ConfigurationError(f"unknown pfd method {method!r}; choose one of {PFD_METHODS}")
    y, c, mask, n_cells = _checked(failure_probabilities, cells, profile, undecided)
    counts = None if profile is None else np.asarray(profile.counts, dtype=float)
    op = np.ones(1) if counts is None else counts / counts.sum()
    sizes = np.bincount(c, minlength=n_cells)
    rates = np.divide(np.bincount(c, weights=y, minlength=n_cells), sizes, out=np.ones(n_cells), where=sizes > 0)
    undecided_counts = np.bincount(c, weights=mask, minlength=n_cells)
    undecided_share = undecided_counts / np.maximum(sizes, 1)
    delta = 1 - confidence
    floor = _bound(np.zeros_like(y), c, counts, n_cells, delta)[0]
    if method == "bound":
        upper, sparse = _bound(y, c, counts, n_cells, delta)
    else:
        single = OperationalProfile(np.zeros((1, 0)), np.ones(1)) if profile is None else profile
        upper = weighted_pfd(y, c, single, confidence=confidence, n_bootstrap=n_draws, seed=seed, sided="upper").ci.high
        sparse = 0.0
    lower = _bound(np.where(mask, 0.0, y), c, counts, n_cells, delta, side="lower")[0]
    table = tuple(
        Cell(float(op[k]), int(round(counts[k])) if counts is not None else int(sizes[k]), int(sizes[k]),
             int(undecided_counts[k]), float(rates[k]))
        for k in range(n_cells)
    )
    return OperationalPfd(
        pfd=float(op @ rates),
        ci=ConfidenceInterval(0.0, upper, confidence, f"{method}: " + _METHOD_NAMES[method], "upper"),
        lower=max(0.0, lower),
        method=method,
        unvisited_mass=float(op[sizes == 0].sum()),
        undecided_mass=float(op @ undecided_share),
        sparse_mass=sparse,
        unweighted=float(y.mean()),
        floor=floor,
        n_inputs=int(y.size),
        n_undecided=int(mask.sum()),
        n_operational=None if counts is None else int(counts.sum()),
        cells=table,
    )


_METHOD_NAMES = {"bound": "stratified Chernoff-KL, then Chernoff-KL over the profile (distribution-free)",
                 "posterior": "Bayesian bootstrap quantile (approximate)"}
