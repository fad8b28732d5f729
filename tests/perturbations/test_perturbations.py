"""Each perturbation samples exactly the law it claims (Kolmogorov-Smirnov tests against scipy).

Every KS test uses a p-value threshold of 1e-6 on fixed seeds: the chance that a correct sampler
fails one of them is 1e-6 per test; a wrong law with 20,000 samples fails with near certainty.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from probust import ConfigurationError, InputError
from probust.perturbations import (
    Gaussian,
    TruncatedGaussian,
    UniformL2,
    UniformLinf,
    parse_perturbation,
)
from probust.querying import LatentStream

KS_P = 1e-6
N = 20_000
ALL = [
    UniformLinf(eps=0.1),
    UniformL2(eps=0.5),
    Gaussian(sigma=0.2),
    TruncatedGaussian(sigma=0.2, eps=0.3),
    TruncatedGaussian(sigma=0.2, eps=0.3, p=2),
    UniformLinf(eps=0.1, clip=(0.0, 1.0)),
]


def draw(pert, x_shape=(3, 4, 4), n=N, seed=0, dtype=torch.float64):
    x = torch.zeros(x_shape, dtype=dtype)
    z = pert.sample_latent(n, x_shape, np.random.default_rng(seed))
    return (pert.apply(x, z) - x).flatten(1).numpy()


def ks(sample, cdf) -> float:
    return stats.kstest(sample, cdf).pvalue


def test_uniform_linf_is_uniform_on_the_box():
    d = draw(UniformLinf(eps=0.1))
    assert np.abs(d).max() <= 0.1
    assert ks(d[:, 0], stats.uniform(-0.1, 0.2).cdf) > KS_P
    assert ks(d[:, 17], stats.uniform(-0.1, 0.2).cdf) > KS_P


@pytest.mark.parametrize("dim", [2, 48])
def test_uniform_l2_is_uniform_in_the_ball(dim):
    eps = 0.5
    d = draw(UniformL2(eps=eps), x_shape=(dim,))
    r = np.linalg.norm(d, axis=1)
    assert r.max() <= eps * (1 + 1e-12)
    assert ks((r / eps) ** dim, stats.uniform.cdf) > KS_P  # P(|delta| <= r) = (r / eps)^d
    a = (dim + 1) / 2  # projection on a fixed direction: (1 + t) / 2 ~ Beta(a, a)
    assert ks((1 + d[:, 0] / eps) / 2, stats.beta(a, a).cdf) > KS_P


def test_gaussian_is_normal():
    d = draw(Gaussian(sigma=0.2))
    assert ks(d[:, 5], stats.norm(0, 0.2).cdf) > KS_P


def test_truncated_gaussian_linf_matches_scipy_truncnorm():
    d = draw(TruncatedGaussian(sigma=0.2, eps=0.3))
    assert np.abs(d).max() <= 0.3
    assert ks(d[:, 3], stats.truncnorm(-1.5, 1.5, scale=0.2).cdf) > KS_P


@pytest.mark.parametrize("dim", [3, 48])
def test_truncated_gaussian_l2_radius_is_truncated_chi(dim):
    sigma, eps = 0.2, 0.15 * math.sqrt(dim)
    d = draw(TruncatedGaussian(sigma=sigma, eps=eps, p=2), x_shape=(dim,))
    r = np.linalg.norm(d, axis=1) / sigma
    a = eps / sigma
    assert r.max() <= a * (1 + 1e-9)
    cdf = lambda t: special.gammainc(dim / 2, np.minimum(t, a) ** 2 / 2) / special.gammainc(dim / 2, a * a / 2)  # noqa: E731
    assert ks(r, cdf) > KS_P
    # rotation invariance: the direction is uniform, so the first coordinate is symmetric
    assert abs(np.mean(d[:, 0] > 0) - 0.5) < 5 * 0.5 / math.sqrt(N)


@pytest.mark.parametrize("pert", ALL, ids=lambda p: p.to_spec())
def test_apply_is_differentiable_in_the_latent(pert):
    x = torch.full((2, 3), 0.5, dtype=torch.float64)
    z = pert.sample_latent(4, x.shape, np.random.default_rng(1)).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: pert.apply(x, z), (z,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("pert", ALL, ids=lambda p: p.to_spec())
def test_spec_round_trip(pert):
    assert parse_perturbation(pert.to_spec()) == pert


def test_log_prob_of_the_latent_base_laws():
    z = torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = stats.norm.logpdf(z.flatten(1).numpy()).sum(1)
    np.testing.assert_allclose(Gaussian(sigma=1.0).log_prob(z).numpy(), expected, rtol=1e-12)
    u = torch.rand(4, 3)
    u[3, 1] = 1.5
    assert UniformLinf(eps=0.1).log_prob(u).tolist() == [0.0, 0.0, 0.0, -math.inf]


@pytest.mark.parametrize("pert", ALL, ids=lambda p: p.to_spec())
def test_latent_from_normal_gives_the_same_law(pert):
    """Gaussian-space estimators drive every family through latent_from_normal: same law of x'."""
    x = torch.zeros(6, dtype=torch.float64)
    g = torch.randn((N, *pert.latent_shape(x.shape)), generator=torch.Generator().manual_seed(3))
    via_normal = (pert.apply(x, pert.latent_from_normal(g)) - x)[:, 0].numpy()
    direct = draw(pert, x_shape=(6,), seed=4)[:, 0]
    assert stats.ks_2samp(via_normal, direct).pvalue > KS_P


