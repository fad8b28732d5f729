"""CROWN linear and pre-activation bounds hold at every sampled point, for every supported layer type and input set."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import probust as pb
from probust.bounds import NetworkBounds, UnsupportedLayerError, crown_linear_bounds
from probust.bounds.linear_form import clipped_cdf, convolution_tail


def margin_spec(y: int, n: int = 10) -> torch.Tensor:
    others = [j for j in range(n) if j != y]
    spec = torch.zeros(n - 1, n, dtype=torch.float64)
    spec[:, y] = 1.0
    spec[torch.arange(n - 1), others] = -1.0
    return spec


def small_bn_net() -> nn.Module:
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 4 * 4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 10))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
        for bn in (net[1], net[5]):
            bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=g) * 0.1)
            bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=g) + 0.5)
    return net.eval()


CASES = [("mnist-mlp", 0.03), ("mnist-cnn", 0.03), ("digits-mlp", 0.1)]


@pytest.mark.parametrize("name, eps", CASES)
def test_box_bounds_hold_on_samples_including_corners(name, eps):
    model = pb.zoo.load_model(name)
    x, _ = pb.zoo.load_dataset(name.split("-")[0])[3]
    lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    y = int(model(x[None]).argmax())
    bound = crown_linear_bounds(model, x, margin_spec(y), box=(lo, hi))
    g = torch.Generator().manual_seed(0)
    u = torch.rand(4000, *x.shape, generator=g)
    u[:2000] = u[:2000].round()  # box corners, where linear relaxations are tightest
    xs = lo + (hi - lo) * u
    with torch.no_grad():
        margins = model(xs).double() @ margin_spec(y).T
    linear = (xs.double() - x.double()).flatten(1) @ bound.A.flatten(1).T + bound.c
    assert (margins >= linear - 1e-6).all()  # 1e-6: float32 model vs float64 bound arithmetic


@pytest.mark.parametrize("name, eps", CASES)
def test_preactivation_bounds_contain_every_sampled_activation(name, eps):
    model = pb.zoo.load_model(name)
    x, _ = pb.zoo.load_dataset(name.split("-")[0])[3]
    lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    network = NetworkBounds(model, x, box=(lo, hi))
    u = torch.rand(2000, *x.shape, generator=torch.Generator().manual_seed(0))
    u[:1000] = u[:1000].round()
    h = (lo + (hi - lo) * u).double()
    with torch.no_grad():
        for k, layer in enumerate(network.layers):
            if k in network.preactivation:
                low, up = network.preactivation[k]
                assert (h >= low - 1e-9).all() and (h <= up + 1e-9).all()  # float64 throughout: rounding only
            h = layer(h)
    assert len(network.preactivation) == sum(isinstance(m, nn.ReLU) for m in model.modules())


def test_reused_preactivation_bounds_give_the_one_off_bounds():
    model = pb.zoo.load_model("mnist-cnn")
    x, _ = pb.zoo.load_dataset("mnist")[0]
    box = ((x - 0.03).clamp(0, 1), (x + 0.03).clamp(0, 1))
    network = NetworkBounds(model, x, box=box)
    for y in (0, 7):
        shared, alone = network.linear_bounds(margin_spec(y)), crown_linear_bounds(model, x, margin_spec(y), box=box)
        torch.testing.assert_close(shared.A, alone.A, rtol=0, atol=0)
        torch.testing.assert_close(shared.c, alone.c, rtol=0, atol=0)


def test_l2_ball_bounds_hold_and_batchnorm_dropout_are_supported():
    net = small_bn_net()
    x = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(1))
    spec = margin_spec(int(net(x[None]).argmax()))
    bound = crown_linear_bounds(net, x, spec, l2_radius=0.3)
    g = torch.Generator().manual_seed(2)
    d = torch.randn(3000, 64, generator=g, dtype=torch.float64)
    d = 0.3 * d / d.norm(dim=1, keepdim=True) * torch.rand(3000, 1, generator=g, dtype=torch.float64) ** (1 / 64)
    with torch.no_grad():
        margins = net((x.double() + d.view(-1, 1, 8, 8)).float()).double() @ spec.T
    assert (margins >= d @ bound.A.flatten(1).T + bound.c - 1e-5).all()


def test_bounds_are_exact_for_a_linear_model():
    w = torch.randn(2, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = nn.Sequential(nn.Linear(5, 2, dtype=torch.float64))
    with torch.no_grad():
        model[0].weight.copy_(w)
        model[0].bias.zero_()
    x = torch.ones(5, dtype=torch.float64)
    bound = crown_linear_bounds(model, x, margin_spec(0, 2), box=(x - 1, x + 1))
    torch.testing.assert_close(bound.A[0], w[0] - w[1])
    torch.testing.assert_close(bound.c[0], (w[0] - w[1]) @ x)


@pytest.mark.parametrize("layer", [nn.GELU(), nn.Softmax(dim=1)])
def test_unsupported_layers_are_named(layer):
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), layer, nn.Flatten(), nn.Linear(32, 2))
    with pytest.raises(UnsupportedLayerError, match=type(layer).__name__):
        box = (torch.zeros(1, 4, 4), torch.ones(1, 4, 4))
        crown_linear_bounds(net, torch.zeros(1, 4, 4), margin_spec(0, 2), box=box)


def random_relu_net(seed: int) -> nn.Sequential:
    """A random 4-24-24-3 ReLU net: at radius 0.5 around (0.5, ...) many of its neurons are unstable."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(4, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / 2)
    return net.eval()


