"""Operational-profile weighting: known cells, known rates, and the zoo CNN's feature space."""

from __future__ import annotations

import numpy as np
import pytest

import probust as pb
from probust.metrics import OperationalProfile, penultimate_features, weighted_pfd


def test_weighted_pfd_is_the_profile_weighted_mean_of_cell_rates():
    profile = OperationalProfile(centres=np.array([[0.0], [10.0]]), counts=np.array([900.0, 100.0]))
    cells = profile.assign(np.array([[0.1], [0.2], [9.0], [11.0]]))
    assert cells.tolist() == [0, 0, 1, 1]
    est = weighted_pfd([0.0, 0.02, 0.5, 0.3], cells, profile, n_bootstrap=500)
    assert est.pfd == pytest.approx(0.9 * 0.01 + 0.1 * 0.4)
    assert est.unweighted == pytest.approx(0.205)
    assert est.ci.low <= est.pfd <= est.ci.high and est.empty_cells == ()


def test_unvisited_cells_count_as_failing():
    profile = OperationalProfile(centres=np.array([[0.0], [10.0]]), counts=np.array([50.0, 50.0]))
    est = weighted_pfd([0.0, 0.0], np.array([0, 0]), profile, n_bootstrap=200)
    assert est.empty_cells == (1,) and est.pfd == pytest.approx(0.5)


def test_profile_on_the_zoo_cnn_features():
    model = pb.zoo.load_model("mnist-cnn")
    train, test = pb.zoo.load_dataset("mnist", "train"), pb.zoo.load_dataset("mnist", "test")
    profile = OperationalProfile.fit(penultimate_features(model, train.x[:1000]), n_cells=10, seed=0)
    cells = profile.assign(penultimate_features(model, test.x[:200]))
    assert profile.probabilities.sum() == pytest.approx(1.0) and set(cells) <= set(range(10))
    # cells in the model's feature space follow the classes: most inputs share their cell's majority class
    y = test.y[:200].numpy()
    purity = sum(np.bincount(y[cells == c]).max() for c in set(cells)) / len(y)
    assert purity > 0.8
