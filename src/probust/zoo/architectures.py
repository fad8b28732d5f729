"""Architectures of the zoo models.

Each is a plain ``nn.Sequential`` of ``Flatten``, ``Linear``, ``Conv2d`` and ``ReLU`` only: bound
propagation walks these layers one by one, so there is no pooling, batch norm or dropout. Models take
raw images in [0, 1] (no normalisation layer) and return logits of shape ``(batch, 10)``.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["ARCHITECTURES"]


def mnist_mlp() -> nn.Sequential:
    """784-256-256-10 ReLU MLP for 1x28x28 inputs."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def mnist_cnn() -> nn.Sequential:
    """Two stride-2 convolutions (28 -> 14 -> 7) and two linear layers, for 1x28x28 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


def digits_mlp() -> nn.Sequential:
    """64-64-64-10 ReLU MLP for 1x8x8 inputs."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "mnist-mlp": mnist_mlp,
    "mnist-cnn": mnist_cnn,
    "digits-mlp": digits_mlp,
}
