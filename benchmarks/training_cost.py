"""Training cost per method relative to ERM, measured in the same run (small CNN, zoo MNIST, one torch thread).

Prints seconds per epoch on the first N training images and the ratio to ERM's, for the a-priori ``cost``
figures the bench uses to balance its shards and for docs/training.md. Usage:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/training_cost.py [N]
"""

from __future__ import annotations

import sys
import time

import torch

from probust.training import METHODS, build_model, get_method, train
from probust.zoo import load_dataset


def main(n: int = 512) -> None:
    torch.set_num_threads(1)
    data = load_dataset("mnist", "train")
    warm = build_model("mnist-cnn", 0)
    train(warm, data[:2000], "erm", eps=0.1, epochs=1, seed=0)  # a half-trained model: AT-PR's walk-back is typical
    seconds = {}
    for name in METHODS:
        model = build_model("mnist-cnn", 0)
        model.load_state_dict(warm.state_dict())
        start = time.perf_counter()
        train(model, data[:n], name, eps=0.1, epochs=1, seed=0)
        seconds[name] = time.perf_counter() - start
    print(f"{'method':10s} {'s / epoch':>10s} {'x ERM':>8s} {'a-priori cost':>14s}  ({n} images, 1 thread)")
    for name, s in seconds.items():
        print(f"{name:10s} {s:10.2f} {s / seconds['erm']:8.1f} {get_method(name).cost:14.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
