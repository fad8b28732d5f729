"""The hard landscapes of probust.bench.landscapes: exact values against plain Monte Carlo and the grid's targets.

Each builder is built at an easy target (p ~ 1e-2 .. 1e-3), sampled 2e5 times directly with torch (float64
latents from the perturbation's own law, pushed through ``perturbation.apply``, failure = a label change of
the model's prediction at x), and its exact p and every part must lie in the 99.9% Clopper-Pearson interval of
the counts (fixed seeds: the outcome is deterministic). The default grid is checked for its targets only.
"""

from __future__ import annotations

import math

import pytest
import torch

from probust import binomial_ci
from probust.bench.landscapes import (
    LANDSCAPES,
    Landscape,
    comb_1d,
    equal_modes,
    get_landscape,
    gradient_trap,
    landscape_grid,
    plateau,
    rough_1d,
    thin_slab,
)

N_SAMPLES = 200_000
CHUNK = 50_000

EASY = {
    "equal-modes-d20": (lambda: equal_modes(20, 1e-2), 1e-2),
    "equal-modes-d200": (lambda: equal_modes(200, 2e-3), 2e-3),
    "gradient-trap": (lambda: gradient_trap(20, 1e-2, major_share=0.9), 1e-2),
    "rough-gaussian": (lambda: rough_1d(1e-2), 1e-2),
    "rough-uniform": (lambda: rough_1d(1e-2, kind="uniform"), 1e-2),
    "comb": (lambda: comb_1d(1e-3, n_teeth=5, width=1e-3), 1e-3),
    "plateau": (lambda: plateau(20, 1e-2), 1e-2),
    "plateau-linf": (lambda: plateau(20, 1e-2, kind="uniform"), 1e-2),
    "thin-slab": (lambda: thin_slab(64, 1e-2, width_sd=0.1), 1e-2),
}


def clean_logits(land: Landscape) -> torch.Tensor:
    with torch.no_grad():
        return land.model(land.x.unsqueeze(0))[0]


def winners(land: Landscape, n: int, seed: int) -> torch.Tensor:
    """The winning class of n perturbed inputs drawn i.i.d. from the perturbation law (0 = no failure)."""
    gen = torch.Generator().manual_seed(seed)
    shape = (CHUNK, *land.perturbation.latent_shape(land.x.shape))
    draw = torch.rand if land.perturbation.latent_law == "uniform" else torch.randn
    out = []
    with torch.no_grad():
        for _ in range(n // CHUNK):
            z = draw(shape, generator=gen, dtype=torch.float64)
            logits = land.model(land.perturbation.apply(land.x, z))
            rivals = logits[:, 1:].max(dim=1)
            out.append(torch.where(rivals.values > logits[:, 0], rivals.indices + 1, 0))
    return torch.cat(out)


@pytest.mark.parametrize("case", list(EASY))
def test_exact_value_agrees_with_monte_carlo(case: str) -> None:
    build, target = EASY[case]
    land = build()
    p = land.failure_probability
    assert p == pytest.approx(target, rel=1e-6)
    assert sum(land.parts.values()) == pytest.approx(p, rel=1e-9)
    logits = clean_logits(land)
    assert int(logits.argmax()) == 0 and float(logits[1:].max() - logits[0]) < 0

    won = winners(land, N_SAMPLES, seed=sum(map(ord, case)))
    ci = binomial_ci(int((won > 0).sum()), N_SAMPLES, confidence=0.999)
    assert ci.contains(p), (case, p, ci)
    for cls, part in land.parts.items():
        ci = binomial_ci(int((won == cls).sum()), N_SAMPLES, confidence=0.999)
        assert ci.contains(part), (case, cls, part, ci)


def test_equal_modes_have_equal_parts() -> None:
    land = equal_modes(20, 1e-6)
    assert land.parts[1] == land.parts[2] == pytest.approx(land.failure_probability / 2, rel=1e-12)


def test_trap_parts_follow_the_major_share() -> None:
    land = gradient_trap(20, 1e-6, major_share=0.99)
    # A wins nearly all of its own mass: both fail only with probability q_A q_B ~ 1e-14
    assert land.parts[1] == pytest.approx(0.99 * land.failure_probability, rel=1e-6)
    assert sum(land.parts.values()) == pytest.approx(land.failure_probability, rel=1e-10)


@pytest.mark.parametrize("name", list(LANDSCAPES))
def test_grid_hits_its_targets(name: str) -> None:
    land = get_landscape(name)
    assert land.name == name and land.kind == name.split("/")[0] and land.dim == land.x.numel()
    target = float(name.split("/")[2][1:])
    assert land.failure_probability == pytest.approx(target, rel=1e-6)
    assert sum(land.parts.values()) == pytest.approx(land.failure_probability, rel=1e-9)
    logits = clean_logits(land)
    assert int(logits.argmax()) == 0 and float(logits[1:].max() - logits[0]) < 0


def test_quick_grid_takes_the_two_easiest_of_each_kind() -> None:
    quick = landscape_grid(quick=True)
    kinds = {name.split("/")[0] for name in LANDSCAPES}
    assert set(quick) <= set(landscape_grid()) and len(quick) == 2 * len(kinds)
    assert "equal-modes/d20/p1e-4" in quick and "equal-modes/d200/p1e-10" not in quick


def test_rough_landscape_has_many_thin_failure_intervals() -> None:
    land = get_landscape("rough/d1/p1e-7")
    wiggle = land.model.score[1]
    t = torch.linspace(wiggle.c - wiggle.amplitude, wiggle.c + wiggle.amplitude, 200_001, dtype=torch.float64)
    fails = wiggle(t) > 0
    assert int((fails[1:] & ~fails[:-1]).sum()) >= 8  # separate failure intervals entered along the line
    assert math.isfinite(land.failure_probability)


def test_builders_reject_impossible_targets() -> None:
    with pytest.raises(ValueError, match="plateau"):
        plateau(20, 0.2, plateau_mass=0.9)
    with pytest.raises(ValueError, match="teeth"):
        comb_1d(1e-2)
    with pytest.raises(ValueError, match="slab"):
        thin_slab(8, 1e-2, width_sd=0.01)
