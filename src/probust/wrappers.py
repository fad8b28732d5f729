"""Model wrappers that make an input convention explicit instead of hiding it in an estimator."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import ConfigurationError


class Normalized(torch.nn.Module):
    """``model((x - mean) / std)``: perturb in pixel units while the model expects normalised inputs.

    Papers quote radii in either unit (Webb et al.'s MNIST sigma of 0.75-1.5 is in normalised units,
    about 0.23-0.46 in pixels); wrapping the model keeps every radius in probust in the input's own units.
    ``mean`` and ``std`` broadcast per channel over inputs of shape (batch, C, ...).

    Examples
    --------
    >>> net = Normalized(torch.nn.Flatten(), mean=[0.1307], std=[0.3081])
    >>> net(torch.full((1, 1, 2, 2), 0.1307)).abs().max().item()
    0.0
    """

    def __init__(self, model: torch.nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ConfigurationError("mean and std need one value per channel, with every std > 0")
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return self.model((x - self.mean.view(shape).to(x.dtype)) / self.std.view(shape).to(x.dtype))
