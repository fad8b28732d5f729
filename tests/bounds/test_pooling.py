"""Max-pool, average-pool and elementwise-affine layers in the bound propagation: the linear bounds hold at every
sampled point of the box (corners included), the pre-activation bounds contain every sampled activation, and the
exact tail of the linear bound never falls below what Monte Carlo proves about the network itself."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from graph_nets import net_and_box
from scipy import stats
from torch import nn

from probust.bounds import ElementwiseAffine, NetworkBounds, UnsupportedLayerError
from probust.bounds.linear_form import clipped_cdf, convolution_tail
from probust.bounds.relaxations import maxpool_lines, pool_geometry, windows

#: The nets run in float64, so the linear bounds may only differ from the truth by rounding.
ROUNDING = 1e-9


def randomise(net: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / 2)
    return net.double().eval()


def collision_like(seed: int) -> nn.Module:
    """The issue's shape: 6 inputs, 40 ReLUs, a 1-D max-pool of 4, 2 outputs (and a second pooled layer)."""
    return randomise(nn.Sequential(nn.Linear(6, 40), nn.ReLU(), nn.MaxPool1d(4), nn.Linear(10, 12), nn.ReLU(),
                                   nn.MaxPool1d(3, stride=2, padding=1), nn.Linear(6, 2)), seed)


def conv_pool(seed: int) -> nn.Module:
    affine = ElementwiseAffine(torch.full((1, 6, 6), 2.0), torch.full((1, 6, 6), -1.0))
    return randomise(nn.Sequential(affine, nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.Conv2d(3, 4, 2), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                                   nn.Linear(4, 3)), seed)


def channels_1d(seed: int) -> nn.Module:
    return randomise(nn.Sequential(nn.Linear(5, 24), nn.ReLU(), nn.Unflatten(1, (3, 8)),
                                   nn.MaxPool1d(2, dilation=2), nn.AvgPool1d(2), nn.Flatten(), nn.Linear(3, 3)),
                     seed)


NETS = {"collision-like": (collision_like, (6,)), "conv-pool": (conv_pool, (1, 6, 6)),
        "channels-1d": (channels_1d, (5,))}


def box_points(lo: torch.Tensor, hi: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    u = torch.rand(n, *lo.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    u[: n // 2] = u[: n // 2].round()  # corners, where linear relaxations are tightest
    return lo + (hi - lo) * u


def setup(name: str, seed: int, radius: float = 0.5):
    return net_and_box(NETS, name, seed, radius)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", NETS)
def test_linear_bounds_hold_pointwise(name, seed):
    net, x, box = setup(name, seed)
    n_out = net(x[None]).shape[1]
    spec = torch.randn(5, n_out, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    network = NetworkBounds(net, x, box=box)
    assert any(isinstance(network.layers[k], (nn.MaxPool1d, nn.MaxPool2d)) for k in network.preactivation)
    for bound in (network.linear_bounds(spec), network.alpha_crown(spec)):
        xs = box_points(*box, 4000, seed)
        with torch.no_grad():
            values = net(xs) @ spec.T
        linear = (xs - x).flatten(1) @ bound.A.flatten(1).T + bound.c
        assert (values >= linear - ROUNDING).all()
        # and the linear form's minimum over the box is a valid lower bound of every sampled value
        assert (values.min(0).values >= network.lower(bound.A, bound.c) - ROUNDING).all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", NETS)
def test_preactivation_bounds_contain_every_sampled_activation(name, seed):
    net, x, box = setup(name, seed)
    network = NetworkBounds(net, x, box=box)
    h = box_points(*box, 2000, seed)
    with torch.no_grad():
        for k, layer in enumerate(network.layers):
            if k in network.preactivation:
                low, up = network.preactivation[k]
                assert (h >= low - ROUNDING).all() and (h <= up + ROUNDING).all()
            h = layer(h)


@pytest.mark.parametrize("seed", range(3))
def test_maxpool_relaxation_lines_enclose_the_maximum(seed):
    """Both lines of every window, checked directly at random points of random input boxes."""
    g = torch.Generator().manual_seed(seed)
    pool = nn.MaxPool1d(4, stride=3, padding=1)
    lo = torch.randn(3, 17, generator=g, dtype=torch.float64)
    hi = lo + torch.rand(3, 17, generator=g, dtype=torch.float64) * torch.rand(3, 17, generator=g).double().round()
    geometry = pool_geometry(pool, (3, 17))
    lower, upper, offset = maxpool_lines(lo, hi, geometry)
    for _ in range(200):
        h = lo + (hi - lo) * torch.rand(3, 17, generator=g, dtype=torch.float64).round()
        y = pool(h[None])[0]
        w = torch.nan_to_num(windows(h, geometry), neginf=0.0)  # padding has zero coefficients
        assert ((lower * w).sum(1) <= y + ROUNDING).all()
        assert ((upper * w).sum(1) + offset >= y - ROUNDING).all()


@pytest.mark.parametrize("seed", range(3))
def test_exact_tail_of_the_bound_is_never_below_monte_carlo(seed):
    """P(a . delta + c <= 0) from the exact law must be >= the one-sided 1 - 1e-6 Clopper-Pearson lower limit of
    P(spec . f <= 0) from 100,000 uniform samples (2 rows x 3 seeds at 1e-6 each)."""
    net, x, box = setup("collision-like", seed, radius=0.3)
    spec = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)
    bound = NetworkBounds(net, x, box=box).linear_bounds(spec)
    xs = box[0] + (box[1] - box[0]) * torch.rand(100_000, 6, generator=torch.Generator().manual_seed(seed),
                                                 dtype=torch.float64)
    with torch.no_grad():
        failures = ((copy.deepcopy(net)(xs) @ spec.T) <= 0).sum(0).numpy()
    lo_d, hi_d = (box[0] - x).numpy(), (box[1] - x).numpy()
    cdf = clipped_cdf(lambda i, v: np.clip((v - lo_d[i]) / (hi_d[i] - lo_d[i]), 0.0, 1.0), lo_d, hi_d)
    for j, k in enumerate(failures):
        tail, _ = convolution_tail(bound.A[j].numpy(), float(bound.c[j]), cdf, lo_d, hi_d)
        assert tail >= (stats.beta.ppf(1e-6, k, 100_000 - k + 1) if k else 0.0)


def test_a_window_with_one_candidate_is_exact():
    net = nn.Sequential(nn.MaxPool1d(2)).double()
    x = torch.tensor([2.0, 0.0], dtype=torch.float64)
    box = (x - 0.5, x + 0.5)
    bound = NetworkBounds(net, x, box=box).linear_bounds(torch.tensor([[1.0], [-1.0]], dtype=torch.float64))
    torch.testing.assert_close(bound.A, torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize("layer", [nn.MaxPool1d(2, ceil_mode=True), nn.MaxPool1d(2, return_indices=True),
                                   nn.AvgPool1d(2, padding=1, count_include_pad=False)])
def test_unsupported_pooling_options_are_named(layer):
    with pytest.raises(UnsupportedLayerError, match="not supported"):
        NetworkBounds(nn.Sequential(nn.Linear(4, 8), layer), torch.zeros(4), box=(-torch.ones(4), torch.ones(4)))
