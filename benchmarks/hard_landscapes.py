"""Rare-event estimators on the hard landscapes (probust.bench.landscapes): coverage and the silent misses.

Each estimator runs R times (seeds seed0 + r) on each landscape of the grid at each budget, with 95%
intervals. One row per (estimator, landscape, budget):

* cover: runs whose interval contains the exact p, out of R;
* med|err|, worst: median and worst |log10(p_hat / p)| (a zero estimate, or a run that raised, counts 99);
* queries, s/run: median model queries and seconds per run;
* miss: runs whose interval does not contain p; below: those whose interval lies entirely below p;
  flag: the misses that said so, i.e. status "unreliable" (counted alone in unrel), or a "model-based"
  guarantee whose ``unconditional_upper`` is >= p (issue 23's definition; at these p the i.i.d. bound of
  1e4 queries is above p, so every model-based miss counts); dang: the dangerous ones, an interval entirely
  below p with status "complete" or "stalled" and not "unreliable" (the interval a user reads is wrong and
  nothing says so; the unconditional bound does not excuse it);
* err: runs that raised.

``guarantee`` and ``unconditional_upper`` are read if the result has them. ``--decompose`` and ``--replicas``
exist only if ``Estimator.estimate`` accepts those keywords. Every run is appended to ``--out`` as one JSON
line as soon as it finishes; a restart skips the runs already there (same estimator, landscape, budget, seed
and options), so an interrupted run resumes, and ``--runs`` can be raised later.

Run (full grid, budgets 1e4 and 2e5, 20 runs per cell):
    .venv/bin/python benchmarks/hard_landscapes.py --workers 2
Baseline (budget 1e4, the rare-event estimators, one worker):
    .venv/bin/python benchmarks/hard_landscapes.py --budgets 10000 --estimators amls last-particle \
        gradient-smc is --workers 1 | tee runs/hard_landscapes_baseline.txt
Quick check (the two easiest p of each landscape kind, 5 runs, budget 1e4):
    .venv/bin/python benchmarks/hard_landscapes.py --quick
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import multiprocessing
import statistics
import sys
import time
import traceback
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import torch

from probust.bench.landscapes import get_landscape, landscape_grid
from probust.estimators import Estimator, get_estimator

ESTIMATORS = ("amls", "last-particle", "gradient-smc", "is", "mc")
BUDGETS = (10_000, 200_000)
OPTIONAL = ("decompose", "replicas")  # keywords of Estimator.estimate that a newer probust may accept
COUNTS = ("runs", "covered", "miss", "below", "unreliable", "flag", "dangerous", "err")  # summed per estimator


def optional_keywords() -> set[str]:
    """Which of ``decompose`` / ``replicas`` this probust's ``Estimator.estimate`` accepts."""
    return set(OPTIONAL) & set(inspect.signature(Estimator.estimate).parameters)


def run_key(record: dict[str, Any]) -> str:
    """What identifies a run in the output file (options sorted, so their order does not matter)."""
    return json.dumps([record["estimator"], record["landscape"], record["budget"], record["seed"],
                       sorted(record["options"].items())])


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """One estimation; any exception becomes an ``error`` in the record (a run that raised is not a result)."""
    land = get_landscape(task["landscape"])
    record = {**task, "p": land.failure_probability}
    try:
        res = get_estimator(task["estimator"]).estimate(
            land.model, land.x, land.perturbation, budget=task["budget"], seed=task["seed"],
            confidence=task["confidence"], **task["options"])
    except Exception as exc:  # record and go on: one crash must not end a long run
        return {**record, "error": "".join(traceback.format_exception_only(exc)).strip()}
    return {
        **record, "error": None, "p_hat": res.failure_probability, "ci_low": res.ci.low, "ci_high": res.ci.high,
        "covered": res.ci.contains(land.failure_probability), "n_queries": res.n_queries, "seconds": res.seconds,
        "status": res.status, "guarantee": getattr(res, "guarantee", None),
        "unconditional_upper": getattr(res, "unconditional_upper", None), "warnings": list(res.warnings),
    }


def init_worker() -> None:
    torch.set_num_threads(1)  # one core per worker (numba's kernels follow torch's thread count)


def flagged(run: dict[str, Any]) -> bool:
    """The run said its interval is not to be trusted."""
    upper = run.get("unconditional_upper")
    return run["status"] == "unreliable" or (
        run.get("guarantee") == "model-based" and upper is not None and upper >= run["p"])


