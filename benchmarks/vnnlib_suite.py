"""The VNN-COMP-format suite (src/probust/zoo/vnnlib): PROVEN soundness against large Monte Carlo, amls and
last-particle at p = 4.6e-18 with default settings, amls's status on every property, counterexamples re-checked
against the network.

    python benchmarks/vnnlib_suite.py [--mc-samples 1000000] [--budgets 100000 1000000]

Soundness: a PROVEN bound below the one-sided 1 - 1e-6 Clopper-Pearson lower limit of Monte Carlo (or below the
exact value, where the suite knows it) is a violation; with 10 properties a sound bound is flagged spuriously with
probability <= 1e-5.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import probust as pb
from probust.vnnlib import read_vnnlib

SUITE = Path(pb.__file__).parent / "zoo" / "vnnlib"


def cases():
    index = json.loads((SUITE / "index.json").read_text())
    for name, entry in index.items():
        model = pb.load_model(SUITE / entry["onnx"])
        for k, case in enumerate(read_vnnlib(SUITE / entry["vnnlib"])):
            yield f"{name}#{k}", model, case, entry.get("failure_probability")


def recheck(model, case, result) -> tuple[int, int]:
    """(failing, inside the box) among the result's counterexamples, evaluated again on the network."""
    fails = inside = 0
    lo, hi = torch.tensor(case.lo), torch.tensor(case.hi)
    for cx in result.counterexamples:
        xp = cx.tensor(torch.float32)
        with torch.no_grad():
            fails += float(case.region.score(model(xp[None]).double())[0]) > 0
        inside += bool(((xp.double() >= lo - 1e-6) & (xp.double() <= hi + 1e-6)).all())
    return fails, inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mc-samples", type=float, default=1e6)
    parser.add_argument("--budgets", type=float, nargs="+", default=[1e5, 1e6])
    args = parser.parse_args()
    n_mc = int(args.mc_samples)
    print(f"PROVEN vs Monte Carlo ({n_mc:.0e} samples, lower limit at 1 - 1e-6) on {SUITE.name}/")
    print(f"{'property':32} {'exact':>9} {'MC':>9} {'MC low':>9} {'PROVEN':>9} {'sound':>5} {'cx ok':>6} {'sec':>5}")
    violations = checked = 0
    for name, model, case, exact in cases():
        x, pert = case.centre(), case.perturbation()
        start = time.perf_counter()
        bound = pb.estimate(model, x, pert, estimator="proven", failure=case.region, budget=1)
        mc = pb.estimators.MonteCarlo(sided="lower").estimate(model, x, pert, budget=n_mc, seed=0,
                                                              confidence=1 - 1e-6, failure=case.region)
        sound = bound.failure_probability >= max(mc.ci.low, exact or 0.0)
        violations += not sound
        checked += 1
        fails, inside = recheck(model, case, mc)
        print(f"{name:32} {exact if exact is not None else float('nan'):9.3g} {mc.failure_probability:9.3g} "
              f"{mc.ci.low:9.3g} {bound.failure_probability:9.3g} {'yes' if sound else 'NO':>5} "
              f"{fails}/{len(mc.counterexamples):<4} {time.perf_counter() - start:5.1f}")
    print(f"soundness violations: {violations} of {checked}\n")

    print("Rare events with default settings (seed 0): maxpool-analytic-4.6e-18, exact p = s^6 / 15")
    print(f"{'estimator':14} {'budget':>9} {'estimate':>10} {'95% interval':>24} {'covers':>6} {'status':>16} "
          f"{'queries':>9} {'cx ok':>6} {'sec':>6}")
    name, model, case, exact = next(c for c in cases() if c[0].startswith("maxpool-analytic-4.6e-18"))
    for est in ("amls", "last-particle"):
        for budget in map(int, args.budgets):
            start = time.perf_counter()
            r = pb.estimate(model, case.centre(), case.perturbation(), estimator=est, budget=budget, seed=0,
                            failure=case.region)
            fails, _ = recheck(model, case, r)
            print(f"{est:14} {budget:9.0e} {r.failure_probability:10.3g} [{r.ci.low:10.3g}, {r.ci.high:10.3g}] "
                  f"{'yes' if r.ci.low <= exact <= r.ci.high else 'no':>6} {r.status:>16} {r.n_queries:9,} "
                  f"{fails}/{len(r.counterexamples):<4} {time.perf_counter() - start:6.1f}")

    budget = int(args.budgets[0])
    print(f"\namls with default settings at budget {budget:.0e} on every property (seed 0): how each run ended")
    print(f"{'property':32} {'estimate':>10} {'95% interval':>24} {'status':>16} {'cx ok':>6}")
    for name, model, case, _ in cases():
        r = pb.estimate(model, case.centre(), case.perturbation(), estimator="amls", budget=budget, seed=0,
                        failure=case.region)
        fails, _ = recheck(model, case, r)
        print(f"{name:32} {r.failure_probability:10.3g} [{r.ci.low:10.3g}, {r.ci.high:10.3g}] {r.status:>16} "
              f"{fails}/{len(r.counterexamples):<4}")


if __name__ == "__main__":
    main()
