"""Failure properties from spec strings, as the CLI's ``--failure SPEC`` takes them.

``NAME`` or ``NAME:key=value,...`` for every property of the registry that specs can build (``probust list``
shows them with an example), the keys being its parameters and its ``spec_options``:

* explanation properties replace the model by its :class:`~probust.explanations.Saliency` map, configured by
  ``saliency=gradient-x-input|integrated-gradients`` and ``steps=32``; ``explanation-corr`` takes its
  correlation as ``corr=pearson|spearman``;
* conformal properties take ``qhat=Q``, or ``alpha=A`` to calibrate a zoo model's predictor on its test
  split's second half.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from . import zoo
from .components import registry
from .conformal import calibration_indices, zoo_conformal
from .errors import ConfigurationError
from .explanations import Saliency
from .properties import Property
from .querying import Model

PROPERTIES = registry("property")


def failures() -> list[str]:
    """The names ``--failure`` accepts: every registered property that a spec can build."""
    return [name for name in PROPERTIES if "no-spec" not in PROPERTIES[name].tags]


@dataclasses.dataclass(frozen=True)
class FailureSpec:
    """A parsed ``--failure`` string: the property name, its parameters and its spec options."""

    name: str
    params: dict[str, Any]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def cls(self) -> type[Property]:
        return PROPERTIES[self.name]

    @property
    def takes_label(self) -> bool:
        """Whether the property has a reference label (``--label dataset`` applies)."""
        return any(f.name == "label" for f in dataclasses.fields(self.cls))


def parse_failure(spec: str) -> FailureSpec:
    """Parse ``NAME[:key=value,...]``, checking the name, the keys, their types and the options' ranges.

    The parameters' ranges are checked when the property is built (``build_failure``), before any query.
    """
    name, colon, rest = spec.strip().partition(":")
    name = name.strip()
    if name not in failures():
        raise ConfigurationError(f"unknown failure property {name!r} in --failure {spec!r}; choose one of "
                                 f"{', '.join(failures())}")
    cls = PROPERTIES[name]
    values = cls.parse_items(colon + rest, spec, cls.spec_options, complete=False)
    options = {k: values.pop(k) for k in list(values) if k in cls.spec_options}
    calibrate = "alpha" in options
    if "conformal" in cls.tags and calibrate == ("qhat" in values):
        raise ConfigurationError(f"--failure {spec!r}: give exactly one of alpha= (calibrate a zoo model) or qhat=")
    missing = [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
               and f.name not in values and not (f.name == "qhat" and calibrate)]
    if missing:
        raise ConfigurationError(f"--failure {spec!r} needs {', '.join(f'{m}=...' for m in missing)}, "
                                 f"e.g. {cls.example or name}")
    return FailureSpec(name, values, options)


def build_failure(spec: FailureSpec, model: Model, model_name: str,
                  label: int | None = None) -> tuple[Model, Property, dict[str, Any]]:
    """The model to query (the saliency map for explanation properties), the property and what to record.

    Range errors (``k=0``, ``min_overlap=2``...) raise ``ConfigurationError`` here, before any query.
    """
    params, options, record = dict(spec.params), dict(spec.options), {}
    if "explanation" in spec.cls.tags:
        model = Saliency(model, options.pop("saliency", "gradient-x-input"), options.pop("steps", 32))
        record["saliency"] = model.method
        if "corr" in options:
            params["method"] = options.pop("corr")
    if "alpha" in options:
        if model_name not in zoo.list_models():
            raise ConfigurationError(f"conformal alpha= calibrates a zoo model; {model_name!r} is not one: "
                                     "calibrate it yourself (probust.conformal.SplitConformal) and pass qhat=")
        predictor, (coverage, size) = zoo_conformal(model_name, options["alpha"])
        params["qhat"] = predictor.qhat
        record.update(qhat=predictor.qhat, alpha=predictor.alpha, n_calibration=predictor.n_calibration,
                      coverage=coverage, mean_set_size=size)
    if spec.takes_label:
        params["label"] = label
    return model, spec.cls(**params), record


def check_calibration_leak(spec: FailureSpec, model_name: str, dataset: str | None, split: str,
                           indices: list[int]) -> None:
    """Refuse to evaluate a conformal property on the inputs its predictor was calibrated on."""
    if "alpha" not in spec.options or dataset is None:
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
