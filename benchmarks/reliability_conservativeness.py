"""How often the reported pfd upper bound is >= the true pfd, on synthetic campaigns with known truth.

Each scenario fixes an operational profile over cells, per-cell laws of the per-input failure probability
theta(x) (robust inputs at 0, fragile ones Beta-distributed) and the cell shares of the evaluated inputs
(probust.reliability.synthetic); every repetition draws a new campaign (inputs, Monte Carlo estimates from
1,000 queries each, operational data counted in the cells) and computes both bounds. Printed per scenario
and method: the coverage rate with its exact 95% (Clopper-Pearson) interval, and the median ratio of the
bound to the truth (the price of the guarantee). "bound" is guaranteed (coverage >= nominal); "posterior"
(the RAM's Bayesian bootstrap) is approximate.

Run: nice .venv/bin/python benchmarks/reliability_conservativeness.py [--reps 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from probust import binomial_ci
from probust.reliability import operational_pfd, synthetic_campaign

SCENARIOS = {
    "test set matches the profile": dict(op_probabilities=[0.25, 0.25, 0.25, 0.25],
                                         fragile_share=[0.02, 0.05, 0.1, 0.2]),
    "shifted test set": dict(op_probabilities=[0.4, 0.3, 0.2, 0.1], fragile_share=[0.02, 0.05, 0.1, 0.3],
                             input_shares=[0.25, 0.25, 0.25, 0.25]),
    "rare hard failures": dict(op_probabilities=[0.5, 0.3, 0.2], fragile_share=[0.001, 0.003, 0.01],
                               fragile_law=(4.0, 1.0)),
    "ten cells, one rarely tested": dict(op_probabilities=np.full(10, 0.1), fragile_share=np.linspace(0.0, 0.2, 10),
                                         input_shares=[0.02] + [0.98 / 9] * 9),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2000, help="repetitions per scenario for 'bound'")
    parser.add_argument("--posterior-reps", type=int, default=300, help="repetitions for 'posterior' (slower)")
    parser.add_argument("--confidence", type=float, default=0.95)
    args = parser.parse_args()
    c = args.confidence
    print(f"one-sided {c:g} upper bounds; 1,000 inputs x 1,000 queries, 3,000 operational inputs per campaign")
    print(f"{'scenario':<30} {'method':<10} {'reps':>5} {'coverage':>9} {'95% interval':>17} {'median U/truth':>15} "
          f"{'ms/rep':>7}")
    for name, kwargs in SCENARIOS.items():
        for method, reps in (("bound", args.reps), ("posterior", args.posterior_reps)):
            start, hits, ratios = time.perf_counter(), 0, []
            for seed in range(reps):
                camp = synthetic_campaign(**kwargs, seed=seed)
                est = operational_pfd(camp.failure_probabilities, camp.cells, camp.profile, confidence=c,
                                      method=method, seed=seed)
                hits += est.upper >= camp.truth
                ratios.append(est.upper / camp.truth)
            ci = binomial_ci(hits, reps, 0.95)
            ms = 1000 * (time.perf_counter() - start) / reps
            print(f"{name:<30} {method:<10} {reps:>5} {hits / reps:>9.4f} [{ci.low:.4f}, {ci.high:.4f}] "
                  f"{np.median(ratios):>15.2f} {ms:>7.1f}")


if __name__ == "__main__":
    main()
