"""PROVEN certificates: sound on closed-form and Monte Carlo references, exact law tighter than Hoeffding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import probust as pb
from probust.bench import linear_case
from probust.bounds import UnsupportedLayerError
from probust.estimators import Proven

# Rounding every term down to a grid of 2^19 cells lowers the sum by at most d h; for these cases that
# inflates the bound by well under 5% (measured 0.1-1.7%), while soundness demands bound >= truth.
EXACT_SLACK = 1.05


@pytest.mark.parametrize("dim, p", [(20, 1e-3), (100, 1e-6)])
def test_exact_law_brackets_the_closed_form_for_uniform_linf(dim, p):
    case = linear_case("uniform-linf", dim, p, seed=0)
    exact = Proven().estimate(case.model, case.x, case.perturbation, budget=1)
    hoeffding = Proven(law="hoeffding").estimate(case.model, case.x, case.perturbation, budget=1)
    truth = case.failure_probability
    assert truth <= exact.failure_probability <= EXACT_SLACK * truth
    assert exact.failure_probability <= hoeffding.failure_probability
    assert exact.bound_kind == "deterministic" and exact.ci.sided == "upper" and exact.n_queries == 0


@pytest.mark.parametrize("dim, p", [(100, 1e-6), (784, 1e-9)])
def test_exact_law_is_the_closed_form_for_the_l2_ball(dim, p):
    case = linear_case("uniform-l2", dim, p, seed=0)
    res = Proven().estimate(case.model, case.x, case.perturbation, budget=1)
    assert res.failure_probability == pytest.approx(case.failure_probability, rel=1e-6)


def small_relu_net(seed: int, margin: float = 0.3) -> nn.Module:
    """A random 2-32-32-3 ReLU net whose clean margin at (0.5, 0.5) is ``margin``: failures are not rare."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / 2)
        net[-1].bias -= net(torch.tensor([[0.5, 0.5]]))[0] - torch.tensor([margin, 0.0, -1.0])
    return net.eval()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pert", [pb.perturbations.UniformLinf(eps=0.05),
                                  pb.perturbations.UniformLinf(eps=0.1),
                                  pb.perturbations.TruncatedGaussian(sigma=0.05, eps=0.1),
                                  pb.perturbations.UniformLinf(eps=0.1, clip=(0.0, 0.55))])
def test_bounds_are_never_below_what_monte_carlo_proves(seed, pert):
    """A deterministic bound must be >= the true p, hence >= MC's lower confidence bound at 1 - 1e-6
    (so this test fails spuriously with probability <= 1e-6 per case). Here p is 1e-3 to 0.3 and the
    exact-law bound is often within a few percent of it, so the check has teeth."""
    net = small_relu_net(seed)
    x = torch.tensor([0.5, 0.5])
    mc = pb.estimators.MonteCarlo(sided="lower").estimate(net, x, pert, budget=200_000, seed=seed,
                                                          confidence=1 - 1e-6)
    for law in ("exact", "hoeffding"):
        for relaxation in ("crown", "alpha-crown"):
            bound = Proven(law=law, relaxation=relaxation).estimate(net, x, pert, budget=1)
            assert bound.failure_probability >= mc.ci.low, (law, relaxation, bound.failure_probability, mc.ci)


def test_deterministic_certificate_gives_exactly_zero():
    model = pb.zoo.load_model("digits-mlp")
    x, _ = pb.zoo.load_dataset("digits")[2]
    res = Proven().estimate(model, x, pb.perturbations.UniformLinf(eps=0.005, clip=(0, 1)), budget=1)
    assert res.failure_probability == 0.0 and res.pr == 1.0


def test_zoo_bound_is_sound_and_exact_is_tighter_than_hoeffding():
    model = pb.zoo.load_model("digits-mlp")
    x, _ = pb.zoo.load_dataset("digits")[2]
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    exact = Proven().estimate(model, x, pert, budget=1).failure_probability
    hoeffding = Proven(law="hoeffding").estimate(model, x, pert, budget=1).failure_probability
    mc = pb.estimators.MonteCarlo(sided="lower").estimate(model, x, pert, budget=20_000, seed=0,
                                                          confidence=1 - 1e-6)
    assert mc.ci.low <= exact < hoeffding


def test_alpha_crown_is_never_looser_and_tightens_a_zoo_bound():
    """Each class keeps the smaller of its CROWN and alpha-CROWN terms, so alpha-CROWN never loses; on this
    input (digits-mlp, eps 0.1: 49 unstable neurons) it must also win, or the optimisation does nothing."""
    model = pb.zoo.load_model("digits-mlp")
    x, _ = pb.zoo.load_dataset("digits")[2]
    pert = pb.perturbations.UniformLinf(eps=0.1, clip=(0, 1))
    crown = Proven().estimate(model, x, pert, budget=1)
    alpha = Proven(relaxation="alpha-crown").estimate(model, x, pert, budget=1)
    for j, term in alpha.diagnostics["per_class_bounds"].items():
        assert term <= crown.diagnostics["per_class_bounds"][j]
    assert alpha.failure_probability < crown.failure_probability
    assert alpha.diagnostics["relaxation"] == "alpha-crown"


