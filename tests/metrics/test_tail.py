"""Tail risk measures against closed forms and their ordering."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from probust import ConfigurationError
from probust.metrics import cvar, evar, prob_acc, value_at_risk


def test_cvar_is_the_mean_of_the_worst_fraction():
    v = np.arange(1, 101, dtype=float)  # 1..100
    assert value_at_risk(v, 0.1) == 90.0
    assert cvar(v, 0.1) == pytest.approx(np.mean(v[-10:]))
    assert cvar(v, 1.0) == pytest.approx(v.mean())


def test_weights_act_like_repetitions():
    v, w = np.array([0.0, 1.0, 5.0]), np.array([2, 1, 1])
    rep = np.array([0.0, 0.0, 1.0, 5.0])
    for f in (value_at_risk, cvar, evar):
        assert f(v, 0.3, w) == pytest.approx(f(rep, 0.3))


def test_evar_of_a_bernoulli_matches_the_closed_form():
    # L ~ Bernoulli(p): EVaR = inf_z (1/z) log((1 - p + p e^z) / alpha), solved independently here
    p, alpha = 0.05, 0.1
    v, w = np.array([0.0, 1.0]), np.array([1 - p, p])
    f = lambda z: math.log((1 - p + p * math.exp(z)) / alpha) / z  # noqa: E731
    expected = optimize.minimize_scalar(f, bounds=(1e-6, 200), method="bounded", options={"xatol": 1e-12}).fun
    assert evar(v, alpha, w) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.5])
def test_var_cvar_evar_max_are_ordered(alpha):
    v = np.random.default_rng(0).beta(0.5, 5, size=2000)
    var, c, e = value_at_risk(v, alpha), cvar(v, alpha), evar(v, alpha)
    assert var <= c + 1e-12 <= e + 2e-12 <= v.max() + 3e-12


def test_prob_acc_counts_inputs_under_the_threshold():
    assert prob_acc([0.0, 0.01, 0.2, 0.5], 0.05) == 0.5


@pytest.mark.parametrize("args", [([], 0.1), ([1.0, np.nan], 0.1), ([1.0], 0.0), ([1.0], 1.5)])
def test_bad_arguments_raise(args):
    with pytest.raises(ConfigurationError):
        cvar(*args)
