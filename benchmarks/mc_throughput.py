"""Monte Carlo throughput versus the raw forward throughput of the same model, measured in one run.

Raw forward: the model on a pre-built batch of perturbed inputs under torch.inference_mode, nothing else.
MC: pb.estimate(..., estimator="mc") end to end (latent sampling from seeded blocks, the pushforward,
clipping, the forward pass, margin scores, NaN checks, counting) at the same batch size.
The ratio MC / raw is the share of the model's speed the estimator keeps (target >= 0.9 for the CNN).
Each figure is the best of --repeats timings, to suppress noise from other processes.

Run: .venv/bin/python benchmarks/mc_throughput.py [--models mnist-cnn mnist-mlp] [--samples 102400]
"""

from __future__ import annotations

import argparse
import time

import torch

import probust as pb


def raw_forward_rate(model: torch.nn.Module, x: torch.Tensor, batch: int, samples: int, repeats: int) -> float:
    inputs = (x + 0.1 * (2 * torch.rand(batch, *x.shape) - 1)).clamp(0, 1)
    best = float("inf")
    with torch.inference_mode():
        model(inputs)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(samples // batch):
                model(inputs)
            best = min(best, time.perf_counter() - start)
    return (samples // batch) * batch / best


def mc_rate(model: torch.nn.Module, x: torch.Tensor, batch: int, samples: int, repeats: int) -> float:
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    pb.estimate(model, x, pert, budget=batch, batch_size=batch, seed=0)  # warm-up
    best = min(
        pb.estimate(model, x, pert, budget=samples, batch_size=batch, seed=r).seconds for r in range(repeats)
    )
    return samples / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["mnist-cnn", "mnist-mlp"])
    ap.add_argument("--batch-sizes", nargs="+", type=int, default=[256, 1024])
    ap.add_argument("--samples", type=int, default=102_400)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.samples:,} samples per timing")
    print(f"{'model':>10} {'batch':>6} {'raw forward /s':>15} {'MC samples /s':>14} {'ratio':>6}")
    for name in args.models:
        model = pb.zoo.load_model(name)
        x, _ = pb.zoo.load_dataset(name.split("-")[0], split="test")[0]
        for batch in args.batch_sizes:
            raw = raw_forward_rate(model, x, batch, args.samples, args.repeats)
            mc = mc_rate(model, x, batch, args.samples, args.repeats)
            print(f"{name:>10} {batch:6d} {raw:15,.0f} {mc:14,.0f} {mc / raw:6.2f}")


if __name__ == "__main__":
    main()
