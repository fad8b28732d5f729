"""probust: measure, certify and improve the probabilistic robustness of deep-learning models."""

from . import components, conformal, estimators, explanations, perturbations, properties, reliability, training, zoo
from ._version import __version__
from .api import certify, estimate
from .components import register
from .conformal import ConformalCover, ConformalSize, SplitConformal
from .errors import (
    ConfigurationError,
    DataError,
    InputError,
    ModelError,
    ModelLoadError,
    ProbustError,
)
from .explanations import ExplanationCorrelation, ExplanationTopK, NoGradientError, Saliency
from .intervals import ConfidenceInterval, binomial_ci, sample_size
from .model_loading import load_model
from .output_regions import OutputRegion
from .properties import LabelChange, RegressionTolerance, SoftmaxStability, TopK
from .result import CertifyResult, Counterexample, Result
from .vnnlib import VnnlibCase, read_vnnlib
from .wrappers import Normalized

__all__ = [
    "__version__",
    "CertifyResult",
    "ConfidenceInterval",
    "ConfigurationError",
    "ConformalCover",
    "ConformalSize",
    "Counterexample",
    "DataError",
    "ExplanationCorrelation",
    "ExplanationTopK",
    "InputError",
    "LabelChange",
    "ModelError",
    "ModelLoadError",
    "NoGradientError",
    "ProbustError",
    "RegressionTolerance",
    "SoftmaxStability",
    "Normalized",
    "OutputRegion",
    "Result",
    "Saliency",
    "SplitConformal",
    "TopK",
    "VnnlibCase",
    "binomial_ci",
    "certify",
    "components",
    "conformal",
    "estimate",
    "estimators",
    "explanations",
    "load_model",
    "perturbations",
    "properties",
    "read_vnnlib",
    "register",
    "reliability",
    "sample_size",
    "training",
    "zoo",
]
