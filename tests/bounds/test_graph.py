"""Bounds over graphs (residual sums, concatenations, padding, transposes) and sigmoid / tanh relaxations: the
linear bounds hold at every sampled point, the graph follows the model exactly, a residual block gives the bounds
of its folded chain, the S-shaped lines are sound on every interval, and unsupported operations are named."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import torch
from graph_nets import GRAPH_NETS, graph_setup, randomise, sigmoid_mlp
from scipy import stats
from torch import fx, nn

import probust as pb
from probust.bounds import NetworkBounds, UnsupportedLayerError
from probust.bounds.batched import BatchedBounds
from probust.bounds.graph import INPUT, Graph
from probust.bounds.layers import Cat, Sum
from probust.bounds.relaxations import s_shaped_lines
from probust.estimators import BranchAndBound

#: The nets run in float64, so the linear bounds may only differ from the truth by rounding.
ROUNDING = 1e-9


def box_points(lo: torch.Tensor, hi: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    u = torch.rand(n, *lo.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    u[: n // 2] = u[: n // 2].round()  # corners, where linear relaxations are tightest
    return lo + (hi - lo) * u


def node_values(graph: Graph, xs: torch.Tensor) -> dict[int, torch.Tensor]:
    """The output of every node of the graph on the batch xs."""
    values = {INPUT: xs}
    with torch.no_grad():
        for k, node in enumerate(graph.nodes):
            values[k] = node.layer(*(values[i] for i in node.inputs))
    return values


@pytest.mark.parametrize("name", GRAPH_NETS)
def test_the_graph_computes_the_model(name):
    net, x, box = graph_setup(name, 0)
    xs = box_points(*box, 200, 0)
    graph = Graph(net, x)
    with torch.no_grad():
        torch.testing.assert_close(node_values(graph, xs)[len(graph.nodes) - 1], net(xs), rtol=1e-12, atol=1e-12)


class _Wrapper(nn.Module):
    """Hides a Sequential from the chain special case: the graph is traced by torch.fx."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


def test_a_traced_sequential_is_the_chain_special_case():
    net = sigmoid_mlp(0)
    x = torch.full((4,), 0.5, dtype=torch.float64)
    spec = torch.tensor([[1.0, -1.0, 0.0]], dtype=torch.float64)
    chain, traced = (NetworkBounds(m, x, box=(x - 0.2, x + 0.2)) for m in (net, _Wrapper(net)))
    assert [(type(n.layer), n.inputs) for n in chain.graph.nodes] == [
        (type(n.layer), n.inputs) for n in traced.graph.nodes
    ]
    assert chain.graph.is_chain() and traced.graph.is_chain()
    a, b = chain.linear_bounds(spec), traced.linear_bounds(spec)
    assert torch.equal(a.A, b.A) and torch.equal(a.c, b.c)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", GRAPH_NETS)
