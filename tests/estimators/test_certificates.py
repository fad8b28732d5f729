"""White-box and PAC certificates (issue 4): Cramér–Chernoff propagation, PROVERO, CC-Cert.

Soundness is checked against closed forms (``probust.bench.linear_case``) and against Monte Carlo
references. A deterministic bound must be >= the true p, hence >= MC's one-sided lower Clopper–Pearson
bound at confidence 1 - 1e-6: each such comparison fails spuriously with probability <= 1e-6. PAC
procedures are run many times; the number of wrong answers (misses) is Binomial(R, q) with q <= delta
when the procedure is sound, so the test allows misses up to the binomial quantile at 1 - 1e-6
(``miss_limit``): a sound procedure fails the test with probability <= 1e-6. Nothing here is tuned.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import probust as pb
from probust.bench import linear_case
from probust.bounds import NetworkBounds, UnsupportedLayerError
from probust.bounds.lipschitz import lipschitz_of_rows
from probust.estimators import CCCert, CramerChernoff, Provero
from probust.estimators.provero import schedule

FALSE_FAILURE = 1e-6


def miss_limit(runs: int, delta: float) -> int:
    """Largest miss count a sound level-delta procedure exceeds with probability <= FALSE_FAILURE."""
    return int(stats.binom.isf(FALSE_FAILURE, runs, delta))


def mc_lower(model, x, pert, budget, seed=0, failure=None) -> float:
    mc = pb.estimators.MonteCarlo(sided="lower").estimate(
        model, x, pert, budget=budget, seed=seed, confidence=1 - FALSE_FAILURE, failure=failure
    )
    return mc.ci.low


def small_net(seed: int, conv: bool = False, margin: float = 0.3) -> nn.Module:
    """Random ReLU net (2-D input, or a 1x3x3 image through Conv2d + BatchNorm) with clean margin ``margin``."""
    g = torch.Generator().manual_seed(seed)
    if conv:
        net = nn.Sequential(nn.Conv2d(1, 2, 2), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
        x = torch.full((1, 3, 3), 0.5)
    else:
        net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
        x = torch.tensor([0.5, 0.5])
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / 2)
        if conv:
            net[1].running_var.uniform_(0.5, 2.0, generator=g)
        net.eval()
        net[-1].bias -= net(x.unsqueeze(0))[0] - torch.tensor([margin, 0.0, -1.0])
    return net, x


# -- Cramér–Chernoff ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["gaussian", "uniform-l2", "uniform-linf"])
@pytest.mark.parametrize("dim, p", [(1, 1e-2), (2, 1e-3), (16, 1e-2), (100, 1e-4)])
def test_cramer_chernoff_is_above_the_closed_form(family, dim, p):
    case = linear_case(family, dim, p, seed=dim)
    for law in ("exact", "chernoff"):
        res = CramerChernoff(law=law).estimate(case.model, case.x, case.perturbation, budget=1)
        assert res.failure_probability >= case.failure_probability
        assert res.bound_kind == "deterministic" and res.n_queries == 0 and res.ci.sided == "upper"


def test_cramer_chernoff_is_tight_in_one_dimension():
    """In 1-D the norm tail is P(|delta| >= m / |w|) = 2 p for symmetric noise: the bound has teeth."""
    for family in ("gaussian", "uniform-l2"):
        case = linear_case(family, 1, 1e-3, seed=0)
        res = CramerChernoff().estimate(case.model, case.x, case.perturbation, budget=1)
        assert case.failure_probability <= res.failure_probability <= 2 * case.failure_probability * (1 + 1e-6)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("conv", [False, True])
def test_lipschitz_constants_bound_every_gradient(seed, conv):
    net, x = small_net(seed, conv)
    rows = torch.tensor([[1.0, -1.0, 0.0], [1.0, 0.0, -1.0]], dtype=torch.float64)
    box = (x.double() - 0.2, x.double() + 0.2)
    for region in (None, box):
        lip, sens, _ = lipschitz_of_rows(net, x, rows, region)
        lo, hi = box if region is not None else (x.double() - 3, x.double() + 3)
        z = (lo + (hi - lo) * torch.rand((2000, *x.shape), generator=torch.Generator().manual_seed(seed)))
        z.requires_grad_(True)
        out = net.double()(z) @ rows.T
        for i in range(len(rows)):
            (grad,) = torch.autograd.grad(out[:, i].sum(), z, retain_graph=True)
            grad = grad.flatten(1)
            assert (grad.norm(dim=1) <= lip[i]).all() and (grad.abs() <= torch.from_numpy(sens[i])).all()
        net.float()


def test_lipschitz_reuses_the_callers_bounds():
    net, x = small_net(0)
    rows = torch.tensor([[1.0, -1.0, 0.0]], dtype=torch.float64)
    box = (x.double() - 0.2, x.double() + 0.2)
    network = NetworkBounds(net, x, box=box)
    shared, alone = lipschitz_of_rows(net, x, rows, network=network), lipschitz_of_rows(net, x, rows, box)
    assert (shared[0] == alone[0]).all() and (shared[1] == alone[1]).all() and shared[2] == alone[2]
    with pytest.raises(ValueError, match="either"):
        lipschitz_of_rows(net, x, rows, box, network=network)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("pert", [pb.perturbations.Gaussian(sigma=0.05),
                                  pb.perturbations.Gaussian(sigma=0.1, clip=(0.0, 0.6)),
                                  pb.perturbations.UniformLinf(eps=0.1),
                                  pb.perturbations.UniformLinf(eps=0.2, clip=(0.0, 0.55)),
                                  pb.perturbations.UniformL2(eps=0.15),
                                  pb.perturbations.TruncatedGaussian(sigma=0.1, eps=0.15),
                                  pb.perturbations.TruncatedGaussian(sigma=0.1, eps=0.2, p=2)])
def test_cramer_chernoff_is_never_below_monte_carlo(seed, pert):
    for conv in (False, True):
        net, x = small_net(seed, conv)
        res = CramerChernoff().estimate(net, x, pert, budget=1)
        assert res.failure_probability >= mc_lower(net, x, pert, 100_000, seed), (conv, res.diagnostics)


def test_cramer_chernoff_bounds_some_small_net_non_trivially():
    bounds = [CramerChernoff().estimate(*small_net(s), pb.perturbations.UniformLinf(eps=0.05), budget=1)
              .failure_probability for s in range(3)]
    assert min(bounds) < 0.5


@pytest.mark.parametrize("name, dataset, eps", [("digits-mlp", "digits", 0.03), ("mnist-mlp", "mnist", 0.01)])
def test_cramer_chernoff_on_zoo_models_is_sound(name, dataset, eps):
    model = pb.zoo.load_model(name)
    x, _ = pb.zoo.load_dataset(dataset, split="test")[3]
    pert = pb.perturbations.UniformLinf(eps=eps, clip=(0, 1))
    res = CramerChernoff().estimate(model, x, pert, budget=1)
    assert res.failure_probability >= mc_lower(model, x, pert, 50_000)
    global_ = CramerChernoff(local=False).estimate(model, x, pert, budget=1)
    assert global_.diagnostics["radius"] <= res.diagnostics["radius"]  # dead neurons only tighten


def test_cramer_chernoff_regression_tolerance():
    net, x = small_net(0)
    pert = pb.perturbations.Gaussian(sigma=0.02)
    failure = pb.properties.RegressionTolerance(tolerance=0.1)
    res = CramerChernoff().estimate(net, x, pert, budget=1, failure=failure)
    assert res.failure_probability < 1
    assert res.failure_probability >= mc_lower(net, x, pert, 100_000, failure=failure)


@pytest.mark.parametrize(
    "model, pert, failure, error, match",
    [
        (nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 3)).eval(), pb.perturbations.UniformLinf(eps=0.1),
         None, UnsupportedLayerError, "Sigmoid"),
        (lambda xb: xb @ torch.ones(2, 3), pb.perturbations.UniformLinf(eps=0.1), None, pb.ConfigurationError,
         "torch.nn.Module"),
        (small_net(0)[0], pb.perturbations.UniformLinf(eps=0.1), pb.properties.TopK(k=2), pb.ConfigurationError,
         "top-k"),
    ],
)
def test_cramer_chernoff_rejects_what_it_cannot_bound(model, pert, failure, error, match):
    with pytest.raises(error, match=match):
        CramerChernoff().estimate(model, torch.tensor([0.5, 0.5]), pert, budget=1, failure=failure)


# -- PROVERO --------------------------------------------------------------------------------------------

def test_provero_reproduces_the_readme_sample_count():
    case = linear_case("uniform-linf", 16, 1e-12, seed=1)  # no failures in practice
    res = Provero(theta=0.1, eta=0.01).estimate(case.model, case.x, case.perturbation, budget=10_000,
                                                confidence=0.99, seed=0)
    assert isinstance(res, pb.CertifyResult) and res.bound_kind == "pac"
    assert (res.decision, res.n_queries, res.ci.high) == ("robust", 144, 0.1)
    assert res.diagnostics["decision"] == "robust" and res.diagnostics["n_samples"] == 144


def test_provero_schedule_fits_the_paper_delta_split():
    for theta, eta in [(0.1, 0.01), (0.01, 0.001), (0.5, 0.05), (0.3, 0.1), (0.02, 0.01)]:
        n = 3 + max(0, np.log2(theta / eta)) + max(0, np.log2((1 - theta - eta) / eta))
        assert len(schedule(theta, eta)) <= n


@pytest.mark.parametrize("p, wrong", [(0.299, "not robust"), (0.401, "robust")])
def test_provero_errs_no_more_often_than_delta(p, wrong):
    """Just outside the indifference zone (p <= theta = 0.3, p > theta + eta = 0.4) the wrong answer has probability
    <= delta; over 150 runs the wrong answers must stay under the binomial limit (false failure 1e-6)."""
    case = linear_case("uniform-linf", 16, p, seed=2)
    delta, runs = 0.3, 150
    est = Provero(theta=0.3, eta=0.1)
    answers = [est.estimate(case.model, case.x, case.perturbation, budget=100_000, confidence=1 - delta,
                            seed=s).decision for s in range(runs)]
    assert answers.count("undecided") == 0
    assert answers.count(wrong) <= miss_limit(runs, delta)


def test_provero_is_undecided_without_budget_and_validates():
    case = linear_case("uniform-linf", 16, 0.2, seed=1)
    res = Provero().estimate(case.model, case.x, case.perturbation, budget=100, seed=0)
    assert res.decision == "undecided" and res.n_queries == 0 and (res.ci.low, res.ci.high) == (0.0, 1.0)
    for kwargs, match in [({"theta": 1.5}, "theta"), ({"eta": 0}, "eta"), ({"theta": 0.95, "eta": 0.1}, "theta")]:
        with pytest.raises(pb.ConfigurationError, match=match):
            Provero(**kwargs)


# -- CC-Cert --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.02, 0.2])
def test_cc_cert_covers_at_its_level_over_repeated_runs(p):
    case = linear_case("uniform-linf", 16, p, seed=3)
    delta, runs = 0.1, 200
    bounds = [CCCert().estimate(case.model, case.x, case.perturbation, budget=500, confidence=1 - delta, seed=s)
              for s in range(runs)]
    misses = sum(b.failure_probability < case.failure_probability for b in bounds)
    assert misses <= miss_limit(runs, delta)
    assert all(b.bound_kind == "pac" and b.ci.high == b.failure_probability for b in bounds)


def test_cc_cert_softmax_statistic_is_sound_on_a_zoo_model():
    model = pb.zoo.load_model("digits-mlp")
    x, _ = pb.zoo.load_dataset("digits", split="test")[0]
    pert = pb.perturbations.UniformLinf(eps=0.3, clip=(0, 1))
    failure = pb.SoftmaxStability()
    res = CCCert().estimate(model, x, pert, budget=5000, confidence=1 - FALSE_FAILURE, seed=1, failure=failure)
    # false failure <= 1e-6 (CC-Cert) + 1e-6 (MC reference)
    assert res.failure_probability >= mc_lower(model, x, pert, 100_000, seed=2, failure=failure)
    assert res.diagnostics["threshold"] > 0 and 0 <= res.diagnostics["plug_in_bound"] <= 1


@pytest.mark.parametrize("kwargs, match", [({"t_min": 0}, "t_min"), ({"t_max": 1e4}, "t_max"),
                                           ({"t_steps": 0}, "t_steps"), ({"scale": -1.0}, "scale")])
def test_cc_cert_validates_its_grid(kwargs, match):
    with pytest.raises(pb.ConfigurationError, match=match):
        CCCert(**kwargs)


def test_cc_cert_counts_recompute_a_binomial_interval():
    """CC-Cert keeps its i.i.d. counts; its own method is not binomial, so interval() falls back to exact."""
    case = linear_case("uniform-linf", 16, 0.02, seed=3)
    res = CCCert().estimate(case.model, case.x, case.perturbation, budget=500, seed=0)
    ci = res.interval()
    assert ci.method == "clopper-pearson" and ci.confidence == res.ci.confidence
    assert ci == pb.binomial_ci(res.diagnostics["n_failures"], res.diagnostics["n_samples"], res.ci.confidence,
                                sided=res.ci.sided)
