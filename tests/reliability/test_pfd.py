"""pfd from per-input estimates: the bound is conservative on synthetic campaigns whose truth is known, the
conservative counting rules hold, and the Chernoff-KL bound is exact where it must be.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from probust import ConfigurationError, binomial_ci
from probust import reliability as rel
from probust.metrics import OperationalProfile

#: Synthetic scenarios (probust.reliability.synthetic): profile, fragile share per cell, and the test set's shares.
SCENARIOS = {
    "shifted test set": dict(op_probabilities=[0.4, 0.3, 0.2, 0.1], fragile_share=[0.02, 0.05, 0.1, 0.3],
                             input_shares=[0.25, 0.25, 0.25, 0.25]),
    "rare hard failures": dict(op_probabilities=[0.5, 0.3, 0.2], fragile_share=[0.001, 0.003, 0.01],
                               fragile_law=(4.0, 1.0)),
    "no profile, one cell": dict(op_probabilities=[1.0], fragile_share=[0.05]),
}
REPS = 200


def _misses_allowed(reps: int, confidence: float) -> int:
    """Misses a bound exactly at nominal coverage exceeds with probability < 1e-3 (the test's false alarm rate)."""
    return int(stats.binom.ppf(1 - 1e-3, reps, 1 - confidence))


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("confidence", [0.8, 0.95])
def test_bound_covers_the_true_pfd_at_the_stated_rate(name, confidence):
    """Over REPS synthetic campaigns, the upper bound is >= the truth and the lower bound <= it at >= confidence."""
    kwargs = dict(SCENARIOS[name])
    single = len(kwargs["op_probabilities"]) == 1
    misses_upper = misses_lower = 0
    for seed in range(REPS):
        camp = rel.synthetic_campaign(**kwargs, n_inputs=600, seed=seed)
        cells, profile = (None, None) if single else (camp.cells, camp.profile)
        est = rel.operational_pfd(camp.failure_probabilities, cells, profile, confidence=confidence)
        misses_upper += est.upper < camp.truth
        misses_lower += est.lower > camp.truth
    allowed = _misses_allowed(REPS, confidence)
    print(f"{name} at {confidence}: upper bound covers {1 - misses_upper / REPS:.3f}, "
          f"lower {1 - misses_lower / REPS:.3f}")
    assert misses_upper <= allowed and misses_lower <= allowed


def test_unvisited_and_undecided_mass_count_as_failing():
    profile = OperationalProfile(np.zeros((3, 0)), np.array([500.0, 300.0, 200.0]))
    y = np.zeros(200)
    cells = np.repeat([0, 1], 100)  # cell 2 (mass 0.2) has no evaluated input
    undecided = np.zeros(200, bool)
    undecided[:10] = True  # 10% of cell 0 (mass 0.5)
    est = rel.operational_pfd(y, cells, profile, undecided=undecided)
    assert est.unvisited_mass == pytest.approx(0.2) and est.undecided_mass == pytest.approx(0.05)
    assert est.pfd == pytest.approx(0.2 + 0.05) and est.cells[2].failure_rate == 1.0 and est.cells[0].undecided == 10
    assert est.upper >= est.pfd >= est.lower


def test_the_bound_is_the_exact_zero_failure_bound_for_one_cell():
    est = rel.operational_pfd(np.zeros(1000), confidence=0.95)
    assert est.upper == pytest.approx(binomial_ci(0, 1000, 0.95, sided="upper").high, rel=1e-12)
    assert est.floor == est.upper and est.lower == 0


def test_kl_bound_is_never_below_clopper_pearson_on_bernoulli_data():
    """For 0/1 data the KL bound relaxes the exact binomial one (Chernoff), so it can only be looser."""
    for k in (0, 1, 5, 50, 500):
        kl = rel.kl_upper_bound(k / 1000, 1000, 0.05)
        assert kl >= binomial_ci(k, 1000, 0.95, sided="upper").high - 1e-12


def test_posterior_method_reuses_the_bayesian_bootstrap():
    camp = rel.synthetic_campaign(**SCENARIOS["shifted test set"], seed=1)
    est = rel.operational_pfd(camp.failure_probabilities, camp.cells, camp.profile, method="posterior")
    assert est.ci.sided == "upper" and est.pfd < est.upper < 1 and "bootstrap" in est.ci.method
    assert est.to_dict()["ci"]["high"] == est.upper  # JSON-serialisable


def test_profile_cells_are_fitted_and_counted_on_disjoint_data():
    feats = np.random.default_rng(0).normal(size=(800, 3))
    profile = rel.fit_profile(feats, n_cells=5, seed=0)
    assert profile.counts.sum() == 600  # three quarters count, one quarter fits
    with pytest.raises(ConfigurationError):
        rel.fit_profile(feats[:10], n_cells=5)


@pytest.mark.parametrize("bad", [dict(failure_probabilities=[0.1, 1.2]), dict(failure_probabilities=[]),
                                 dict(failure_probabilities=[0.1], method="normal"),
                                 dict(failure_probabilities=[0.1], cells=[0])])
def test_bad_input_is_a_clear_error(bad):
    with pytest.raises(ConfigurationError):
        rel.operational_pfd(**bad)


def test_redundancy_formula_against_a_simulated_1oo2_system():
    """pfd_1oo2 = E_OP[theta_A theta_B]: simulate demands with an independent perturbation per channel."""
    rng = np.random.default_rng(0)
    difficulty = rng.beta(0.3, 3.0, 500)  # shared difficulty makes the channels' failures correlated
    theta_a, theta_b = difficulty, np.clip(1.5 * difficulty, 0, 1)
    red = rel.one_out_of_two(theta_a, theta_b)
    demands = 2_000_000
    x = rng.integers(0, 500, demands)
    both = (rng.random(demands) < theta_a[x]) & (rng.random(demands) < theta_b[x])
    sd = np.sqrt(red.pfd * (1 - red.pfd) / demands)
    assert abs(both.mean() - red.pfd) < 4 * sd  # false alarm < 1e-4
    assert red.ratio > 1.5 and red.independent == pytest.approx(theta_a.mean() * theta_b.mean())
    # from Monte Carlo estimates with independent noise the product is unbiased: its mean over campaigns is the truth
    products = [np.mean(rng.binomial(200, theta_a) / 200 * rng.binomial(200, theta_b) / 200) for _ in range(400)]
    assert abs(np.mean(products) - red.pfd) < 4 * np.std(products) / np.sqrt(400)


def test_every_public_name_resolves():
    import probust

    assert all(getattr(probust.reliability, name) is not None for name in probust.reliability.__all__)
    with pytest.raises(AttributeError):
        probust.reliability.no_such_name  # noqa: B018
