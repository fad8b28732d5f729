"""The PRBench evaluation protocol (PRBench leaderboard, training-anchors.md), with intervals added.

For a trained classifier and test data:

* clean accuracy on the test inputs;
* PR at each radius gamma in {0.03, 0.08, 0.10, 0.12, 0.15} of the uniform law on [x +- gamma] clipped to [0, 1]:
  PRBench's number (100 Monte Carlo samples per input, averaged over the correctly classified inputs, label =
  the true one) **and** a confidence interval on that mean: each input's estimate comes from the project's MC
  estimator (:func:`probust.estimate`), and :func:`~probust.metrics.total_statistical_robustness` turns the
  per-input estimates into the empirical-Bernstein interval, which covers both the between-input variation and
  the within-input sampling noise;
* ProbAcc(kappa) for kappa in {0.2, 0.1, 0.05, 0.01}: PRBench's share of inputs (all of them) whose estimated
  failure probability is < kappa (PR > 1 - kappa), and the *certified* share, whose Clopper-Pearson upper
  bound is < kappa (with 100 samples no input can be certified at kappa = 0.01: 0/100 still allows 3.6%);
* adversarial accuracy at the training radius: PGD-20 (random start, step 2.5 eps / 20, cross-entropy) and a
  stronger attack: the per-input worst of PGD-20 and ``restarts`` runs of PGD-``strong_steps`` (random starts,
  half on cross-entropy, half on the Carlini-Wagner margin), so that AR is not overstated;
* generalisation gap: train minus test, for accuracy and for PR at the training radius, on the first ``n_pr``
  images of each split (PRBench uses the first 1,000);
* seconds and the hardware record.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import torch

from .. import api
from ..hardware import hardware
from ..metrics import total_statistical_robustness
from ..perturbations import UniformLinf
from ..serialisation import Serialisable
from ..zoo import ArrayDataset
from ._attacks import ce_objective, margin_objective, pgd

__all__ = ["KAPPAS", "RADII", "ProtocolResult", "RadiusPR", "evaluate_protocol"]

RADII = (0.03, 0.08, 0.10, 0.12, 0.15)
KAPPAS = (0.2, 0.1, 0.05, 0.01)


@dataclasses.dataclass(frozen=True)
class RadiusPR(Serialisable):
    """PR at one radius: PRBench's mean over correctly classified inputs, its interval, ProbAcc."""

    eps: float
    pr: float
    low: float
    high: float
    n_inputs: int
    prob_acc: dict[str, float]
    prob_acc_certified: dict[str, float]


@dataclasses.dataclass(frozen=True)
class ProtocolResult(Serialisable):
    clean_accuracy: float
    pr: tuple[RadiusPR, ...]
    ar_pgd20: float
    ar_strong: float
    strong_attack: str
    train_accuracy: float
    train_pr: float
    ge_accuracy: float
    ge_pr: float
    n_test: int
    n_pr: int
    n_ar: int
    mc_samples: int
    confidence: float
    train_eps: float
    seconds: float
    hardware: dict[str, Any]

    def at(self, eps: float) -> RadiusPR:
        return min(self.pr, key=lambda r: abs(r.eps - eps))


