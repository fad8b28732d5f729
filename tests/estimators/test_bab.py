"""Branch-and-bound (bab): sound bounds never violated, two-sided coverage, batched bounds, one-line refusals.

The gold suite (``bench.ball_union``) has p exact by geometry; the ReLU gold cases have p by quadrature.
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from scipy import special
from torch import nn

import probust as pb
from probust.bench.ball_union import union_cases
from probust.bench.cases import select_cases
from probust.bounds import NetworkBounds, UnsupportedLayerError
from probust.bounds.batched import BatchedBounds
from probust.cli import main
from probust.errors import ConfigurationError
from probust.estimators import BranchAndBound
from probust.estimators._bab_laws import ProductLaw
from probust.result import BabResult, Result
from probust.vnnlib import read_vnnlib

UNION = union_cases()
RELU = [c for c in select_cases(["relu/*"]) if "/linf/" in c.id or "/gauss/" in c.id]


def gold(case) -> tuple[str, nn.Module, torch.Tensor, object, float, float]:
    """(name, model, x, perturbation, lowest and highest p the gold allows)."""
    if hasattr(case, "failure_probability"):
        p = case.failure_probability
        return case.name, case.model, case.x, case.perturbation, p * (1 - 1e-12), p * (1 + 1e-12)
    inst = case.build()
    return case.id, inst.model, inst.x, inst.perturbation, case.gold.low, case.gold.high


#: Teeth: the sound interval's width relative to p with 4096 boxes is at most this (measured 0.008 to 0.83 in 2
#: to 4 dimensions; 18 to 116 in 5 and 6, where 4096 boxes halve each side only twice; 566 for the sliver, 2e-6
#: thick: thinner than any box, so its boxes stay undecided and only sampling resolves it; 2.6 for the 3-D ReLU net
#: under Gaussian noise, whose partition spans +-8.2 sigma: 4096 boxes leave sides of about 1 sigma).
WIDTH = {"relu/3d-a/gauss/p1e-05": 3.0, "2d-sliver-1e-6": 1000.0, "5d-diamond-1e-9": 30.0, "6d-box-1e-12": 40.0,
         "6d-two-modes-2e-13": 200.0}


@pytest.mark.parametrize("case", UNION + RELU, ids=[gold(c)[0] for c in UNION + RELU])
def test_sound_bounds_hold_on_every_gold_case_and_are_tight(case):
    name, model, x, pert, low, high = gold(case)
    res = BranchAndBound(max_boxes=4096).estimate(model, x, pert, budget=2000, seed=0)
    assert res.sound_low <= high and low <= res.sound_high, (name, res.sound_low, res.sound_high)
    assert res.sound_low <= res.ci.low <= res.failure_probability <= res.ci.high <= res.sound_high
    assert (res.sound_high - res.sound_low) / low < WIDTH.get(name, 1.0), (name, res.sound_low, res.sound_high)
    counts = res.boxes_failing + res.boxes_safe + res.boxes_undecided
    assert counts <= res.diagnostics["bound_evaluations"] <= 4096


COVERAGE = ("2d-box-1e-2", "2d-sliver-1e-6", "2d-two-modes-1e-6", "3d-two-modes-1e-5", "4d-box-1e-6",
            "6d-two-modes-2e-13")


def linear_under_noise(direction, margin: float) -> tuple[nn.Module, torch.Tensor]:
    """Logits (0, w . x' - margin |w|) at x = 0: under x' = sigma t, failure is t . w / |w| > margin / sigma."""
    w = torch.tensor(direction, dtype=torch.float64)
    net = nn.Sequential(nn.Linear(len(w), 2)).double().eval()
    with torch.no_grad():
        net[0].weight.copy_(torch.stack([torch.zeros_like(w), w]))
        net[0].bias.copy_(torch.tensor([0.0, -margin * float(w.norm())]))
    return net, torch.zeros(len(w), dtype=torch.float64)


@pytest.mark.parametrize("s", [4.753424308822899, 7.034483825301131])  # p = 1e-6, 1e-12
def test_a_linear_model_under_gaussian_noise_gets_the_normal_tail(s):
    """p = Phi(-s) exactly (a half-space of a standard normal in 3-D); the sound interval holds it to the
    precision of the masses (products of 1-D normal masses, relative error ~1e-14) plus the tail left out of
    the partition (1e-15 by default). Width < 3 p: measured 2.3 p and 2.7 p with 4096 boxes (the boxes that
    the oblique plane cuts stay undecided; CROWN is exact on a linear model, so only they do)."""
    p = float(special.ndtr(-s))
    model, x = linear_under_noise([1.0, -2.0, 0.5], s * 0.1)
    res = BranchAndBound(max_boxes=4096).estimate(model, x, pb.perturbations.Gaussian(sigma=0.1), budget=2000,
                                                  seed=0)
    tail = res.diagnostics["mass_outside_partition"]
    assert 0 < tail <= 1e-15 and "unbounded" in res.diagnostics["tail_note"]
    assert res.sound_low <= p * (1 + 1e-12) and p * (1 - 1e-12) <= res.sound_high
    assert res.sound_high - res.sound_low < 3 * p and res.ci.contains(p)
    assert res.sound_low <= res.ci.low <= res.failure_probability <= res.ci.high <= res.sound_high


def test_normal_box_masses_are_exact_in_relative_terms_deep_in_both_tails():
    """Phi(b) - Phi(a) against mpmath at 50 digits, masses 1e-16 to 0.5. Theory for the tail formula
    Phi(b) (1 - exp(log Phi(a) - log Phi(b))): each log_ndtr carries a relative error of a few ulp, so the
    relative error is at most ~4 eps (|log Phi(a)| + |log Phi(b)|) / |log Phi(b) - log Phi(a)|."""
    mpmath.mp.dps = 50
    edges = [(-8.16, -8.0), (8.0, 8.16), (-8.16, 8.16), (5.0, 5.5), (-3.0, -2.0), (0.0, 1.0), (-1.0, 0.0),
             (6.0, 6.001)]
    a, b = (torch.tensor(v, dtype=torch.float64) for v in zip(*edges, strict=True))
    mass = ProductLaw.normal(1, 1e-15).mass(a[:, None], b[:, None])
    for (lo, hi), m in zip(edges, mass.tolist(), strict=True):
        exact = mpmath.ncdf(hi) - mpmath.ncdf(lo)
        lo_t, hi_t = (-hi, -lo) if lo >= 0 else (lo, hi)
        logs = [abs(float(mpmath.log(mpmath.ncdf(v)))) for v in (lo_t, hi_t)]
        bound = 4 * 2.0**-52 * sum(logs) / max(abs(logs[0] - logs[1]), 1e-300) + 4 * 2.0**-52
        assert float(abs(m - exact) / exact) <= bound, (lo, hi, m, float(exact))
    assert float(mass[0]) < 1e-15 and float(mass[0]) == pytest.approx(float(mass[1]), rel=1e-14)


def test_a_truncated_gaussian_is_partitioned_on_its_truncation_box():
    """Failure t_1 > 1.5 under N(0, 1) truncated to [-2, 2]^2: p = (Phi(2) - Phi(1.5)) / (Phi(2) - Phi(-2)).

    1.5 is a bisection point of [-2, 2]: every box below it is proven safe, and those above stay undecided (the
    score is 0 on their edge t_1 = 1.5, never above the decision margin), so sound_high is p itself, to the
    precision of the masses."""
    p = float((special.ndtr(2.0) - special.ndtr(1.5)) / (special.ndtr(2.0) - special.ndtr(-2.0)))
    model, x = linear_under_noise([1.0, 0.0], 1.5 * 0.1)
    pert = pb.perturbations.TruncatedGaussian(sigma=0.1, eps=0.2)
    res = BranchAndBound(max_boxes=256).estimate(model, x, pert, budget=2000, seed=0)
    assert "mass_outside_partition" not in res.diagnostics
    assert res.sound_low <= p and res.sound_high == pytest.approx(p, rel=1e-13)
    assert res.ci.low <= p <= res.ci.high * (1 + 1e-13)  # every draw fails: ci.high = sound_high


def test_two_sided_coverage_over_20_seeds():
    """The exact interval covers p in >= 95% of 20 seeds x 6 cases (Clopper-Pearson inside the undecided
    boxes; one partition per case, so the seeds differ only in the draws)."""
    misses = {}
    for c in (c for c in UNION if c.name in COVERAGE):
        est = BranchAndBound(max_boxes=512)
        results = [est.estimate(c.model, c.x, c.perturbation, budget=1000, seed=s) for s in range(20)]
        misses[c.name] = sum(not r.ci.contains(c.failure_probability) for r in results)
        assert all(r.boxes_undecided for r in results)  # the draws, not the bounds, decide the interval
    for case in (c for c in RELU if c.id == "relu/2d-a/gauss/p1e-03"):  # Gaussian: draws by the inverse CDF
        inst = case.build()
        results = [BranchAndBound(max_boxes=64).estimate(inst.model, inst.x, inst.perturbation, budget=1000, seed=s)
                   for s in range(20)]
        misses[case.id] = sum(not (r.ci.low <= case.gold.high and case.gold.low <= r.ci.high) for r in results)
        assert all(r.boxes_undecided for r in results)
    assert sum(misses.values()) <= 0.05 * 20 * len(misses) and max(misses.values()) <= 3, misses


def test_result_is_a_bab_result_that_round_trips_through_json():
    c = UNION[0]
    res = pb.estimate(c.model, c.x, c.perturbation, estimator="bab:max_boxes=256", budget=500, seed=3)
    assert isinstance(res, BabResult) and res.guarantee == "exact" and res.n_queries == 500
    assert Result.from_dict(json.loads(res.to_json())) == res
    assert res.diagnostics["undecided_draws"] == 500 and res.diagnostics["mass_undecided"] > 0


def test_failing_regions_are_boxes_where_every_input_fails():
    c = UNION[3]  # two modes
    res = BranchAndBound(max_boxes=4096).estimate(c.model, c.x, c.perturbation, budget=1, seed=0)
    assert len(res.failing_regions) == 10 and sum(r.mass for r in res.failing_regions) <= res.sound_low
    for region in res.failing_regions:
        lo, hi = torch.tensor(region.lo), torch.tensor(region.hi)
        assert region.mass == pytest.approx(float((hi - lo).prod()))
        with torch.no_grad():
            logits = c.model(lo + (hi - lo) * torch.rand(200, 2, dtype=torch.float64))
        assert bool((logits[:, 1:].amax(1) > logits[:, 0]).all())


@pytest.mark.parametrize("pool, width", [(nn.Identity(), 16), (nn.MaxPool1d(3, stride=2, padding=1), 8)])
def test_batched_bounds_are_crowns_one_box_at_a_time_or_tighter_and_sound(pool, width):
    """Tighter only where IBP beats CROWN on an output row (the batched bound keeps the larger of the two)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Unflatten(1, (1, 16)), pool, nn.Flatten(),
                        nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, 3)).double()
    spec = torch.tensor([[1.0, -1.0, 0.0], [0.0, -1.0, 1.0]], dtype=torch.float64)
    centre, radius = torch.rand(32, 3, dtype=torch.float64), 0.3 * torch.rand(32, 3, dtype=torch.float64)
    lo, hi = centre - radius, centre + radius
    batched = BatchedBounds(net, centre[0])(lo, hi, spec)
    for b in range(len(lo)):
        one = NetworkBounds(net, centre[b], box=(lo[b], hi[b]))
        form = one.linear_bounds(spec)
        assert bool((batched.lower[b] >= one.lower(form.A.flatten(1), form.c) - 1e-12).all())
    points = lo[:, None] + (hi - lo)[:, None] * torch.rand(32, 500, 3, dtype=torch.float64)
    with torch.no_grad():
        assert bool(((net(points.flatten(0, 1)).reshape(32, 500, 3) @ spec.T).amin(1) >= batched.lower).all())
    ibp = BatchedBounds(net, centre[0], "ibp")(lo, hi, spec)
    assert ibp.slopes is None and bool((ibp.lower <= batched.lower + 1e-12).all())


