"""Monte Carlo throughput versus the raw forward throughput of the same model, measured in one run.

Raw forward: the model on a pre-built batch of perturbed inputs under torch.inference_mode, nothing else.
MC: pb.estimate(..., estimator="mc") end to end (latent sampling from seeded blocks, the pushforward,
clipping, the forward pass, margin scores, NaN checks, counting) at the same batch size.
The two are timed in alternating rounds and the ratio is the median of the per-round ratios, so that
drift in machine speed (shared hosts) cancels. Target: ratio >= 0.9 for mnist-cnn and mnist-mlp.

Two ratios are printed: of wall-clock rates, and of rates per second of process CPU time (all threads),
which a loaded machine disturbs less (time spent waiting for a core is not counted).

Two allocator settings are reported (--allocator both, default): glibc's defaults, where large freed
buffers go back to the OS and every batch page-faults them in again, and the tuned setting that the
`probust` command uses (probust._allocator.keep_freed_memory). Each setting runs in its own process.

Run: .venv/bin/python benchmarks/mc_throughput.py [--models mnist-cnn mnist-mlp] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

import probust as pb
from probust._allocator import keep_freed_memory


def _rates(n: int, wall: float, cpu: float) -> tuple[float, float]:
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def raw_forward_rate(model: torch.nn.Module, inputs: torch.Tensor, batches: int) -> tuple[float, float]:
    """Samples per second of wall-clock time and of process CPU time."""
    with torch.inference_mode():
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            model(inputs)
        return _rates(batches * len(inputs), wall, cpu)


def mc_rate(model: torch.nn.Module, x: torch.Tensor, batch: int, batches: int, seed: int) -> tuple[float, float]:
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    wall, cpu = time.perf_counter(), time.process_time()
    res = pb.estimate(model, x, pert, budget=batch * batches, batch_size=batch, seed=seed)
    return _rates(res.n_queries, wall, cpu)


def measure(args: argparse.Namespace) -> None:
    for name in args.models:
        model = pb.zoo.load_model(name)
        x, _ = pb.zoo.load_dataset(name.split("-")[0], split="test")[0]
        for batch in args.batch_sizes:
            inputs = (x + 0.1 * (2 * torch.rand(batch, *x.shape) - 1)).clamp(0, 1)
            batches = max(1, args.samples // batch)
            raw_forward_rate(model, inputs, 2)  # warm-up
            mc_rate(model, x, batch, 2, seed=0)
            raws, mcs = [], []
            for r in range(args.rounds):
                raws.append(raw_forward_rate(model, inputs, batches))
                mcs.append(mc_rate(model, x, batch, batches, seed=r))
            ratio, cpu_ratio = (statistics.median(m[k] / r[k] for m, r in zip(mcs, raws, strict=True)) for k in (0, 1))
            print(f"{args.allocator:>8} {name:>10} {batch:6d} {statistics.median(r[0] for r in raws):15,.0f} "
                  f"{statistics.median(m[0] for m in mcs):14,.0f} {ratio:6.2f} {cpu_ratio:9.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["mnist-cnn", "mnist-mlp"])
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[256, 1024])
    ap.add_argument("--samples", type=int, default=51_200, help="samples per timing round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--allocator", choices=["both", "default", "tuned"], default="both")
    args = ap.parse_args()
    if args.allocator == "both":
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples:,} samples per round, "
              f"median of {args.rounds} alternating rounds")
        print(f"{'allocator':>8} {'model':>10} {'batch':>6} {'raw forward /s':>15} {'MC samples /s':>14} "
              f"{'ratio':>6} {'CPU ratio':>9}")
        for setting in ("default", "tuned"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--allocator", setting], check=True)
        return
    if args.allocator == "tuned":
        keep_freed_memory()
    measure(args)


if __name__ == "__main__":
    main()