def box_samples(lo: torch.Tensor, hi: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n float64 points of the box, half of them corners (where linear relaxations are tightest)."""
    u = torch.rand(n, *lo.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    u[: n // 2] = u[: n // 2].round()
    return lo.double() + (hi - lo).double() * u


#: The random nets run in float64 here, so the linear bounds may only differ from the truth by rounding.
ROUNDING = 1e-9


def holds_on_samples(net: nn.Module, x: torch.Tensor, box, spec: torch.Tensor, bound, seed: int) -> bool:
    xs = box_samples(*box, 4000, seed)
    with torch.no_grad():
        margins = copy.deepcopy(net).double()(xs) @ spec.T
    linear = (xs - x.double()).flatten(1) @ bound.A.flatten(1).T + bound.c
    return bool((margins >= linear - ROUNDING).all())


@pytest.mark.parametrize("seed", range(6))
def test_any_lower_slopes_in_the_unit_interval_give_sound_bounds(seed):
    """Random slopes for every unstable ReLU: the linear bound never exceeds the margin at 4,000 points, and its
    exact tail P(a . delta + c <= 0) is never below the one-sided 1 - 1e-6 Clopper-Pearson lower limit of
    P(margin <= 0) from 100,000 uniform samples (9 such comparisons per seed at 1e-6 each: this test fails
    spuriously with probability <= 5.4e-5 in all)."""
    net, x = random_relu_net(seed), torch.full((4,), 0.5)
    box = (x - 0.5, x + 0.5)
    network, spec = NetworkBounds(net, x, box=box), margin_spec(0, 3)
    g = torch.Generator().manual_seed(100 + seed)
    alphas = {k: torch.rand(2, *lo.shape, generator=g, dtype=torch.float64)
              for k, (lo, _) in network.preactivation.items()}
    assert any(((lo < 0) & (hi > 0)).any() for lo, hi in network.preactivation.values())
    bound = network.linear_bounds(spec, alphas)
    assert holds_on_samples(net, x, box, spec, bound, seed)
    xs = x.double() + (torch.rand(100_000, 4, generator=g, dtype=torch.float64) - 0.5)
    with torch.no_grad():
        failures = ((copy.deepcopy(net).double()(xs) @ spec.T) <= 0).sum(0).numpy()
    lo_d, hi_d = np.full(4, -0.5), np.full(4, 0.5)
    cdf = clipped_cdf(lambda i, v: np.clip(v + 0.5, 0.0, 1.0), lo_d, hi_d)
    for j, k in enumerate(failures):
        tail, _ = convolution_tail(bound.A[j].numpy(), float(bound.c[j]), cdf, lo_d, hi_d)
        assert tail >= (stats.beta.ppf(1e-6, k, 100_000 - k + 1) if k else 0.0)


def test_slopes_outside_the_unit_interval_are_refused():
    net, x = random_relu_net(0), torch.full((4,), 0.5)
    network = NetworkBounds(net, x, box=(x - 0.5, x + 0.5))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        network.linear_bounds(margin_spec(0, 3), {1: torch.full((24,), 1.5, dtype=torch.float64)})


@pytest.mark.parametrize("seed", range(4))
def test_alpha_crown_never_loses_to_crown_and_stays_sound(seed):
    """alpha-CROWN starts from CROWN's slopes and keeps each row's best iterate: its objective (the offset c,
    or the minimum over the box) is never below CROWN's, and the optimised bound still holds pointwise."""
    net, x = random_relu_net(seed), torch.full((4,), 0.5)
    box = (x - 0.5, x + 0.5)
    network, spec = NetworkBounds(net, x, box=box), margin_spec(1, 3)
    crown = network.linear_bounds(spec)
    offset = network.alpha_crown(spec, lambda A, c: c)
    assert (offset.c >= crown.c).all()
    worst = network.alpha_crown(spec)
    assert (network.lower(worst.A, worst.c) >= network.lower(crown.A, crown.c)).all()
    for bound in (offset, worst):
        assert holds_on_samples(net, x, box, spec, bound, seed)
