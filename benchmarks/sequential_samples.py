"""Samples used by pb.certify versus fixed-size and adaptive Hoeffding tests.

For theta = max_failure and confidence 1 - delta, on linear gold models whose true failure probability
p is known exactly, runs pb.certify R times and prints the mean / max samples used and the decisions,
next to
  * fixed Hoeffding: n = ln(1/delta) / (2 theta^2), the additive-bound test of the issue text
    (it can only decide when |p - theta| is large relative to sqrt(ln(1/delta)/2n));
  * exact minimum:   n = ln(delta) / ln(1 - theta), the fewest samples any fixed-size test needs to
    certify p <= theta (zero failures seen);
  * adaptive Hoeffding (PRoA, Zhang et al. ECML'23; bound of Zhao et al. 2016), simulated on Bernoulli(p)
    draws: eps(n) = sqrt((0.6 log(log_1.1 n + 1) + b) / n), b = -log(delta / 24) / 1.8, stopping when
    |p_hat - theta| > eps(n), capped at the same budget.

Run: .venv/bin/python benchmarks/sequential_samples.py [--runs 20]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

import probust as pb
from probust.bench import linear_case


def constant_model(xb: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0]], dtype=xb.dtype).expand(len(xb), 2)


def proa_adaptive_hoeffding(
    p: float, theta: float, delta: float, budget: int, rng: np.random.Generator
) -> tuple[int, str]:
    draws = rng.random(budget) < p
    n = np.arange(1, budget + 1)
    p_hat = np.cumsum(draws) / n
    b = -math.log(delta / 24) / 1.8
    eps = np.sqrt((0.6 * np.log(np.log(np.maximum(n, 1.1)) / math.log(1.1) + 1) + b) / n)
    stop = np.flatnonzero(np.abs(p_hat - theta) > eps)
    if not len(stop):
        return budget, "undecided"
    i = stop[0]
    return int(n[i]), ("robust" if p_hat[i] < theta else "not robust")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--budget", type=int, default=2_000_000)
    args = ap.parse_args()
    delta = 1e-3
    rng = np.random.default_rng(0)
    header = (f"{'theta':>7} {'true p':>9} | {'certify mean':>12} {'max':>8} {'decisions':>22} | "
              f"{'PRoA adaptive':>13} {'decisions':>22} | {'fixed Hoeffding':>15} {'exact min':>9}")
    print(f"confidence 1 - delta = {1 - delta}, budget {args.budget:,}, {args.runs} runs per row")
    print(header)
    print("-" * len(header))
    for theta in (1e-2, 1e-3):
        for ratio in (0.0, 0.1, 0.5, 2.0, 10.0, 100.0):
            p = ratio * theta
            if p >= 0.5:
                continue
            case = None if p == 0 else linear_case("gaussian", 8, p, seed=0)
            ns, decisions, proa_ns, proa_dec = [], [], [], []
            for s in range(args.runs):
                if case is None:
                    res = pb.certify(constant_model, torch.zeros(8), pb.perturbations.Gaussian(sigma=1.0),
                                     max_failure=theta, confidence=1 - delta, budget=args.budget, seed=s)
                else:
                    res = pb.certify(case.model, case.x, case.perturbation, max_failure=theta,
                                     confidence=1 - delta, budget=args.budget, seed=s)
                ns.append(res.n_queries)
                decisions.append(res.decision)
                n_proa, d_proa = proa_adaptive_hoeffding(p, theta, delta, args.budget, rng)
                proa_ns.append(n_proa)
                proa_dec.append(d_proa)

            def tally(ds: list[str]) -> str:
                return " ".join(f"{k[:3]}={ds.count(k)}" for k in ("robust", "not robust", "undecided") if ds.count(k))

            fixed = math.ceil(math.log(1 / delta) / (2 * theta**2))
            exact = pb.sample_size(theta, 1 - delta, "exact")
            print(f"{theta:7.0e} {p:9.2e} | {np.mean(ns):12,.0f} {max(ns):8,} {tally(decisions):>22} | "
                  f"{np.mean(proa_ns):13,.0f} {tally(proa_dec):>22} | {fixed:15,} {exact:9,}")


if __name__ == "__main__":
    main()
