"""PROVEN bounds versus Monte Carlo on the zoo models across radii (issue 4's tightness table).

For each model, radius and test input: the exact-law and Hoeffding upper bounds on the failure
probability (deterministic, sound), their seconds, and a Monte Carlo estimate with its 99.9% interval.
A bound below MC's lower limit would be a soundness violation and is flagged.

Run: .venv/bin/python benchmarks/proven_tightness.py [--inputs 3] [--mc 100000]
"""

from __future__ import annotations

import argparse

import probust as pb
from probust.estimators import Proven

RADII = {
    "digits-mlp": (0.02, 0.05, 0.1),
    "mnist-mlp": (0.005, 0.01, 0.02, 0.03),
    "mnist-cnn": (0.005, 0.01, 0.02, 0.03),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=3)
    ap.add_argument("--mc", type=int, default=100_000)
    args = ap.parse_args()
    print(f"{'model':>10} {'eps':>6} {'input':>5} {'exact bound':>12} {'s':>5} {'hoeffding':>10} {'s':>5} "
          f"{'MC p':>9} {'MC 99.9% CI':>23} {'sound':>5}")
    for name, radii in RADII.items():
        model = pb.zoo.load_model(name)
        data = pb.zoo.load_dataset(name.split("-")[0])
        for eps in radii:
            pert = pb.perturbations.UniformLinf(eps=eps, clip=(0, 1))
            for i in range(args.inputs):
                x, _ = data[i]
                exact = Proven().estimate(model, x, pert, budget=1)
                hoeff = Proven(law="hoeffding").estimate(model, x, pert, budget=1)
                mc = pb.estimate(model, x, pert, budget=args.mc, seed=i, confidence=0.999)
                sound = exact.failure_probability >= mc.ci.low and hoeff.failure_probability >= mc.ci.low
                print(f"{name:>10} {eps:6.3f} {i:5d} {exact.failure_probability:12.3e} {exact.seconds:5.1f} "
                      f"{hoeff.failure_probability:10.3e} {hoeff.seconds:5.1f} {mc.failure_probability:9.2e} "
                      f"[{mc.ci.low:9.2e}, {mc.ci.high:9.2e}] {'yes' if sound else 'NO':>5}", flush=True)


if __name__ == "__main__":
    main()
