"""Semantic families: their conventions (direction, centre, borders), exactness where bilinear resampling is
exact (affine images), the laws of their parameters, differentiability, spec strings and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from probust import ConfigurationError, InputError
from probust.perturbations import (
    Brightness,
    Compose,
    Contrast,
    Gaussian,
    GaussianBlur,
    Rotation,
    Scaling,
    Translation,
    parse_perturbation,
)
from probust.perturbations._semantic import pad

KS_P = 1e-6
ALL = [
    Rotation(deg=30),
    Rotation(deg=10, law="normal", border="reflection"),
    Translation(px=2.5),
    Translation(px=1.5, law="normal", border="border"),
    Scaling(factor=0.2),
    Scaling(factor=0.1, law="normal"),
    Brightness(delta=0.2, clip=(0.0, 1.0)),
    Contrast(factor=0.3),
    Contrast(factor=0.2, law="normal"),
    GaussianBlur(sigma=1.5),
    GaussianBlur(sigma=1.0, border="zeros"),
    Compose(parts=(Rotation(deg=15), Brightness(delta=0.2))),
    Compose(parts=(Rotation(deg=10), Gaussian(sigma=0.05))),
]


def ramp(size: int = 7, slope: float = 0.1, dtype=torch.float64) -> torch.Tensor:
    """An image affine in the column offset from the centre: 0.5 + slope (col - centre)."""
    cols = torch.arange(size, dtype=dtype) - (size - 1) / 2
    return (0.5 + slope * cols).expand(1, size, size).clone()


def latent(p, value: float | list[float], n: int = 1) -> torch.Tensor:
    """A uniform latent that gives the parameter ``value`` (uniform laws: a = size (2u - 1))."""
    size = getattr(p, p.size_field)
    return ((torch.as_tensor(value, dtype=torch.float64) / size + 1) / 2).reshape(1, -1).expand(n, -1)


def test_rotation_turns_counter_clockwise_about_the_centre():
    x = torch.zeros(1, 5, 5, dtype=torch.float64)
    x[0, 2, 3] = 1.0  # right of the centre
    out = Rotation(deg=90).apply(x, latent(Rotation(deg=90), 90.0))[0, 0]
    assert out[1, 2] == pytest.approx(1.0, abs=1e-12) and out.sum() == pytest.approx(1.0, abs=1e-12)  # now above


@pytest.mark.parametrize("shape", [(1, 7, 7), (1, 7, 11), (7, 11)])
def test_bilinear_warps_are_exact_on_affine_images(shape):
    """Bilinear interpolation reproduces affine images, so inside the image the warp is the exact formula."""
    h, w = shape[-2:]
    cols = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    rows = torch.arange(h, dtype=torch.float64)[:, None] - (h - 1) / 2
    x = (0.5 + 0.03 * cols + 0.02 * rows).expand(shape).clone()
    th = math.radians(20)
    xr = Rotation(deg=30).apply(x, latent(Rotation(deg=30), 20.0))[0].reshape(h, w)
    # out(p) = x(F^-1 p), F^-1 = [[cos, -sin], [sin, cos]] on (col, row)
    src_c, src_r = math.cos(th) * cols - math.sin(th) * rows, math.sin(th) * cols + math.cos(th) * rows
    inside = (src_c.abs() <= (w - 1) / 2) & (src_r.abs() <= (h - 1) / 2)
    torch.testing.assert_close(xr[inside], (0.5 + 0.03 * src_c + 0.02 * src_r)[inside], rtol=0, atol=1e-12)
    xt = Translation(px=2).apply(x, latent(Translation(px=2), [0.7, -1.2]))[0].reshape(h, w)
    inside = ((cols - 0.7).abs() <= (w - 1) / 2) & ((rows + 1.2).abs() <= (h - 1) / 2)
    torch.testing.assert_close(xt[inside], (0.5 + 0.03 * (cols - 0.7) + 0.02 * (rows + 1.2)).expand(h, w)[inside],
                               rtol=0, atol=1e-12)
    xs = Scaling(factor=0.5).apply(x, latent(Scaling(factor=0.5), 0.25))[0].reshape(h, w)  # s = 1.25: in(p / s)
    torch.testing.assert_close(xs, (0.5 + (0.03 * cols + 0.02 * rows) / 1.25), rtol=0, atol=1e-12)


def test_nearest_translation_moves_by_whole_pixels_and_borders_follow_grid_sample():
    x = ramp(5)
    t = Translation(px=2, interpolation="nearest")
    out = t.apply(x, latent(t, [1.3, 0.0]))[0, 0, 0]  # content 1.3 px right: reads column round(c - 1.3)
    assert out[1:].tolist() == pytest.approx(x[0, 0, :4].tolist()) and out[0] == 0.0  # zeros border
    out = Translation(px=2, border="border").apply(x, latent(t, [2.0, 0.0]))[0, 0, 0]
    assert out[:3].tolist() == pytest.approx([0.3, 0.3, 0.3])


@pytest.mark.parametrize("border, numpy_mode", [("zeros", "constant"), ("border", "edge"), ("reflection", "symmetric")])
def test_padding_matches_numpy_modes(border, numpy_mode):
    x = torch.arange(12.0).reshape(1, 3, 4)
    for r in (1, 3, 9):  # wider than the image too
        got = pad(x, 2, r, border).numpy()
        assert np.array_equal(got, np.pad(x.numpy(), [(0, 0), (0, 0), (r, r)], mode=numpy_mode))


def test_blur_at_zero_width_is_the_identity_and_keeps_mass_inside():
    x = torch.zeros(1, 11, 11, dtype=torch.float64)
    x[0, 5, 5] = 1.0
    b = GaussianBlur(sigma=1.0, border="zeros")
    same = b.apply(x, torch.zeros(1, 1, dtype=torch.float64))[0]
    torch.testing.assert_close(same, x, rtol=0, atol=0)
    out = b.apply(x, torch.ones(1, 1, dtype=torch.float64))[0, 0]
    k = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    k /= k.sum()
    np.testing.assert_allclose(out[2:9, 2:9].numpy(), np.outer(k, k), rtol=1e-12)
    assert float(out.sum()) == pytest.approx(1.0, abs=1e-12)


def test_brightness_and_contrast_are_the_stated_maps():
    x = ramp(5)
    assert torch.allclose(Brightness(delta=0.2).apply(x, latent(Brightness(delta=0.2), -0.15))[0], x - 0.15)
    c = Contrast(factor=0.5)
    assert torch.allclose(c.apply(x, latent(c, 0.25))[0], 0.5 + 1.25 * (x - 0.5))  # the ramp's mean is 0.5
    assert Brightness(delta=0.3, clip=(0.0, 1.0)).apply(x, latent(Brightness(delta=0.3), 0.3)).max() == 1.0


@pytest.mark.parametrize(
    "pert, sample, cdf",
    [
        (Rotation(deg=30), lambda p, z: p.amount(z[:, 0]), stats.uniform(-30, 60).cdf),
        (Rotation(deg=10, law="normal"), lambda p, z: p.amount(z[:, 0]), stats.norm(0, 10).cdf),
        (Scaling(factor=0.2), lambda p, z: p.multiplier(z[:, 0]), stats.uniform(0.8, 0.4).cdf),
        (Contrast(factor=0.2, law="normal"), lambda p, z: p.multiplier(z[:, 0]), stats.lognorm(0.2).cdf),
        (GaussianBlur(sigma=2.0), lambda p, z: 2.0 * z[:, 0], stats.uniform(0, 2).cdf),
    ],
    ids=lambda v: v.to_spec() if hasattr(v, "to_spec") else "",
)
def test_parameter_laws(pert, sample, cdf):
    z = pert.sample_latent(20_000, (1, 5, 5), np.random.default_rng(0)).double()
    assert stats.kstest(sample(pert, z).numpy(), cdf).pvalue > KS_P


@pytest.mark.parametrize("pert", ALL, ids=lambda p: p.to_spec())
def test_spec_round_trip(pert):
    assert parse_perturbation(pert.to_spec()) == pert


@pytest.mark.parametrize("pert", ALL, ids=lambda p: p.to_spec())
def test_apply_is_differentiable_in_the_latent(pert):
    x = torch.rand(1, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.5 + 0.25
    z = pert.sample_latent(3, x.shape, np.random.default_rng(1)).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: pert.apply(x, z), (z,), eps=1e-7, atol=1e-5)


@pytest.mark.parametrize("pert", ALL, ids=lambda p: p.to_spec())
def test_latent_from_normal_gives_the_same_law(pert):
    x = ramp(5)
    g = torch.randn((20_000, *pert.latent_shape(x.shape)), generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64)
    via_normal = pert.apply(x, pert.latent_from_normal(g))[:, 0, 2, 3].numpy()
    direct = pert.apply(x, pert.sample_latent(20_000, x.shape, np.random.default_rng(4)).double())[:, 0, 2, 3]
    assert stats.ks_2samp(via_normal, direct.numpy()).pvalue > KS_P


def test_compose_latent_is_the_concatenation_of_independent_parts():
    c = parse_perturbation("compose(rotation:deg=30;brightness:delta=0.2)")
    assert c.latent_law == "uniform" and c.latent_shape((1, 5, 5)) == (2,)
    x, z = ramp(5), torch.tensor([[0.8, 0.1]], dtype=torch.float64)
    expected = Brightness(delta=0.2).apply(Rotation(deg=30).apply(x, z[:, :1])[0], z[:, 1:])
    torch.testing.assert_close(c.apply(x, z), expected)
    mixed = Compose(parts=(Rotation(deg=30), Gaussian(sigma=0.1)))
    assert mixed.latent_law == "normal" and mixed.latent_shape((1, 5, 5)) == (26,)
    nested = Compose(parts=(c, Contrast(factor=0.1)))
    assert len(nested.parts) == 3 and parse_perturbation(nested.to_spec()) == nested


def test_a_rotation_of_a_vector_input_is_a_clear_input_error():
    with pytest.raises(InputError, match=r"rotation transforms images.*shape \(784,\).*\(1, 28, 28\)"):
        Rotation(deg=30).check_input(torch.zeros(784))
    Brightness(delta=0.1).check_input(torch.zeros(784))  # brightness needs no image
    with pytest.raises(TypeError, match="not additive"):
        Rotation(deg=30).displacement(torch.zeros(1, 1), (1, 5, 5))


@pytest.mark.parametrize(
    "spec, match",
    [
        ("rotation:deg=-30", "deg must be"),
        ("rotation:deg=0", "deg must be"),
        ("rotation", "incomplete"),
        ("rotation:deg=30,law=cauchy", "law must be one of"),
        ("rotation:deg=30,border=wrap", "border must be one of"),
        ("translation:px=2,interpolation=bicubic", "interpolation must be one of"),
        ("scaling:factor=1.2", "factor < 1"),
        ("contrast:factor=1", "factor < 1"),
        ("gaussian-blur:sigma=1,law=normal", "law=uniform only"),
        ("compose(rotation:deg=15;box:lo=0,hi=1)", "move with x"),
        ("compose(rotation:deg=15", "bad compose spec"),
        ("compose(rotation:deg=15;compose(brightness:delta=0.1))", "no nesting"),
        ("compose(rotation:deg=15;blur:sigma=1)", "unknown perturbation"),
    ],
)
def test_bad_specs_are_rejected_with_a_clear_message(spec, match):
    with pytest.raises(ConfigurationError, match=match):
        parse_perturbation(spec)


def test_lipschitzness_refuses_non_additive_families():
    from probust.metrics.lipschitz import probabilistic_lipschitz

    with pytest.raises(ConfigurationError, match="additive noise"):
        probabilistic_lipschitz(torch.nn.Flatten(), torch.zeros(3, 1, 5, 5), Rotation(deg=3), 1.0)


def test_zoo_mnist_inputs_are_images_the_families_accept():
    import probust as pb

    x, _ = pb.zoo.load_dataset("mnist", split="test")[0]
    assert tuple(x.shape) == (1, 28, 28)
    for pert in ALL:
        pert.check_input(x)
        z = pert.sample_latent(4, x.shape, np.random.default_rng(0))
        assert pert.apply(x, z).shape == (4, 1, 28, 28)


@pytest.mark.parametrize("spec", ["rotation:deg=30", "rotation:deg=30,border=border",
                                  "rotation:deg=30,border=reflection", "rotation:deg=30,interpolation=nearest",
                                  "translation:px=3", "scaling:factor=0.2"])
def test_warps_equal_kornia_under_the_same_conventions(spec):
    """kornia (maintained; a dev dependency only) as the oracle: rotate / translate / scale about the image centre
    with align_corners=False sample the same pixel positions. Both compute the sample coordinates (magnitude ~14 px)
    in float64 by different products, so they differ by a few ulp, ~3e-14 px; bilinear interpolation is
    1-Lipschitz in the coordinates for pixel values in [0, 1]: 1e-13 bounds the difference."""
    kornia = pytest.importorskip("kornia")
    warp = parse_perturbation(spec)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(4, 2, 11, 14, generator=gen, dtype=torch.float64)  # odd and even sides, non-square
    z = torch.rand(4, warp.n_params, generator=gen, dtype=torch.float64)
    options = {"mode": warp.interpolation, "align_corners": False}
    transform = kornia.geometry.transform
    if warp.name == "rotation":
        expected = transform.rotate(images, warp.amount(z[:, 0]), padding_mode=warp.border, **options)
    elif warp.name == "translation":  # (dx, dy) in pixels, content moved right and down
        expected = transform.translate(images, warp.amount(z), padding_mode=warp.border, **options)
    else:
        factor = warp.multiplier(z[:, 0])[:, None].expand(4, 2).contiguous()
        expected = transform.scale(images, factor, padding_mode=warp.border, **options)
    torch.testing.assert_close(warp.push(images, z), expected, rtol=0, atol=1e-13)
