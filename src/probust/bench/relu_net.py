"""Small ReLU networks with stored weights, and their exact failure sets along a line.

A ReLU network is piecewise linear, so restricted to a line ``u(t) = u0 + t e`` every pre-activation is
piecewise affine in t. Propagating affine pieces layer by layer (splitting a piece where a neuron's
pre-activation crosses 0) gives the exact breakpoints; at the output the failure score
``max_{j != y} (z_j - z_y)`` is, on each piece, a maximum of affine functions: it is convex there, so the
safe set ``{score <= 0}`` within a piece is one interval and the failure set is the piece minus it (at most
two intervals). No root finding and no sampling: the failure set of a line is exact up to rounding.

This is the building block of the nested quadrature in :mod:`probust.bench.relu_quadrature`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch


@dataclasses.dataclass(frozen=True)
class ReluNet:
    """A fully connected ReLU network ``x -> W_L relu(... relu(W_1 x + b_1) ...) + b_L`` (float64).

    ``weights[k]`` has shape ``(out, in)``; every layer but the last is followed by a ReLU.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @classmethod
    def seeded(cls, widths: Sequence[int], seed: int) -> ReluNet:
        """He-initialised weights and small random biases from ``numpy.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        ws, bs = [], []
        for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
            ws.append(rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in))
            bs.append(rng.standard_normal(fan_out) * 0.1)
        return cls(tuple(ws), tuple(bs))

    @classmethod
    def from_dict(cls, record: dict) -> ReluNet:
        return cls(tuple(np.array(w, dtype=np.float64) for w in record["weights"]),
                   tuple(np.array(b, dtype=np.float64) for b in record["biases"]))

    def to_dict(self) -> dict:
        """JSON-ready lists (Python's float repr round-trips every float64 exactly)."""
        return {"weights": [w.tolist() for w in self.weights], "biases": [b.tolist() for b in self.biases]}

    def permuted(self, order: Sequence[int]) -> ReluNet:
        """The same function of the permuted input ``z = x[order]`` (first-layer columns ``W_1[:, order]``)."""
        return ReluNet((self.weights[0][:, list(order)].copy(), *self.weights[1:]), self.biases)

    @property
    def input_dim(self) -> int:
        return self.weights[0].shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits of a batch ``(n, d)`` in numpy."""
        h = x
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w.T + b
            if k < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h

    def module(self) -> torch.nn.Module:
        """The same network as a float64 ``nn.Sequential`` (what the estimators query)."""
        layers: list[torch.nn.Module] = []
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if k < len(self.weights) - 1:
                layers.append(torch.nn.ReLU())
        return torch.nn.Sequential(*layers).eval()

    def label(self, x: np.ndarray) -> int:
        return int(np.argmax(self.forward(x[None])[0]))


def line_failure_intervals(
    net: ReluNet, origins: np.ndarray, axis: int, t_lo: np.ndarray, t_hi: np.ndarray, label: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact failure sets ``{t in [t_lo, t_hi] : score(origin + t e_axis) > 0}`` of a batch of lines.

    ``origins`` has shape ``(L, d)``; ``t_lo``, ``t_hi`` broadcast to ``(L,)``. ``score = max_{j != label}
    z_j - z_label``. Returns ``(line, start, end)`` arrays: disjoint intervals of line ``line[i]``
    (adjacent ones are not merged). A piece on which the score is constant 0 counts as safe (a tie, an
    event of probability zero for continuous laws). All lines are processed together: a piece is a row.
    """
    origins = np.atleast_2d(np.asarray(origins, dtype=np.float64))
    n_lines = len(origins)
    ta = np.broadcast_to(np.asarray(t_lo, dtype=np.float64), (n_lines,)).copy()
    tb = np.broadcast_to(np.asarray(t_hi, dtype=np.float64), (n_lines,)).copy()
    keep = tb > ta
    line = np.flatnonzero(keep)
    ta, tb, a = ta[keep], tb[keep], origins[keep]  # activations on each piece: a + t * s
    s = np.zeros_like(a)
    s[:, axis] = 1.0
    last = len(net.weights) - 1
    for k, (w, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        a, s = a @ w.T + b, s @ w.T
        if k == last:
            break
        ta, tb, idx = _split_at_kinks(ta, tb, a, s)
        a, s, line = a[idx], s[idx], line[idx]
        on = (a + s * ((ta + tb) / 2)[:, None]) > 0  # activation pattern at the piece's midpoint
        a, s = a * on, s * on
    others = [j for j in range(a.shape[1]) if j != label]
    d_a = a[:, others] - a[:, [label]]  # z_j - z_y on each piece: d_a + t d_s
    d_s = s[:, others] - s[:, [label]]
    piece, starts, ends = _fail_parts(ta, tb, d_a, d_s)
    return line[piece], starts, ends


def _split_at_kinks(ta, tb, a, s):
    """Split each piece where a pre-activation ``a + t s`` changes sign strictly inside it.

    Returns the new pieces' bounds and, for each, the index of the piece it came from.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = -a / s
    inside = (roots > ta[:, None]) & (roots < tb[:, None])  # NaN and inf compare False
    if not inside.any():
        return ta, tb, np.arange(len(ta))
    rows, cols = np.nonzero(inside)
    piece = np.concatenate([np.arange(len(ta)), rows])
    start = np.concatenate([ta, roots[rows, cols]])
    order = np.lexsort((start, piece))
    piece, start = piece[order], start[order]
    end = np.append(start[1:], 0.0)
    last = np.append(piece[1:] != piece[:-1], True)  # the last sub-piece of a piece ends at its tb
    end[last] = tb[piece[last]]
    return start, end, piece


def _fail_parts(ta, tb, d_a, d_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per piece: the piece minus its safe interval ``{max_j (d_a_j + t d_s_j) <= 0}`` (convex in t)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        roots = -d_a / d_s
    dec, inc = d_s < 0, d_s > 0  # a decreasing difference is <= 0 right of its root, an increasing one left
    left = np.maximum(ta, np.where(dec, roots, -np.inf).max(axis=1))
    right = np.minimum(tb, np.where(inc, roots, np.inf).min(axis=1))
    whole = ((d_s == 0) & (d_a > 0)).any(axis=1) | (left >= right)
    lead = ~whole & (left > ta)
    tail = ~whole & (right < tb)
    n = np.arange(len(ta))
    return (np.concatenate([n[whole], n[lead], n[tail]]), np.concatenate([ta[whole], ta[lead], right[tail]]),
            np.concatenate([tb[whole], left[lead], tb[tail]]))
