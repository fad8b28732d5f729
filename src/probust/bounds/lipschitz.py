"""Sound L2 Lipschitz constants of linear functionals of a ReLU network, globally or on a box.

For a network f = B_n o relu o B_{n-1} o ... o relu o B_1 (each B_l an affine block: Linear, Conv2d,
BatchNorm, Flatten, ... between two ReLUs) and rows c_i of a specification matrix C, the gradient of
c_i . f at any point is ``c_i J_n D_{n-1} J_{n-1} ... D_1 J_1`` with J_l the (constant) linear part of
B_l and D_l diagonal with entries in [0, 1]. Hence, by sub-multiplicativity,

    |c_i . f(u) - c_i . f(v)| <= L_i ||u - v||_2,   L_i = ||c_i J_n P_{n-1}|| prod_l ||P_l J_l P_{l-1}||_2

where P_l keeps the neurons of ReLU l that can be active. Globally every neuron can; on an input box,
neurons whose pre-activation upper bound (IBP and CROWN, ``bounds.crown.NetworkBounds``) is <= 0 are
dead (D = 0) on the whole box, and since the box is convex the segment between two of its points stays
in it, so the local constant is sound for pairs of points in the box. Each ||P_l J_l P_{l-1}||_2 is the
exact largest singular value of the block's dense matrix (eigvalsh of its Gram matrix on the smaller
side, float64, inflated by ``NORM_SLACK`` against rounding); blocks too large for a dense matrix fall
back to per-layer bounds (exact for Linear, sqrt(max column sum * max row sum) of |W| for Conv2d,
max |scale| for BatchNorm).

The products of the entrywise absolute values bound each partial derivative on the same set,
``|d (c_i . f) / d x_j| <= (|c_i J_n| P_{n-1} |J_{n-1}| ... P_1 |J_1|)_j`` (McDiarmid's inequality needs
these; for a linear model they are exactly |w_j|).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from .crown import NetworkBounds
from .graph import Graph
from .ops import UnsupportedLayerError

#: Relative inflation of computed spectral norms (float64 eigvalsh error is ~1e-13 relative here).
NORM_SLACK = 1e-9
#: Largest dense block matrix (entries) built; above it the per-layer fallback is used.
MAX_DENSE = 30_000_000


def _spectral_norm(mat: torch.Tensor) -> float:
    if mat.numel() == 0:
        return 0.0
    gram = mat @ mat.T if mat.shape[0] <= mat.shape[1] else mat.T @ mat
    return math.sqrt(max(0.0, float(torch.linalg.eigvalsh(gram)[-1]))) * (1 + NORM_SLACK)


def _layer_norm_bound(layer: nn.Module) -> float:
    """Upper bound on the operator norm of one affine layer's linear part (per-layer fallback)."""
    if isinstance(layer, nn.Linear):
        return _spectral_norm(layer.weight)
    if isinstance(layer, nn.Conv2d):
        w = layer.weight.abs()
        # a row of the conv matrix holds |W[o]| once, a column each |W[o, i, kh, kw]| at most once (summing
        # over every output channel over-counts grouped convolutions, which only loosens the bound)
        rows = float(w.sum((1, 2, 3)).max())
        cols = float(w.sum((0, 2, 3)).max())
        return math.sqrt(rows * cols) * (1 + NORM_SLACK)
    if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return float((layer.weight / torch.sqrt(layer.running_var + layer.eps)).abs().max()) * (1 + NORM_SLACK)
    return 1.0  # Flatten, Identity, Dropout (eval)


def _block_matrix(block: list[nn.Module], in_shape: tuple[int, ...]) -> torch.Tensor:
    """Dense (n_out x n_in) matrix of the linear part of an affine block."""
    n_in = math.prod(in_shape)
    basis = torch.cat([torch.zeros(1, n_in, dtype=torch.float64), torch.eye(n_in, dtype=torch.float64)])
    h = basis.reshape(n_in + 1, *in_shape)
    for layer in block:
        h = layer(h)
    h = h.flatten(1)
    return (h[1:] - h[:1]).T


