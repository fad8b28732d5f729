"""Monte Carlo throughput versus the raw forward throughput of the same model, measured in one run.

Raw forward: the model on a pre-built batch of perturbed inputs under torch.inference_mode, nothing else.
MC: pb.estimate(..., estimator="mc") end to end (latent sampling from seeded blocks, the pushforward,
clipping, the forward pass, margin scores, NaN checks, counting) at the same batch size.
The two are timed in alternating rounds and the ratio is the median of the per-round ratios, so that
drift in machine speed (shared hosts) cancels. Target: ratio >= 0.9 for mnist-cnn and mnist-mlp.

Floor: the same perturbed inputs made by the bare fused sampler (``LatentStream.affine_sampler``) and fed to the
model, nothing else (no oracle, checks, scores or counting): the ratio to the raw forward pass that no Monte Carlo
with this generator can beat on this machine. MC's distance to it is probust's own overhead.

Two ratios are printed: of wall-clock rates, and of rates per second of process CPU time (all threads),
which a loaded machine disturbs less (time spent waiting for a core is not counted).

Two allocator settings are reported (--allocator both, default): glibc's defaults, where large freed
buffers go back to the OS and every batch page-faults them in again, and the tuned setting that the
`probust` command uses (probust._allocator.keep_freed_memory). Each setting runs in its own process.

Run: .venv/bin/python benchmarks/mc_throughput.py [--models mnist-cnn mnist-mlp] [--rounds 7]

Before/after on a machine whose speed drifts: ``--against OTHER/src`` (the ``src`` folder of another checkout,
e.g. ``git worktree add /tmp/before <commit>``) runs one worker process per tree (tuned allocator) and has them
answer alternating rounds in lockstep (who goes first alternates too: going first costs ~0.02 of ratio on the CNN
here), then prints both medians and in how many rounds this tree was ahead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import probust as pb
from probust._allocator import keep_freed_memory
from probust.querying import LatentStream


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


def floor_rate(model: torch.nn.Module, x: torch.Tensor, batch: int, batches: int, seed: int) -> tuple[float, float]:
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    take = LatentStream(pert, tuple(x.shape), seed).affine_sampler(*pert.affine_form(x), pert.clip)
    with torch.inference_mode():
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batches):
            model(take(batch)[0])
        return _rates(batches * batch, wall, cpu)


def measure(args: argparse.Namespace) -> None:
    for name in args.models:
        model = pb.zoo.load_model(name)
        x, _ = pb.zoo.load_dataset(name.split("-")[0], split="test")[0]
        for batch in args.batch_sizes:
            inputs = (x + 0.1 * (2 * torch.rand(batch, *x.shape) - 1)).clamp(0, 1)
            batches = max(1, args.samples // batch)
            raw_forward_rate(model, inputs, 2)  # warm-up
            mc_rate(model, x, batch, 2, seed=0)
            floor_rate(model, x, batch, 2, seed=0)
            raws, mcs, floors = [], [], []
            for r in range(args.rounds):
                raws.append(raw_forward_rate(model, inputs, batches))
                mcs.append(mc_rate(model, x, batch, batches, seed=r))
                floors.append(floor_rate(model, x, batch, batches, seed=r))
            ratio, cpu_ratio = (statistics.median(m[k] / r[k] for m, r in zip(mcs, raws, strict=True)) for k in (0, 1))
            floor = statistics.median(f[0] / r[0] for f, r in zip(floors, raws, strict=True))
            print(f"{args.allocator:>8} {name:>10} {batch:6d} {statistics.median(r[0] for r in raws):15,.0f} "
                  f"{statistics.median(m[0] for m in mcs):14,.0f} {ratio:6.2f} {cpu_ratio:9.2f} {floor:6.2f}",
                  flush=True)


def serve(args: argparse.Namespace) -> None:
    """Worker of --against: one MC and one raw round per line read (the seed), ratios written back."""
    keep_freed_memory()
    model = pb.zoo.load_model(args.models[0])
    x, _ = pb.zoo.load_dataset(args.models[0].split("-")[0], split="test")[0]
    batch = args.batch_sizes[0]
    inputs = (x + 0.1 * (2 * torch.rand(batch, *x.shape) - 1)).clamp(0, 1)
    batches = max(1, args.samples // batch)
    raw_forward_rate(model, inputs, 2)
    mc_rate(model, x, batch, 2, seed=0)
    for line in sys.stdin:
        raw, mc = raw_forward_rate(model, inputs, batches), mc_rate(model, x, batch, batches, seed=int(line))
        print(json.dumps([mc[0] / raw[0], mc[1] / raw[1]]), flush=True)


def compare(args: argparse.Namespace) -> None:
    here = Path(__file__).resolve().parents[1] / "src"
    trees = {"this tree": str(here), "against": str(Path(args.against).resolve())}
    for name in args.models:
        for batch in args.batch_sizes:
            argv = [sys.executable, __file__, "--serve", "--models", name, "--batch-sizes", str(batch),
                    "--samples", str(args.samples)]
            workers = {label: subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                               env={**os.environ, "PYTHONPATH": src}) for label, src in trees.items()}
            ratios: dict[str, list[float]] = {label: [] for label in workers}
            for r in range(args.rounds):
                turn = list(workers.items())  # one round each, in turn, and who goes first alternates:
                for label, worker in turn[:: 1 if r % 2 == 0 else -1]:  # drift and order hit both alike
                    worker.stdin.write(f"{r}\n")
                    worker.stdin.flush()
                    ratios[label].append(json.loads(worker.stdout.readline())[0])
            for worker in workers.values():
                worker.stdin.close()
                worker.wait()
            ahead = sum(a > b for a, b in zip(*ratios.values(), strict=True))
            medians = "  ".join(f"{label} {statistics.median(v):.3f}" for label, v in ratios.items())
            print(f"{name:>10} {batch:6d}  {medians}  (this tree ahead in {ahead} of {args.rounds} rounds)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["mnist-cnn", "mnist-mlp"])
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[256, 1024])
    ap.add_argument("--samples", type=int, default=51_200, help="samples per timing round")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--allocator", choices=["both", "default", "tuned"], default="both")
    ap.add_argument("--against", metavar="SRC", help="another checkout's src folder: a paired before/after run")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return
    if args.against:
        compare(args)
        return
    if args.allocator == "both":
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples:,} samples per round, "
              f"median of {args.rounds} alternating rounds")
        print(f"{'allocator':>8} {'model':>10} {'batch':>6} {'raw forward /s':>15} {'MC samples /s':>14} "
              f"{'ratio':>6} {'CPU ratio':>9} {'floor':>6}")
        for setting in ("default", "tuned"):
            subprocess.run([sys.executable, __file__, *sys.argv[1:], "--allocator", setting], check=True)
        return
    if args.allocator == "tuned":
        keep_freed_memory()
    measure(args)


if __name__ == "__main__":
    main()
