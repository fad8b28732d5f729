"""Probabilistic Lipschitzness on a linear model, where the probability is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from probust import ConfigurationError
from probust.metrics import probabilistic_lipschitz
from probust.perturbations import UniformL2


def test_linear_model_matches_the_closed_form():
    # f(x) = w . x: |f(x) - f(x')| / |delta| = |w| |cos theta| with delta's direction uniform on the sphere,
    # and (1 + cos theta) / 2 ~ Beta((d-1)/2, (d-1)/2). So P(ratio <= k) = P(|cos| <= k / |w|).
    d = 10
    w = torch.randn(d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = torch.nn.Linear(d, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(w)
    k = 0.4 * float(w.norm())
    a = (d - 1) / 2
    exact = stats.beta.cdf((1 + 0.4) / 2, a, a) - stats.beta.cdf((1 - 0.4) / 2, a, a)
    inputs = torch.rand(50, d, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    est = probabilistic_lipschitz(model, inputs, UniformL2(eps=0.3), k, n_pairs=20_000, confidence=1 - 1e-6)
    assert est.ci.contains(exact)
    assert est.ratio_quantiles["q0.999"] <= float(w.norm()) * (1 + 1e-9)  # never above the true constant
    full = probabilistic_lipschitz(model, inputs, UniformL2(eps=0.3), float(w.norm()) * 1.0001, n_pairs=2000)
    assert full.probability == 1.0 and np.isclose(full.ci.high, 1.0)


def test_bad_k_raises():
    with pytest.raises(ConfigurationError):
        probabilistic_lipschitz(torch.nn.Linear(2, 1), torch.zeros(3, 2), UniformL2(eps=0.1), k=0)
