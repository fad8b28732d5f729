"""Branch-and-bound (bab) on the low-dimensional gold suite, against amls, last-particle and mc at equal wall time.

Cases: ``bench.ball_union`` (p exact by geometry, 2-D and 3-D, 1e-2 to 1e-8, slivers and two modes) and the
uniform-linf ReLU gold cases of PR-Bench (p by quadrature). Per case:

* bab with 4,096, 16,384 (default) and 65,536 boxes at ``--budget`` queries: the sound interval's width relative
  to p, the median |log10 error| of the estimate, coverage of the exact interval, seconds;
* amls, last-particle and mc, each with the budget that takes the default bab's median wall time (from a pilot
  run's queries per second): median |log10 error| (inf where the estimate is 0) and coverage;
* bound evaluations per second: one batched call over 4,096 random sub-boxes of the input box against one box
  per call (the same code with a batch of 1, and ``NetworkBounds``, the one-box CROWN of PROVEN), same run.

Then the project's VNNLIB suite (``zoo/vnnlib``: 6-input ONNX controllers with max-pooling, two with p exact,
4.6e-18 and 4.86e-5): bab's sound interval and exact interval per property (one seed) and amls at the same wall
time.

Run: .venv/bin/python benchmarks/bab_low_dim.py [--seeds 5] [--budget 10000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

import probust as pb
from probust.bench.ball_union import union_cases
from probust.bench.cases import select_cases
from probust.bounds import NetworkBounds
from probust.bounds.batched import BatchedBounds
from probust.estimators import get_estimator
from probust.vnnlib import read_vnnlib

BOXES = (4096, 16_384, 65_536)
OTHERS = ("amls", "last-particle", "mc")


def cases() -> list[tuple[str, torch.nn.Module, torch.Tensor, object, tuple[float, float, float]]]:
    """(name, model, x, perturbation, (p, lowest p, highest p the gold allows))."""
    out = [(c.name, c.model, c.x, c.perturbation, (c.failure_probability,) * 3) for c in union_cases()]
    for case in select_cases(["relu/*"]):
        if "/linf/" in case.id:
            inst = case.build()
            out.append((case.id, inst.model, inst.x, inst.perturbation, (case.gold.value, case.gold.low,
                                                                         case.gold.high)))
    return out


def log_error(estimate: float, p: float) -> float:
    return abs(math.log10(estimate / p)) if estimate > 0 else math.inf


def runs(spec: str, case, budget: int, seeds: int, **kwargs) -> tuple[list, float]:
    """The results over ``seeds`` seeds and their median seconds."""
    _, model, x, pert, _ = case
    est = get_estimator(spec)
    results = [est.estimate(model, x, pert, budget=budget, seed=s, **kwargs) for s in range(seeds)]
    return results, statistics.median(r.seconds for r in results)


def equal_time_budget(spec: str, case, seconds: float, **kwargs) -> int:
    """The budget with which ``spec`` takes ``seconds`` (two pilot runs: the rate at 10,000, then at its guess)."""
    budget = 10_000
    for _ in range(2):
        _, took = runs(spec, case, budget, 1, **kwargs)
        budget = max(1000, int(budget * seconds / took))
    return budget


def row(name: str, results, seconds: float, budget: int, gold: tuple[float, float, float], sound: str = "") -> str:
    p, low, high = gold
    err = statistics.median(log_error(r.failure_probability, p) for r in results)
    covered = sum(r.ci.low <= high and low <= r.ci.high for r in results)  # overlaps the gold's own interval
    return f"  {name:<22} {budget:>10,} {seconds:8.3f} {err:10.2g} {covered:>4}/{len(results)} {sound}"


def throughput(case) -> tuple[float, float, float]:
    """Bound evaluations per second: batched (4,096 boxes, one call), one box per call, NetworkBounds per box."""
    _, model, x, pert, _ = case
    lo, width = pert.affine_form(x.double())
    corner = torch.rand(4096, x.numel(), generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 63 / 64
    boxes_lo, boxes_hi = lo + width * corner, lo + width * (corner + 1 / 64)  # sides of 1/64, as in later rounds
    spec = torch.tensor([[1.0, -1.0] + [0.0] * (model(x[None]).shape[1] - 2)], dtype=torch.float64)
    bounds = BatchedBounds(model, x)
    bounds(boxes_lo[:8], boxes_hi[:8], spec)  # warm-up
    start = time.perf_counter()
    bounds(boxes_lo, boxes_hi, spec)
    batched = len(boxes_lo) / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(200):
        bounds(boxes_lo[i:i + 1], boxes_hi[i:i + 1], spec)
    single = 200 / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(200):
        one = NetworkBounds(model, x, box=(boxes_lo[i], boxes_hi[i]))
        form = one.linear_bounds(spec)
        one.lower(form.A.flatten(1), form.c)
    crown = 200 / (time.perf_counter() - start)
    return batched, single, crown


def vnnlib_suite(budget: int) -> None:
    suite = Path(pb.__file__).parent / "zoo" / "vnnlib"
    print(f"VNNLIB suite (zoo/vnnlib), bab default at {budget:,} queries vs amls at the same wall time, one seed:")
    for name, entry in json.loads((suite / "index.json").read_text()).items():
        model = pb.load_model(suite / entry["onnx"])
        for k, prop in enumerate(read_vnnlib(suite / entry["vnnlib"])):
            args = (model, prop.centre().float(), prop.perturbation())
            res = get_estimator("bab").estimate(*args, failure=prop.region, budget=budget, seed=0)
            amls = get_estimator("amls").estimate(*args, failure=prop.region, seed=0, budget=max(
                1000, equal_time_budget("amls", (name, *args, None), res.seconds, failure=prop.region)))
            gold = entry.get("failure_probability")
            gold_text = "-" if gold is None else f"{gold:.3g}"
            print(f"  {name}#{k:<3} gold {gold_text:>8}  bab {res.failure_probability:9.3g} [{res.ci.low:.3g}, "
                  f"{res.ci.high:.3g}] sound [{res.sound_low:.3g}, {res.sound_high:.3g}] {res.seconds:.2f} s | amls "
                  f"{amls.failure_probability:9.3g} [{amls.ci.low:.3g}, {amls.ci.high:.3g}] {amls.seconds:.2f} s "
                  f"({amls.n_queries:,} queries, {amls.status})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}; {args.seeds} seeds per row; bab budget {args.budget:,} queries")
    print(f"  {'estimator':<22} {'queries':>10} {'seconds':>8} {'|log10 e|':>10} {'cov':>6} sound width / p")
    summary: dict[str, list[float]] = {}
    for case in cases():
        name, *_, gold = case
        p = gold[0]
        print(f"{name} (p = {p:.3g})")
        default_seconds = 0.0
        for boxes in BOXES:
            results, seconds = runs(f"bab:max_boxes={boxes}", case, args.budget, args.seeds)
            width = (results[0].sound_high - results[0].sound_low) / p
            sound = f"{width:.3g} [{results[0].sound_low:.3g}, {results[0].sound_high:.3g}]"
            print(row(f"bab:max_boxes={boxes}", results, seconds, args.budget, gold, sound))
            if boxes == 16_384:
                default_seconds = seconds
                summary.setdefault("bab", []).append(statistics.median(log_error(r.failure_probability, p)
                                                                       for r in results))
                summary.setdefault("bab sound width / p", []).append(width)
        for spec in OTHERS:
            budget = equal_time_budget(spec, case, default_seconds)
            results, seconds = runs(spec, case, budget, args.seeds)
            print(row(spec, results, seconds, budget, gold))
            summary.setdefault(spec, []).append(statistics.median(log_error(r.failure_probability, p)
                                                                  for r in results))
        batched, single, crown = throughput(case)
        print(f"  bound evaluations/s: batched {batched:,.0f}, one box per call {single:,.0f} "
              f"(x{batched / single:.0f}), NetworkBounds one box {crown:,.0f} (x{batched / crown:.0f})")
        summary.setdefault("batched / one box per call", []).append(batched / single)
    print("median over the cases (bab: the default, 16,384 boxes; the others at its wall time):")
    for key, values in summary.items():
        print(f"  {key:<28} {statistics.median(values):.3g}")
    vnnlib_suite(args.budget)


if __name__ == "__main__":
    main()
