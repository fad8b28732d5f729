"""Failure properties from spec strings, as the CLI's ``--failure SPEC`` takes them.

``NAME`` or ``NAME:key=value,key=value``:

==========================  =============================================================================
``label-change``            the predicted label changes (the default)
``top-k:k=2``               the reference label leaves the top k
``regression-tolerance``    ``tolerance=T``: the output moves more than T (max-norm) from the clean output
``softmax-stability``       PRoA's ``||softmax(x') - softmax(x)||_inf < (p1 - p2)/2`` fails
``explanation-topk``        ``k=20,min_overlap=0.6[,saliency=gradient-x-input|integrated-gradients,steps=32]``
``explanation-corr``        ``min_corr=0.4[,corr=pearson|spearman,saliency=...,steps=32]``
``conformal-cover``         ``alpha=0.05`` (zoo model: calibrated on its test split's second half) or ``qhat=Q``
``conformal-size``          the same parameters; failure = the prediction set's size changes
==========================  =============================================================================

Explanation properties replace the model by its :class:`~probust.explanations.Saliency` map.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from . import zoo
from .conformal import ConformalCover, ConformalSize, calibration_indices, zoo_conformal
from .errors import ConfigurationError
from .explanations import ExplanationCorrelation, ExplanationTopK, Saliency
from .properties import LabelChange, Property, RegressionTolerance, SoftmaxStability, TopK
from .querying import Model

#: name -> (allowed keys with their types, whether the property takes a reference label)
_KEYS: dict[str, tuple[dict[str, Callable[[str], Any]], bool]] = {
    "label-change": ({}, True),
    "top-k": ({"k": int}, True),
    "regression-tolerance": ({"tolerance": float}, False),
    "softmax-stability": ({}, False),
    "explanation-topk": ({"k": int, "min_overlap": float, "saliency": str, "steps": int}, False),
    "explanation-corr": ({"min_corr": float, "corr": str, "saliency": str, "steps": int}, False),
    "conformal-cover": ({"alpha": float, "qhat": float}, True),
    "conformal-size": ({"alpha": float, "qhat": float}, False),
}
FAILURES = tuple(_KEYS)


@dataclasses.dataclass(frozen=True)
class FailureSpec:
    """A parsed ``--failure`` string: the property name and its typed parameters."""

    name: str
    params: dict[str, Any]

    @property
    def takes_label(self) -> bool:
        return _KEYS[self.name][1]


def parse_failure(spec: str) -> FailureSpec:
    """Parse ``NAME[:key=value,...]``, checking the name, the keys and their types (not yet the ranges)."""
    name, _, rest = spec.strip().partition(":")
    if name not in _KEYS:
        raise ConfigurationError(f"unknown failure property {name!r} in --failure {spec!r}; choose one of "
                                 f"{', '.join(FAILURES)}")
    keys, _ = _KEYS[name]
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or key not in keys:
            allowed = ", ".join(keys) or "none"
            raise ConfigurationError(f"bad parameter {item!r} in --failure {spec!r}; {name} takes: {allowed}")
        try:
            params[key] = keys[key](value)
        except ValueError:
            raise ConfigurationError(f"{key}={value!r} in --failure {spec!r} is not a {keys[key].__name__}") from None
    if name.startswith("conformal") and ("alpha" in params) == ("qhat" in params):
        raise ConfigurationError(f"--failure {spec!r}: give exactly one of alpha= (calibrate a zoo model) or qhat=")
    if name == "regression-tolerance" and "tolerance" not in params:
        raise ConfigurationError(f"--failure {spec!r} needs tolerance=T, e.g. regression-tolerance:tolerance=5")
    return FailureSpec(name, params)


def build_failure(spec: FailureSpec, model: Model, model_name: str,
                  label: int | None = None) -> tuple[Model, Property, dict[str, Any]]:
    """The model to query (the saliency map for explanation properties), the property and what to record.

    Range errors (``k=0``, ``min_overlap=2``...) raise ``ConfigurationError`` here, before any query.
    """
    p, record = dict(spec.params), {}
    if spec.name.startswith("explanation"):
        model = Saliency(model, p.pop("saliency", "gradient-x-input"), p.pop("steps", 32))
        record["saliency"] = model.method
        if spec.name == "explanation-topk":
            return model, ExplanationTopK(**p), record
        method = p.pop("corr", "pearson")
        return model, ExplanationCorrelation(method=method, **p), record
    if spec.name.startswith("conformal"):
        qhat = p.get("qhat")
        if qhat is None:
            if model_name not in zoo.list_models():
                raise ConfigurationError(f"conformal alpha= calibrates a zoo model; {model_name!r} is not one: "
                                         "calibrate it yourself (probust.conformal.SplitConformal) and pass qhat=")
            predictor, (coverage, size) = zoo_conformal(model_name, p["alpha"])
            qhat = predictor.qhat
            record.update(qhat=qhat, alpha=predictor.alpha, n_calibration=predictor.n_calibration,
                          coverage=coverage, mean_set_size=size)
        prop: Property = ConformalCover(qhat, label) if spec.name == "conformal-cover" else ConformalSize(qhat)
        return model, prop, record
    simple: dict[str, Callable[..., Property]] = {
        "label-change": lambda: LabelChange(label), "top-k": lambda k=1: TopK(k, label),
        "regression-tolerance": RegressionTolerance, "softmax-stability": SoftmaxStability,
    }
    return model, simple[spec.name](**p), record


def check_calibration_leak(spec: FailureSpec, model_name: str, dataset: str | None, split: str,
                           indices: list[int]) -> None:
    """Refuse to evaluate a conformal property on the inputs its predictor was calibrated on."""
    if not spec.name.startswith("conformal") or "alpha" not in spec.params or dataset is None:
        return
    info = zoo.model_info(model_name)
    if dataset != info["dataset"] or split != info["test_split"]:
        return
    cal = calibration_indices(info["n_test"])
    leaked = [i for i in indices if i in cal]
    if leaked:
        raise ConfigurationError(
            f"inputs {leaked[0]}.. of the {dataset} {split} split are the conformal calibration set "
            f"(indices {cal.start}:{cal.stop}); choose --indices below {cal.start}"
        )
