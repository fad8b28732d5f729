"""ReLU networks whose failure set is a union of boxes and (rotated) diamonds: p exact by geometry.

A ball of the norm ``|| D R (x - c) ||_q <= 1`` (``q`` = inf: a box; ``q`` = 1: a diamond; D = diag(1 / r), R a
rotation in the plane of the first two coordinates) has the volume ``prod_i 2 r_i`` (box) or
``2^d / d! prod_i r_i`` (diamond) whatever R. The network computes exactly, for balls k = 1..K,

    logits = (0, 1 - n_1(x), ..., 1 - n_K(x)),     n_k(x) = || D_k R_k (x - c_k) ||_q

with ReLUs only: |u| = relu(u) + relu(-u) (first layer), max(a, b) = relu(a) + relu(b - a) for a >= 0 (one
layer per further coordinate of a box) and relu(a) = a for the non-negative values carried along. With
label 0 the label changes iff some n_k(x) <= 1 (a tie counts as a failure), so for disjoint balls inside the
unit cube and x' uniform on it, ``p = sum_k volume_k`` exactly. These are the gold cases of branch-and-bound
(``estimators.bab``): thin slivers, tiny boxes, several modes, in 2 to 6 dimensions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import torch

from ..perturbations import Box


@dataclasses.dataclass(frozen=True)
class Ball:
    """``{x : || D R (x - centre) ||_q <= 1}`` with D = diag(1 / radii), R a rotation by ``angle`` (radians) in
    the plane of coordinates 0 and 1."""

    centre: tuple[float, ...]
    radii: tuple[float, ...]
    norm: Literal["l1", "linf"]
    angle: float = 0.0

    @property
    def dim(self) -> int:
        return len(self.centre)

    def volume(self) -> float:
        scale = 2.0**self.dim if self.norm == "linf" else 2.0**self.dim / math.factorial(self.dim)
        return scale * math.prod(self.radii)

    def matrix(self) -> np.ndarray:
        """``D R``: the map from ``x - centre`` to the ball's unit coordinates."""
        rotation = np.eye(self.dim)
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        rotation[:2, :2] = [[cos, sin], [-sin, cos]]
        return rotation / np.asarray(self.radii)[:, None]

    def vertices(self) -> np.ndarray:
        """The extreme points (diamond) or corners (box): the ball lies in the unit cube iff these do."""
        dirs = np.eye(self.dim) if self.norm == "l1" else np.array(np.meshgrid(*[[-1, 1]] * self.dim)).reshape(
            self.dim, -1).T
        signs = np.concatenate([dirs, -dirs]) if self.norm == "l1" else dirs
        return np.asarray(self.centre) + signs @ np.linalg.inv(self.matrix()).T


@dataclasses.dataclass(frozen=True)
class UnionCase:
    """A gold case: the net, a safe reference point, uniform inputs on the unit cube and the exact p."""

    name: str
    model: torch.nn.Module
    x: torch.Tensor
    perturbation: Box
    failure_probability: float


def union_net(balls: tuple[Ball, ...]) -> torch.nn.Sequential:
    """The float64 ReLU network of the module docstring for the balls (all of one dimension)."""
    dim = balls[0].dim
    first = [np.vstack([b.matrix(), -b.matrix()]) for b in balls]
    layers = [_linear(np.vstack(first), np.concatenate([-w @ np.asarray(b.centre) for w, b in zip(first, balls,
                                                                                              strict=True)]))]
    width = 2 * dim
    # each ball's values as rows over the current layer's outputs: |u_i| (box) or sum_i |u_i| (diamond)
    states = [np.hstack([np.eye(dim)] * 2) if b.norm == "linf" else np.ones((1, width)) for b in balls]
    states = [np.pad(s, ((0, 0), (k * width, (len(balls) - k - 1) * width))) for k, s in enumerate(states)]
    while any(len(s) > 1 for s in states):
        rows = [np.vstack([s[0], s[1] - s[0], s[2:]]) if len(s) > 1 else s for s in states]
        sizes = np.cumsum([0] + [len(r) for r in rows])
        states = [_next_state(len(r), start, sizes[-1]) for r, start in zip(rows, sizes, strict=False)]
        layers += [torch.nn.ReLU(), _linear(np.vstack(rows), np.zeros(sizes[-1]))]
    out = np.vstack([np.zeros(states[0].shape[1])] + [-s[0] for s in states])
    layers += [torch.nn.ReLU(), _linear(out, np.concatenate([[0.0], np.ones(len(balls))]))]
    return torch.nn.Sequential(*layers).eval()


