"""Monte Carlo on the closed-form gold cases: estimate, 99% interval and whether it covers the truth.

Same grid as tests/estimators/test_monte_carlo.py (families x dimensions x p in 1e-1..1e-4, budget
max(1e4, 20/p), seed = case index), printed as a table.

Run: .venv/bin/python benchmarks/gold_accuracy.py
"""

from __future__ import annotations

import probust as pb
from probust.bench import linear_case

DIMS = {"gaussian": (2, 100, 3072), "uniform-l2": (2, 100, 3072), "uniform-linf": (2, 20, 100)}
PS = (1e-1, 1e-2, 1e-3, 1e-4)


def main() -> None:
    print(f"{'family':>13} {'d':>5} {'exact p':>11} {'estimate':>11} {'99% CI':>25} {'covers':>6} "
          f"{'queries':>8} {'s':>6}")
    i = covered = 0
    for family, dims in DIMS.items():
        for dim in dims:
            for p in PS:
                case = linear_case(family, dim, p, seed=i)
                res = pb.estimate(case.model, case.x, case.perturbation, budget=max(10_000, int(20 / p)),
                                  confidence=0.99, seed=i)
                ok = res.ci.contains(case.failure_probability)
                covered += ok
                print(f"{family:>13} {dim:5d} {case.failure_probability:11.4e} {res.failure_probability:11.4e} "
                      f"[{res.ci.low:10.4e}, {res.ci.high:10.4e}] {'yes' if ok else 'NO':>6} {res.n_queries:8,} "
                      f"{res.seconds:6.2f}")
                i += 1
    print(f"covered {covered}/{i}")


if __name__ == "__main__":
    main()
