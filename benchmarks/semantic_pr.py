"""Semantic robustness of the MNIST zoo models: a PRoA-style table, and rare-event estimators against references.

Part ``proa`` (PRoA, Zhang et al. ECML'23: rotation U[-30, 30] degrees, brightness U[-0.3, 0.3] clipped to
[0, 1]; label change against the model's prediction): for each model, family and test input, the PR from
plain Monte Carlo with its exact 95% interval, the decision of ``pb.certify`` at theta = 0.05 with confidence
1 - delta, delta = 1e-3, its sample count, and next to it the fixed-size Hoeffding counts from
``probust.intervals.sample_size``: ``ln(2/delta) / (2 theta^2)`` (a test of additive error theta) and
``ln(2/delta) / (2 (p - theta)^2)`` (what Hoeffding needs to separate this input's p from theta, p taken from
the Monte Carlo run).

Part ``rare``: rotation with a normal angle law on one mnist-cnn input, at two angle widths: one where Monte
Carlo with 10^6 samples resolves p (~1e-3) and one where it cannot (p < 1e-6). The reference is a 1-D
quadrature of the latent: the rotation has one parameter, so the failure set is found by scanning the angle
on a 0.05-degree grid over [-180, 180] and bisecting every change of label to 1e-6 degrees (float32 latents
resolve ~2e-5 degrees), and its normal mass is summed exactly (scipy ndtr). Splitting (amls,
last-particle) and gradient (is, gradient-smc) estimators run with 10^5 queries each.

Run: OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/semantic_pr.py [--part proa|rare|all] [--inputs 10]
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from scipy import special

import probust as pb
from probust.estimators import MonteCarlo
from probust.intervals import sample_size
from probust.perturbations import Rotation

THETA, DELTA = 0.05, 1e-3
PROA = ["rotation:deg=30", "brightness:delta=0.3,clip=0:1"]


def proa(n_inputs: int, mc_budget: int) -> None:
    data = pb.zoo.load_dataset("mnist", split="test")
    fixed = sample_size(THETA, 1 - DELTA)
    print(f"theta = {THETA}, delta = {DELTA}: fixed-size Hoeffding n = ln(2/delta)/(2 theta^2) = {fixed:,}")
    for model_name in ("mnist-mlp", "mnist-cnn"):
        model = pb.zoo.load_model(model_name)
        for spec in PROA:
            print(f"\n{model_name}, {spec}")
            print(f"{'#':>3} {'PR (MC ' + format(mc_budget, ',') + ')':>18} {'95% interval':>19} | {'certify':>10} "
                  f"{'samples':>9} | {'Hoeffding |p-theta|':>19} | {'s':>5}")
            tally = {"robust": 0, "not robust": 0, "undecided": 0}
            for i in range(n_inputs):
                x, _ = data[i]
                start = time.perf_counter()
                mc = pb.estimate(model, x, spec, budget=mc_budget, seed=i)
                cert = pb.certify(model, x, spec, max_failure=THETA, confidence=1 - DELTA, seed=i)
                seconds = time.perf_counter() - start
                tally[cert.decision] += 1
                p = mc.failure_probability
                gap = abs(p - THETA)
                hoeffding = f"{sample_size(gap, 1 - DELTA):,}" if 0 < gap < 1 else "-"
                print(f"{i:>3} {1 - p:>18.4f} [{1 - mc.ci.high:.4f}, {1 - mc.ci.low:.4f}] | {cert.decision:>10} "
                      f"{cert.n_queries:>9,} | {hoeffding:>19} | {seconds:>5.2f}")
            print(f"    decisions: {tally['robust']} robust / {tally['not robust']} not robust / "
                  f"{tally['undecided']} undecided")


def failing_angles(model, x: torch.Tensor, step: float = 0.05, tol: float = 1e-6) -> list[tuple[float, float]]:
    """Intervals of angles (degrees, in [-180, 180]) whose rotation changes the model's label."""
    wide = Rotation(deg=180)
    with torch.no_grad():
        label = int(model(x[None]).argmax(1))

        def fails(angles: torch.Tensor) -> torch.Tensor:
            z = ((angles / 180 + 1) / 2).to(torch.float64)[:, None]
            out = [model(wide.apply(x, z[k:k + 4096].to(x.dtype))).argmax(1) != label for k in range(0, len(z), 4096)]
            return torch.cat(out)

        grid = torch.arange(-180.0, 180.0 + step / 2, step, dtype=torch.float64)
        f = fails(grid)
        change = torch.nonzero(f[1:] != f[:-1]).flatten()
        lo, hi = grid[change].clone(), grid[change + 1].clone()
        left_fails = f[change]
        while len(lo) and float((hi - lo).max()) > tol:  # bisection of every transition at once
            mid = (lo + hi) / 2
            same = fails(mid) == left_fails
            lo, hi = torch.where(same, mid, lo), torch.where(same, hi, mid)
    edges = [-180.0, *((lo + hi) / 2).tolist(), 180.0]
    starts = [bool(f[0]), *(~left_fails).tolist()]
    return [(a, b) for a, b, s in zip(edges[:-1], edges[1:], starts, strict=True) if s]


