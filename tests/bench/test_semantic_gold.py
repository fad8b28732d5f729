"""The semantic suite's gold values: re-derived from each family's own closed form, and met by Monte Carlo
through probust's real ``grid_sample`` / blur code (which is what makes the constructions exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

import probust as pb
from probust.bench.cases import CASES, load_suite

SUITE = load_suite("semantic")["cases"]


def closed_form(p: dict) -> float:
    """p from the family's formula: every read is 0.5 + 0.1 (...) and fails iff it is <= t."""
    spec, t = p["perturbation"], p["threshold"]
    k = (t - 0.5) / 0.1
    if p["image"] == "tilted-ramp":  # 0.1 cos(theta) + 0.001 sin(theta) = r cos(theta - phi) <= t - 0.5
        r, phi = math.hypot(0.1, 0.001), math.degrees(math.atan2(0.001, 0.1))
        a = math.degrees(math.acos((t - 0.5) / r))
        return special.ndtr(-(phi + a) / 5) + special.ndtr((phi - a) / 5)
    if spec == "rotation:deg=30":  # cos(theta) <= k, theta ~ U[-30, 30] degrees
        return 1 - math.degrees(math.acos(k)) / 30
    if spec == "rotation:deg=5,law=normal":
        return 2 * special.ndtr(-math.degrees(math.acos(k)) / 5)
    if spec == "translation:px=2":  # -dx <= k, dx ~ U[-2, 2]
        return (2 + k) / 4
    if spec == "translation:px=2,interpolation=nearest":  # reads column 0 iff dx >= 1.5
        return 0.5 / 4
    if spec == "scaling:factor=0.3":  # 1 / s <= k
        return (1.3 - 1 / k) / 0.6
    if spec == "brightness:delta=0.2,clip=0:1":  # b <= t - 0.5
        return (t - 0.5 + 0.2) / 0.4
    if spec == "brightness:delta=0.05,law=normal":
        return stats.norm(0, 0.05).cdf(t - 0.5)
    if spec == "contrast:factor=0.3":  # c <= k
        return (k - 0.7) / 0.6
    if spec == "gaussian-blur:sigma=1":  # centre weight^2 <= t, decreasing in s ~ U[0, 1]
        j = np.arange(-3, 4)
        s = optimize.brentq(lambda s: np.exp(-0.5 * (j / s) ** 2).sum() ** -2.0 - t, 1e-3, 1.0, xtol=1e-15)
        return 1 - s
    if spec == "compose(rotation:deg=30;brightness:delta=0.05)":  # 0.1 cos(theta) + b <= t - 0.5
        f = lambda th: np.clip((t - 0.5 - 0.1 * np.cos(np.radians(th)) + 0.05) / 0.1, 0, 1)  # noqa: E731
        return integrate.quad(f, -30, 30, epsabs=1e-15, limit=200)[0] / 60
    raise AssertionError(f"no closed form for {spec}")


@pytest.mark.parametrize("record", SUITE, ids=lambda r: r["id"])
def test_gold_is_the_closed_form(record):
    g = record["gold"]
    assert closed_form(record["params"]) == pytest.approx(g["value"], rel=1e-9, abs=0)
    assert CASES[record["id"]].suite == "semantic"


@pytest.mark.parametrize("record", [r for r in SUITE if r["gold"]["value"] >= 1e-2], ids=lambda r: r["id"])
def test_monte_carlo_through_the_real_resampling_meets_the_gold(record):
    """Exact 1 - 1e-4 interval of 20,000 samples: a false failure has probability 1e-4 per case."""
    inst = CASES[record["id"]].build()
    res = pb.estimate(inst.model, inst.x, inst.perturbation, budget=20_000, confidence=1 - 1e-4, seed=3)
    assert res.ci.low <= record["gold"]["value"] <= res.ci.high, (res.ci, record["gold"])
