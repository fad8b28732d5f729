"""Failure properties and model wrappers."""

from __future__ import annotations

import pytest
import torch

import probust as pb


def test_label_change_counts_ties_as_failures():
    prop = pb.LabelChange(0)
    scores = prop.score(torch.tensor([[1.0, 1.0, 0.0], [2.0, 1.0, 0.0], [0.0, 3.0, 1.0]]))
    assert (scores > 0).tolist() == [True, False, True]


def test_top_k_fails_only_when_k_classes_beat_the_label():
    prop = pb.TopK(k=2, label=0)
    out = torch.tensor([[3.0, 2.0, 1.0], [2.0, 3.0, 1.0], [1.0, 3.0, 2.0]])
    assert (prop.score(out) > 0).tolist() == [False, False, True]


def test_regression_tolerance_is_inclusive():
    prop = pb.RegressionTolerance(0.5).resolve(torch.tensor([[1.0, 2.0]]))
    assert (prop.score(torch.tensor([[1.5, 2.0], [1.0, 2.6]])) > 0).tolist() == [False, True]


def test_softmax_stability_is_stricter_than_label_change():
    noise = torch.randn(2000, 4, generator=torch.Generator().manual_seed(0))
    logits = noise * 0.5 + torch.tensor([1.0, 0.5, 0.0, 0.0])
    clean = torch.tensor([[1.0, 0.5, 0.0, 0.0]])
    strict = pb.SoftmaxStability().resolve(clean).score(logits) > 0
    label = pb.LabelChange().resolve(clean).score(logits) > 0
    assert not (label & ~strict).any()  # every label change is a softmax-stability failure
    assert strict.sum() > label.sum()


def test_normalized_wrapper_matches_manual_normalisation():
    model = pb.zoo.load_model("mnist-cnn")
    wrapped = pb.Normalized(model, mean=[0.5], std=[0.25])
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(wrapped(x), model((x - 0.5) / 0.25))
    with pytest.raises(pb.ConfigurationError):
        pb.Normalized(model, mean=[0.5], std=[0.0])