def normal_mass(intervals: list[tuple[float, float]], sd: float) -> float:
    def mass(a: float, b: float) -> float:
        a, b = a / sd, b / sd
        if b <= 0:
            return special.ndtr(b) - special.ndtr(a)
        if a >= 0:
            return special.ndtr(-a) - special.ndtr(-b)
        return 1 - special.ndtr(a) - special.ndtr(-b)
    return float(sum(mass(a, b) for a, b in intervals))  # |angle| > 180 has mass < 1e-100 at these widths


def rare(mc_budget: int, budget: int) -> None:
    model = pb.zoo.load_model("mnist-cnn")
    index = 2
    x, _ = pb.zoo.load_dataset("mnist", split="test")[index]
    start = time.perf_counter()
    intervals = failing_angles(model, x)
    print(f"\nmnist-cnn, test input #{index}: failing angles {[(round(a, 4), round(b, 4)) for a, b in intervals]} "
          f"({time.perf_counter() - start:.1f} s)")
    for sd in (13.0, 8.0):
        spec = f"rotation:deg={sd:g},law=normal"
        ref = normal_mass(intervals, sd)
        print(f"\n{spec}: reference p = {ref:.4g} (1-D quadrature of the latent)")
        print(f"{'estimator':>14} {'p':>11} {'95% interval':>25} {'queries':>10} {'s':>7} {'|log10 err|':>11}")
        runs = [("mc", MonteCarlo(), mc_budget)] + [(n, pb.estimators.get_estimator(n), budget)
                                                     for n in ("amls", "last-particle", "is", "gradient-smc")]
        for name, est, b in runs:
            res = est.estimate(model, x, spec, budget=b, seed=0)
            p = res.failure_probability
            err = f"{abs(math.log10(p / ref)):.3f}" if p > 0 else "-"
            covered = "covers" if res.ci.low <= ref <= res.ci.high else "misses"
            print(f"{name:>14} {p:>11.4g} [{res.ci.low:.3g}, {res.ci.high:.3g}] {covered:>6} {res.n_queries:>10,} "
                  f"{res.seconds:>7.1f} {err:>11}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("proa", "rare", "all"), default="all")
    ap.add_argument("--inputs", type=int, default=10)
    ap.add_argument("--mc-budget", type=int, default=10_000, help="proa: Monte Carlo samples per input")
    ap.add_argument("--rare-mc", type=int, default=1_000_000, help="rare: Monte Carlo samples")
    ap.add_argument("--rare-budget", type=int, default=100_000, help="rare: queries of each rare-event estimator")
    args = ap.parse_args()
    if args.part in ("proa", "all"):
        proa(args.inputs, args.mc_budget)
    if args.part in ("rare", "all"):
        rare(args.rare_mc, args.rare_budget)


if __name__ == "__main__":
    main()
