"""Split-conformal sets (LAC): qhat is the stated order statistic, coverage holds over repeated calibrations,
the two failure scores' signs are the set rules, and the zoo predictor covers its held-out half."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import probust as pb
from probust.conformal import ConformalCover, ConformalSize, SplitConformal, zoo_conformal


def identity(x):
    return x


def synthetic(n, gen):
    """Logits and labels drawn from the softmax of the logits: a calibrated classifier, exchangeable draws."""
    logits = 2 * torch.randn(n, 5, generator=gen)
    return logits, torch.multinomial(logits.softmax(1), 1, generator=gen).squeeze(1)


def test_qhat_is_the_ceil_n_plus_1_times_1_minus_alpha_order_statistic():
    gen = torch.Generator().manual_seed(0)
    logits, y = synthetic(99, gen)
    pred = SplitConformal.calibrate(identity, logits, y, alpha=0.1)
    scores = np.sort((1 - logits.softmax(1)).gather(1, y[:, None]).squeeze(1).numpy())
    assert pred.qhat == pytest.approx(float(scores[math.ceil(100 * 0.9) - 1]))
    with pytest.raises(pb.ConfigurationError, match="calibration points"):
        SplitConformal.calibrate(identity, logits[:5], y[:5], alpha=0.1)


def test_coverage_over_repeated_calibrations_lies_in_the_conformal_band():
    # E[coverage] is in [1 - alpha, 1 - alpha + 1/(n + 1)); the mean of 200 runs of 200 test points has sd < 0.0015
    gen = torch.Generator().manual_seed(1)
    alpha, n, covers = 0.1, 99, []
    for _ in range(200):
        logits, y = synthetic(n + 200, gen)
        pred = SplitConformal.calibrate(identity, logits[:n], y[:n], alpha)
        covers.append(pred.coverage(identity, logits[n:], y[n:])[0])
    assert 1 - alpha - 0.006 < np.mean(covers) < 1 - alpha + 1 / (n + 1) + 0.006


def test_cover_and_size_scores_are_positive_exactly_on_the_set_rules():
    gen = torch.Generator().manual_seed(2)
    pred = SplitConformal(qhat=0.7, alpha=0.1, n_calibration=100)
    logits = torch.randn(5000, 5, generator=gen)
    member = pred.sets(logits)
    for clean in logits[:20]:
        cover = ConformalCover(pred.qhat).resolve(clean[None])
        assert torch.equal(cover.score(logits) > 0, ~member[:, cover.label])
        size = ConformalSize(pred.qhat).resolve(clean[None])
        assert torch.equal(size.score(logits) > 0, member.sum(1) != size.size)
        assert size.score(clean[None])[0] <= 0


def test_zoo_predictor_covers_its_held_out_half():
    pred, (coverage, size) = zoo_conformal("digits-mlp", alpha=0.1)
    assert pred.n_calibration == 180  # the second half of digits' 359 test images
    assert coverage > 0.9 - 3 * math.sqrt(0.09 / 179)  # binomial sd on 179 held-out points
    assert size > 0


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_sets_equal_mapie_split_conformal_lac_sets(alpha):
    """MAPIE (maintained, scikit-learn-contrib) as the oracle: its SplitConformalClassifier with the LAC score on
    a prefit classifier gives the same set for every test input (a dev dependency only)."""
    pytest.importorskip("mapie")
    from mapie.classification import SplitConformalClassifier
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = x / 16
    clf = LogisticRegression(max_iter=200).fit(x[:600], y[:600])
    oracle = SplitConformalClassifier(estimator=clf, confidence_level=1 - alpha, conformity_score="lac", prefit=True)
    oracle.conformalize(x[600:1200], y[600:1200])
    expected = oracle.predict_set(x[1200:])[1][:, :, 0]

    def model(inputs: torch.Tensor) -> torch.Tensor:  # log-probabilities: their softmax is the classifier's
        return torch.from_numpy(clf.predict_proba(inputs.numpy())).log()

    ours = SplitConformal.calibrate(model, torch.from_numpy(x[600:1200]), torch.from_numpy(y[600:1200]), alpha=alpha)
    assert np.array_equal(ours.sets(model(torch.from_numpy(x[1200:]))).numpy(), expected)