def test_a_box_with_lo_above_hi_is_refused():
    with pytest.raises(ConfigurationError, match="lo > hi"):
        pb.perturbations.Box(lo=[0.0, 1.0], hi=[1.0, 0.5])


def _one_line_error(error, match, *args, **kwargs):
    with pytest.raises(error, match=match) as info:
        BranchAndBound().estimate(*args, budget=10, seed=0, **kwargs)
    assert "\n" not in str(info.value)


def test_too_many_dimensions_are_refused_with_advice():
    model = nn.Sequential(nn.Linear(17, 2)).double().eval()
    _one_line_error(ConfigurationError, "varies in 17 coordinates: use amls", model,
                    torch.zeros(17, dtype=torch.float64), pb.perturbations.UniformLinf(eps=0.1))


@pytest.mark.parametrize("layer", [nn.GELU(), nn.Softmax(dim=1)])
def test_a_layer_the_batched_bounds_do_not_know_is_refused(layer):
    model = nn.Sequential(nn.Linear(2, 4), layer, nn.Linear(4, 2)).double().eval()
    _one_line_error(UnsupportedLayerError, "not support", model, torch.zeros(2, dtype=torch.float64),
                    pb.perturbations.UniformLinf(eps=0.1))


def test_unsupported_laws_properties_and_models_are_refused():
    c = UNION[0]
    _one_line_error(ConfigurationError, "independent coordinates", c.model, c.x,
                    pb.perturbations.TruncatedGaussian(sigma=0.1, eps=0.2, p=2))
    _one_line_error(ConfigurationError, "not linear in the outputs", c.model, c.x, c.perturbation,
                    failure=pb.properties.SoftmaxStability())
    _one_line_error(ConfigurationError, "torch.nn.Module", lambda t: c.model(t), c.x, c.perturbation)
    _one_line_error(ConfigurationError, "BabResult", c.model, c.x, c.perturbation, decompose=True)


