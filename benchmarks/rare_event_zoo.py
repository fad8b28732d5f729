"""Rare-event estimators on zoo models and real MNIST images, against stored large-sample Monte Carlo.

The references are PR-Bench's zoo suite (``src/probust/bench/data/zoo.json``, made once by
``scripts/make_bench_references.py zoo``): a zoo model, a test image, a perturbation and the Monte Carlo
failure probability with its exact 99.9% Clopper-Pearson interval. Each estimator runs R times (seeds 0..R-1)
at the given budget and confidence; per (case, estimator) the table gives the median |log10(estimate / MC)|,
how many runs' intervals overlap the reference interval (they must whenever both contain the truth) and how
many contain the MC point value, and the mean queries and seconds.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/rare_event_zoo.py [--runs 5] [--budget 100000]
"""

from __future__ import annotations

import argparse
import math
import statistics

from probust.bench.cases import Case, select_cases
from probust.estimators import get_estimator

ESTIMATORS = ("amls", "last-particle", "is", "gradient-smc")


def run_case(name: str, case: Case, runs: int, budget: int, confidence: float) -> dict:
    """R runs of one estimator on one zoo case, compared with the reference."""
    inst, gold = case.build(), case.gold
    errors, overlap, contain, queries, seconds = [], 0, 0, 0, 0.0
    for seed in range(runs):
        res = get_estimator(name).estimate(inst.model, inst.x, inst.perturbation, budget=budget,
                                           confidence=confidence, seed=seed, label=inst.label)
        p = res.failure_probability
        errors.append(abs(math.log10(p / gold.value)) if p > 0 else 99.0)
        overlap += res.ci.low <= gold.high and gold.low <= res.ci.high
        contain += res.ci.contains(gold.value)
        queries += res.n_queries
        seconds += res.seconds
    return {"median": statistics.median(errors), "overlap": overlap, "contain": contain,
            "queries": queries / runs, "seconds": seconds / runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    args = parser.parse_args()
    print(f"budget {args.budget:,}, {args.runs} runs, {args.confidence:.0%} intervals; "
          f"reference: Monte Carlo with its 99.9% interval")
    print(f"{'case':>28} {'MC p':>9} {'[99.9% interval]':>21} {'estimator':>13} {'med|err|':>8} {'overlap':>7} "
          f"{'contain':>7} {'queries':>8} {'s/run':>6}")
    for case in select_cases(["zoo"]):
        gold = case.gold
        for name in args.estimators:
            row = run_case(name, case, args.runs, args.budget, args.confidence)
            print(f"{case.id:>28} {gold.value:9.3e} [{gold.low:9.3e}, {gold.high:9.3e}] {name:>13} "
                  f"{row['median']:8.3f} {row['overlap']:>3}/{args.runs:<3} {row['contain']:>3}/{args.runs:<3} "
                  f"{row['queries']:8.0f} {row['seconds']:6.1f}", flush=True)


if __name__ == "__main__":
    main()
