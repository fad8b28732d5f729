"""What the default replicas cost on the closed-form gold cases (two classes: no parts), issue 23.

Each cell runs R seeds at budget 2e5 with ``replicas=1`` and with the default (2 replicas for amls and
last-particle at this budget) and prints coverage of the 95% interval, median |log10 error|, mean queries,
mean seconds and the runs marked ``unreliable``.

Run: .venv/bin/python benchmarks/replica_cost.py [--runs 10]
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

from probust.bench import linear_case
from probust.estimators import get_estimator

CELLS = (("gaussian", 100, 1e-6), ("gaussian", 100, 1e-12), ("uniform-linf", 20, 1e-9), ("uniform-l2", 100, 1e-9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--budget", type=int, default=200_000)
    parser.add_argument("--estimators", nargs="+", default=["amls", "last-particle"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'estimator':>13} {'case':>24} {'replicas':>8} {'cover':>6} {'med|err|':>8} {'queries':>8} {'s':>6} "
          f"{'unrel':>5}")
    for name in args.estimators:
        for i, (family, dim, p) in enumerate(CELLS):
            case = linear_case(family, dim, p, seed=i)
            for replicas in (1, None):
                runs = [get_estimator(name).estimate(case.model, case.x, case.perturbation, budget=args.budget,
                                                     seed=s, replicas=replicas) for s in range(args.runs)]
                truth = case.failure_probability
                err = [abs(math.log10(r.failure_probability / truth)) if r.failure_probability > 0 else 99.0
                       for r in runs]
                print(f"{name:>13} {f'{family}/d{dim}/p{p:g}':>24} {replicas or 'default':>8} "
                      f"{sum(r.ci.contains(truth) for r in runs):>3}/{len(runs):<2} {statistics.median(err):8.3f} "
                      f"{statistics.fmean(r.n_queries for r in runs):8.0f} "
                      f"{statistics.fmean(r.seconds for r in runs):6.2f} "
                      f"{sum(r.status == 'unreliable' for r in runs):5d}")


if __name__ == "__main__":
    main()
