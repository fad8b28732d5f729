"""PR-Bench metrics: how far, how honest and how costly each estimator is on the gold cases.

Per cell (one estimate p_hat of a case with gold p):

* ``log10 error`` = log10(p_hat / p); a zero estimate has error -inf (reported, never hidden);
* ``covered``: the interval contains p (statistical intervals only: bound_kind ``confidence-interval``/``pac``);
* ``violation``: a sound bound (bound_kind ``deterministic``, ci = [0, bound]) below the gold's lower end
  ``gold.low`` (for Monte Carlo gold, its 99.9% lower limit, so a flagged violation is itself significant).

Per estimator, over its ``ok`` cells:

* median and worst |log10 error|, and per suite the median;
* relative RMSE per case, sqrt(mean_r (p_hat_r / p - 1)^2), summarised by its median over cases;
* empirical coverage k / n against the nominal confidence, with the exact (Clopper-Pearson) 95% interval of
  the coverage itself: with n cells the interval's half-width is about 2 sqrt(c (1 - c) / n), so 150 cells
  resolve a 95% nominal level to about +-3.5 points;
* bound violations (must be 0), zero estimates, cells with warnings, mean queries and seconds per cell;
* coverage on the hard landscapes (suite ``landscape``, exact gold) on its own, with its 95% interval: the
  landscapes are built to break model-based intervals, so this is where an over-confident one shows;
* ``unreliable`` cells: results whose own diagnostics failed (``Result.status == "unreliable"``), which say
  not to use their interval for a claim.

The gold of a Monte Carlo reference has its own error (``Gold.rel_halfwidth``, 4-16% for the zoo cases at
99.9%); coverage there is measured against its point value, which can only make a correct interval look
slightly worse, never better (docs/pr-bench.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..intervals import binomial_ci
from .cases import Case

STATISTICAL = ("confidence-interval", "pac")
#: The suite whose coverage the leaderboard shows on its own (hard landscapes, :mod:`probust.bench.landscapes`).
LANDSCAPE_SUITE = "landscape"


@dataclasses.dataclass(frozen=True)
class CellScore:
    """The scored outcome of one stored cell."""

    case_id: str
    suite: str
    estimator: str
    repetition: int
    status: str
    gold: float
    p_hat: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    bound_kind: str = ""
    n_queries: int = 0
    seconds: float = 0.0
    covered: bool | None = None
    violation: bool | None = None
    warned: bool = False
    message: str | None = None
    unreliable: bool = False  # the result's own status: "unreliable" (a diagnostic failed)

    @property
    def log10_error(self) -> float:
        if not self.status == "ok":
            return math.nan
        return math.log10(self.p_hat / self.gold) if self.p_hat > 0 else -math.inf


def score_cell(row: Mapping[str, Any], case: Case) -> CellScore:
    """Score a stored cell (a row of :meth:`BenchStore.cells`) against its case's gold value."""
    base = dict(case_id=case.id, suite=case.suite, estimator=row["estimator"], repetition=row["repetition"],
                status=row["status"], gold=case.gold.value, message=row["message"])
    if row["status"] != "ok":
        return CellScore(**base)
    res = json.loads(row["result"])
    ci, kind = res["ci"], res["bound_kind"]
    covered = ci["low"] <= case.gold.value <= ci["high"] if kind in STATISTICAL else None
    violation = ci["high"] < case.gold.low if kind == "deterministic" else None
    return CellScore(**base, p_hat=res["failure_probability"], ci_low=ci["low"], ci_high=ci["high"],
                     bound_kind=kind, n_queries=res["n_queries"], seconds=res["seconds"], covered=covered,
                     violation=violation, warned=bool(res["warnings"]),
                     unreliable=res.get("status") == "unreliable")


@dataclasses.dataclass(frozen=True)
class EstimatorScore:
    """One leaderboard row."""

    estimator: str
    cells_ok: int
    cells_unsupported: int
    cells_error: int
    median_abs_log10_error: float
    worst_abs_log10_error: float
    median_rel_rmse: float
    covered: int
    coverage_cells: int
    coverage_low: float
    coverage_high: float
    violations: int
    bound_cells: int
    zeros: int
    warned: int
    mean_queries: float
    mean_seconds: float
    total_seconds: float
    suite_median: dict[str, float]
    landscape_covered: int = 0
    landscape_cells: int = 0  # statistical intervals on suite "landscape" (0: none in the run, or bounds only)
    landscape_low: float = math.nan
    landscape_high: float = math.nan
    unreliable: int = 0

    @property
    def coverage(self) -> float:
        return self.covered / self.coverage_cells if self.coverage_cells else math.nan

    @property
    def landscape_coverage(self) -> float:
        return self.landscape_covered / self.landscape_cells if self.landscape_cells else math.nan


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def summarize(cells: Sequence[CellScore]) -> list[EstimatorScore]:
    """Leaderboard rows, best first (median |log10 error|, then worst, then mean queries)."""
    by_est: dict[str, list[CellScore]] = defaultdict(list)
    for c in cells:
        by_est[c.estimator].append(c)
    rows = []
    for name, group in by_est.items():
        ok = [c for c in group if c.status == "ok"]
        errors = [abs(c.log10_error) for c in ok]
        per_case: dict[str, list[CellScore]] = defaultdict(list)
        for c in ok:
            per_case[c.case_id].append(c)
        rmse = [math.sqrt(statistics.fmean((c.p_hat / c.gold - 1) ** 2 for c in cs)) for cs in per_case.values()]
        suites: dict[str, list[float]] = defaultdict(list)
        for c in ok:
            suites[c.suite].append(abs(c.log10_error))
        cov = [c for c in ok if c.covered is not None]
        k = sum(c.covered for c in cov)
        ci = binomial_ci(k, len(cov), 0.95) if cov else None
        hard = [c for c in cov if c.suite == LANDSCAPE_SUITE]
        k_hard = sum(c.covered for c in hard)
        ci_hard = binomial_ci(k_hard, len(hard), 0.95) if hard else None
        bounds = [c for c in ok if c.violation is not None]
        rows.append(EstimatorScore(
            estimator=name, cells_ok=len(ok), cells_unsupported=sum(c.status == "unsupported" for c in group),
            cells_error=sum(c.status == "error" for c in group),
            median_abs_log10_error=_median(errors), worst_abs_log10_error=max(errors) if errors else math.nan,
            median_rel_rmse=_median(rmse), covered=k, coverage_cells=len(cov),
            coverage_low=ci.low if ci else math.nan, coverage_high=ci.high if ci else math.nan,
            violations=sum(c.violation for c in bounds), bound_cells=len(bounds),
            zeros=sum(c.p_hat == 0 for c in ok), warned=sum(c.warned for c in ok),
            mean_queries=statistics.fmean(c.n_queries for c in ok) if ok else math.nan,
            mean_seconds=statistics.fmean(c.seconds for c in ok) if ok else math.nan,
            total_seconds=sum(c.seconds for c in ok),
            suite_median={s: _median(v) for s, v in sorted(suites.items())},
            landscape_covered=k_hard, landscape_cells=len(hard),
            landscape_low=ci_hard.low if ci_hard else math.nan, landscape_high=ci_hard.high if ci_hard else math.nan,
            unreliable=sum(c.unreliable for c in ok),
        ))
    key = lambda r: (_nan_last(r.median_abs_log10_error), _nan_last(r.worst_abs_log10_error), r.mean_queries)  # noqa: E731
    return sorted(rows, key=key)


def _nan_last(v: float) -> float:
    return math.inf if math.isnan(v) else v
