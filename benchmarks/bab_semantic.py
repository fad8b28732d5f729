"""bab on semantic latents (sampling only, stratified over an adaptive partition) against amls: coverage over seeds.

Cases (``bench.semantic``, p exact by root finding or a 1-D quadrature), at p = 1e-3, 1e-5 and 1e-7:

* 1-D: ``rotation:deg=5,law=normal`` on the tilted ramp, whose two failing tails have unequal mass (76% / 24%):
  the rough landscape where a splitting estimator reaches one tail and not the other;
* 2-D: ``compose(rotation:deg=30;brightness:delta=0.05)`` on the ramp (rotation, then a brightness offset).

Per case and estimator, over ``--seeds`` seeds at ``--budget`` queries: how many intervals cover p, the median
|log10 error| of the estimate (inf where it is 0), the median interval width relative to p and seconds per run.
bab's interval is exact (Clopper-Pearson per group of boxes, union bound), amls's is model-based.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bab_semantic.py [--seeds 20] [--budget 100000] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

from probust.bench import semantic
from probust.estimators import get_estimator

CASES = {
    "rotation 1-D, unequal tails": {
        "image": "tilted-ramp",
        "size": 5,
        "pixel": [2, 3],
        "perturbation": "rotation:deg=5,law=normal",
    },
    "rotation + brightness 2-D": {
        "image": "ramp",
        "size": 5,
        "pixel": [2, 3],
        "perturbation": "compose(rotation:deg=30;brightness:delta=0.05)",
    },
}
TARGETS = (1e-3, 1e-5, 1e-7)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.seeds} seeds, {args.budget:,} queries, torch threads {args.threads}")
    print(f"{'case':<30} {'p':>9} {'estimator':<6} {'covered':>8} {'|log10 e|':>10} {'width/p':>9} {'s/run':>6}")
    for name, params in CASES.items():
        for target in TARGETS:
            params_t = {**params, "threshold": semantic.threshold_for(params, target)}
            p = semantic.gold(params_t)[0]
            model, x, pert = semantic.build(params_t)
            for spec in ("bab", "amls"):
                runs = [
                    get_estimator(spec).estimate(model, x, pert, budget=args.budget, seed=s) for s in range(args.seeds)
                ]
                covered = sum(r.ci.low <= p <= r.ci.high for r in runs)
                error = statistics.median(
                    abs(math.log10(r.failure_probability / p)) if r.failure_probability > 0 else math.inf for r in runs
                )
                width = statistics.median((r.ci.high - r.ci.low) / p for r in runs)
                seconds = statistics.median(r.seconds for r in runs)
                print(
                    f"{name:<30} {p:9.3g} {spec:<6} {covered:>4}/{args.seeds:<3} {error:10.3g} {width:9.3g} "
                    f"{seconds:6.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
