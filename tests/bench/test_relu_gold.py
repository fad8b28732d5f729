"""ReLU-network gold values of PR-Bench against independent computations.

1. The line integrals themselves: the exact failure intervals of a line agree with a dense evaluation of
   the network along it (every grid point inside an interval fails, every point outside is safe, except
   within one grid step of an endpoint).
2. A third quadrature for every 2-dimensional case: lines along the other axis (other breakpoints and kinks)
   with a support scan of another size (6151 lines, not nested in the 16385 of the gold, so other slivers
   could be missed). Tolerance: the gold's claimed ``abs_error`` plus this run's own error estimate.
3. Large Monte Carlo for every case with p >= 5e-6: n = min(1e7, 4000 / p) i.i.d. draws of the same law in
   numpy (independent of probust's samplers), exact Clopper-Pearson interval at level 1 - 1e-4 per case; the
   gold interval must meet it. With 6 such cases the chance of a false failure is below 6e-4. (At p = 1e-5
   that interval is about +-40% wide: a coarse check; the 2-d cases below 1e-5 rely on check 2.) That size
   runs under ``-m slow_full``; the default suite draws n = min(2e6, 1000 / p), 4.6x fewer in all: relative
   half-width +-12% at p >= 1e-3, +-28% at 1e-4 and a factor ~2 at 1e-5, the same false-failure bound.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probust.bench.cases import CASES, load_suite
from probust.bench.relu_net import ReluNet, line_failure_intervals
from probust.bench.relu_quadrature import failure_probability
from probust.intervals import binomial_ci

SUITE = load_suite("relu")
RELU = [c for c in CASES.values() if c.suite == "relu"]
NETS = {name: ReluNet.from_dict(rec) for name, rec in SUITE["networks"].items()}


def _net_x(case):
    return NETS[case.tags["network"]], np.array(case.tags["x"], dtype=np.float64)


def test_stored_networks_are_the_seeded_ones_and_match_torch():
    for name, rec in SUITE["networks"].items():
        seeded = ReluNet.seeded(rec["widths"], rec["seed"])
        assert all(np.array_equal(a, b) for a, b in zip(seeded.weights, NETS[name].weights, strict=True))
        pts = np.random.default_rng(0).standard_normal((64, rec["widths"][0]))
        torch_out = NETS[name].module()(torch.from_numpy(pts)).detach().numpy()
        np.testing.assert_allclose(torch_out, NETS[name].forward(pts), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", RELU, ids=[c.id for c in RELU])
def test_label_and_perturbation_of_the_built_case(case):
    net, x = _net_x(case)
    inst = case.build()
    assert net.label(x) == case.tags["label"]
    assert int(inst.model(inst.x[None]).argmax()) == case.tags["label"]
    assert inst.perturbation.to_spec() == case.tags["perturbation"]


def test_line_intervals_agree_with_dense_evaluation():
    rng = np.random.default_rng(1)
    for net in NETS.values():
        d = net.input_dim
        origins = rng.standard_normal((20, d))
        axis = d - 1
        line, starts, ends = line_failure_intervals(net, origins, axis, -3.0, 3.0, label=0)
        t = np.linspace(-3, 3, 20001)
        step = t[1] - t[0]
        for i, o in enumerate(origins):
            pts = np.tile(o, (len(t), 1))
            pts[:, axis] += t
            z = net.forward(pts)
            fails = np.delete(z, 0, axis=1).max(axis=1) > z[:, 0]
            mine = line == i
            inside = np.zeros(len(t), bool)
            near = np.zeros(len(t), bool)
            for a, b in zip(starts[mine], ends[mine], strict=True):
                inside |= (t > a) & (t < b)
                near |= (np.abs(t - a) < step) | (np.abs(t - b) < step)
            assert np.array_equal(fails[~near], inside[~near])


def _swapped(net: ReluNet, x: np.ndarray) -> tuple[ReluNet, np.ndarray]:
    """The same function with input coordinates reversed (first-layer columns permuted)."""
    return net.permuted([1, 0]), x[::-1].copy()


TWO_D = [c for c in RELU if len(c.tags["x"]) == 2]


@pytest.mark.parametrize("case", TWO_D, ids=[c.id for c in TWO_D])
def test_2d_gold_matches_quadrature_along_the_other_axis(case):
    net, x = _swapped(*_net_x(case))
    second = failure_probability(net, x, case.tags["family"], case.tags["scale"], label=case.tags["label"],
                                 grid=6151)
    claimed = case.gold.high - case.gold.value
    assert abs(second.value - case.gold.value) <= claimed + second.abs_error, (second, case.gold)


def _sample(family: str, scale: float, n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    if family == "gaussian":
        return rng.standard_normal((n, d)) * scale
    if family == "uniform-linf":
        return rng.uniform(-scale, scale, (n, d))
    g = rng.standard_normal((n, d + 2))  # first d coordinates of a uniform point on S^{d+1}: uniform in B^d
    return g[:, :d] / np.linalg.norm(g, axis=1, keepdims=True) * scale


MC_CASES = [c for c in RELU if c.gold.value >= 5e-6]


@pytest.mark.slow
@pytest.mark.parametrize("size", [pytest.param((1000, 2e6), id="default"),
                                  pytest.param((4000, 1e7), id="full", marks=pytest.mark.slow_full)])
@pytest.mark.parametrize("case", MC_CASES, ids=[c.id for c in MC_CASES])
def test_gold_inside_large_monte_carlo_interval(case, size):
    net, x = _net_x(case)
    y = case.tags["label"]
    # full: 4000 expected failures (relative half-width ~6% at 1 - 1e-4), at most 1e7 draws (~13% at p = 1e-4)
    failures, cap = size
    n = int(min(cap, failures / case.gold.value))
    rng = np.random.default_rng(12345)
    k = 0
    for start in range(0, n, 1_000_000):
        m = min(1_000_000, n - start)
        z = net.forward(x + _sample(case.tags["family"], case.tags["scale"], m, len(x), rng))
        k += int((np.delete(z, y, axis=1).max(axis=1) > z[:, y]).sum())
    ci = binomial_ci(k, n, 1 - 1e-4)
    assert ci.low <= case.gold.high and case.gold.low <= ci.high, (k, n, ci, case.gold)