def test_linear_and_preactivation_bounds_hold_pointwise(name, seed):
    net, x, box = graph_setup(name, seed)
    spec = torch.tensor([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
    network = NetworkBounds(net, x, box=box)
    xs = box_points(*box, 20_000, seed)
    values = node_values(network.graph, xs)
    margins = values[len(network.graph.nodes) - 1] @ spec.T
    for form in (network.linear_bounds(spec), network.alpha_crown(spec, iterations=5)):
        linear = (xs - x).flatten(1) @ form.A.flatten(1).T + form.c
        assert bool((margins >= linear - ROUNDING).all())
    for k, (low, up) in network.preactivation.items():
        h = values[network.graph.nodes[k].inputs[0]]
        assert bool((h >= low - ROUNDING).all() and (h <= up + ROUNDING).all()), k
    assert any(isinstance(network.layers[k], (nn.Sigmoid, nn.Tanh, nn.ReLU)) for k in network.preactivation)
    # the batched bounds over 8 sub-boxes of the box hold at points of each
    corners = box_points(*box, 16, 100 + seed).reshape(2, 8, *x.shape)
    lo, hi = corners.amin(0), corners.amax(0)
    batched = BatchedBounds(net, x)(lo, hi, spec)
    pts = lo[:, None] + (hi - lo)[:, None] * torch.rand(8, 500, *x.shape, dtype=torch.float64)
    with torch.no_grad():
        worst = (net(pts.flatten(0, 1)).reshape(8, 500, 3) @ spec.T).amin(1)
    assert bool((worst >= batched.lower - ROUNDING).all())


def folded_pairs(seed: int) -> list[tuple[nn.Module, nn.Module, tuple[int, ...]]]:
    """(residual net, its hand-flattened Sequential) pairs: x + W x = (I + W) x for a linear residual, and a
    conv block with a BatchNorm whose identity skip is folded into the kernel's centre tap."""

    class LinearResidual(nn.Module):
        def __init__(self):
            super().__init__()
            self.w, self.body = nn.Linear(5, 5), nn.Sequential(nn.ReLU(), nn.Linear(5, 3))

        def forward(self, x):
            return self.body(x + self.w(x))

    class ConvResidual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)
            self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(2, 3, 3, stride=2), nn.Flatten(), nn.Linear(12, 3))

        def forward(self, x):
            return self.body(self.bn(self.conv(x)) + x)

    linear = randomise(LinearResidual(), seed)
    flat_linear = nn.Sequential(nn.Linear(5, 5), *linear.body).double()
    with torch.no_grad():
        flat_linear[0].weight.copy_(linear.w.weight + torch.eye(5, dtype=torch.float64))
        flat_linear[0].bias.copy_(linear.w.bias)
    conv = randomise(ConvResidual(), seed)
    flat_conv = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), *conv.body).double()
    scale = conv.bn.weight / torch.sqrt(conv.bn.running_var + conv.bn.eps)
    with torch.no_grad():
        flat_conv[0].weight.copy_(conv.conv.weight * scale.view(-1, 1, 1, 1))
        flat_conv[0].weight[:, :, 1, 1] += torch.eye(2, dtype=torch.float64)
        flat_conv[0].bias.copy_((conv.conv.bias - conv.bn.running_mean) * scale + conv.bn.bias)
    return [(linear, flat_linear.eval(), (5,)), (conv, flat_conv.eval(), (2, 5, 5))]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("which", [0, 1], ids=["linear-residual", "conv-bn-residual"])