def test_relaxation_is_validated():
    with pytest.raises(pb.ConfigurationError, match="relaxation must be one of crown, alpha-crown"):
        Proven(relaxation="beta-crown")


@pytest.mark.parametrize(
    "model, pert, error, match",
    [
        (small_relu_net(0), pb.perturbations.Gaussian(sigma=0.1), pb.ConfigurationError, "bounded noise"),
        (lambda xb: xb @ torch.ones(2, 3), pb.perturbations.UniformLinf(eps=0.1), pb.ConfigurationError,
         "torch.nn.Module"),
        (nn.Sequential(nn.Linear(2, 4), nn.GELU(), nn.Linear(4, 3)).eval(), pb.perturbations.UniformLinf(eps=0.1),
         UnsupportedLayerError, "GELU"),
        (small_relu_net(0), pb.perturbations.UniformL2(eps=0.1, clip=(0, 1)), pb.ConfigurationError, "unclipped"),
    ],
)
def test_unsupported_inputs_raise_clear_errors(model, pert, error, match):
    with pytest.raises(error, match=match):
        Proven().estimate(model, torch.tensor([0.5, 0.5]), pert, budget=1)
    assert issubclass(error, pb.ProbustError)


def pooled_net(seed: int) -> nn.Module:
    """6 inputs, 40 ReLUs, a 1-D max-pool of 4, 2 outputs (the issue's verification-benchmark shape)."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 40), nn.ReLU(), nn.MaxPool1d(4), nn.Linear(10, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / 2)
    return net.eval()


def regions(net: nn.Module, pert) -> dict[str, pb.OutputRegion]:
    """A half-space, a polyhedron and a union with failure probabilities near 0.1, 0.1 and 0.1: thresholds at
    quantiles of 4,000 outputs drawn with their own seed, so the bounds are tested where they have teeth."""
    x = torch.full((6,), 0.5)
    z = pert.sample_latent(4000, x.shape, np.random.default_rng(99))
    with torch.no_grad():
        y = net(pert.apply(x, z)).double()
    d = y[:, 1] - y[:, 0]
    q = lambda t, level: float(t.quantile(level))  # noqa: E731
    return {
        "y1-y0>=t": pb.OutputRegion.halfspace([-1.0, 1.0], -q(d, 0.9)),
        "y0>=a & y1<=b": pb.OutputRegion.polytope([[1.0, 0.0], [0.0, -1.0]], [-q(y[:, 0], 0.6), q(y[:, 1], 0.4)]),
        "y0-y1>=s | y1-y0>=t": pb.OutputRegion.halfspace([1.0, -1.0], q(d, 0.05))
        | pb.OutputRegion.halfspace([-1.0, 1.0], -q(d, 0.95)),
    }


BOXES = [pb.perturbations.UniformLinf(eps=(0.01, 0.02, 0.03, 0.04, 0.05, 0.06)),
         pb.perturbations.Box(lo=(0.48, 0.49, 0.46, 0.5, 0.44, 0.49), hi=(0.52, 0.5, 0.51, 0.5, 0.56, 0.54))]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("region", ["y1-y0>=t", "y0>=a & y1<=b", "y0-y1>=s | y1-y0>=t"])
@pytest.mark.parametrize("pert", BOXES, ids=lambda p: p.name)
def test_linear_output_properties_on_a_max_pool_net_are_sound(seed, region, pert):
    """As above (1 - 1e-6 lower limits of MC from 200,000 samples), for half-spaces, a polyhedron and a union,
    through a max-pool layer, with per-coordinate radii and a fixed box (one zero-width coordinate)."""
    net, x = pooled_net(seed), torch.full((6,), 0.5)
    failure = regions(net, pert)[region]
    mc = pb.estimators.MonteCarlo(sided="lower").estimate(net, x, pert, budget=200_000, seed=seed,
                                                          confidence=1 - 1e-6, failure=failure)
    bound = Proven().estimate(net, x, pert, budget=1, failure=failure)
    assert bound.failure_probability >= mc.ci.low
    assert len(bound.diagnostics["per_polytope_bounds"]) == len(failure.polytopes)


def test_properties_not_linear_in_the_outputs_are_refused():
    with pytest.raises(pb.ConfigurationError, match="not linear"):
        Proven().estimate(pooled_net(0), torch.zeros(6), pb.perturbations.UniformLinf(eps=0.1), budget=1,
                          failure=pb.SoftmaxStability())