def test_clip_is_applied_and_inputs_outside_clip_are_rejected():
    pert = UniformLinf(eps=0.3, clip=(0.0, 1.0))
    x = torch.full((10,), 0.9)
    xp = pert.apply(x, pert.sample_latent(1000, x.shape, np.random.default_rng(0)))
    assert xp.max() == 1.0 and xp.min() >= 0.6 - 1e-6
    with pytest.raises(InputError, match="clip"):
        pert.check_input(torch.full((10,), 1.5))
    pert.check_input(torch.full((10,), 1.0 + 1e-7))  # float32 round-off is tolerated


@pytest.mark.parametrize(
    "spec, match",
    [
        ("uniform-linf:eps=-0.1", "eps must be"),
        ("uniform-linf:eps=0", "eps must be"),
        ("uniform-linf:eps=nan", "eps must be"),
        ("blur:eps=0.1", "unknown perturbation"),
        ("uniform-linf", "incomplete"),
        ("uniform-linf:eps=abc", "not a number"),
        ("uniform-linf:sigma=0.1", "bad parameter"),
        ("uniform-linf:eps=0.1,clip=1:0", "clip"),
        ("truncated-gaussian:sigma=1,eps=1,p=1", "p must be one of 2, inf"),
        ("uniform-linf:eps=0.1,clip=0", "pair"),
        ("uniform-linf:eps=0.1,clip=0:1:2", "pair"),
        ("gaussian:sigma=0.1,sigma=0.2", "given twice"),
    ],
)
def test_bad_specs_are_rejected_with_a_clear_message(spec, match):
    """Every bad spec raises ConfigurationError (the CLI's exit code 2), never a bare ValueError."""
    with pytest.raises(ConfigurationError, match=match):
        parse_perturbation(spec)


def test_latent_stream_does_not_depend_on_request_sizes():
    pert = UniformL2(eps=1.0)
    whole = LatentStream(pert, (7,), entropy=123).take(1000)
    stream = LatentStream(pert, (7,), entropy=123)
    pieces = torch.cat([stream.take(k) for k in (1, 255, 256, 300, 188)])
    assert torch.equal(whole, pieces)
    assert not torch.equal(whole, LatentStream(pert, (7,), entropy=124).take(1000))


def test_spec_tolerates_spaces():
    assert parse_perturbation(" uniform-linf : eps=0.1 , clip=0:1") == UniformLinf(eps=0.1, clip=(0, 1))