def _seed(seed: int, *key: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


def _per_input(model: torch.nn.Module, data: ArrayDataset, eps: float, samples: int, confidence: float,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each input's MC failure probability w.r.t. its true label, and its Clopper-Pearson upper bound."""
    law = UniformLinf(eps=eps, clip=(0.0, 1.0))
    p, upper = np.empty(len(data)), np.empty(len(data))
    for i in range(len(data)):
        x, y = data[i]
        r = api.estimate(model, x, law, estimator="mc", budget=samples, confidence=confidence,
                         seed=_seed(seed, i), label=y)
        p[i], upper[i] = r.failure_probability, r.ci.high
    return p, upper


def _radius(eps: float, p: np.ndarray, upper: np.ndarray, correct: np.ndarray, confidence: float) -> RadiusPR:
    pc = p[correct]
    if len(pc) >= 2:
        tsr = total_statistical_robustness(pc, confidence)
        pr, low, high = tsr.tsr, tsr.tsr_ci.low, tsr.tsr_ci.high
    else:
        pr = low = high = float("nan")
    return RadiusPR(eps, float(pr), float(low), float(high), int(len(pc)),
                    {str(k): float(np.mean(p < k)) for k in KAPPAS},
                    {str(k): float(np.mean(upper < k)) for k in KAPPAS})


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return (model(x).argmax(1) == y).numpy()


def evaluate_protocol(
    model: torch.nn.Module,
    train: ArrayDataset,
    test: ArrayDataset,
    train_eps: float,
    *,
    radii: tuple[float, ...] = RADII,
    mc_samples: int = 100,
    n_pr: int = 1000,
    n_ar: int = 1000,
    restarts: int = 4,
    strong_steps: int = 50,
    confidence: float = 0.95,
    seed: int = 0,
) -> ProtocolResult:
    """Evaluate ``model`` by the PRBench protocol (module docstring) on the first ``n_pr`` / ``n_ar`` inputs.

    Clean accuracy is over the whole ``test`` set; PR and ProbAcc over its first ``n_pr`` inputs; adversarial
    accuracy over the first ``n_ar``; the generalisation gap over the first ``n_pr`` of each split.
    """
    start = time.perf_counter()
    model.eval()
    test_pr, train_pr_data = test[:n_pr], train[:n_pr]
    clean = _accuracy(model, test.x, test.y)
    correct = clean[:n_pr].astype(bool)
    rows = []
    for k, eps in enumerate(radii):
        p, upper = _per_input(model, test_pr, eps, mc_samples, confidence, _seed(seed, 0, k))
        rows.append(_radius(eps, p, upper, correct, confidence))
    p_tr, up_tr = _per_input(model, train_pr_data, train_eps, mc_samples, confidence, _seed(seed, 1))
    train_correct = _accuracy(model, train_pr_data.x, train_pr_data.y).astype(bool)
    train_row = _radius(train_eps, p_tr, up_tr, train_correct, confidence)
    test_row = min(rows, key=lambda r: abs(r.eps - train_eps))
    if abs(test_row.eps - train_eps) > 1e-12:  # the training radius is not among the radii: measure it too
        p, upper = _per_input(model, test_pr, train_eps, mc_samples, confidence, _seed(seed, 2))
        test_row = _radius(train_eps, p, upper, correct, confidence)

    x, y = test.x[:n_ar], test.y[:n_ar]
    gen = torch.Generator().manual_seed(_seed(seed, 3))
    clip = (0.0, 1.0)
    robust = _accuracy(model, pgd(model, x, ce_objective(y), train_eps, 2.5 * train_eps / 20, 20, clip,
                                  generator=gen), y)
    strong = robust.copy()
    for r in range(restarts):
        objective = ce_objective(y) if r % 2 == 0 else margin_objective(y)
        xa = pgd(model, x, objective, train_eps, 2.5 * train_eps / strong_steps, strong_steps, clip, generator=gen)
        strong &= _accuracy(model, xa, y)
    strong &= clean[:n_ar]
    train_acc = float(train_correct.mean())
    return ProtocolResult(
        clean_accuracy=float(clean.mean()), pr=tuple(rows), ar_pgd20=float((robust & clean[:n_ar]).mean()),
        ar_strong=float(strong.mean()),
        strong_attack=f"worst of PGD-20 and {restarts} x PGD-{strong_steps} (random starts, CE and CW margin)",
        train_accuracy=train_acc, train_pr=train_row.pr, ge_accuracy=train_acc - float(clean[:n_pr].mean()),
        ge_pr=train_row.pr - test_row.pr, n_test=len(test), n_pr=len(test_pr), n_ar=len(x), mc_samples=mc_samples,
        confidence=confidence, train_eps=float(train_eps), seconds=time.perf_counter() - start, hardware=hardware())