def test_a_residual_block_has_the_bounds_of_its_folded_chain(which, seed):
    """The skip adds the identity to the block's linear map and the bounds follow the same function: CROWN's linear
    bounds agree up to float64 rounding, and so do the ReLU's unstable neurons and their bounds (its input is one
    affine form of x: the chain's IBP is exact, the graph's CROWN too). Stable neurons may keep the graph's looser
    IBP bounds (a residual sum adds the radii of both branches); their relaxation is exact either way, but their
    intervals move on to deeper layers' IBP, which is why a deeper stack may get different (sound) bounds."""
    residual, folded, shape = folded_pairs(seed)[which]
    x = torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    box = (x - 0.4, x + 0.4)
    spec = torch.tensor([[1.0, -1.0, 0.0], [1.0, 0.0, -1.0]], dtype=torch.float64)
    graph, chain = NetworkBounds(residual, x, box=box), NetworkBounds(folded, x, box=box)
    a, b = graph.linear_bounds(spec), chain.linear_bounds(spec)
    torch.testing.assert_close(a.A, b.A, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(a.c, b.c, rtol=1e-9, atol=1e-12)
    ((l1, u1),), ((l2, u2),) = graph.preactivation.values(), chain.preactivation.values()
    unstable = (l2 < 0) & (u2 > 0)
    assert bool(unstable.any()) and torch.equal((l1 < 0) & (u1 > 0), unstable)
    torch.testing.assert_close(l1[unstable], l2[unstable], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(u1[unstable], u2[unstable], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("layer", [nn.Sigmoid(), nn.Tanh()])
def test_s_shaped_lines_are_sound_on_every_kind_of_interval(layer):
    """Both sides of 0, one side, degenerate (l = u), nearly degenerate and saturated intervals: the lines
    bracket f on 2001 points of each interval (float64 rounding of f apart)."""
    g = torch.Generator().manual_seed(0)
    n = 4000
    lo = (
        torch.randn(n, generator=g, dtype=torch.float64)
        * torch.tensor([0.1, 1.0, 5.0, 30.0], dtype=torch.float64)[torch.randint(0, 4, (n,), generator=g)]
    )
    width = torch.tensor([0.0, 1e-12, 1e-6, 0.1, 3.0, 40.0], dtype=torch.float64)[
        torch.randint(0, 6, (n,), generator=g)
    ]
    hi = lo + torch.rand(n, generator=g, dtype=torch.float64) * width
    lines = s_shaped_lines(layer, lo, hi)
    z = lo[:, None] + (hi - lo)[:, None] * torch.linspace(0, 1, 2001, dtype=torch.float64)
    y = layer(z)
    below = lines["slope_low"][:, None] * z + lines["icpt_low"][:, None]
    above = lines["slope_up"][:, None] * z + lines["icpt_up"][:, None]
    assert float((below - y).max()) <= 1e-15 and float((y - above).max()) <= 1e-15
    assert bool(((lo < 0) & (hi > 0)).any() and (lo == hi).any())
    degenerate = lo == hi
    torch.testing.assert_close(lines["icpt_low"][degenerate], layer(lo[degenerate]))


def test_sigmoid_and_tanh_nets_have_no_violation_in_a_million_points_and_beat_ibp():
    """8 random sigmoid / tanh nets x 125,000 points (half at corners): the certified lower bound of each margin
    is below every sampled margin; averaged over nets and margins, CROWN's bound is above IBP's."""
    spec = torch.tensor([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
    gains = []
    for seed in range(8):
        net = sigmoid_mlp(seed, nn.Sigmoid if seed % 2 else nn.Tanh)
        x = torch.rand(4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        box = (x - 0.1, x + 0.1)
        network = NetworkBounds(net, x, box=box)
        form = network.linear_bounds(spec)
        lower = network.lower(form.A, form.c)
        xs = box_points(*box, 125_000, seed)
        with torch.no_grad():
            margins = net(xs) @ spec.T
        assert bool((margins >= (xs - x) @ form.A.T + form.c - ROUNDING).all())
        assert bool((margins.amin(0) >= lower - ROUNDING).all())
        ibp = BatchedBounds(net, x, "ibp")(box[0][None], box[1][None], spec).lower[0]
        gains.append(lower - ibp)
    assert float(torch.stack(gains).mean()) > 0


def test_branch_and_bound_follows_a_residual_sigmoid_net():
    """bab's sound interval over a 2-D box of a residual net with sigmoid blocks contains a 1e6-sample Monte
    Carlo estimate's 99.99% Clopper-Pearson interval (it may be wider, never disjoint)."""
    net = randomise(ResidualSigmoid(), 5, scale=1.0)  # p ~ 0.12
    x = torch.tensor([0.5, 0.5], dtype=torch.float64)
    pert = pb.perturbations.UniformLinf(eps=0.5)
    label = int(net(x[None]).argmax())
    res = BranchAndBound(max_boxes=1024).estimate(net, x, pert, budget=1000, seed=0)
    xs = x + (torch.rand(1_000_000, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) - 0.5)
    with torch.no_grad():
        k = int((net(xs).argmax(1) != label).sum())
    low, high = stats.beta.ppf([5e-5, 1 - 5e-5], [k, k + 1], [1_000_000 - k + 1, 1_000_000 - k])
    assert 0 < k < 1_000_000
    assert res.sound_low <= np.nan_to_num(high, nan=1.0) and np.nan_to_num(low, nan=0.0) <= res.sound_high
    assert res.sound_high - res.sound_low < 0.5


class ResidualSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.block, self.head = nn.Linear(2, 8), nn.Sequential(nn.Sigmoid(), nn.Linear(8, 8)), nn.Linear(8, 3)

    def forward(self, x):
        h = self.inp(x)
        return self.head(torch.tanh(h + self.block(h)))


class _Product(nn.Module):
    def forward(self, x):
        return x * x


class _Branching(nn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class _Slice(nn.Module):
    def forward(self, x):
        return x[:, :2]


@pytest.mark.parametrize(
    "model, match",
    [
        (_Product(), "product of two input-dependent tensors"),
        (_Branching(), "cannot trace _Branching"),
        (_Slice(), "does not support function getitem"),
        (nn.Sequential(nn.Linear(3, 3), nn.GELU()), "does not support layer GELU"),
    ],
)
def test_unsupported_operations_are_named_on_one_line(model, match):
    with pytest.raises(UnsupportedLayerError, match=match) as info:
        NetworkBounds(model, torch.zeros(3), box=(-torch.ones(3), torch.ones(3)))
    assert "\n" not in str(info.value) and "nn.Sequential of those" not in str(info.value)


@pytest.mark.parametrize("relaxation", ["crown", "alpha-crown"])
def test_proven_bounds_a_residual_sigmoid_net_soundly(relaxation):
    """PROVEN through a graph: its sound upper bound on p is above Monte Carlo's 1 - 1e-6 lower confidence bound
    (p ~ 3.4e-3 here: the bound must not be 0) and within a factor 10 of it (measured: 8.8e-3 with CROWN)."""
    net = randomise(ResidualSigmoid(), 0, scale=1.0)
    x = torch.tensor([0.5, 0.5], dtype=torch.float64)
    pert = pb.perturbations.UniformLinf(eps=0.15)
    mc = pb.estimators.MonteCarlo(sided="lower").estimate(net, x, pert, budget=200_000, seed=0, confidence=1 - 1e-6)
    bound = pb.estimators.Proven(relaxation=relaxation).estimate(net, x, pert, budget=1)
    assert 0 < mc.ci.low <= bound.failure_probability < 10 * mc.failure_probability


class _Constants(nn.Module):
    """A float32 constant made in forward, a buffer, and the graph layers Sum / Cat used as modules."""

    def __init__(self):
        super().__init__()
        self.lin, self.sum, self.cat = nn.Linear(3, 3), Sum((1.0, -1.0)), Cat(0)
        self.register_buffer("offset", torch.tensor([0.5, -0.5, 1.0]))

    def forward(self, x):
        h = self.sum(torch.relu(self.lin(x)), x * 2.0) + self.lin(torch.ones(1, 3)) - self.offset
        return self.cat(h, torch.tanh(x))


def test_constants_and_modules_of_several_inputs_are_followed():
    net = randomise(_Constants(), 0).float()  # a float32 model: its constants are float32 too
    x = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64)
    box = (x - 0.3, x + 0.3)
    network = NetworkBounds(net, x, box=box)
    assert [type(n.layer).__name__ for n in network.graph.nodes].count("ElementwiseAffine") == 3
    spec = torch.eye(6, dtype=torch.float64)
    form = network.linear_bounds(spec)
    xs = box_points(*box, 10_000, 0)
    with torch.no_grad():  # 1e-5: the float32 model against the float64 bounds
        assert bool((net(xs.float()).double() >= (xs - x) @ form.A.T + form.c - 1e-5).all())


def test_a_graph_module_like_the_onnx_converter_emits_is_followed():
    """A torch.fx GraphModule of standard layers, functions and get_attr constants (the ONNX converter's output),
    and the fx trace of a hand-written ResNet block, which must give the module's own bounds exactly."""
    graph, root = fx.Graph(), nn.Module()
    root.conv, root.relu, root.fc = nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Linear(2 * 4 * 4, 3)
    root.register_buffer("mean", torch.full((1, 1, 1, 1), 0.5))
    x = graph.placeholder("x")
    centred = graph.call_function(operator.sub, (x, graph.get_attr("mean")))
    conv = graph.call_module("conv", (centred,))
    residual = graph.call_function(torch.add, (graph.call_module("relu", (conv,)), conv))
    graph.output(graph.call_module("fc", (graph.call_function(torch.flatten, (residual, 1)),)))
    module = randomise(fx.GraphModule(root, graph), 0)
    x0 = torch.rand(1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    box = (x0 - 0.2, x0 + 0.2)
    network = NetworkBounds(module, x0, box=box)
    assert [type(n.layer).__name__ for n in network.graph.nodes] == [
        "ElementwiseAffine",
        "Conv2d",
        "ReLU",
        "Sum",
        "Reshape",
        "Linear",
    ]
    form = network.linear_bounds(torch.eye(3, dtype=torch.float64))
    xs = box_points(*box, 10_000, 0)
    with torch.no_grad():
        assert bool((module(xs) >= (xs - x0).flatten(1) @ form.A.flatten(1).T + form.c - ROUNDING).all())
    net, x, box = graph_setup("residual-cnn", 0)
    spec = torch.eye(3, dtype=torch.float64)
    a, b = (NetworkBounds(m, x, box=box).linear_bounds(spec) for m in (fx.symbolic_trace(net), net))
    assert torch.equal(a.A, b.A) and torch.equal(a.c, b.c)


class _Doubled(nn.Module):
    """x + x (one tensor twice), an unused branch after the output's last node."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        y = self.lin(x + x) - x
        torch.relu(y) * 3.0  # computed, unused
        return y


class _Identity(nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize("model", [_Doubled(), _Identity()], ids=["doubled", "identity"])
def test_affine_graphs_are_bounded_exactly(model):
    net = randomise(model, 0)
    x = torch.tensor([0.2, -0.1, 0.4], dtype=torch.float64)
    form = NetworkBounds(net, x, box=(x - 0.1, x + 0.1)).linear_bounds(torch.eye(3, dtype=torch.float64))
    xs = box_points(x - 0.1, x + 0.1, 1000, 0)
    with torch.no_grad():
        torch.testing.assert_close(net(xs), (xs - x) @ form.A.T + form.c, rtol=0, atol=1e-12)