def cell_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The statistics of one (estimator, landscape, budget) cell."""
    done = [r for r in runs if r["error"] is None]
    errors = [abs(math.log10(r["p_hat"] / r["p"])) if r["p_hat"] > 0 else 99.0 for r in done]
    errors += [99.0] * (len(runs) - len(done))
    misses = [r for r in done if not r["covered"]]
    return {
        "p": runs[0]["p"], "runs": len(runs), "covered": len(done) - len(misses),
        "median": statistics.median(errors), "worst": max(errors),
        "queries": statistics.median(r["n_queries"] for r in done) if done else math.nan,
        "seconds": statistics.median(r["seconds"] for r in done) if done else math.nan,
        "miss": len(misses), "below": sum(r["ci_high"] < r["p"] for r in misses),
        "unreliable": sum(r["status"] == "unreliable" for r in misses), "flag": sum(map(flagged, misses)),
        "dangerous": sum(r["ci_high"] < r["p"] and r["status"] in ("complete", "stalled") for r in misses),
        "err": len(runs) - len(done),
    }


def print_table(records: list[dict[str, Any]], tasks: list[dict[str, Any]], title: str) -> None:
    """One row per cell of ``tasks`` (in their order), from the records of those tasks; totals per estimator."""
    by_key = {run_key(r): r for r in records}
    cells: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for task in tasks:
        run = by_key.get(run_key(task))
        if run is not None:
            cells.setdefault((task["estimator"], task["landscape"], task["budget"]), []).append(run)
    print(f"\n== {title} ==")
    print(f"{'estimator':>13} {'landscape':>24} {'budget':>7} {'p':>7} {'cover':>6} {'med|err|':>8} {'worst':>6} "
          f"{'queries':>8} {'s/run':>6} {'miss':>4} {'below':>5} {'unrel':>5} {'flag':>4} {'dang':>4} {'err':>3}")
    totals: dict[str, dict[str, int]] = {}
    for (name, landscape, budget), runs in cells.items():
        row = cell_row(runs)
        print(f"{name:>13} {landscape:>24} {budget:7.0e} {row['p']:7.0e} {row['covered']:>3}/{row['runs']:<2} "
              f"{row['median']:8.3f} {row['worst']:6.2f} {row['queries']:8.0f} {row['seconds']:6.2f} "
              f"{row['miss']:4d} {row['below']:5d} {row['unreliable']:5d} {row['flag']:4d} {row['dangerous']:4d} "
              f"{row['err']:3d}")
        total = totals.setdefault(name, dict.fromkeys(COUNTS, 0))
        for k in total:
            total[k] += row[k]
    for name, t in totals.items():
        print(f"{name}: covered {t['covered']}/{t['runs']}, missed {t['miss']} ({t['below']} below p, "
              f"{t['unreliable']} unreliable, flagged {t['flag']}, dangerous {t['dangerous']}), errors {t['err']}")


def parse_args(optional: set[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument("--landscapes", nargs="+", metavar="GLOB", help="ids or wildcards, e.g. 'equal-modes/*'")
    parser.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    parser.add_argument("--runs", type=int, default=20, help="R: seeded runs per cell (default 20)")
    parser.add_argument("--seed0", type=int, default=0, help="run r uses seed seed0 + r")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--workers", type=int, default=2, help="processes (one torch thread each; default 2)")
    parser.add_argument("--out", type=Path, default=Path("runs/hard_landscapes.jsonl"))
    parser.add_argument("--quick", action="store_true", help="two easiest p per landscape kind, 5 runs, budget 1e4")
    if "decompose" in optional:
        parser.add_argument("--decompose", choices=("on", "off", "default"), default="default")
    if "replicas" in optional:
        parser.add_argument("--replicas", type=int, metavar="K", help="passed to estimate(replicas=K)")
    return parser.parse_args()


def main() -> None:
    optional = optional_keywords()
    args = parse_args(optional)
    if args.quick:
        args.runs, args.budgets = 5, [10_000]
    names = landscape_grid(quick=args.quick)
    if args.landscapes:
        names = [n for n in names if any(fnmatchcase(n, pattern) for pattern in args.landscapes)]
        if not names:
            sys.exit(f"no landscape matches {args.landscapes}; the grid has {', '.join(landscape_grid())}")
    options: dict[str, Any] = {}
    if getattr(args, "decompose", "default") != "default":
        options["decompose"] = args.decompose == "on"
    if getattr(args, "replicas", None) is not None:
        options["replicas"] = args.replicas
    tasks = [{"estimator": e, "landscape": n, "budget": b, "seed": args.seed0 + r, "confidence": args.confidence,
              "options": options}
             for n in names for b in args.budgets for e in args.estimators for r in range(args.runs)]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    records = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    records = [r for r in records if r["confidence"] == args.confidence]
    seen = {run_key(r) for r in records}
    todo = [t for t in tasks if run_key(t) not in seen]
    print(f"{len(tasks)} runs ({len(tasks) - len(todo)} already in {args.out}), {args.workers} worker(s); "
          f"options {options or 'default'}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    # spawn: fresh workers, no inherited OpenMP / numba thread pools
    with multiprocessing.get_context("spawn").Pool(args.workers, initializer=init_worker) as pool, \
            args.out.open("a") as out:
        for i, record in enumerate(pool.imap_unordered(run_one, todo), 1):
            out.write(json.dumps(record) + "\n")
            out.flush()
            records.append(record)
            if i % 50 == 0 or i == len(todo):
                print(f"  {i}/{len(todo)} runs, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    title = (f"{args.runs} runs per cell, budgets {', '.join(f'{b:.0e}' for b in args.budgets)}, "
             f"{args.confidence:.0%} intervals, options {options or 'default'}")
    print_table(records, tasks, title)


if __name__ == "__main__":
    main()
