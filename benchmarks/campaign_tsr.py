"""TSR of the zoo models at several radii, with intervals, and operational-profile weighted pfd.

For each model and radius, a campaign over test inputs (MC, fixed budget), then: TSR with its 95%
empirical-Bernstein interval, CVaR_0.1 of the per-input failure probability, and the pfd weighted by an
operational profile fitted on the train split (10 k-means cells in the model's penultimate features)
next to the unweighted mean.

Run: .venv/bin/python benchmarks/campaign_tsr.py [--inputs 300] [--budget 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

import probust as pb
from probust import _rng
from probust.metrics import OperationalProfile, cvar, penultimate_features, total_statistical_robustness, weighted_pfd

RADII = {"mnist-cnn": (0.1, 0.2, 0.3), "mnist-mlp": (0.1, 0.2, 0.3), "digits-mlp": (0.1, 0.2, 0.3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=300)
    ap.add_argument("--budget", type=int, default=2000)
    args = ap.parse_args()
    print(f"{args.inputs} test inputs per row, {args.budget:,} MC queries each, uniform-linf noise clipped to [0, 1]")
    print(f"{'model':>10} {'eps':>4} {'TSR':>7} {'95% interval':>18} {'CVaR_0.1(p)':>11} {'pfd (OP)':>9} "
          f"{'OP 95% interval':>20} {'unweighted':>10}")
    for name, radii in RADII.items():
        model = pb.zoo.load_model(name)
        dataset = name.split("-")[0]
        test, train = pb.zoo.load_dataset(dataset, "test"), pb.zoo.load_dataset(dataset, "train")
        n = min(args.inputs, len(test))
        profile = OperationalProfile.fit(penultimate_features(model, train.x), n_cells=10, seed=0)
        cells = profile.assign(penultimate_features(model, test.x[:n]))
        for eps in radii:
            pert = pb.perturbations.UniformLinf(eps=eps, clip=(0, 1))
            p = np.array([pb.estimate(model, test.x[i], pert, budget=args.budget, seed=_rng.derive_seed(0, i))
                          .failure_probability for i in range(n)])
            tsr = total_statistical_robustness(p, 0.95)
            op = weighted_pfd(p, cells, profile)
            print(f"{name:>10} {eps:4.2f} {tsr.tsr:7.4f} [{tsr.tsr_ci.low:.4f}, {tsr.tsr_ci.high:.4f}] "
                  f"{cvar(p, 0.1):11.4f} {op.pfd:9.4f} [{op.ci.low:.4f}, {op.ci.high:.4f}] {op.unweighted:10.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
