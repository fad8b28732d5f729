"""PROVEN bounds versus Monte Carlo on the zoo models across radii (issue 4's tightness tables).

Table "laws": for each model, radius and test input, the exact-law and Hoeffding upper bounds on the
failure probability (deterministic, sound, CROWN relaxation), their seconds, and a Monte Carlo estimate
with its 99.9% interval. Table "relaxations": the exact-law bound with CROWN and with alpha-CROWN
(``Proven(relaxation="alpha-crown")``) at the radii where the MLPs' bounds leave 0 and 1, with seconds.
A bound below MC's lower limit would be a soundness violation and is flagged.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/proven_tightness.py [--inputs 3] [--mc 100000]
[--tables laws relaxations]
"""

from __future__ import annotations

import argparse

import probust as pb
from probust.estimators import Proven

#: table name -> (the two PROVEN configurations compared, model -> radii)
TABLES = {
    "laws": (
        {"exact": Proven(), "hoeffding": Proven(law="hoeffding")},
        {"digits-mlp": (0.02, 0.05, 0.1), "mnist-mlp": (0.005, 0.01, 0.02, 0.03),
         "mnist-cnn": (0.005, 0.01, 0.02, 0.03)},
    ),
    "relaxations": (
        {"crown": Proven(), "alpha-crown": Proven(relaxation="alpha-crown")},
        {"mnist-mlp": (0.02, 0.03, 0.04, 0.05), "digits-mlp": (0.05, 0.1, 0.15)},
    ),
}


def table(estimators: dict[str, Proven], radii: dict[str, tuple[float, ...]], inputs: int, mc_budget: int) -> None:
    """One row per model, radius and test input: both bounds with seconds, MC with its 99.9% interval."""
    first, second = estimators
    print(f"\n{'model':>10} {'eps':>6} {'input':>5} {first:>12} {'s':>5} {second:>12} {'s':>5} "
          f"{'MC p':>9} {'MC 99.9% CI':>23} {'sound':>5}")
    for name, eps_list in radii.items():
        model = pb.zoo.load_model(name)
        data = pb.zoo.load_dataset(name.split("-")[0])
        for eps in eps_list:
            pert = pb.perturbations.UniformLinf(eps=eps, clip=(0, 1))
            for i in range(inputs):
                x, _ = data[i]
                a, b = (est.estimate(model, x, pert, budget=1) for est in estimators.values())
                mc = pb.estimate(model, x, pert, budget=mc_budget, seed=i, confidence=0.999)
                sound = min(a.failure_probability, b.failure_probability) >= mc.ci.low
                print(f"{name:>10} {eps:6.3f} {i:5d} {a.failure_probability:12.3e} {a.seconds:5.1f} "
                      f"{b.failure_probability:12.3e} {b.seconds:5.1f} {mc.failure_probability:9.2e} "
                      f"[{mc.ci.low:9.2e}, {mc.ci.high:9.2e}] {'yes' if sound else 'NO':>5}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=3)
    ap.add_argument("--mc", type=int, default=100_000)
    ap.add_argument("--tables", nargs="+", choices=sorted(TABLES), default=list(TABLES))
    args = ap.parse_args()
    for name in args.tables:
        table(*TABLES[name], args.inputs, args.mc)


if __name__ == "__main__":
    main()
