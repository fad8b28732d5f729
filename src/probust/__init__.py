"""probust: measure, certify and improve the probabilistic robustness of deep-learning models."""

from . import estimators, perturbations, properties, reliability, training, zoo
from ._version import __version__
from .api import certify, estimate
from .errors import (
    ConfigurationError,
    DataError,
    InputError,
    ModelError,
    ModelLoadError,
    ProbustError,
)
from .intervals import ConfidenceInterval, binomial_ci, sample_size
from .output_regions import OutputRegion
from .properties import LabelChange, RegressionTolerance, SoftmaxStability, TopK
from .result import CertifyResult, Counterexample, Result
from .vnnlib import VnnlibCase, read_vnnlib
from .wrappers import Normalized


__all__ = [
    "CertifyResult",
    "ConfidenceInterval",
    "ConfigurationError",
    "Counterexample",
    "DataError",
    "InputError",
    "LabelChange",
    "ModelError",
    "ModelLoadError",
    "ProbustError",
    "RegressionTolerance",
    "SoftmaxStability",
    "Normalized",
    "OutputRegion",
    "Result",
    "TopK",
    "VnnlibCase",
    "binomial_ci",
    "certify",
    "estimate",
    "estimators",
    "perturbations",
    "properties",
    "read_vnnlib",
    "reliability",
    "sample_size",
    "training",
    "zoo",
]
