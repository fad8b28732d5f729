"""bab on ACAS Xu: sound bounds on p = P[property violated] under the uniform law on each property's input box.

The 45 ACAS Xu networks and the 10 standard properties of VNN-COMP 2021 (``/work/shared/data/acasxu``, see its
PROVENANCE.md; 186 (network, property) instances in ``acasxu_instances.csv``). Each instance runs bab with
``--boxes`` bound evaluations and ``--budget`` queries (i.i.d. draws inside the undecided boxes), then plain Monte
Carlo with ``--mc`` draws over the whole box as an independent check. A table row per instance:

* bab's sound interval [low, high] (``res.sound_low``, ``res.sound_high``: proven-failing mass, plus the
  undecided mass) and its verdict: ``p = 0`` (every box proven safe: UNSAT), ``p > 0`` (some box proven failing:
  SAT, with a failing region of that mass) or ``open``;
* bab's exact interval (Clopper-Pearson inside the undecided boxes) and Monte Carlo's (k / n, Clopper-Pearson);
* a contradiction if Monte Carlo finds a failing input where bab proved p = 0, or bab's sound interval misses
  Monte Carlo's one-sided 1 - 1e-6 interval (with at most 186 rows, spurious flags have probability < 2e-4).

* for a property with failures (p > 0 by its exact gold, or Monte Carlo's failures), ``x2``: whether bab's
  sound interval lies within a factor 2 of p (of Monte Carlo's estimate where no exact p is known).

The networks' ONNX input is shaped (1, 1, 5) (``model.input_shape``); the VNNLIB boxes are already in normalised
input units. Instances: all of properties 5 to 10 (one network each) and ``--per-property`` networks drawn with a
fixed seed for each of properties 1 to 4 (``--all`` for the 186). ``--suite zoo``: the project's own VNNLIB suite
(``zoo/vnnlib``: collision-like controllers and two max-pool networks with p exact) instead.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bab_acasxu.py [--per-property 6] [--boxes 4096] [--threads 1]
     PYTHONPATH=src .venv/bin/python benchmarks/bab_acasxu.py --suite zoo --boxes 16384 --mc 1000000
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import time
from pathlib import Path

import torch

import probust as pb
from probust.estimators import get_estimator
from probust.intervals import binomial_bounds, binomial_ci
from probust.vnnlib import read_vnnlib

DATA = Path("/work/shared/data/acasxu")
ZOO = Path(pb.__file__).parent / "zoo" / "vnnlib"


def zoo_instances() -> list[tuple[Path, str, str, float | None]]:
    """(folder, onnx, vnnlib, exact p or None) of the project's suite."""
    index = json.loads((ZOO / "index.json").read_text())
    return [(ZOO, e["onnx"], e["vnnlib"], e.get("failure_probability")) for e in index.values()]


def instances(per_property: int, everything: bool) -> list[tuple[Path, str, str, float | None]]:
    """(folder, onnx, vnnlib, None): every single-network property, and a seeded sample of each property's networks."""
    with open(DATA / "acasxu_instances.csv") as f:
        rows = [(DATA, onnx.strip(), prop.strip(), None) for onnx, prop, *_ in csv.reader(f)]
    if everything:
        return rows
    by_prop: dict[str, list[tuple[Path, str, str, float | None]]] = {}
    for row in rows:
        by_prop.setdefault(row[2], []).append(row)
    rng = random.Random(0)
    return [
        r
        for prop in sorted(by_prop, key=lambda p: int(p[5:-7]))
        for r in sorted(rng.sample(by_prop[prop], min(per_property, len(by_prop[prop]))))
    ]


def monte_carlo(model, x, pert, region, n: int) -> tuple[int, int]:
    """Failures among ``n`` i.i.d. draws from the box (probust's plain Monte Carlo)."""
    res = get_estimator("mc").estimate(model, x, pert, failure=region, budget=n, seed=1)
    return round(res.failure_probability * res.n_queries), res.n_queries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-property", type=int, default=6)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--boxes", type=int, default=4096)
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--mc", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--suite", choices=("acasxu", "zoo"), default="acasxu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bab = get_estimator(f"bab:max_boxes={args.boxes}")
    print(
        f"bab:max_boxes={args.boxes}, {args.budget:,} queries; Monte Carlo {args.mc:,} draws; "
        f"torch threads {args.threads}"
    )
    print(
        f"{'network':<24} {'prop':<8} {'verdict':<7} {'sound low':>10} {'sound high':>10} {'bab p':>9} "
        f"{'bab interval':>21} {'MC k/n':>12} {'MC interval':>21} {'s':>6} {'x2':>3}  check"
    )
    verdicts: dict[str, int] = {}
    contradictions, within = 0, []
    start = time.perf_counter()
    chosen = zoo_instances() if args.suite == "zoo" else instances(args.per_property, args.all)
    for folder, onnx, vnnlib, gold in chosen:
        model = pb.load_model(folder / onnx)
        for prop in read_vnnlib(folder / vnnlib):
            x, pert = prop.centre().float().reshape(model.input_shape), prop.perturbation()
            res = bab.estimate(model, x, pert, failure=prop.region, budget=args.budget, seed=0)
            k, n = monte_carlo(model, x, pert, prop.region, args.mc)
            low6, high6 = (float(b) for b in binomial_bounds(k, n, 1e-6, "clopper-pearson"))
            verdict = "p = 0" if res.sound_high == 0 else "p > 0" if res.sound_low > 0 else "open"
            bad = (verdict == "p = 0" and k > 0) or res.sound_high < low6 or res.sound_low > high6
            contradictions += bad
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
            mc_ci = binomial_ci(k, n, 0.95, "clopper-pearson")
            p = gold if gold is not None else k / n
            factor = "-" if p == 0 else "yes" if p / 2 <= res.sound_low and res.sound_high <= 2 * p else "no"
            if p > 0:
                within.append(factor == "yes")
            net = onnx.removeprefix("ACASXU_run2a_").removesuffix("_batch_2000.onnx").removesuffix(".onnx")
            print(
                f"{net:<24} {vnnlib.removesuffix('.vnnlib'):<8} {verdict:<7} {res.sound_low:10.3g} "
                f"{res.sound_high:10.3g} {res.failure_probability:9.3g} "
                f"[{res.ci.low:9.3g}, {res.ci.high:9.3g}] {k:>5}/{n:<6} [{mc_ci.low:9.3g}, {mc_ci.high:9.3g}] "
                f"{res.seconds:6.1f} {factor:>3}  {'CONTRADICTION' if bad else 'ok'}",
                flush=True,
            )
    print(
        f"verdicts: {verdicts}; contradictions with Monte Carlo: {contradictions}; sound interval within a factor "
        f"2 of p on {sum(within)}/{len(within)} properties with failures; "
        f"{time.perf_counter() - start:.0f} s in all"
    )


if __name__ == "__main__":
    main()
