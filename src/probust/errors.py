"""Exceptions raised by probust.

Every error a user can cause derives from :class:`ProbustError`; its message says what is wrong
*and* what to change. The CLI turns any ``ProbustError`` into exit code 2 without a traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DataError",
    "InputError",
    "ModelError",
    "ModelLoadError",
    "ProbustError",
]


class ProbustError(Exception):
    """Base class of every error caused by the user's input, configuration or files."""


class ConfigurationError(ProbustError, ValueError):
    """An argument has an invalid value (negative radius, unknown estimator, bad confidence...)."""


class InputError(ProbustError, ValueError):
    """The input ``x`` does not fit the model or the perturbation (shape, range, dtype)."""


class ModelError(ProbustError, RuntimeError):
    """The model returned something unusable (NaN/Inf, wrong shape) or raised while evaluating."""


class ModelLoadError(ProbustError, OSError):
    """A model file is missing, corrupt, or in an unsupported format."""


class DataError(ProbustError, OSError):
    """A data set or input file is missing, corrupt, or in an unsupported format."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, for a one-line error (torch's and onnxruntime's run over many)."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def needs_layers(estimator: str, model: object) -> ConfigurationError:
    """The error of a white-box estimator given a model without torch layers: for an ONNX graph the converter
    refused (its ``conversion_error``), the operator or construct that blocks it; else the advice to pass a module."""
    why = getattr(model, "conversion_error", "")
    if why:
        return ConfigurationError(
            f"{estimator} needs the model's layers, but {model} runs through onnxruntime: {why}; use a black-box "
            "estimator (mc, amls) or export the network with the operators the converter supports"
        )
    return ConfigurationError(f"{estimator} needs the model's layers: pass a torch.nn.Module, not a callable")
