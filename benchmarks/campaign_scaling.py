"""A campaign over the whole MNIST test split for the zoo CNN: wall time, per-input cost, 2-worker speed-up.

Runs `probust campaign run` three times on the same configuration, each into its own database: in-process
(torch on its default threads), on a local Dask cluster of 1 worker and of 2 workers (one thread each),
then checks that the two Dask runs agree bit for bit.

Run: .venv/bin/python benchmarks/campaign_scaling.py [--inputs 0:1000] [--budget 5000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from probust.campaign import ResultsStore


def run(db: Path, extra: list[str], args: argparse.Namespace) -> float:
    cmd = [sys.executable, "-m", "probust.cli", "campaign", "run", "--model", "mnist-cnn", "--dataset", "mnist",
           "--indices", args.inputs, "--perturbation", f"uniform-linf:eps={args.eps},clip=0:1",
           "--budget", str(args.budget), "--db", str(db), "--quiet", *extra]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def results(db: Path) -> dict[int, float]:
    with ResultsStore(db) as store:
        return {i: r.failure_probability for i, _, r in store.results(store.resolve(None))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", default="0:1000")
    ap.add_argument("--budget", type=int, default=5000)
    ap.add_argument("--eps", type=float, default=0.3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        times = {}
        for name, extra in (("in-process", []), ("1 worker", ["--workers", "1"]), ("2 workers", ["--workers", "2"])):
            times[name] = run(Path(tmp) / f"{name}.db", extra, args)
        one, two = results(Path(tmp) / "1 worker.db"), results(Path(tmp) / "2 workers.db")
        n = len(one)
        print(f"{n} inputs x {args.budget:,} queries, uniform-linf eps={args.eps}")
        for name, t in times.items():
            print(f"{name:>11}: {t:7.1f} s wall, {1000 * t / n:6.1f} ms per input")
        print(f"speed-up 2 workers vs 1: {times['1 worker'] / times['2 workers']:.2f}x; "
              f"identical results: {one == two}")


if __name__ == "__main__":
    main()