def _next_state(n: int, start: int, total: int) -> np.ndarray:
    """Rows of a ball's values over the new layer: the first two neurons add up to the running max."""
    state = np.zeros((max(1, n - 1), total))
    state[0, start] = 1.0
    if n > 1:
        state[0, start + 1] = 1.0
        state[1:, start + 2: start + n] = np.eye(n - 2)
    return state


def _linear(weight: np.ndarray, bias: np.ndarray) -> torch.nn.Linear:
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        layer.bias.copy_(torch.from_numpy(bias))
    return layer


def union_case(name: str, balls: tuple[Ball, ...], x: tuple[float, ...]) -> UnionCase:
    """The case of the balls on the unit cube, checked: every ball inside it and x outside every ball."""
    for ball in balls:
        corners = ball.vertices()
        if corners.min() < 0 or corners.max() > 1:
            raise ValueError(f"{name}: {ball} leaves the unit cube")
    model = union_net(balls)
    ref = torch.tensor(x, dtype=torch.float64)
    if int(model(ref[None]).argmax()) != 0:
        raise ValueError(f"{name}: the reference point {x} lies in a ball")
    dim = len(x)
    return UnionCase(name, model, ref, Box(lo=(0.0,) * dim, hi=(1.0,) * dim), sum(b.volume() for b in balls))


def union_cases() -> list[UnionCase]:
    """The gold suite: 2 to 6 dimensions, p from 1e-2 to 2e-13, thin rotated slivers and two-mode sets."""
    tilt = math.radians(30)
    return [
        union_case("2d-box-1e-2", (Ball((0.7, 0.3), (0.05, 0.05), "linf"),), (0.1, 0.1)),
        union_case("2d-diamond-1e-4", (Ball((0.4, 0.6), (0.02, 0.0025), "l1", tilt),), (0.1, 0.1)),
        union_case("2d-sliver-1e-6", (Ball((0.5, 0.5), (0.25, 2e-6), "l1", tilt),), (0.1, 0.1)),
        union_case("2d-two-modes-1e-6", (Ball((0.2, 0.8), (2.5e-4, 5e-4), "linf"),
                                         Ball((0.8, 0.2), (5e-4, 2.5e-4), "l1", tilt)), (0.1, 0.1)),
        union_case("2d-box-1e-8", (Ball((0.61, 0.37), (5e-5, 5e-5), "linf"),), (0.1, 0.1)),
        union_case("3d-box-1e-3", (Ball((0.5, 0.5, 0.5), (0.05, 0.05, 0.05), "linf"),), (0.1, 0.1, 0.1)),
        union_case("3d-diamond-1e-6", (Ball((0.3, 0.6, 0.4), (0.01, 0.01, 0.0075), "l1", tilt),), (0.1, 0.1, 0.1)),
        union_case("3d-two-modes-1e-5", (Ball((0.25, 0.25, 0.75), (0.0085, 0.0085, 0.0085), "linf"),
                                         Ball((0.7, 0.7, 0.3), (0.02, 0.02, 0.0094), "l1", tilt)), (0.1, 0.9, 0.1)),
        union_case("4d-box-1e-6", (Ball((0.6, 0.4, 0.6, 0.4), (0.0158,) * 4, "linf"),), (0.1,) * 4),
        union_case("5d-diamond-1e-9", (Ball((0.4, 0.6, 0.4, 0.6, 0.4), (0.0207,) * 5, "l1", tilt),), (0.1,) * 5),
        union_case("6d-box-1e-12", (Ball((0.3, 0.7, 0.3, 0.7, 0.3, 0.7), (0.005,) * 6, "linf"),), (0.9,) * 6),
        union_case("6d-two-modes-2e-13", (Ball((0.3,) * 6, (0.01,) * 6, "l1", tilt),
                                          Ball((0.7,) * 6, (0.01,) * 6, "l1")), (0.1, 0.9) * 3),
    ]
