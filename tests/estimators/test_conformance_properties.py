"""The estimator contract on the frontier properties (explanation stability, conformal sets), on cases whose
failure probability is exact: every black-box estimator gives the result schema, the same numbers at any batch
size and the exact value inside its interval; gradient estimators refuse saliency maps (no gradient in the
latent) and white-box bounds refuse properties that are not linear in the outputs.

Gold cases:
- top-1 of gradient x input of a linear model with a dominant class 0, ``|w_i x'_i|``, under uniform L-inf noise
  on two features: failure <=> ``w2 x2' >= w1 x1'``, an area of the square, by quadrature;
- LAC cover and size of a two-class linear model under Gaussian noise: the logit margin ``a . x'`` is normal, and
  both events are intervals of it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

import probust as pb
from probust.estimators import ESTIMATORS

WHITE_BOX = ESTIMATORS.tagged("white-box")
GRADIENT = ESTIMATORS.tagged("needs-gradients")
BLACK_BOX = [cls.demo() for name, cls in ESTIMATORS.items() if name not in WHITE_BOX + GRADIENT]


def _linear(weight, bias) -> torch.nn.Module:
    model = torch.nn.Linear(len(weight[0]), len(weight)).double().eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weight, dtype=torch.float64))
        model.bias.copy_(torch.tensor(bias, dtype=torch.float64))
    return model


def topk_case():
    w1, w2, x, eps = 1.0, 0.9, 0.5, 0.2
    model = pb.Saliency(_linear([[w1, w2], [0.0, 0.0]], [10.0, 0.0]))
    lo, hi = x - eps, x + eps
    # P(w2 U2 >= w1 U1), U1, U2 ~ U[lo, hi]: integrate P(U2 >= w1 t / w2) over t
    inner = lambda t: np.clip((hi - w1 * t / w2) / (hi - lo), 0, 1)  # noqa: E731
    exact = scipy.integrate.quad(inner, lo, hi, points=[w2 * lo / w1, w2 * hi / w1], epsabs=1e-13)[0] / (hi - lo)
    return model, torch.full((2,), x, dtype=torch.float64), pb.perturbations.UniformLinf(eps=eps), \
        pb.ExplanationTopK(1, 1.0), exact


def _margin_case(failure, interval):
    a, x, sigma = np.array([1.0, 2.0]), np.array([0.4, 0.3]), 0.5
    model = _linear([[0.0, 0.0], a.tolist()], [0.0, 0.0])  # logits (0, a . x'): p_1 = sigmoid(a . x')
    law = scipy.stats.norm(a @ x, sigma * np.linalg.norm(a))
    lo, hi = interval
    return model, torch.tensor(x), pb.perturbations.Gaussian(sigma=sigma), failure, law.cdf(hi) - law.cdf(lo)


def cover_case():
    qhat = 0.3  # class 1 (the clean prediction, p_1 = 0.73) leaves the set when p_1 < 0.7: a . x' < logit(0.7)
    return _margin_case(pb.ConformalCover(qhat), (-np.inf, scipy.special.logit(1 - qhat)))


def size_case():
    qhat = 0.6  # both classes are in the set when 0.4 <= p_1 <= 0.6; the clean set holds class 1 alone
    edge = scipy.special.logit(1 - qhat)
    return _margin_case(pb.ConformalSize(qhat), (edge, -edge))


CASES = {"explanation-topk": topk_case, "conformal-cover": cover_case, "conformal-size": size_case}


def run(est, case, **kw):
    model, x, pert, failure, _ = CASES[case]()
    return est.estimate(model, x, pert, failure=failure, **{"budget": 3000, "seed": 11, **kw})


def test_the_gold_values_are_met_by_large_monte_carlo():
    for case in CASES:
        exact = CASES[case]()[-1]
        res = run(ESTIMATORS["mc"](), case, budget=100_000, confidence=0.999)
        assert 0.02 < exact < 0.98 and res.ci.low <= exact <= res.ci.high, (case, exact, res.ci)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("est", BLACK_BOX, ids=lambda e: e.name)
def test_schema_and_same_numbers_at_any_batch_size(est, case, same_numbers):
    results = [run(est, case, batch_size=b) for b in (None, 97)]
    same_numbers(results)
    res = results[0]
    assert pb.Result.from_dict(json.loads(res.to_json())) == res and res.failure.startswith(case)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("est", BLACK_BOX, ids=lambda e: e.name)
def test_the_exact_failure_probability_is_inside_the_interval(est, case):
    # 99.9% intervals: 15 (estimator, case) pairs at 95% would miss one about half the time
    exact = CASES[case]()[-1]
    res = run(est, case, confidence=0.999)
    assert res.ci.low <= exact <= res.ci.high, (exact, res.ci)


@pytest.mark.parametrize("name", GRADIENT)
def test_gradient_estimators_run_on_conformal_sets_and_refuse_saliency_maps(name):
    exact = CASES["conformal-cover"]()[-1]
    res = run(ESTIMATORS[name](), "conformal-cover")
    assert res.ci.low <= exact <= res.ci.high
    with pytest.raises(pb.ProbustError, match="no gradient in the latent"):
        run(ESTIMATORS[name](), "explanation-topk")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", WHITE_BOX)
def test_white_box_bounds_refuse(name, case):
    with pytest.raises(pb.ProbustError):
        run(ESTIMATORS[name](), case)
