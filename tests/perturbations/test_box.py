"""Boxes: per-coordinate radii of uniform-linf and the fixed box [lo, hi] (VNNLIB input sets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from probust import ConfigurationError, InputError
from probust.perturbations import Box, UniformLinf, parse_perturbation

KS_P = 1e-6  # a correct sampler fails one KS test with probability 1e-6

CASES = [UniformLinf(eps=(0.1, 0.2, 0.3)), UniformLinf(eps=np.array([0.5, 0.25, 1 / 3]), clip=(0, 1)),
         Box(lo=(0.0, -1.0, 0.25), hi=(0.5, 1.0, 0.25)), Box(lo=-1.0, hi=(1.0, 2.0, 3.0)),
         Box(lo=(0.1, 0.2, 0.3), hi=(0.1 + 1e-12, 0.7, 0.30000000000000004))]


@pytest.mark.parametrize("pert", CASES, ids=lambda p: p.to_spec())
def test_spec_round_trip_is_exact(pert):
    assert parse_perturbation(pert.to_spec()) == pert


def test_each_coordinate_is_uniform_on_its_own_interval():
    x = torch.tensor([0.3, 0.0, 0.25], dtype=torch.float64)
    for pert, (lo, hi) in [(CASES[0], (x - torch.tensor([0.1, 0.2, 0.3]).double(), x + torch.tensor([0.1, 0.2, 0.3]))),
                           (CASES[2], (torch.tensor([0.0, -1.0, 0.25]), torch.tensor([0.5, 1.0, 0.25])))]:
        z = pert.sample_latent(20_000, x.shape, np.random.default_rng(0))
        xs = pert.apply(x, z).numpy()
        for i in range(3):
            assert lo[i] <= xs[:, i].min() and xs[:, i].max() <= hi[i]
            if hi[i] > lo[i]:
                assert stats.kstest(xs[:, i], stats.uniform(float(lo[i]), float(hi[i] - lo[i])).cdf).pvalue > KS_P
            else:
                assert (xs[:, i] == float(lo[i])).all()  # a zero-width coordinate is held fixed


def test_box_with_lo_above_hi_is_refused_naming_the_coordinate():
    with pytest.raises(ConfigurationError, match=r"lo > hi at 1 coordinate\(s\), first at 1"):
        Box(lo=(0.0, 2.0), hi=(1.0, 1.0))
    with pytest.raises(ConfigurationError, match="lo > hi"):
        parse_perturbation("box:lo=1:1,hi=0:2")


@pytest.mark.parametrize("bad", [dict(eps=(0.1, -0.1)), dict(eps=()), dict(eps=(0.1, float("nan")))])
def test_bad_radii_are_refused(bad):
    with pytest.raises(ConfigurationError):
        UniformLinf(**bad)


def test_length_mismatch_and_outside_reference_are_input_errors():
    with pytest.raises(InputError, match="3 per-coordinate values but the input has 2"):
        UniformLinf(eps=(0.1, 0.2, 0.3)).check_input(torch.zeros(2))
    with pytest.raises(InputError, match="outside the box"):
        Box(lo=(0.0, 0.0), hi=(1.0, 1.0)).check_input(torch.tensor([0.5, 1.5]))
