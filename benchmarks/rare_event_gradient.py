"""Importance sampling and gradient SMC on the closed-form gold cases: accuracy, coverage and cost.

For every estimator, family, dimension and exact failure probability p (``probust.bench.linear_case``),
R independent runs (seeds 0..R-1) at the given budget; one row per case with

* median and worst |log10(estimate / p)| over the runs (a zero estimate counts as an error of 99),
* empirical coverage of the confidence interval (R runs, nominal 95% by default),
* mean queries and seconds per run,
* queries to reach a 10% relative standard error, ``n_queries * (rse / 0.1)^2`` with ``rse`` the
  empirical relative standard deviation of the estimates over the R runs (needs R >= 3), against plain
  Monte Carlo's ``(1 - p) / (0.01 p)``.

The issue's target for the rare-event family: median |log10 error| <= 0.15 and worst <= 0.5 with at most
2e5 queries. The last lines summarise each estimator over the whole grid.

Run (full grid, about an hour on one CPU thread):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rare_event_gradient.py --runs 10
Quick look (one dimension per family, three runs):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rare_event_gradient.py --quick
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from probust.bench import linear_case
from probust.estimators import GradientSMC, ImportanceSampling

DIMS = {"gaussian": (10, 100, 784, 3072), "uniform-l2": (10, 100, 784, 3072), "uniform-linf": (10, 20, 100)}
QUICK_DIMS = {"gaussian": (784,), "uniform-l2": (784,), "uniform-linf": (100,)}
PS = (1e-3, 1e-6, 1e-9, 1e-12, 1e-15)
ESTIMATORS = {"is": ImportanceSampling, "gradient-smc": GradientSMC}


def run_case(est, family: str, dim: int, p: float, runs: int, budget: int, confidence: float, case_seed: int):
    case = linear_case(family, dim, p, seed=case_seed)
    truth = case.failure_probability
    errors, ratios, covered, queries, seconds, warned = [], [], 0, [], [], 0
    for seed in range(runs):
        res = est.estimate(case.model, case.x, case.perturbation, budget=budget, confidence=confidence, seed=seed)
        ratio = res.failure_probability / truth
        ratios.append(ratio)
        errors.append(abs(math.log10(ratio)) if ratio > 0 else 99.0)
        covered += res.ci.contains(truth)
        queries.append(res.n_queries)
        seconds.append(res.seconds)
        warned += bool(res.warnings)
    rse = float(np.std(ratios, ddof=1)) if runs >= 3 else math.nan
    mean_queries = float(np.mean(queries))
    q10 = mean_queries * (rse / 0.1) ** 2 if np.mean(ratios) > 0 else math.inf  # all zero: never reaches 10%
    return {
        "family": family, "dim": dim, "p": truth, "median": float(np.median(errors)), "worst": float(np.max(errors)),
        "covered": covered, "runs": runs, "queries": mean_queries, "seconds": float(np.mean(seconds)),
        "q10": q10, "mc10": (1 - truth) / (0.01 * truth), "warned": warned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=list(ESTIMATORS))
    parser.add_argument("--families", nargs="+", default=list(DIMS), choices=list(DIMS))
    parser.add_argument("--quick", action="store_true", help="one dimension per family, three runs")
    args = parser.parse_args()
    dims, runs = (QUICK_DIMS, 3) if args.quick else (DIMS, args.runs)
    for name in args.estimators:
        est = ESTIMATORS[name]()
        print(f"\n{name}  (budget {args.budget:,}, {runs} runs per case, {args.confidence:.0%} intervals)")
        print(f"{'family':>13} {'d':>5} {'p':>8} {'med|err|':>8} {'worst':>6} {'coverage':>8} {'queries':>9} "
              f"{'s/run':>6} {'q@10%rse':>9} {'MC q@10%':>9} {'gain':>8} {'warn':>4}")
        rows = []
        for family in args.families:
            for i, dim in enumerate(dims[family]):
                for j, p in enumerate(PS):
                    start = time.perf_counter()
                    row = run_case(est, family, dim, p, runs, args.budget, args.confidence, case_seed=10 * i + j)
                    rows.append(row)
                    print(f"{family:>13} {dim:5d} {row['p']:8.1e} {row['median']:8.3f} {row['worst']:6.2f} "
                          f"{row['covered']:>4}/{runs:<3} {row['queries']:9,.0f} {row['seconds']:6.2f} "
                          f"{row['q10']:9.3g} {row['mc10']:9.3g} {row['mc10'] / max(row['q10'], 1e-300):8.2g} "
                          f"{row['warned']:4d}"
                          f"  ({time.perf_counter() - start:.0f}s)", flush=True)
        medians = [r["median"] for r in rows]
        worst = max(r["worst"] for r in rows)
        covered = sum(r["covered"] for r in rows)
        total = sum(r["runs"] for r in rows)
        print(f"{name}: median over cases of the median |log10 error| {np.median(medians):.3f} "
              f"(largest {max(medians):.3f}), worst single run {worst:.2f}; coverage {covered}/{total} "
              f"= {covered / total:.3f} (nominal {args.confidence})")


if __name__ == "__main__":
    main()