def _chain_layers(graph: Graph) -> list[nn.Module]:
    """The layers of a chain whose only activation is the ReLU (the product formula above needs both)."""
    if not graph.is_chain():
        raise UnsupportedLayerError("Lipschitz constants follow chains of layers (an nn.Sequential), not residual "
                                    "or concatenated branches; use proven")
    for node in graph.nodes:
        if isinstance(node.layer, (nn.Sigmoid, nn.Tanh)):
            name = type(node.layer).__name__
            raise UnsupportedLayerError(f"Lipschitz constants support ReLU activations, not {name}")
    return [node.layer for node in graph.nodes]


@torch.no_grad()
def lipschitz_of_rows(
    model: nn.Module, x0: torch.Tensor, rows: torch.Tensor, box: tuple[torch.Tensor, torch.Tensor] | None = None,
    *, network: NetworkBounds | None = None,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """L2 Lipschitz constants of ``rows @ f`` (globally, or over the input box ``(lo, hi)`` around ``x0``).

    ``network``: CROWN bounds of the same model over a box around ``x0`` that the caller already has (their
    pre-activation bounds are reused); it replaces ``box``. Returns the constants (one per row), per-coordinate
    sensitivities ``S[i, j] >= sup |d (rows_i . f) / d x_j|`` over the box (or everywhere), and diagnostics:
    block norms and live neurons per ReLU.
    """
    if network is not None and (box is not None or network.box is None):
        raise ValueError("give the box either as box=(lo, hi) or as network=NetworkBounds(..., box=...)")
    if network is None and box is not None:
        network = NetworkBounds(model, x0, box=box)
    graph = Graph(model, x0) if network is None else network.graph
    layers, shapes, out_shape = _chain_layers(graph), [node.in_shapes[0] for node in graph.nodes], graph.out_shape
    x0 = x0.detach().double().cpu()
    relus = [(k, shapes[k]) for k, layer in enumerate(layers) if isinstance(layer, nn.ReLU)]
    # a neuron is dead on the box where its pre-activation upper bound is <= 0 (all alive globally)
    masks = [torch.ones(math.prod(shape), dtype=torch.bool) if network is None
             else network.preactivation[k][1].flatten() > 0 for k, shape in relus]
    cuts = [-1] + [k for k, _ in relus] + [len(layers)]
    in_shapes = [tuple(x0.shape)] + [s for _, s in relus]
    in_masks = [torch.ones(math.prod(x0.shape), dtype=torch.bool)] + masks
    norms: list[float] = []
    mats: list[torch.Tensor | None] = []  # masked block matrices (None: too large, per-layer fallback)
    rows = rows.double().reshape(rows.shape[0], -1)
    for b in range(len(cuts) - 1):
        block = layers[cuts[b] + 1 : cuts[b + 1]]
        last = b == len(cuts) - 2
        n_out = math.prod(out_shape) if last else math.prod(in_shapes[b + 1])
        if math.prod(in_shapes[b]) * n_out <= MAX_DENSE:
            mat = _block_matrix(block, in_shapes[b])[:, in_masks[b]]
            mat = rows @ mat if last else mat[masks[b]]
            mats.append(mat)
            norms.append(0.0 if last else _spectral_norm(mat))
        else:
            mats.append(None)
            norms.append(math.prod(_layer_norm_bound(layer) for layer in block))
    last_mat = mats[-1]
    row_norms = last_mat.norm(dim=1) * (1 + NORM_SLACK) if last_mat is not None else rows.norm(dim=1) * norms[-1]
    lipschitz = row_norms.numpy() * math.prod(norms[:-1])
    # sup_box |d (c_i . f) / d x_j| <= (|c_i J_n| P |J_{n-1}| ... P |J_1|)_j  (all D_l in [0, 1], dead ones 0)
    if all(m is not None for m in mats):
        sens = mats[-1].abs()
        for mat in reversed(mats[:-1]):
            sens = sens @ mat.abs()
        sensitivity = np.minimum(sens.numpy() * (1 + NORM_SLACK), lipschitz[:, None])
    else:
        sensitivity = np.repeat(lipschitz[:, None], math.prod(x0.shape), axis=1)
    info = {"block_norms": norms[:-1], "live_neurons": [int(m.sum()) for m in masks],
            "neurons": [int(m.numel()) for m in masks], "local": network is not None}
    return lipschitz, sensitivity, info