def test_an_output_region_union_of_polytopes_is_bounded_polytope_by_polytope():
    """Identity model, failure = triangle (area 0.045) or square (0.04) of the outputs: p = 0.085 exactly."""
    net = nn.Sequential(nn.Linear(2, 2)).double().eval()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
    region = (pb.OutputRegion.polytope([[1, 0], [0, 1], [-1, -1]], [-0.6, -0.6, 1.5])
              | pb.OutputRegion.polytope([[-1, 0], [0, -1]], [0.2, 0.2]))
    res = BranchAndBound(max_boxes=4096).estimate(net, torch.tensor([0.4, 0.4], dtype=torch.float64),
                                                  pb.perturbations.Box(lo=0.0, hi=1.0), failure=region,
                                                  budget=2000, seed=0)
    assert res.sound_low <= 0.085 <= res.sound_high and res.sound_high - res.sound_low < 0.005
    assert res.ci.contains(0.085) and res.boxes_failing and res.boxes_safe


@pytest.mark.parametrize("name", ["maxpool-analytic-4.6e-18", "maxpool-analytic-4.9e-5"])
def test_vnnlib_max_pool_networks_with_exact_p_are_bounded_soundly(name):
    """The ONNX 6-40-maxpool-2 networks of the VNNLIB suite whose p is s^6 / 15 exactly (4.6e-18, 4.86e-5)."""
    suite = Path(pb.__file__).parent / "zoo" / "vnnlib"
    p = json.loads((suite / "index.json").read_text())[name]["failure_probability"]
    (case,) = read_vnnlib(suite / f"{name}.vnnlib")
    res = BranchAndBound(max_boxes=4096).estimate(pb.load_model(suite / f"{name}.onnx"), case.centre().float(),
                                                  case.perturbation(), failure=case.region, budget=5000, seed=0)
    assert res.sound_low <= p <= res.sound_high and res.sound_high / res.sound_low < 20
    assert res.ci.contains(p) and res.ci.high / res.ci.low < 1.2


