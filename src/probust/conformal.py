"""Conformal set stability: split-conformal prediction sets and two failure properties on them.

The predictor is split conformal with the LAC score ``s(x, y) = 1 - softmax(f(x))_y`` (Sadinle, Lei &
Wasserman, "Least ambiguous set-valued classifiers with bounded error levels", JASA 2019; the split
procedure as in Angelopoulos & Bates, "A gentle introduction to conformal prediction", 2021, Sec. 1):

    q_hat = the ceil((n + 1)(1 - alpha))-th smallest of the n calibration scores,
    C(x) = {y : s(x, y) <= q_hat} = {y : p_y(x) >= 1 - q_hat},

which covers a fresh exchangeable test point with probability in [1 - alpha, 1 - alpha + 1/(n + 1)).
LAC rather than APS: its set is a threshold on each probability, so both failure scores below are
continuous in the logits (APS's cumulative sums are not, unless randomised, and a randomised set is no
deterministic failure criterion).

Zoo calibration (:func:`zoo_conformal`): the zoo models were trained on the ``train`` split, whose scores are
optimistic (not exchangeable with new data); the ``test`` split is held out, so its **second half** is the
calibration set and its first half (indices ``0 .. n/2 - 1``, where PR is evaluated) is where coverage is
checked. Calibration inputs are never evaluated: the CLI refuses them.

Written by hand because the sets are tested as a failure property inside batched torch queries; MAPIE's
``SplitConformalClassifier(conformity_score="lac", prefit=True)`` (scikit-learn estimators, numpy) gives the
same set for every input and is the test oracle (tests/test_conformal.py, a dev dependency only).

Properties: :class:`ConformalCover` (the perturbed set loses the reference label: the clean prediction by
default, or the true label when given) and :class:`ConformalSize` (the perturbed set's size differs from the
clean set's).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from . import zoo
from .components import PROBABILITY, Interval, param, register
from .errors import ConfigurationError
from .properties import CLASS, Property, _check_logits, _strict

__all__ = ["ConformalCover", "ConformalSize", "SplitConformal", "calibration_indices", "zoo_conformal"]

#: Stand-in for a missing term of the size score (probabilities differ by at most 1).
_ABSENT = -2.0
#: An LAC threshold qhat lies in [0, 1].
QHAT = Interval(float, 0, 1)
#: ``alpha=``: calibrate a zoo model's predictor at miscoverage alpha instead of giving ``qhat`` (the CLI does it).
ALPHA = {"alpha": PROBABILITY}


def _scores(logits: torch.Tensor) -> torch.Tensor:
    """LAC scores ``1 - softmax(logits)``: every membership test below compares these with ``qhat`` (one rounding)."""
    return 1 - logits.softmax(1)


@dataclasses.dataclass(frozen=True)
class SplitConformal:
    """A calibrated split-conformal predictor with the LAC score: ``C(x) = {y : p_y(x) >= 1 - qhat}``."""

    qhat: float
    alpha: float
    n_calibration: int

    @classmethod
    def calibrate(cls, model, x: torch.Tensor, y: torch.Tensor, alpha: float = 0.1,
                  batch_size: int = 1000) -> SplitConformal:
        """``qhat`` from calibration inputs ``x`` and their true labels ``y`` (see the module docstring)."""
        if not 0 < alpha < 1:
            raise ConfigurationError(f"conformal alpha must be in (0, 1), got {alpha!r}")
        n = len(y)
        rank = math.ceil((n + 1) * (1 - alpha))
        if rank > n:
            raise ConfigurationError(
                f"{n} calibration points cannot give coverage 1 - alpha = {1 - alpha:g} "
                f"(it needs n >= {math.ceil(1 / alpha) - 1}); raise alpha or add calibration data"
            )
        scores = _scores(_logits(model, x, batch_size)).gather(1, y.long().view(-1, 1)).squeeze(1)
        qhat = float(np.sort(scores.double().numpy())[rank - 1])
        return cls(qhat, float(alpha), n)

    def sets(self, logits: torch.Tensor) -> torch.Tensor:
        """Boolean membership ``(batch, n_classes)`` of each class in each prediction set."""
        return _scores(logits) <= self.qhat

    def coverage(self, model, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> tuple[float, float]:
        """Empirical coverage and mean set size on labelled data (not the calibration data)."""
        member = self.sets(_logits(model, x, batch_size))
        return float(member.gather(1, y.long().view(-1, 1)).double().mean()), float(member.sum(1).double().mean())


def _logits(model, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.inference_mode():
        if isinstance(model, torch.nn.Module):
            model.eval()
        return torch.cat([torch.as_tensor(model(chunk)).float() for chunk in x.split(batch_size)])


def calibration_indices(n_test: int) -> range:
    """Indices of the zoo ``test`` split used for calibration: its second half."""
    return range(n_test // 2, n_test)


def zoo_conformal(model_name: str, alpha: float = 0.1) -> tuple[SplitConformal, tuple[float, float]]:
    """The predictor of a zoo model calibrated on its test split's second half, with ``(coverage, mean size)``
    measured on the first half."""
    model, (x, y) = zoo.load_model(model_name), zoo.load_model_data(model_name, "test")
    cal = calibration_indices(len(y))
    predictor = SplitConformal.calibrate(model, x[cal.start:], y[cal.start:], alpha)
    return predictor, predictor.coverage(model, x[:cal.start], y[:cal.start])


@register
@dataclasses.dataclass(frozen=True)
class ConformalCover(Property):
    """The perturbed prediction set no longer contains the reference label ``y``.

    score = s(x', y) - qhat = 1 - p_y(x') - qhat; a score equal to ``qhat`` is inside the set (not a failure).
    ``label=None`` takes the clean prediction (the top class, in the clean set whenever that set is not
    empty); pass the true label to measure robust coverage instead.
    """

    qhat: float = param(check=QHAT)
    label: int | None = param(None, CLASS)
    name = "conformal-cover"
    tags = frozenset({"classification", "conformal"})
    spec_options = ALPHA
    example = "conformal-cover:qhat=0.9"

    def resolve(self, clean_output: torch.Tensor) -> ConformalCover:
        _check_logits(clean_output, self.label)
        return self if self.label is not None else dataclasses.replace(self, label=int(clean_output[0].argmax()))

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_logits(outputs, self.label)
        return _scores(outputs)[:, self.label] - self.qhat


@register
@dataclasses.dataclass(frozen=True)
class ConformalSize(Property):
    """The perturbed prediction set's size differs from ``size`` (default: the clean set's size ``n0``).

    With ``s_(j)`` the j-th smallest LAC score of ``x'``, ``|C(x')| = #{j : s_(j) <= qhat}``, so the set shrinks
    iff ``s_(n0) > qhat`` and grows iff ``s_(n0+1) <= qhat``:

        score = max(s_(n0) - qhat, qhat - s_(n0+1)),  a zero second term counted as a failure (it joins the set).
    """

    qhat: float = param(check=QHAT)
    size: int | None = param(None, Interval(int, 0))
    name = "conformal-size"
    tags = frozenset({"classification", "conformal"})
    spec_options = ALPHA
    example = "conformal-size:qhat=0.9"

    def resolve(self, clean_output: torch.Tensor) -> ConformalSize:
        _check_logits(clean_output, None)
        if self.size is not None:
            return self
        return dataclasses.replace(self, size=int((_scores(clean_output[:1]) <= self.qhat).sum()))

    def score(self, outputs: torch.Tensor) -> torch.Tensor:
        _check_logits(outputs, None)
        n0 = self.size
        s = _scores(outputs).sort(1).values  # ascending: the set is the first #{s <= qhat}
        absent = torch.full((len(s),), _ABSENT, dtype=s.dtype, device=s.device)
        shrink = s[:, n0 - 1] - self.qhat if n0 >= 1 else absent
        grow = _strict(self.qhat - s[:, n0]) if n0 < s.shape[1] else absent
        return torch.maximum(shrink, grow)
