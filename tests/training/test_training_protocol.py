"""The PRBench protocol on a model whose answers are known exactly, and the leaderboard's Pareto front."""

from __future__ import annotations

import math

import pytest
import torch

from probust.training import evaluate_protocol
from probust.training.leaderboard import _front_cell, _mark_front, _mark_separated
from probust.zoo import load_dataset


class _Constant(torch.nn.Module):
    """Always predicts class 0, whatever the input (a dummy parameter keeps .parameters() non-empty)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        logits = torch.zeros(len(x), 10) + 0 * self.w
        logits[:, 0] = 1 + 0 * x.flatten(1).sum(1)  # depends on x, so attacks get a (zero) gradient
        return logits


def test_a_constant_classifier_has_pr_one_and_ar_equal_to_clean_accuracy():
    data = load_dataset("digits", "test")
    res = evaluate_protocol(_Constant(), load_dataset("digits", "train"), data, 0.1, mc_samples=20, n_pr=60,
                            n_ar=60, restarts=2, strong_steps=5)
    share0 = float((data.y == 0).float().mean())
    assert res.clean_accuracy == pytest.approx(share0)
    for r in res.pr:
        assert r.pr == 1.0 and r.high == 1.0 and r.low < 1.0  # an interval, not a point
        assert r.n_inputs == int((data.y[:60] == 0).sum())
        assert r.prob_acc["0.05"] == pytest.approx(float((data.y[:60] == 0).float().mean()))
        assert r.prob_acc_certified["0.01"] == 0.0  # 20 samples cannot certify 1%
    assert res.ar_pgd20 == res.ar_strong == pytest.approx(float((data.y[:60] == 0).float().mean()))
    assert res.ge_pr == 0.0 and [r.eps for r in res.pr] == [0.03, 0.08, 0.10, 0.12, 0.15]
    assert math.isfinite(res.seconds) and res.hardware["cpu_count"] >= 1


def test_pareto_front_marks_the_non_dominated_methods():
    def row(name, pr, ar, clean):
        return {"method": name, "pr_train": (pr, 0), "ar_strong": (ar, 0), "clean": (clean, 0)}

    rows = [row("a", 0.9, 0.5, 0.99), row("b", 0.95, 0.4, 0.98), row("c", 0.89, 0.5, 0.98), row("d", 0.9, 0.5, 0.99)]
    _mark_front(rows)
    assert [r["front"] for r in rows] == [True, True, False, True]  # ties do not dominate each other


def test_a_front_member_is_within_noise_unless_its_intervals_separate_it_from_every_other_method():
    def row(name, pr, ar, clean):  # (low, high) per objective; the mean is the midpoint
        spans = {"pr_train": pr, "ar_strong": ar, "clean": clean}
        return {"method": name, "intervals": spans, **{k: ((lo + hi) / 2, 0) for k, (lo, hi) in spans.items()}}

    a, b, c = row("a", (.80, .84), (.60, .70), (.90, .95)), row("b", (.90, .95), (.40, .50), (.90, .95)), \
        row("c", (.70, .75), (.30, .35), (.80, .85))
    rows = [a, b, c]
    _mark_front(rows)
    _mark_separated(rows)
    assert [(r["front"], r["separated"]) for r in rows] == [(True, True), (True, True), (False, False)]
    d = row("d", (.79, .83), (.58, .69), (.90, .95))  # below a in every mean, but within a's intervals
    rows = [a, b, c, d]
    _mark_front(rows)
    _mark_separated(rows)
    assert [_front_cell(r) for r in rows] == ["within noise", "yes", "", ""]