# -- command line ----------------------------------------------------------------------------------------
SUITE = Path(pb.__file__).parent / "zoo" / "vnnlib"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_results_table_shows_the_sound_bound_next_to_the_interval(capsys):
    name = "maxpool-analytic-4.9e-5"
    code, out, _ = cli(capsys, "evaluate", "--vnnlib", str(SUITE / f"{name}.vnnlib"), "--model",
                       str(SUITE / f"{name}.onnx"), "--estimator", "bab:max_boxes=64", "--budget", "200", "--quiet")
    assert code == 0 and "sound low" in out and "sound high" in out and "hold for the model itself" in out


def linear_onnx(tmp_path: Path, inputs: int, activation: str = "Relu") -> Path:
    """An ONNX Gemm (inputs -> 2) followed by ``activation``."""
    nodes = [helper.make_node("Gemm", ["input", "W"], ["h"], transB=1), helper.make_node(activation, ["h"], ["output"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", inputs])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2])],
                              [numpy_helper.from_array(np.ones((2, inputs), dtype=np.float32), "W")])
    path = tmp_path / f"{activation}-{inputs}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.mark.parametrize("inputs, activation, spec, match", [
    (2, "Relu", "box:lo=1:0,hi=0:1", "lo > hi"),
    (2, "Relu", "box:lo=nan:0,hi=1:1", "lo must be a finite number"),
    (17, "Relu", "uniform-linf:eps=0.1", "varies in 17 coordinates: use amls"),
    (2, "Softmax", "uniform-linf:eps=0.1", "Softmax"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, inputs, activation, spec, match):
    np.save(tmp_path / "x.npy", np.zeros((1, inputs), dtype=np.float32))
    code, _, err = cli(capsys, "evaluate", "--inputs", str(tmp_path / "x.npy"), "--model",
                       str(linear_onnx(tmp_path, inputs, activation)), "--perturbation", spec, "--estimator", "bab",
                       "--budget", "100", "--quiet")
    lines = err.strip().splitlines()  # the error on one line, after one-line warnings (a model on onnxruntime)
    assert code == 2 and match in lines[-1] and lines[-1].startswith("error: "), err
    assert all(line.startswith("warning: ") for line in lines[:-1]), err
