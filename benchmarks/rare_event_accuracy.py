"""Rare-event estimators on the closed-form gold cases: accuracy, interval coverage and cost to 10% RSE.

Grid: gaussian and uniform-l2 in d = 10, 100, 784, 3072; uniform-linf (Irwin-Hall) in d = 10, 20, 100 (its
exact tail is slow above); exact p in {1e-3, 1e-6, 1e-9, 1e-12, 1e-15} (``probust.bench.linear_case``). Each
cell is estimated R times (seeds 1000 i + r) at the default hyper-parameters, budget 2e5 queries, 95%
intervals. One row per cell:

* median and worst |log10(estimate / p)| over the runs (a zero estimate counts as an error of 99);
* coverage: runs whose interval contains p, out of R;
* mean queries and seconds per run;
* queries and seconds to reach a 10% relative standard error, ``cost x (rse / 0.1)^2`` with ``rse`` the
  empirical relative standard deviation of p_hat / p over the R runs (an estimator's variance falls like
  1 / cost, so cost x variance is constant), next to plain Monte Carlo's ``(1 - p) / (0.01 p)`` queries.

Target of issue 3 for the splitting family (amls, last-particle): median |log10 error| <= 0.15 and worst
<= 0.5 over the grid, with <= 2e5 queries. The summary line of each estimator gives the pooled median, the
worst run and the pooled coverage with its 95% Clopper-Pearson interval (a shortfall is reported, not hidden).

Run (full grid; about 15-30 minutes per estimator at R = 10 on one thread, most of it in d = 3072):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rare_event_accuracy.py --runs 10 [--estimators amls ...]
Quick look (one dimension per family, three runs): ... rare_event_accuracy.py --quick
"""

from __future__ import annotations

import argparse
import math
import statistics

import numpy as np

from probust import binomial_ci
from probust._files import write_json_atomic
from probust.bench import linear_case
from probust.estimators import get_estimator

DIMS = {"gaussian": (10, 100, 784, 3072), "uniform-l2": (10, 100, 784, 3072), "uniform-linf": (10, 20, 100)}
QUICK_DIMS = {"gaussian": (784,), "uniform-l2": (784,), "uniform-linf": (100,)}
PS = (1e-3, 1e-6, 1e-9, 1e-12, 1e-15)
ESTIMATORS = ("amls", "last-particle", "is", "gradient-smc")


def cell_stats(name: str, case, runs: int, seed0: int, budget: int, confidence: float) -> dict:
    """R runs of one estimator on one gold case."""
    truth = case.failure_probability
    ratios, covered, queries, seconds, warned = [], 0, [], [], 0
    for r in range(runs):
        res = get_estimator(name).estimate(case.model, case.x, case.perturbation, budget=budget,
                                           seed=seed0 + r, confidence=confidence)
        ratios.append(res.failure_probability / truth)
        covered += res.ci.contains(truth)
        queries.append(res.n_queries)
        seconds.append(res.seconds)
        warned += bool(res.warnings)
    errors = [abs(math.log10(q)) if q > 0 else 99.0 for q in ratios]
    if runs < 3:
        inflation = math.nan
    else:  # all-zero estimates never reach 10% RSE, whatever their (zero) spread says
        inflation = (float(np.std(ratios, ddof=1)) / 0.1) ** 2 if any(ratios) else math.inf
    return {
        "family": case.family, "dim": case.dim, "p": truth, "errors": errors, "median": statistics.median(errors),
        "worst": max(errors), "covered": covered, "runs": runs, "queries": float(np.mean(queries)),
        "seconds": float(np.mean(seconds)), "q10": float(np.mean(queries)) * inflation,
        "s10": float(np.mean(seconds)) * inflation, "mc10": (1 - truth) / (0.01 * truth), "warned": warned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="repeated runs per cell (default 10)")
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--families", nargs="+", default=list(DIMS), choices=list(DIMS))
    parser.add_argument("--quick", action="store_true", help="one dimension per family and 3 runs per cell")
    parser.add_argument("--json", help="also write every row to this JSON file")
    args = parser.parse_args()
    dims, runs = (QUICK_DIMS, 3) if args.quick else (DIMS, args.runs)
    cells = [(f, d, p) for f in args.families for d in dims[f] for p in PS]
    cases = [linear_case(*cell, seed=i) for i, cell in enumerate(cells)]
    table: dict[str, list[dict]] = {}
    for name in args.estimators:
        print(f"\n== {name}: budget {args.budget:,}, {runs} runs per cell, {args.confidence:.0%} intervals ==")
        print(f"{'family':>13} {'d':>5} {'p':>7} {'med|err|':>8} {'worst':>6} {'cover':>6} {'queries':>8} "
              f"{'s/run':>6} {'q@10%RSE':>9} {'s@10%RSE':>9} {'MC q@10%':>9} {'warn':>4}", flush=True)
        rows = table[name] = []
        for i, case in enumerate(cases):
            row = cell_stats(name, case, runs, 1000 * i, args.budget, args.confidence)
            rows.append(row)
            print(f"{row['family']:>13} {row['dim']:5d} {row['p']:7.0e} {row['median']:8.3f} {row['worst']:6.3f} "
                  f"{row['covered']:>3}/{runs:<2} {row['queries']:8.0f} {row['seconds']:6.2f} {row['q10']:9.2e} "
                  f"{row['s10']:9.2e} {row['mc10']:9.2e} {row['warned']:4d}", flush=True)
        errors = [e for row in rows for e in row["errors"]]
        covered, total = sum(r["covered"] for r in rows), sum(r["runs"] for r in rows)
        ci = binomial_ci(covered, total, confidence=0.95)
        print(f"{name}: median |log10 err| {statistics.median(errors):.3f}, worst {max(errors):.3f} over "
              f"{len(errors)} runs; coverage {covered}/{total} = {covered / total:.3f} "
              f"[{ci.low:.3f}, {ci.high:.3f}] (nominal {args.confidence})", flush=True)
    if args.json:
        write_json_atomic(args.json, {"budget": args.budget, "runs": runs, "confidence": args.confidence,
                                      "rows": table})


if __name__ == "__main__":
    main()
